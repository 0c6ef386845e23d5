"""COCO box metrics with per-class AP, computed with pycocotools directly.

The OD API's ``include_metrics_per_category`` fails with stock pycocotools ("Category stats do
not exist", tensorflow/models#4778, #5010: its ``coco_tools`` reads a ``category_stats`` field
only a patched pycocotools fills), so the ground truth and the detections are turned into
pycocotools ``COCO`` objects here and run through ``COCOeval`` once. The summary metrics are
``COCOeval.stats``; the per-class numbers come from the accumulated precision array
``eval["precision"]`` (shape ``T x R x K x A x M``: IoU thresholds .50:.05:.95, 101 recall
points, classes, area ranges, max detections):

* AP of class ``k``: the mean of ``precision[:, :, k, area "all", maxDets 100]`` over the entries
  that are not ``-1`` (``-1`` marks "no ground truth"), which is exactly what
  ``COCOeval.summarize`` computes for ``stats[0]`` when only that class is evaluated;
* AP@.50 of class ``k``: the same over ``precision[IoU .50, :, k, "all", 100]``.

A class without ground truth on the images has no AP (``None``), as in pycocotools. The
ground truth is built as the OD API builds it (``bbox = [x, y, w, h]``, ``area = w * h``,
``iscrowd = 0``), so the summary equals ``tflite.measure.coco_accuracy`` on the same data.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
from typing import Any, Sequence

import numpy as np

from tuner.report.detections import Category, ImageResult

#: The recorded summary: ``COCOeval.stats`` index -> field of :class:`CocoMetrics`.
STATS = ("map", "map50", "map75", "map_small", "map_medium", "map_large", "ar1", "ar10", "ar100",
         "ar100_small", "ar100_medium", "ar100_large")
AREA_ALL = "all"
MAX_DETS = 100


def _value(x: float) -> float | None:
    """pycocotools' ``-1`` (no ground truth in that range) as ``None``."""
    return None if x < 0 else float(x)


@dataclasses.dataclass(frozen=True)
class CocoMetrics:
    """``COCOeval.stats`` by name (``None``: no ground truth in that area range)."""

    map: float | None
    map50: float | None
    map75: float | None
    map_small: float | None
    map_medium: float | None
    map_large: float | None
    ar1: float | None
    ar10: float | None
    ar100: float | None
    ar100_small: float | None
    ar100_medium: float | None
    ar100_large: float | None

    @classmethod
    def of(cls, stats: Sequence[float]) -> CocoMetrics:
        return cls(*(_value(float(s)) for s in stats[:len(STATS)]))


@dataclasses.dataclass(frozen=True)
class ClassAP:
    """AP of one class (``None``: the class has no ground truth on these images)."""

    ap: float | None
    ap50: float | None


@dataclasses.dataclass(frozen=True)
class CocoResult:
    """One model's COCO evaluation.

    Attributes:
        metrics: the summary (``COCOeval.stats``).
        per_class: class id -> its AP and AP@.50 (from the precision array).
        precision: ``COCOeval.eval["precision"]`` (``T x R x K x A x M``).
        cat_ids: the class ids along axis ``K``.
    """

    metrics: CocoMetrics
    per_class: dict[int, ClassAP]
    precision: np.ndarray
    cat_ids: tuple[int, ...]


def class_ap(precision: np.ndarray, k: int, iou_index: int | None = None, area_index: int = 0,
             maxdet_index: int = -1) -> float | None:
    """The AP of class index ``k`` from COCOeval's precision array.

    Args:
        precision: ``eval["precision"]``, shape ``T x R x K x A x M``.
        k: the class's index along ``K`` (its position in ``params.catIds``).
        iou_index: one IoU threshold's index along ``T``; ``None``: the mean over all of them.
        area_index: the area range (``params.areaRngLbl``; 0 is ``all``).
        maxdet_index: the max-detections setting (``params.maxDets``; -1 is 100).

    Returns:
        The mean over the entries that are not ``-1``, or ``None`` when all are ``-1``.
    """
    p = precision[:, :, k, area_index, maxdet_index] if iou_index is None else \
        precision[iou_index, :, k, area_index, maxdet_index]
    valid = p[p > -1]
    return float(np.mean(valid)) if valid.size else None


def _xywh(boxes: np.ndarray) -> np.ndarray:
    """``ymin, xmin, ymax, xmax`` -> COCO ``x, y, w, h``."""
    return np.stack([boxes[:, 1], boxes[:, 0], boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], axis=1)


