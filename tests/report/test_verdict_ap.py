"""Per-class AP from COCOeval's precision array equals pycocotools' own per-category result.

The reference is pycocotools run the standard way, once per class: ground truth as a COCO
dataset, detections through ``COCO.loadRes``, ``COCOeval`` with ``params.catIds = [c]``; its
``stats[0]`` (AP) and ``stats[1]`` (AP@.50) are the per-category result. The report's numbers
come from one evaluation of all classes (``tuner.report.coco.evaluate``). Pure and fast.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from verdicthelpers import synthetic_images

from tuner.report import coco, matching
from tuner.report.detections import Category, ImageResult

CATEGORIES = (Category(1, "circle"), Category(2, "square"), Category(3, "triangle"), Category(4, "absent"))


def _reference_coco(images: list[ImageResult]):  # type: ignore[no-untyped-def]
    """Ground truth and detections built independently of tuner.report.coco, the usual pycocotools way."""
    from pycocotools.coco import COCO

    anns, dets = [], []
    for image_id, im in enumerate(images):
        for (y0, x0, y1, x1), c in zip(im.gt_boxes, im.gt_classes):
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": int(c), "iscrowd": 0,
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0)})
        for (y0, x0, y1, x1), s, c in zip(im.boxes, im.scores, im.classes):
            dets.append({"image_id": image_id, "category_id": int(c), "bbox": [x0, y0, x1 - x0, y1 - y0],
                         "score": float(s)})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": [{"id": i, "width": im.width, "height": im.height} for i, im in enumerate(images)],
                      "categories": [{"id": c.id, "name": c.name} for c in CATEGORIES], "annotations": anns}
        gt.createIndex()
        dt = gt.loadRes(dets)
    return gt, dt


def _pycocotools(images: list[ImageResult], cat_ids: list[int]):  # type: ignore[no-untyped-def]
    from pycocotools.cocoeval import COCOeval

    gt, dt = _reference_coco(images)
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, dt, "bbox")
        ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_class_ap_equals_pycocotools_per_category(seed: int) -> None:
    images = synthetic_images(seed)
    mine = coco.evaluate(images, CATEGORIES)
    for c in CATEGORIES:
        ref = _pycocotools(images, [c.id]).stats
        got = mine.per_class[c.id]
        if c.name == "absent":  # no ground truth: pycocotools says -1, the report says None
            assert ref[0] == -1 and got.ap is None and got.ap50 is None
            continue
        assert got.ap == pytest.approx(ref[0], abs=1e-12), c
        assert got.ap50 == pytest.approx(ref[1], abs=1e-12), c
        assert 0.0 < got.ap < got.ap50 <= 1.0  # the fixture is neither trivial nor hopeless


def test_summary_is_cocoeval_stats_and_mean_of_classes() -> None:
    images = synthetic_images(3)
    mine = coco.evaluate(images, CATEGORIES)
    ref = _pycocotools(images, [c.id for c in CATEGORIES]).stats
    assert mine.metrics.map == pytest.approx(ref[0], abs=1e-12)
    assert mine.metrics.map50 == pytest.approx(ref[1], abs=1e-12)
    assert mine.metrics.map75 == pytest.approx(ref[2], abs=1e-12)
    assert mine.metrics.map_small == (None if ref[3] < 0 else pytest.approx(ref[3], abs=1e-12))
    assert mine.metrics.map_medium == pytest.approx(ref[4], abs=1e-12)
    # COCO's mAP is the mean of the classes that have ground truth
    aps = [a.ap for a in mine.per_class.values() if a.ap is not None]
    assert mine.metrics.map == pytest.approx(np.mean(aps), abs=1e-12)


def test_class_ap_ignores_minus_one_entries() -> None:
    precision = -np.ones((10, 101, 2, 4, 3))
    precision[:, :51, 0, 0, 2] = 1.0
    precision[:, 51:, 0, 0, 2] = 0.0  # class 0: half the recall range at precision 1
    precision[0, :, 0, 0, 2] = 0.5    # at IoU .5: 0.5 everywhere
    assert coco.class_ap(precision, 0) == pytest.approx((9 * 51 / 101 + 0.5) / 10)
    assert coco.class_ap(precision, 0, iou_index=0) == pytest.approx(0.5)
    assert coco.class_ap(precision, 1) is None  # all -1: no ground truth


def test_no_detections_scores_zero_not_an_error() -> None:
    images = [ImageResult(im.width, im.height, im.gt_boxes, im.gt_classes, np.zeros((0, 4)), [], [])
              for im in synthetic_images(0)]
    result = coco.evaluate(images, CATEGORIES)
    assert result.metrics.map == 0.0
    assert all(a.ap in (0.0, None) for a in result.per_class.values())


def _coco_interpolated(m: matching.ClassMatches, rec_thrs: np.ndarray) -> np.ndarray:
    """COCOeval.accumulate's interpolation of a pooled, score-sorted TP/FP sequence."""
    if not m.n_gt:
        return np.full(len(rec_thrs), -1.0)
    tp, fp = np.cumsum(m.tp).astype(float), np.cumsum(~m.tp).astype(float)
    rc, pr = tp / m.n_gt, list(tp / (fp + tp + np.spacing(1)))
    for i in range(len(pr) - 1, 0, -1):
        pr[i - 1] = max(pr[i - 1], pr[i])
    q = np.zeros(len(rec_thrs))
    for ri, pi in enumerate(np.searchsorted(rc, rec_thrs, side="left")):
        if pi < len(pr):
            q[ri] = pr[pi]
    return q


@pytest.mark.parametrize("seed", [0, 4])
def test_matching_reproduces_coco_precision_at_iou_50(seed: int) -> None:
    """The operating points' matcher is COCO's: its pooled TP/FP sequence, interpolated as COCOeval
    does, is COCOeval's precision row at IoU .5 for every class."""
    images = synthetic_images(seed)
    result = coco.evaluate(images, CATEGORIES)
    rec_thrs = np.linspace(0.0, 1.00, 101)
    for k, cat in enumerate(result.cat_ids):
        m = matching.match_class(images, cat)
        np.testing.assert_allclose(_coco_interpolated(m, rec_thrs), result.precision[0, :, k, 0, -1], atol=1e-12)


def test_matching_rule_on_a_hand_made_image() -> None:
    gt = np.array([[0, 0, 10, 10], [0, 20, 10, 30]], float)
    dets = np.array([[0, 0, 10, 10],      # 0.9: exact match of gt 0
                     [0, 1, 10, 11],      # 0.8: gt 0 taken already -> FP (IoU with gt 1 is 0)
                     [0, 24, 10, 34],     # 0.7: IoU 6/14 = 0.43 with gt 1 -> FP
                     [0, 22, 10, 32]], float)  # 0.6: IoU 8/12 = 0.67 with gt 1 -> TP
    scores, tp = matching.match_image(gt, dets, np.array([0.9, 0.8, 0.7, 0.6]))
    assert scores.tolist() == [0.9, 0.8, 0.7, 0.6]
    assert tp.tolist() == [True, False, False, True]
    curve = matching.pr_curve(matching.ClassMatches(1, scores, tp, 2))
    assert curve.precision.tolist() == [1.0, 0.5, 1 / 3, 0.5]
    assert curve.recall.tolist() == [0.5, 0.5, 0.5, 1.0]
