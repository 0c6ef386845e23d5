"""The ground-truth boxes the anchor analysis reads (:func:`tuner.anchors.boxes.read_ground_truth`)
and re-expresses in the model's input frame (:mod:`tuner.anchors.frame`): data only, so both
modules depend on it and not on each other."""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """Ground-truth boxes of a set of TFRecords, normalised to their source image.

    Attributes:
        boxes: (N, 4) float64: ymin, xmin, ymax, xmax in [0, 1], ymin < ymax and xmin < xmax
            (coordinates within :data:`TOLERANCE` outside [0, 1] are clipped).
        classes: (N,) int64: label ids as stored (``image/object/class/label``); -1 for the boxes
            of a record that stores no labels.
        image_index: (N,) int64: index of the record (0-based, over all files in order) holding
            each box; non-decreasing.
        image_hw: (N, 2) int64: ``image/height``, ``image/width`` of each box's image (from the
            image header when the record lacks them); all >= 1.
        class_names: label id -> ``image/object/class/text`` where the records have it (the first
            text seen for an id; empty when no record stores texts next to its labels).
        images: records read (including those without boxes).
        files: files read, in order.
    """

    boxes: np.ndarray
    classes: np.ndarray
    image_index: np.ndarray
    image_hw: np.ndarray
    class_names: dict[int, str]
    images: int
    files: tuple[str, ...]