def coco_datasets(images: Sequence[ImageResult], categories: Sequence[Category]
                  ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The COCO ground-truth dataset and the detection list (image ids are positions in ``images``)."""
    gt: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for image_id, im in enumerate(images):
        for box, cls in zip(_xywh(im.gt_boxes), im.gt_classes):
            w, h = float(box[2]), float(box[3])
            gt.append({"id": len(gt) + 1, "image_id": image_id, "category_id": int(cls),
                       "bbox": [float(v) for v in box], "area": w * h, "iscrowd": 0})
        for box, score, cls in zip(_xywh(im.boxes), im.scores, im.classes):
            w, h = float(box[2]), float(box[3])
            dets.append({"id": len(dets) + 1, "image_id": image_id, "category_id": int(cls),
                         "bbox": [float(v) for v in box], "score": float(score), "area": w * h, "iscrowd": 0})
    dataset = {"images": [{"id": i, "width": im.width, "height": im.height} for i, im in enumerate(images)],
               "categories": [{"id": c.id, "name": c.name} for c in categories], "annotations": gt}
    return dataset, dets


def _coco(dataset: dict[str, Any]) -> Any:
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    coco.createIndex()
    return coco


def evaluate(images: Sequence[ImageResult], categories: Sequence[Category]) -> CocoResult:
    """Run ``COCOeval`` (bbox) over ``images``; summary and per-class AP.

    Detections of ids outside ``categories`` are ignored (pycocotools evaluates only
    ``params.catIds``). No detections at all is a valid input (every AP is 0).

    Raises:
        ValueError: ``images`` or ``categories`` is empty.
    """
    from pycocotools.cocoeval import COCOeval

    if not images or not categories:
        raise ValueError(f"nothing to evaluate: {len(images)} images, {len(categories)} categories")
    dataset, dets = coco_datasets(images, categories)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and its summary
        gt = _coco(dataset)
        # the detections as loadRes would build them, without its refusal of an empty list
        dt = _coco({"images": dataset["images"], "categories": dataset["categories"], "annotations": dets})
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = list(range(len(images)))
        ev.params.catIds = [c.id for c in categories]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = np.asarray(ev.eval["precision"])
    p = ev.params
    iou50 = int(np.argmin(np.abs(np.asarray(p.iouThrs) - 0.5)))
    area, maxdet = p.areaRngLbl.index(AREA_ALL), list(p.maxDets).index(MAX_DETS)
    per_class = {cat: ClassAP(class_ap(precision, k, None, area, maxdet), class_ap(precision, k, iou50, area, maxdet))
                 for k, cat in enumerate(p.catIds)}
    return CocoResult(CocoMetrics.of(ev.stats), per_class, precision, tuple(p.catIds))


class Resampled:
    """mAP (``COCOeval.stats[0]``) of ``images`` and of any resample of them (indices with repeats),
    for a bootstrap over images.

    ``COCOeval.evaluate`` matches detections to ground truth image by image, and that matching
    does not depend on which other images are evaluated; so it runs once, and each resample
    re-runs pycocotools' own ``accumulate`` on the per-image results of the drawn images (an image
    drawn twice counts twice), then averages the precision array as ``summarize`` does.
    """

    def __init__(self, images: Sequence[ImageResult], categories: Sequence[Category]) -> None:
        from pycocotools.cocoeval import COCOeval

        if not images or not categories:
            raise ValueError(f"nothing to evaluate: {len(images)} images, {len(categories)} categories")
        dataset, dets = coco_datasets(images, categories)
        with contextlib.redirect_stdout(io.StringIO()):
            gt = _coco(dataset)
            dt = _coco({"images": dataset["images"], "categories": dataset["categories"], "annotations": dets})
            self._ev = COCOeval(gt, dt, "bbox")
            self._ev.params.imgIds = list(range(len(images)))
            self._ev.params.catIds = [c.id for c in categories]
            self._ev.evaluate()
        self._per_image = list(self._ev.evalImgs)
        self._n = len(images)
        p = self._ev.params
        self._cells = len(p.catIds) * len(p.areaRng)
        self._area, self._maxdet = p.areaRngLbl.index(AREA_ALL), list(p.maxDets).index(MAX_DETS)

    def map(self, indices: Sequence[int] | np.ndarray | None = None) -> float:
        """mAP@[.5:.95] over the images at ``indices`` (all images when None); 0 when no
        category has ground truth there."""
        chosen = range(self._n) if indices is None else [int(i) for i in indices]
        ev, n = self._ev, self._n
        ev.evalImgs = [self._per_image[cell * n + i] for cell in range(self._cells) for i in chosen]
        ev.params.imgIds = list(range(len(chosen)))
        ev._paramsEval.imgIds = list(range(len(chosen)))  # noqa: SLF001 (accumulate indexes evalImgs by it)
        with contextlib.redirect_stdout(io.StringIO()):
            ev.accumulate()
        precision = np.asarray(ev.eval["precision"])[:, :, :, self._area, self._maxdet]
        valid = precision[precision > -1]
        return float(valid.mean()) if valid.size else 0.0
