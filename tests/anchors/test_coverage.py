"""Coverage against IoUs computed by hand on tiny cases."""
from __future__ import annotations

import numpy as np
import pytest

from tuner.anchors import coverage as cov


def test_centred_iou_by_hand():
    # box 10x20 (h x w) against anchor 10x10: intersection 100, union 200 + 100 - 100 = 200
    # box 10x20 against anchor 20x10: intersection 10*10 = 100, union 200 + 200 - 100 = 300
    got = cov.centred_iou(np.array([[10.0, 20.0]]), np.array([[10.0, 10.0], [20.0, 10.0], [10.0, 20.0]]))
    assert got == pytest.approx(np.array([[0.5, 1 / 3, 1.0]]))


def test_best_grid_iou_by_hand():
    boxes = np.array([[0.0, 0.0, 0.5, 0.5],     # equals anchor 0
                      [0.25, 0.25, 0.75, 0.75]])  # overlaps anchor 0 by 0.25*0.25, anchor 1 the same
    anchors = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    # second box: intersection 0.0625, union 0.25 + 0.25 - 0.0625 = 0.4375
    assert cov.best_grid_iou(boxes, anchors) == pytest.approx([1.0, 0.0625 / 0.4375])


def test_best_grid_iou_blocks_agree_with_one_block(monkeypatch):
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 0.5, size=(5000, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.05, 0.5, size=(5000, 2))], axis=1)[:, [0, 1, 2, 3]]
    anchors = boxes[:40] * 0.9
    whole = cov.best_grid_iou(boxes, anchors)
    monkeypatch.setattr(cov, "_CHUNK", 7)
    assert cov.best_grid_iou(boxes, anchors) == pytest.approx(whole)


def test_measure_counts_shape_and_grid_coverage_per_class_and_size():
    frame = (100, 100)
    # box A: 40x40 px at the top left, exactly an anchor on the grid -> covered both ways
    # box B: 10x10 px (small) whose only same-shape anchor sits far away -> shape yes, grid no
    boxes = np.array([[0.0, 0.0, 0.4, 0.4], [0.8, 0.8, 0.9, 0.9]])
    shapes = [np.array([[40.0, 40.0]]), np.array([[10.0, 10.0]])]
    grid = np.array([[0.0, 0.0, 0.4, 0.4], [0.0, 0.0, 0.1, 0.1]])
    got = cov.measure(boxes, frame, shapes, grid, 0.5, classes=np.array([1, 2]), class_names={1: "big"})
    assert (got.shape_coverage, got.grid_coverage) == (1.0, 0.5)
    assert got.mean_best_iou == pytest.approx(1.0) and got.mean_grid_iou == pytest.approx(0.5)
    assert [(g.name, g.boxes, g.grid_coverage) for g in got.by_class] == [("big", 1, 1.0), ("2", 1, 0.0)]
    assert [(g.name, g.boxes) for g in got.by_size] == [("small", 1), ("medium", 1)]  # 100 px^2 and 1600 px^2
    assert list(got.unmatched) == []
    advice = got.advice()
    assert len(advice) == 1 and "grid coverage 0.50" in advice[0] and "resolution" in advice[0]
    assert 0 <= got.to_json()["shape_coverage"] <= 1


def test_low_shape_coverage_names_the_fit_command():
    boxes = np.array([[0.0, 0.0, 0.1, 0.6]])  # 10 x 60 px: a 1:6 bar
    got = cov.measure(boxes, (100, 100), [np.array([[20.0, 20.0]])], np.array([[0.0, 0.0, 0.2, 0.2]]), 0.5)
    assert got.shape_coverage == 0.0 and list(got.unmatched) == [0]
    assert any("python -m tuner.anchors fit" in line for line in got.advice())


def test_size_buckets_follow_coco_areas():
    assert list(cov.SizeBucket.of(np.array([31 ** 2, 32 ** 2, 95 ** 2, 96 ** 2]))) == \
        ["small", "medium", "medium", "large"]


def test_no_boxes_is_an_error():
    with pytest.raises(ValueError):
        cov.measure(np.zeros((0, 4)), (10, 10), [], np.zeros((0, 4)), 0.5)
