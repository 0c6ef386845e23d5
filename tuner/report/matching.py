"""Detections matched to ground truth at one IoU, per class, and the precision-recall curve over score thresholds.

The matching rule is COCOeval's (``evaluateImg``) at a single IoU threshold, area range "all",
at most 100 detections per image and class, no crowd boxes:

1. per image and class, the detections are taken in decreasing score order (a stable sort, so
   equal scores keep the detector's order), the 100 best;
2. each detection in turn takes the ground-truth box of its class, not yet taken, with the
   highest IoU, if that IoU is at least the threshold (among equal IoUs the later box, as in
   COCOeval); it is then a true positive, else a false positive. A ground-truth box is taken
   at most once; a detection never looks at other classes' boxes;
3. IoU is computed as pycocotools computes it for boxes (``x, y, w, h`` in double precision).

All images' detections of the class are then sorted by score (stable, images in order), as
``COCOeval.accumulate`` does, so the curve's interpolated form is COCO's precision row for that
IoU (tested). A score threshold ``t`` keeps the detections with ``score >= t``; the curve has
one point per distinct score.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from tuner.report.detections import ImageResult

IOU = 0.5
MAX_DETS = 100


def _xywh(boxes: np.ndarray) -> np.ndarray:
    return np.stack([boxes[:, 1], boxes[:, 0], boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], axis=1)


def iou_matrix(dets: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """``[d, g]`` IoU of ``ymin, xmin, ymax, xmax`` boxes, computed as pycocotools' ``bbIou`` (no crowd)."""
    out = np.zeros((len(dets), len(gts)), np.float64)
    if not len(dets) or not len(gts):
        return out
    d, g = _xywh(dets.astype(np.float64)), _xywh(gts.astype(np.float64))
    w = np.minimum(d[:, None, 0] + d[:, None, 2], g[None, :, 0] + g[None, :, 2]) - np.maximum(d[:, None, 0], g[None, :, 0])
    h = np.minimum(d[:, None, 1] + d[:, None, 3], g[None, :, 1] + g[None, :, 3]) - np.maximum(d[:, None, 1], g[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    union = (d[:, 2] * d[:, 3])[:, None] + (g[:, 2] * g[:, 3])[None, :] - inter
    np.divide(inter, union, out=out, where=union > 0)
    return out


def match_image(gt_boxes: np.ndarray, boxes: np.ndarray, scores: np.ndarray, iou: float = IOU,
                max_dets: int = MAX_DETS) -> tuple[np.ndarray, np.ndarray]:
    """Match one image's detections of one class to its ground truth of that class.

    Returns:
        The kept detections' scores in decreasing order, and whether each is a true positive.
    """
    order = np.argsort(-scores, kind="mergesort")[:max_dets]
    ious = iou_matrix(boxes[order], gt_boxes)
    taken = np.zeros(len(gt_boxes), bool)
    tp = np.zeros(len(order), bool)
    for d in range(len(order)):
        best, best_iou = -1, min(iou, 1 - 1e-10)
        for g in range(len(gt_boxes)):
            if taken[g] or ious[d, g] < best_iou:
                continue
            best, best_iou = g, ious[d, g]
        if best >= 0:
            taken[best] = tp[d] = True
    return scores[order], tp


@dataclasses.dataclass(frozen=True)
class ClassMatches:
    """All detections of one class over a set of images, matched (see the module docstring).

    Attributes:
        class_id: the label-map id.
        scores: detection scores in decreasing order (stable over images in order).
        tp: whether each detection is a true positive.
        n_gt: ground-truth boxes of the class.
    """

    class_id: int
    scores: np.ndarray
    tp: np.ndarray
    n_gt: int


def match_class(images: Sequence[ImageResult], class_id: int, iou: float = IOU,
                max_dets: int = MAX_DETS) -> ClassMatches:
    """Match every image's detections of ``class_id`` and pool them (COCO's accumulation order)."""
    scores, tps, n_gt = [], [], 0
    for im in images:
        gt = im.gt_boxes[im.gt_classes == class_id]
        mine = im.classes == class_id
        s, tp = match_image(gt, im.boxes[mine], im.scores[mine], iou, max_dets)
        scores.append(s)
        tps.append(tp)
        n_gt += len(gt)
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    all_tp = np.concatenate(tps) if tps else np.zeros(0, bool)
    order = np.argsort(-all_scores, kind="mergesort")
    return ClassMatches(class_id, all_scores[order], all_tp[order], n_gt)


@dataclasses.dataclass(frozen=True)
class PrCurve:
    """Precision and recall at each distinct score threshold, highest threshold first.

    ``recall`` is NaN when the class has no ground truth.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_gt: int

    @property
    def f1(self) -> np.ndarray:
        p, r = self.precision, self.recall
        total = p + r
        return np.divide(2 * p * r, total, out=np.zeros_like(p), where=total > 0)


def pr_curve(matches: ClassMatches) -> PrCurve:
    """One point per distinct score ``t``: precision and recall of the detections with ``score >= t``."""
    s = matches.scores
    tp = np.cumsum(matches.tp).astype(np.float64)
    fp = np.cumsum(~matches.tp).astype(np.float64)
    last = np.r_[np.nonzero(s[1:] != s[:-1])[0], len(s) - 1] if len(s) else np.zeros(0, np.int64)
    tp, fp = tp[last], fp[last]
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / matches.n_gt if matches.n_gt else np.full(len(last), np.nan)
    return PrCurve(s[last], precision, recall, tp, fp, matches.n_gt)

