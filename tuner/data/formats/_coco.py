"""COCO detection JSON: ``images``, ``annotations`` (``bbox`` = [x, y, width, height] in pixels),
``categories``.

Category ids may be arbitrary (COCO's own skip numbers); the classes are the categories ordered
by id, which the converter numbers 1, 2, ... (dense), keeping the names. Images are looked up
as ``file_name`` relative to ``--images`` (default: the JSON file's directory).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

from tuner.data.formats._base import DatasetReader, ImageRecord, ObjectBox, Units
from tuner.data.issues import DatasetError, Issue, Report, SkipReason


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class CocoReader(DatasetReader):
    """Reads a COCO detection JSON file (SRC), see the module docstring."""

    name = "coco"

    def __init__(self, src: Path, images: Path | None = None) -> None:
        super().__init__(src, images)
        if self.src.is_dir():
            raise DatasetError(f"{self.src} is a directory; --format coco takes the {self.expects}")
        try:
            with open(self.src, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}) in {self.src}; "
                               "give a COCO annotation file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"cannot read {self.src} ({getattr(exc, 'strerror', None) or exc}); check the path "
                               "and its permissions") from None
        if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
                or not isinstance(data.get("categories"), list):
            raise DatasetError(f"no 'images' and 'categories' lists in {self.src}; give a COCO detection file "
                               "(instances_*.json)")
        annotations = data.get("annotations", [])
        if not isinstance(annotations, list):
            raise DatasetError(f"'annotations' is not a list in {self.src}; give a COCO detection file")
        self._images: list[Any] = data["images"]
        self._annotations: list[Any] = annotations
        self._categories = self._read_categories(data["categories"])

    @property
    def expects(self) -> str:
        return "COCO annotation JSON file (e.g. annotations/instances_train.json)"

    @property
    def images_dir(self) -> Path:
        return self.images if self.images is not None else self.src.parent

    def _read_categories(self, categories: list[Any]) -> dict[int, str]:
        found: dict[int, str] = {}
        for i, cat in enumerate(categories):
            cid = _int(cat.get("id")) if isinstance(cat, dict) else None
            name = cat.get("name") if isinstance(cat, dict) else None
            if cid is None or not isinstance(name, str) or not name.strip():
                raise DatasetError(f"categories[{i}] needs an integer 'id' and a 'name' in {self.src}; correct "
                                   "the category")
            if cid in found:
                raise DatasetError(f"category id {cid} listed twice in {self.src}; give each category its own id")
            if name.strip() in found.values():
                other = next(k for k, v in found.items() if v == name.strip())
                raise DatasetError(f"category name {name.strip()!r} used by ids {other} and {cid} in {self.src}; "
                                   "give each category its own name (the label map maps names to ids)")
            found[cid] = name.strip()
        if not found:
            raise DatasetError(f"no categories in {self.src}; list the classes in 'categories'")
        return dict(sorted(found.items()))

    def classes(self) -> tuple[str, ...]:
        return tuple(self._categories.values())

    def _box(self, i: int, ann: Any, report: Report) -> tuple[int | None, ObjectBox | None]:
        """(image id, box) of annotation ``i``; the box is None when reported."""
        if not isinstance(ann, dict):
            report(Issue(SkipReason.BAD_BOX, f"{self.src.name}, annotations[{i}]", "not an object", 1))
            return None, None
        where = f"{self.src.name}, annotation id {ann['id']}" if "id" in ann else f"{self.src.name}, annotations[{i}]"
        image_id = _int(ann.get("image_id"))
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
            report(Issue(SkipReason.BAD_BOX, where, f"bbox {bbox!r} is not [x, y, width, height]", 1))
            return image_id, None
        cid = _int(ann.get("category_id"))
        if cid not in self._categories:
            report(Issue(SkipReason.UNKNOWN_CLASS, where,
                         f"category_id {ann.get('category_id')!r} is not in categories", 1))
            return image_id, None
        x, y, w, h = (float(v) for v in bbox)
        return image_id, ObjectBox(self._categories[cid], x, y, x + w, y + h, where,
                                   crowd=bool(ann.get("iscrowd", 0)))

    def records(self, report: Report) -> Iterator[ImageRecord]:
        entries: dict[int, tuple[str, Any]] = {}
        for i, image in enumerate(self._images):
            image_id = _int(image.get("id")) if isinstance(image, dict) else None
            file_name = image.get("file_name") if isinstance(image, dict) else None
            where = f"{self.src.name}, images[{i}]"
            if image_id is None or not isinstance(file_name, str) or not file_name:
                report(Issue(SkipReason.BAD_ANNOTATION, where, "needs an integer 'id' and a 'file_name'"))
                continue
            if image_id in entries:
                report(Issue(SkipReason.BAD_ANNOTATION, where, f"image id {image_id} listed twice (the first, "
                             f"{entries[image_id][0]}, was kept)"))
                continue
            entries[image_id] = (where, image)
        boxes: dict[int, list[ObjectBox]] = {image_id: [] for image_id in entries}
        dropped = dict.fromkeys(entries, 0)
        for i, ann in enumerate(self._annotations):
            image_id, box = self._box(i, ann, report)
            if image_id in entries:
                if box is None:
                    dropped[image_id] += 1
                else:
                    boxes[image_id].append(box)
            elif box is not None:
                report(Issue(SkipReason.BAD_BOX, box.where, f"image_id {image_id!r} is not in images", 1))
        for image_id, (_where, image) in entries.items():
            w, h = _int(image.get("width")), _int(image.get("height"))
            size = (h, w) if h and w and h > 0 and w > 0 else None
            name = image["file_name"]
            yield ImageRecord(filename=name, path=self.images_dir / name,
                              where=f"{self.src.name}, image id {image_id} ({name})", boxes=tuple(boxes[image_id]),
                              units=Units.PIXELS, size=size, dropped=dropped[image_id])
