"""The verdict's input data: classes, and one image's ground truth with one model's detections.

Everything downstream (:mod:`tuner.report.coco`, :mod:`tuner.report.matching`) works on
:class:`ImageResult`: boxes in absolute pixels of the decoded image, in the OD API's order
``ymin, xmin, ymax, xmax``, classes as label-map ids (1-based). That is the frame the OD API's
own COCO evaluation uses (``tflite.measure.coco_accuracy``), so the numbers agree with it.
Pure numpy; no TensorFlow.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Category:
    """One class of the label map."""

    id: int
    name: str

    @classmethod
    def of(cls, cats: Sequence[dict[str, Any]]) -> tuple[Category, ...]:
        """From COCO category dicts (``{"id", "name"}``, as :func:`tflite.records.categories` returns)."""
        return tuple(cls(int(c["id"]), str(c["name"])) for c in sorted(cats, key=lambda c: int(c["id"])))


def _boxes(value: Any) -> np.ndarray:
    return np.asarray(value, np.float64).reshape(-1, 4)


def _vector(value: Any, dtype: type) -> np.ndarray:
    return np.asarray(value).reshape(-1).astype(dtype)


@dataclasses.dataclass(frozen=True)
class ImageResult:
    """One image: its ground truth and one model's detections.

    Attributes:
        width, height: the decoded image's size in pixels.
        gt_boxes: ``[n, 4]`` ground-truth boxes, absolute pixels, ``ymin, xmin, ymax, xmax``.
        gt_classes: ``[n]`` their label-map ids.
        boxes: ``[m, 4]`` detected boxes (same frame).
        scores: ``[m]`` detection scores.
        classes: ``[m]`` detected label-map ids.
    """

    width: int
    height: int
    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        for name in ("gt_boxes", "boxes"):
            object.__setattr__(self, name, _boxes(getattr(self, name)))
        object.__setattr__(self, "gt_classes", _vector(self.gt_classes, np.int64))
        object.__setattr__(self, "classes", _vector(self.classes, np.int64))
        object.__setattr__(self, "scores", _vector(self.scores, np.float64))
        if len(self.gt_boxes) != len(self.gt_classes):
            raise ValueError(f"{len(self.gt_boxes)} ground-truth boxes but {len(self.gt_classes)} classes")
        if not len(self.boxes) == len(self.scores) == len(self.classes):
            raise ValueError(f"detections disagree: {len(self.boxes)} boxes, {len(self.scores)} scores, "
                             f"{len(self.classes)} classes")

    @classmethod
    def from_normalized(cls, width: int, height: int, gt_boxes: Any, gt_classes: Any, boxes: Any, scores: Any,
                        classes0: Any, label_id_offset: int = 1) -> ImageResult:
        """From the detectors' output: normalized boxes and 0-based classes (as ``CheckpointModel.detect``
        and ``TfliteDetector`` return them); ``gt_boxes`` normalized, ``gt_classes`` label-map ids."""
        scale = np.array([height, width, height, width], np.float64)
        return cls(width, height, _boxes(gt_boxes) * scale, gt_classes, _boxes(boxes) * scale, scores,
                   np.round(np.asarray(classes0, np.float64)).astype(np.int64) + label_id_offset)


@dataclasses.dataclass(frozen=True)
class ClassCounts:
    """Ground truth of one class over a set of images."""

    images: int
    boxes: int


def class_counts(images: Sequence[ImageResult], categories: Sequence[Category]) -> dict[int, ClassCounts]:
    """Per class id: how many images hold it and how many boxes it has."""
    return {c.id: ClassCounts(sum(bool(np.any(i.gt_classes == c.id)) for i in images),
                              sum(int(np.sum(i.gt_classes == c.id)) for i in images)) for c in categories}
