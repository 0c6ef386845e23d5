"""How well a config's anchors can match the ground-truth boxes: shape and grid coverage.

Two coverages, because they have different cures:

* **shape coverage**: the share of boxes whose best anchor IoU reaches the matcher's
  ``matched_threshold`` when the anchor is centred on the box. Only the anchor *shapes*
  (scales and aspect ratios) limit it, so a better anchor fit cures it. Ultralytics' "best
  possible recall" is this kind.
* **grid coverage**: the same with the anchors at their real grid centres, as the OD API's
  matcher sees them. The feature-map stride limits it too: a small box between two centres of
  a coarse grid matches nothing well whatever the shapes. Input resolution (a finer grid) or a
  lower ``matched_threshold`` cure it, not anchor shapes.

Both come with the mean best IoU, per class and per size bucket (COCO's small / medium / large
areas, in model-input pixels). All IoUs are computed in normalised coordinates of the model's
input frame; IoU does not change when both axes are scaled, so they equal IoUs in pixels.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any, Mapping, Sequence

import numpy as np

#: Matcher threshold when the config has no argmax matcher threshold set (the proto's default).
DEFAULT_MATCHED_THRESHOLD = 0.5
#: Grid coverage this far (absolute) below shape coverage gets its own advice line.
GRID_GAP = 0.2
#: Shape coverage below this gets the advice to fit the anchors (lint warns below it too).
LOW_SHAPE_COVERAGE = 0.9
_CHUNK = 2048  # boxes per block in the grid IoU (block x anchors floats in memory)


class SizeBucket(str, enum.Enum):
    """COCO's object size buckets by area, measured in model-input pixels."""

    SMALL = "small"      # area < 32**2
    MEDIUM = "medium"    # 32**2 <= area < 96**2
    LARGE = "large"      # area >= 96**2

    @staticmethod
    def of(area_px: np.ndarray) -> np.ndarray:
        """The bucket name of each area (an array of strings)."""
        return np.where(area_px < 32 ** 2, SizeBucket.SMALL.value,
                        np.where(area_px < 96 ** 2, SizeBucket.MEDIUM.value, SizeBucket.LARGE.value))


def matched_threshold(cfg: Any) -> float:
    """The SSD argmax matcher's ``matched_threshold`` (:data:`DEFAULT_MATCHED_THRESHOLD` otherwise)."""
    if cfg.model.WhichOneof("model") == "ssd" and cfg.model.ssd.matcher.WhichOneof("matcher_oneof") == "argmax_matcher":
        return float(cfg.model.ssd.matcher.argmax_matcher.matched_threshold)
    return DEFAULT_MATCHED_THRESHOLD


def centred_iou(box_hw: np.ndarray, anchor_hw: np.ndarray) -> np.ndarray:
    """IoU of each box with each anchor shape, both centred on the same point.

    Args:
        box_hw: (N, 2) heights and widths (any unit).
        anchor_hw: (K, 2) heights and widths (same unit).

    Returns:
        (N, K) IoUs in [0, 1].
    """
    bh, bw = box_hw[:, 0:1], box_hw[:, 1:2]
    ah, aw = anchor_hw[None, :, 0], anchor_hw[None, :, 1]
    inter = np.minimum(bh, ah) * np.minimum(bw, aw)
    return inter / (bh * bw + ah * aw - inter)


def best_centred_iou(box_hw: np.ndarray, anchor_hw: np.ndarray) -> np.ndarray:
    """(N,) best :func:`centred_iou` of each box over all anchor shapes."""
    if len(anchor_hw) == 0:
        return np.zeros(len(box_hw))
    return centred_iou(box_hw, anchor_hw).max(axis=1)


