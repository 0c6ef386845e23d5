"""CSV, the layout of the common TF Object Detection tutorials: one row per box with the columns
``filename,width,height,class,xmin,ymin,xmax,ymax`` (pixels; a header row names them, in any
order, other columns are ignored).

Rows of the same ``filename`` form one image (they need not be adjacent); a row whose class and
coordinates are all empty lists an image without objects. Images are ``filename`` in
``--images`` (default: the CSV file's directory). The classes are the names found, sorted,
unless ``--classes`` gives them.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterator

from tuner.data.formats._base import DatasetReader, ImageRecord, ObjectBox, Units
from tuner.data.issues import DatasetError, Issue, Report, SkipReason

COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
_COORDS = ("xmin", "ymin", "xmax", "ymax")


class _Image:
    """The rows of one file name, gathered."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.size: tuple[int, int] | None = None
        self.size_line = 0
        self.boxes: list[ObjectBox] = []
        self.dropped = 0


class CsvReader(DatasetReader):
    """Reads a box-per-row CSV file (SRC), see the module docstring."""

    name = "csv"

    def __init__(self, src: Path, images: Path | None = None) -> None:
        super().__init__(src, images)
        if self.src.is_dir():
            raise DatasetError(f"{self.src} is a directory; --format csv takes the {self.expects}")
        try:
            with open(self.src, newline="", encoding="utf-8-sig") as f:
                header = next(csv.reader(f), [])
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"cannot read {self.src} ({type(exc).__name__}); check the path and that it is a "
                               "UTF-8 CSV file") from None
        missing = [c for c in COLUMNS if c not in [h.strip() for h in header]]
        if missing:
            raise DatasetError(f"no column {', '.join(missing)} in the header of {self.src}; the first row must name "
                               f"the columns {','.join(COLUMNS)}")

    @property
    def expects(self) -> str:
        return f"CSV file with the columns {','.join(COLUMNS)}"

    @property
    def images_dir(self) -> Path:
        return self.images if self.images is not None else self.src.parent

    def classes(self) -> None:
        return None

    def _row(self, row: dict[str, str], image: _Image, line: int, report: Report) -> None:
        """Add the size and box of the row at ``line`` to ``image`` (or report why not)."""
        where = f"{self.src.name}, line {line}"
        try:
            size = (int(row["height"]), int(row["width"]))
        except (TypeError, ValueError):
            size = None
        if size is not None and size[0] > 0 and size[1] > 0:
            if image.size is None:
                image.size, image.size_line = size, line
            elif size != image.size:
                report(Issue(SkipReason.BAD_BOX, where, f"width x height {size[1]}x{size[0]} differ from line "
                             f"{image.size_line}'s {image.size[1]}x{image.size[0]} for the same file", 1))
                image.dropped += 1
                return
        label = (row.get("class") or "").strip()
        texts = [(row.get(k) or "").strip() for k in _COORDS]
        if not label and not any(texts):
            return  # an image without objects
        try:
            values = [float(t) for t in texts]
        except ValueError:
            values = [math.nan]
        if not label or not all(math.isfinite(v) for v in values):
            detail = "no class" if not label else f"coordinates {','.join(texts)} are not numbers"
            report(Issue(SkipReason.BAD_BOX, where, detail, 1))
            image.dropped += 1
            return
        image.boxes.append(ObjectBox(label, *values, where))

    def records(self, report: Report) -> Iterator[ImageRecord]:
        images: dict[str, _Image] = {}
        with open(self.src, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            reader.fieldnames = [h.strip() for h in reader.fieldnames or []]
            for row in reader:
                where = f"{self.src.name}, line {reader.line_num}"
                filename = (row.get("filename") or "").strip()
                if not filename:
                    report(Issue(SkipReason.BAD_BOX, where, "no filename", 1))
                    continue
                image = images.setdefault(filename, _Image(reader.line_num))
                self._row(row, image, reader.line_num, report)
        for filename in sorted(images):
            image = images[filename]
            yield ImageRecord(filename=filename, path=self.images_dir / filename,
                              where=f"{self.src.name}, line {image.line} ({filename})", boxes=tuple(image.boxes),
                              units=Units.PIXELS, size=image.size, dropped=image.dropped)
