"""Images with known boxes written out in a source format: the readers' other direction.

For tests and examples: :func:`shapes_images` renders synthetic images with known boxes
(:mod:`tuner.data.render`), :func:`export` writes them as image files plus COCO, Pascal VOC,
YOLO or CSV annotations, in the layout each reader expects, and says what to pass to
``python -m tuner.data convert`` (:class:`Exported`). Coordinates are written at full float
precision, so a conversion gives back the boxes to within float32 rounding.

Layouts (under ``out``): COCO ``instances.json`` + ``images/`` (category ids 7, 14, 21, ...:
not dense, listed in reverse); VOC ``Annotations/*.xml`` + ``JPEGImages/``; YOLO images,
``*.txt`` and ``classes.txt`` in one directory; CSV ``labels.csv`` beside the images.
"""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Callable, Iterator, Sequence
from xml.sax.saxutils import escape

from tuner.data.formats import Format
from tuner.data.render import Box, DatasetSpec, render

__all__ = ["Exported", "ExportedImage", "export", "shapes_images"]


@dataclasses.dataclass(frozen=True)
class ExportedImage:
    """One image to export: its file name, bytes, size and boxes (normalised, :class:`Box`)."""

    filename: str
    encoded: bytes
    height: int
    width: int
    boxes: tuple[Box, ...]


@dataclasses.dataclass(frozen=True)
class Exported:
    """An exported dataset: ``src`` and ``images`` are what ``convert`` takes (SRC, --images)."""

    fmt: Format
    src: Path
    images: Path | None
    image_dir: Path
    classes: tuple[str, ...]


def shapes_images(spec: DatasetSpec, split: str = "train", count: int | None = None) -> Iterator[ExportedImage]:
    """The synthetic images of ``spec`` (``split``: ``train`` or ``eval``; ``count`` of them, default
    the spec's count of that split) with their boxes."""
    total = count if count is not None else (spec.train if split == "train" else spec.eval)
    for index in range(total):
        jpeg, boxes = render(spec, split, index)
        yield ExportedImage(f"{split}_{index:06d}.jpg", jpeg, spec.size, spec.size, tuple(boxes))


def _pixels(box: Box, image: ExportedImage) -> tuple[float, float, float, float]:
    return box.xmin * image.width, box.ymin * image.height, box.xmax * image.width, box.ymax * image.height


def _coco(out: Path, images: Sequence[ExportedImage], classes: Sequence[str]) -> Exported:
    cat_ids = {name: 7 * (i + 1) for i, name in enumerate(classes)}
    categories = [{"id": cat_ids[n], "name": n} for n in reversed(classes)]
    data: dict[str, list[dict[str, object]]] = {"images": [], "annotations": [], "categories": categories}
    for image_id, image in enumerate(images, 1):
        data["images"].append({"id": image_id, "file_name": image.filename, "height": image.height,
                               "width": image.width})
        for box in image.boxes:
            x0, y0, x1, y1 = _pixels(box, image)
            data["annotations"].append({"id": len(data["annotations"]) + 1, "image_id": image_id, "iscrowd": 0,
                                        "category_id": cat_ids[box.label], "bbox": [x0, y0, x1 - x0, y1 - y0],
                                        "area": (x1 - x0) * (y1 - y0)})
    (out / "instances.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    return Exported(Format.COCO, out / "instances.json", out / "images", out / "images", tuple(classes))


def _voc(out: Path, images: Sequence[ExportedImage], classes: Sequence[str]) -> Exported:
    (out / "Annotations").mkdir()
    for image in images:
        objects = "".join(
            f"  <object>\n    <name>{escape(box.label)}</name>\n    <difficult>0</difficult>\n    <bndbox>"
            + "".join(f"<{k}>{v!r}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), _pixels(box, image)))
            + "</bndbox>\n  </object>\n" for box in image.boxes)
        xml = (f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{escape(image.filename)}</filename>\n"
               f"  <size><width>{image.width}</width><height>{image.height}</height><depth>3</depth></size>\n"
               f"{objects}</annotation>\n")
        (out / "Annotations" / f"{Path(image.filename).stem}.xml").write_text(xml, encoding="utf-8")
    return Exported(Format.VOC, out / "Annotations", None, out / "JPEGImages", tuple(classes))


def _yolo(out: Path, images: Sequence[ExportedImage], classes: Sequence[str]) -> Exported:
    index = {name: i for i, name in enumerate(classes)}
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    for image in images:
        lines = [f"{index[b.label]} {(b.xmin + b.xmax) / 2!r} {(b.ymin + b.ymax) / 2!r} {b.xmax - b.xmin!r} "
                 f"{b.ymax - b.ymin!r}\n" for b in image.boxes]
        (out / f"{Path(image.filename).stem}.txt").write_text("".join(lines), encoding="utf-8")
    return Exported(Format.YOLO, out, None, out, tuple(classes))


def _csv(out: Path, images: Sequence[ExportedImage], classes: Sequence[str]) -> Exported:
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"))
        for image in images:
            for box in image.boxes:
                writer.writerow((image.filename, image.width, image.height, box.label,
                                 *(repr(v) for v in _pixels(box, image))))
    return Exported(Format.CSV, out / "labels.csv", None, out, tuple(classes))


_WRITERS: dict[Format, Callable[[Path, Sequence[ExportedImage], Sequence[str]], Exported]] = {
    Format.COCO: _coco, Format.VOC: _voc, Format.YOLO: _yolo, Format.CSV: _csv,
}
_IMAGE_DIRS = {Format.COCO: "images", Format.VOC: "JPEGImages", Format.YOLO: "", Format.CSV: ""}


def export(fmt: Format, images: Sequence[ExportedImage], classes: Sequence[str], out: Path) -> Exported:
    """Write ``images`` (files and annotations) in ``fmt`` under ``out`` (created; must not exist).

    Raises:
        FileExistsError: ``out`` exists.
    """
    out = Path(out)
    out.mkdir(parents=True)
    image_dir = out / _IMAGE_DIRS[fmt]
    image_dir.mkdir(exist_ok=True)
    for image in images:
        (image_dir / image.filename).write_bytes(image.encoded)
    return _WRITERS[fmt](out, images, classes)
