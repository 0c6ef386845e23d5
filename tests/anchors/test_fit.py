"""The anchor fit: k-means seeds, the fast grid IoU against the generator's anchors, determinism, gains."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tuner.anchors import coverage as cov
from tuner.anchors import fit as fitmod
from tuner.anchors.generators import SsdAnchorParams, anchor_shapes, grid_anchors_by_layer

MAPS = ((8, 8), (4, 4), (2, 2), (1, 1), (1, 1), (1, 1))  # the demo model at 128 px (measured)
FRAME = (128, 128)
BASE = SsdAnchorParams(num_layers=6, min_scale=0.1, max_scale=0.95, aspect_ratios=(1.0, 2.0, 0.5, 3.0, 0.3333))


def _bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(box_hw in pixels, normalised boxes): thin bars about 1:6 and 6:1, 8..50 px long sides."""
    rng = np.random.default_rng(seed)
    long = rng.uniform(20, 60, size=n)
    short = long / rng.uniform(5, 7, size=n)
    wide = rng.random(n) < 0.5
    h, w = np.where(wide, short, long), np.where(wide, long, short)
    y0, x0 = rng.uniform(0, 128 - h), rng.uniform(0, 128 - w)
    boxes = np.stack([y0, x0, y0 + h, x0 + w], axis=1) / 128
    return np.stack([h, w], axis=1), boxes


def test_kmeans_finds_both_bar_orientations():
    box_hw, _ = _bars(2000, 0)
    ratios = fitmod.kmeans_ratios(box_hw, 3)
    assert ratios[0] == pytest.approx(1 / 6, rel=0.15) and ratios[-1] == pytest.approx(6, rel=0.15)


@pytest.mark.parametrize("params", [BASE, dataclasses.replace(BASE, min_scale=0.02, max_scale=0.5,
                                                              aspect_ratios=(0.17, 1.0, 6.0))])
def test_fast_grid_iou_equals_the_iou_with_the_generators_own_anchors(params):
    _, boxes = _bars(500, 1)
    shapes = anchor_shapes(params, MAPS, FRAME)
    by_layer = grid_anchors_by_layer(params, MAPS, FRAME)
    grid = fitmod.Grid.of(grid_anchors_by_layer(BASE, MAPS, FRAME))  # positions do not depend on the shapes
    fast = fitmod.best_grid_iou(boxes, shapes, grid, FRAME)
    assert fast == pytest.approx(cov.best_grid_iou(boxes, np.concatenate(by_layer)), abs=1e-5)


def test_fit_covers_bars_the_base_anchors_miss_and_is_deterministic():
    box_hw, boxes = _bars(3000, 2)
    before = fitmod.score(BASE, box_hw, MAPS, FRAME, 0.5)
    first = fitmod.fit(BASE, box_hw, MAPS, FRAME, 0.5, seed=3)
    again = fitmod.fit(BASE, box_hw, MAPS, FRAME, 0.5, seed=3)
    assert first.params == again.params and first.after == again.after
    assert before.shape_coverage < 0.7 and first.after.shape_coverage >= 0.95
    assert first.before == before and first.after.mean_best_iou > before.mean_best_iou
    assert len(first.params.aspect_ratios) == len(BASE.aspect_ratios)  # anchors per cell kept
    assert min(first.params.aspect_ratios) < 0.25 and max(first.params.aspect_ratios) > 4


def test_fit_with_the_grid_never_scores_below_the_base():
    box_hw, boxes = _bars(1500, 4)
    grid = fitmod.Grid.of(grid_anchors_by_layer(BASE, MAPS, FRAME))
    grid_objective = fitmod.Objective.GRID
    result = fitmod.fit(BASE, box_hw, MAPS, FRAME, 0.5, objective=grid_objective, boxes=boxes, grid=grid,
                        generations=5, population=8)
    assert result.after.fitness(grid_objective) >= result.before.fitness(grid_objective)
    assert result.before.grid_coverage == pytest.approx(
        float((cov.best_grid_iou(boxes, np.concatenate(grid_anchors_by_layer(BASE, MAPS, FRAME))) >= 0.5).mean()))


def test_ratios_outside_three_to_six_and_no_boxes_are_errors():
    box_hw, _ = _bars(10, 0)
    with pytest.raises(ValueError, match="3..6"):
        fitmod.fit(BASE, box_hw, MAPS, FRAME, 0.5, ratios=7)
    with pytest.raises(ValueError, match="no boxes"):
        fitmod.fit(BASE, np.zeros((0, 2)), MAPS, FRAME, 0.5)