def best_grid_iou(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(N,) best IoU of each box with any anchor, both as (ymin, xmin, ymax, xmax) in one frame.

    Computed in blocks of boxes, so memory stays at ``block x anchors`` floats.
    """
    best = np.zeros(len(boxes))
    if len(anchors) == 0:
        return best
    ay0, ax0, ay1, ax1 = (anchors[:, i][None, :] for i in range(4))
    anchor_area = (ay1 - ay0) * (ax1 - ax0)
    for start in range(0, len(boxes), _CHUNK):
        b = boxes[start:start + _CHUNK]
        by0, bx0, by1, bx1 = (b[:, i:i + 1] for i in range(4))
        ih = np.clip(np.minimum(by1, ay1) - np.maximum(by0, ay0), 0, None)
        iw = np.clip(np.minimum(bx1, ax1) - np.maximum(bx0, ax0), 0, None)
        inter = ih * iw
        union = (by1 - by0) * (bx1 - bx0) + anchor_area - inter
        best[start:start + _CHUNK] = (inter / union).max(axis=1)
    return best


@dataclasses.dataclass(frozen=True)
class Group:
    """Coverage of one subset of the boxes (a class or a size bucket)."""

    name: str
    boxes: int
    shape_coverage: float
    grid_coverage: float
    mean_best_iou: float
    mean_grid_iou: float


@dataclasses.dataclass(frozen=True)
class Coverage:
    """Coverage of a set of boxes by one set of anchors.

    Attributes:
        threshold: the IoU a box needs with its best anchor to count as covered.
        boxes: number of boxes measured.
        shape_coverage: share of boxes with best centred-anchor IoU >= threshold.
        grid_coverage: share of boxes with best grid-anchor IoU >= threshold.
        mean_best_iou: mean best centred-anchor IoU.
        mean_grid_iou: mean best grid-anchor IoU.
        by_class, by_size: the same per class and per size bucket (groups without boxes left out).
        unmatched: indices of the boxes no anchor shape reaches the threshold for.
    """

    threshold: float
    boxes: int
    shape_coverage: float
    grid_coverage: float
    mean_best_iou: float
    mean_grid_iou: float
    by_class: tuple[Group, ...]
    by_size: tuple[Group, ...]
    unmatched: np.ndarray = dataclasses.field(repr=False, compare=False)

    def advice(self, fitting: bool = False) -> list[str]:
        """What to do about low coverage, one line per finding (empty when both are fine).

        With ``fitting`` (the caller fits anchors itself, as a study does), the lines do not
        send the user to the fit command.
        """
        lines = []
        if self.shape_coverage < LOW_SHAPE_COVERAGE and not fitting:
            lines.append(f"shape coverage {self.shape_coverage:.2f} < {LOW_SHAPE_COVERAGE}: the anchor shapes do not "
                         "fit the boxes; fit them: python -m tuner.anchors fit --config CONFIG -o OUT")
        if self.shape_coverage - self.grid_coverage > GRID_GAP:
            fit = "" if fitting else ("; a grid-aware fit helps a little (python -m tuner.anchors fit, its default "
                                      "objective)")
            lines.append(f"grid coverage {self.grid_coverage:.2f} is far below shape coverage "
                         f"{self.shape_coverage:.2f}: many boxes sit too far from every anchor centre of the "
                         f"feature-map grid{fit}; the cure is a higher input resolution (image_resizer) or a lower "
                         f"matched_threshold (now {self.threshold:g})")
        return lines

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (fractions in [0, 1])."""
        def group(g: Group) -> dict[str, Any]:
            return {k: v for k, v in dataclasses.asdict(g).items()}
        return {"threshold": self.threshold, "boxes": self.boxes, "shape_coverage": self.shape_coverage,
                "grid_coverage": self.grid_coverage, "mean_best_iou": self.mean_best_iou,
                "mean_grid_iou": self.mean_grid_iou, "by_class": [group(g) for g in self.by_class],
                "by_size": [group(g) for g in self.by_size], "unmatched": int(len(self.unmatched))}


def _group(name: str, mask: np.ndarray, shape_iou: np.ndarray, grid_iou: np.ndarray, threshold: float) -> Group:
    n = int(mask.sum())
    return Group(name, n, float((shape_iou[mask] >= threshold).mean()), float((grid_iou[mask] >= threshold).mean()),
                 float(shape_iou[mask].mean()), float(grid_iou[mask].mean()))


def measure(boxes: np.ndarray, frame_hw: tuple[int, int], shapes: Sequence[np.ndarray], grid: np.ndarray,
            threshold: float, classes: np.ndarray | None = None,
            class_names: Mapping[int, str] | None = None) -> Coverage:
    """Shape and grid coverage of ``boxes`` by one set of anchors.

    Args:
        boxes: (N, 4) ground truth, normalised (ymin, xmin, ymax, xmax) in the model's input frame.
        frame_hw: the input frame (height, width) in pixels (for box sizes and size buckets).
        shapes: per feature-map layer, the (k, 2) anchor (height, width) in input pixels.
        grid: (A, 4) every anchor at its grid position, normalised like ``boxes``.
        threshold: the IoU a box needs to count as covered (the matcher's ``matched_threshold``).
        classes: (N,) class id of each box (for the per-class rows); None: no per-class rows.
        class_names: id -> name for the rows (the id is used where missing).

    Raises:
        ValueError: no boxes.
    """
    if len(boxes) == 0:
        raise ValueError("no boxes to measure")
    height, width = frame_hw
    box_hw = np.stack([(boxes[:, 2] - boxes[:, 0]) * height, (boxes[:, 3] - boxes[:, 1]) * width], axis=1)
    all_shapes = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in shapes]) if shapes \
        else np.zeros((0, 2))
    shape_iou = best_centred_iou(box_hw, all_shapes)
    grid_iou = best_grid_iou(boxes, grid)
    by_class: list[Group] = []
    if classes is not None:
        names = dict(class_names or {})
        for cid in np.unique(classes):
            by_class.append(_group(names.get(int(cid), str(int(cid))), classes == cid, shape_iou, grid_iou, threshold))
    buckets = SizeBucket.of(box_hw[:, 0] * box_hw[:, 1])
    by_size = [_group(b.value, buckets == b.value, shape_iou, grid_iou, threshold)
               for b in SizeBucket if (buckets == b.value).any()]
    return Coverage(threshold=threshold, boxes=len(boxes), shape_coverage=float((shape_iou >= threshold).mean()),
                    grid_coverage=float((grid_iou >= threshold).mean()), mean_best_iou=float(shape_iou.mean()),
                    mean_grid_iou=float(grid_iou.mean()), by_class=tuple(by_class), by_size=tuple(by_size),
                    unmatched=np.flatnonzero(shape_iou < threshold))
