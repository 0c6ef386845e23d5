"""YOLO txt: one label file per image (same stem), one line ``class cx cy w h`` per object, class
0-based, the box centre and size normalised to [0, 1].

SRC is the directory of the label files; the images are in ``--images`` (default: SRC itself).
The class names come from ``classes.txt`` (one name per line, line k = class k) in SRC, or the
``names`` of a ``data.yaml`` (a list, or a mapping 0..n-1 to names) in SRC, its parent or its
grandparent (Ultralytics' ``dataset/labels/train`` layout), the first found. Class k is written
as label k + 1. An image without a label file is reported (it is not annotated); an empty label
file marks an image without objects. Directories are not searched recursively.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

from tuner.data.formats._base import DatasetReader, ImageRecord, ObjectBox, Units
from tuner.data.issues import DatasetError, Issue, Report, SkipReason

#: Files in the images directory taken as images (others are ignored); the converter checks the
#: real format from the file header.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
CLASSES_TXT = "classes.txt"


class YoloReader(DatasetReader):
    """Reads a YOLO label directory (SRC), see the module docstring."""

    name = "yolo"

    def __init__(self, src: Path, images: Path | None = None) -> None:
        super().__init__(src, images)
        if not self.src.is_dir():
            raise DatasetError(f"{self.src} is not a directory; --format yolo takes the {self.expects}")
        self._names = self._read_names()

    @property
    def expects(self) -> str:
        return "directory of YOLO label files (name.txt per image) with classes.txt or data.yaml"

    @property
    def images_dir(self) -> Path:
        return self.images if self.images is not None else self.src

    def _read_names(self) -> tuple[str, ...]:
        fix = (f"write {CLASSES_TXT} into {self.src} (one class name per line, line k = class k), or a data.yaml "
               "with a names list")
        txt = self.src / CLASSES_TXT
        if txt.is_file():
            names = tuple(line.strip() for line in txt.read_text(encoding="utf-8").splitlines() if line.strip())
            return self._checked(names, txt, fix)
        for directory in (self.src, self.src.parent, self.src.parent.parent):
            yaml_path = directory / "data.yaml"
            if yaml_path.is_file():
                return self._checked(self._yaml_names(yaml_path, fix), yaml_path, fix)
        raise DatasetError(f"no class names ({CLASSES_TXT} or data.yaml) in {self.src}; {fix}")

    def _yaml_names(self, path: Path, fix: str) -> tuple[str, ...]:
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"cannot read {path} ({type(exc).__name__}); {fix}") from None
        names: Any = data.get("names") if isinstance(data, dict) else None
        if isinstance(names, dict):
            keys = sorted(names) if all(isinstance(k, int) for k in names) else None
            if keys != list(range(len(names))):
                raise DatasetError(f"'names' in {path} must map 0, 1, ... {len(names) - 1} to names; {fix}")
            names = [names[k] for k in keys]
        if not isinstance(names, list) or not all(isinstance(n, (str, int)) for n in names):
            raise DatasetError(f"no 'names' list in {path}; {fix}")
        return tuple(str(n).strip() for n in names)

    @staticmethod
    def _checked(names: tuple[str, ...], path: Path, fix: str) -> tuple[str, ...]:
        if not names or not all(names):
            raise DatasetError(f"no class names in {path}; {fix}")
        seen = {n for n in names if names.count(n) > 1}
        if seen:
            raise DatasetError(f"class name {sorted(seen)[0]!r} listed twice in {path}; give each class its own "
                               "name (the label map maps names to ids)")
        return names

    def classes(self) -> tuple[str, ...]:
        return self._names

    def _line(self, line: str, where: str, report: Report) -> ObjectBox | None:
        fields = line.split()
        try:
            values = [float(v) for v in fields] if len(fields) == 5 else []
        except ValueError:
            values = []
        if not values or not all(math.isfinite(v) for v in values) or values[0] != int(values[0]):
            report(Issue(SkipReason.BAD_BOX, where, f"{line.strip()!r} is not 'class cx cy w h'", 1))
            return None
        number, cx, cy, w, h = values
        cls = int(number)
        if not 0 <= cls < len(self._names):
            report(Issue(SkipReason.UNKNOWN_CLASS, where,
                         f"class {cls}; the class list has {len(self._names)} (0..{len(self._names) - 1})", 1))
            return None
        return ObjectBox(self._names[cls], cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, where)

    def records(self, report: Report) -> Iterator[ImageRecord]:
        images_dir = self.images_dir
        images: dict[str, Path] = {}
        for path in sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
            if path.stem in images:
                report(Issue(SkipReason.DUPLICATE_FILE, path.name,
                             f"same stem as {images[path.stem].name}: {path.stem}.txt cannot annotate both"))
                continue
            images[path.stem] = path
        labels = {p.stem: p for p in self.src.iterdir()
                  if p.suffix == ".txt" and p.name != CLASSES_TXT and p.is_file()}
        for stem in sorted(set(labels) - set(images)):
            report(Issue(SkipReason.MISSING_IMAGE, labels[stem].name, f"no image {stem}.* in {images_dir}"))
        for stem, path in images.items():
            label = labels.get(stem)
            if label is None:
                yield ImageRecord(filename=path.name, path=path, where=f"{path.name} (no {stem}.txt)", boxes=(),
                                  units=Units.NORMALIZED, annotated=False)
                continue
            try:
                text = label.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                report(Issue(SkipReason.BAD_ANNOTATION, label.name, f"cannot be read ({type(exc).__name__})"))
                continue
            boxes: list[ObjectBox] = []
            dropped = 0
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    box = self._line(line, f"{label.name}, line {n}", report)
                    if box is None:
                        dropped += 1
                    else:
                        boxes.append(box)
            yield ImageRecord(filename=path.name, path=path, where=label.name, boxes=tuple(boxes),
                              units=Units.NORMALIZED, dropped=dropped)
