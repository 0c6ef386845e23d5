"""Pascal VOC XML: one file per image (``<filename>``, ``<size>``, ``<object>`` with ``<name>`` and
``<bndbox>`` xmin/ymin/xmax/ymax in pixels).

SRC is the directory of the XML files (VOC's ``Annotations/``; ``*.xml`` directly in it). Images
are ``<filename>`` in ``--images``, else in the sibling ``JPEGImages/`` when there is one (the VOC
layout), else next to the XML files (LabelImg's layout). Coordinates are taken as written, as
the OD API's ``create_pascal_tf_record.py`` does (no 1-based shift). VOC declares no class list:
the classes are the names found, sorted, unless ``--classes`` gives them.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from tuner.data.formats._base import DatasetReader, ImageRecord, ObjectBox, Units
from tuner.data.issues import DatasetError, Issue, Report, SkipReason


def _text(element: ET.Element | None, tag: str) -> str:
    child = element.find(tag) if element is not None else None
    return (child.text or "").strip() if child is not None else ""


class VocReader(DatasetReader):
    """Reads a directory of Pascal VOC XML files (SRC), see the module docstring."""

    name = "voc"

    def __init__(self, src: Path, images: Path | None = None) -> None:
        super().__init__(src, images)
        if not self.src.is_dir():
            raise DatasetError(f"{self.src} is not a directory; --format voc takes the {self.expects}")
        self._files = sorted(p for p in self.src.iterdir() if p.suffix.lower() == ".xml" and p.is_file())
        if not self._files:
            raise DatasetError(f"no .xml files in {self.src}; give the {self.expects}")

    @property
    def expects(self) -> str:
        return "directory of Pascal VOC XML files (e.g. VOC2012/Annotations)"

    @property
    def images_dir(self) -> Path:
        if self.images is not None:
            return self.images
        sibling = self.src.parent / "JPEGImages"
        return sibling if sibling.is_dir() else self.src

    def classes(self) -> None:
        return None

    def _object(self, obj: ET.Element, where: str, report: Report) -> ObjectBox | None:
        name = _text(obj, "name")
        box = obj.find("bndbox")
        values: dict[str, float] = {}
        for key in ("xmin", "ymin", "xmax", "ymax"):
            text = _text(box, key)
            try:
                values[key] = float(text)
            except ValueError:
                values[key] = math.nan
            if not math.isfinite(values[key]):
                report(Issue(SkipReason.BAD_BOX, where, f"bndbox {key} {text!r} is not a number", 1))
                return None
        if not name:
            report(Issue(SkipReason.BAD_BOX, where, "no <name>", 1))
            return None
        difficult = _text(obj, "difficult") in ("1", "true")
        return ObjectBox(name, values["xmin"], values["ymin"], values["xmax"], values["ymax"], where,
                         difficult=difficult)

    def records(self, report: Report) -> Iterator[ImageRecord]:
        images_dir = self.images_dir
        for path in self._files:
            try:
                root = ET.parse(path).getroot()
            except (ET.ParseError, OSError) as exc:
                report(Issue(SkipReason.BAD_ANNOTATION, path.name, f"not readable XML: {exc}"))
                continue
            filename = _text(root, "filename")
            if not filename:
                report(Issue(SkipReason.BAD_ANNOTATION, path.name, "no <filename>"))
                continue
            size_el = root.find("size")
            try:
                w, h = int(float(_text(size_el, "width"))), int(float(_text(size_el, "height")))
                size = (h, w) if h > 0 and w > 0 else None  # some tools write 0: the header decides
            except ValueError:
                size = None
            boxes: list[ObjectBox] = []
            dropped = 0
            for k, obj in enumerate(root.findall("object"), 1):
                box = self._object(obj, f"{path.name}, object {k}", report)
                if box is None:
                    dropped += 1
                else:
                    boxes.append(box)
            yield ImageRecord(filename=filename, path=images_dir / filename, where=path.name, boxes=tuple(boxes),
                              units=Units.PIXELS, size=size, dropped=dropped)
