"""Boxes checked against the real image size and normalised, the way the OD API stores them.

A coordinate at most :data:`TOLERANCE_PX` pixels outside the image is clipped to it (pixel
rounding at the border, common in COCO and VOC exports); further out, the box is skipped
(``BOX_OUTSIDE``). A box left with zero or negative width or height is skipped
(``DEGENERATE_BOX``). Boxes come back as ymin, xmin, ymax, xmax in [0, 1].
"""
from __future__ import annotations

import dataclasses
import math

from tuner.data.formats import ImageRecord, ObjectBox, Units
from tuner.data.issues import Issue, Report, SkipReason

#: How far (pixels) a coordinate may lie outside the image and still be clipped to it.
TOLERANCE_PX = 1.0


@dataclasses.dataclass(frozen=True)
class NormBox:
    """A checked box: class name and corners normalised to the image, ymin < ymax, xmin < xmax."""

    label: str
    ymin: float
    xmin: float
    ymax: float
    xmax: float
    crowd: bool = False
    difficult: bool = False


def _check(box: ObjectBox, units: Units, height: int, width: int, report: Report) -> NormBox | None:
    scale = (width, height) if units is Units.NORMALIZED else (1, 1)
    source = {"xmin": box.xmin, "ymin": box.ymin, "xmax": box.xmax, "ymax": box.ymax}
    pixels = {k: v * (scale[0] if k[0] == "x" else scale[1]) for k, v in source.items()}
    for key, value in pixels.items():
        limit = width if key[0] == "x" else height
        if not math.isfinite(value) or value < -TOLERANCE_PX or value > limit + TOLERANCE_PX:
            top = 1 if units is Units.NORMALIZED else limit
            report(Issue(SkipReason.BOX_OUTSIDE, box.where,
                         f"{key} {source[key]:g} outside 0..{top:g} ({units.value}) of the {width}x{height} image", 1))
            return None
    x0, x1 = (min(max(pixels[k], 0.0), width) for k in ("xmin", "xmax"))
    y0, y1 = (min(max(pixels[k], 0.0), height) for k in ("ymin", "ymax"))
    if x1 <= x0 or y1 <= y0:
        axis = "x" if x1 <= x0 else "y"
        report(Issue(SkipReason.DEGENERATE_BOX, box.where,
                     f"{axis}min {source[axis + 'min']:g} >= {axis}max {source[axis + 'max']:g}", 1))
        return None
    return NormBox(box.label, y0 / height, x0 / width, y1 / height, x1 / width, box.crowd, box.difficult)


def normalize_boxes(record: ImageRecord, height: int, width: int, report: Report) -> list[NormBox]:
    """The record's boxes that lie in a ``height`` x ``width`` image, normalised; the others are
    reported (``BOX_OUTSIDE``, ``DEGENERATE_BOX``) and left out."""
    checked = (_check(box, record.units, height, width, report) for box in record.boxes)
    return [box for box in checked if box is not None]
