"""Fit anchor shapes to the ground-truth boxes: k-means ratios, percentile scales, then evolution.

What is searched (``num_layers`` and the levels stay what the feature extractor dictates):

* ``ssd_anchor_generator``: ``min_scale``, ``max_scale`` and ``aspect_ratios``;
* ``multiscale_anchor_generator``: ``anchor_scale``, ``scales_per_octave`` and ``aspect_ratios``.

The number of aspect ratios stays the base config's (clamped to 3..6) unless asked otherwise:
it sets the number of anchors per cell, hence the box predictor's shape (a ``detection``
fine-tune checkpoint restores the feature extractor only, so it is free to change, but a
``full`` one restores the heads too).

The start: aspect ratios from a 1-D k-means of the boxes' log aspect ratios, scales from box-size
percentiles; the base anchors join the first population, so the fit never scores below them.
Then a seeded (mu + lambda) evolution in log space maximises the :class:`Objective` on a fixed
sample of the boxes: ``shape coverage + mean best IoU`` (centred anchors, :mod:`.coverage`), or
with :attr:`Objective.GRID` (the default) also ``GRID_WEIGHT x (grid coverage + mean grid IoU)``,
the anchors where the matcher sees them. Shape terms alone reward anchors the grid cannot place: measured on thin-bar data at
128 px, the shape fit raised shape coverage 0.52 -> 1.00 while grid coverage fell 0.13 -> 0.08;
the grid fit reached 0.70 and 0.23, and trained better (docs/usage/study.md, "Anchors from the data"). The grid coverage is computed in closed form
(:func:`best_grid_iou`), so either objective fits 50,000 boxes in seconds.
Deterministic for a seed.
"""
from __future__ import annotations

import dataclasses
import enum
import time
from typing import Sequence

import numpy as np

from tuner.anchors import coverage
from tuner.anchors.generators import anchor_shapes
from tuner.anchors.params import AnchorParams, SsdAnchorParams

MIN_RATIOS, MAX_RATIOS = 3, 6
#: Boxes the evolution scores each candidate on (a fixed random sample of the data).
SAMPLE_BOXES = 4000
POPULATION = 24
GENERATIONS = 40
SCALE_BOUNDS = (0.01, 1.0)          # ssd min_scale / max_scale
ANCHOR_SCALE_BOUNDS = (0.5, 16.0)   # multiscale anchor_scale
RATIO_BOUNDS = (0.05, 20.0)
SCALES_PER_OCTAVE = (1, 4)
DECIMALS = 3


@dataclasses.dataclass(frozen=True)
class Score:
    """Centred-anchor (shape) coverage of the boxes and the mean best IoU; grid coverage and the
    mean best grid IoU when the grid centres were given (else 0)."""

    shape_coverage: float
    mean_best_iou: float
    grid_coverage: float = 0.0
    mean_grid_iou: float = 0.0

    def fitness(self, objective: "Objective") -> float:
        shape = self.shape_coverage + self.mean_best_iou
        if objective is Objective.SHAPE:
            return shape
        return shape + GRID_WEIGHT * (self.grid_coverage + self.mean_grid_iou)


class Objective(str, enum.Enum):
    """What the fit maximises."""

    SHAPE = "shape"  # shape coverage + mean best IoU: anchors centred on the boxes (autoanchor's kind)
    GRID = "grid"    # the same plus grid coverage + mean grid IoU: the anchors where the matcher sees them


#: Weight of the grid terms in :attr:`Objective.GRID` (shape terms weigh 1). With equal weights
#: the fit on thin-bar data still traded grid coverage for shape coverage (0.21 -> 0.25 where
#: weight 2 reached 0.39) and trained worse than the base (mAP 0.188 vs 0.204; weight 2: 0.272).
GRID_WEIGHT = 2.0

#: The objective of ``python -m tuner.anchors fit`` and of the study's fitted-anchors trial.
#: Measured 2026-12-01 on thin bars, circles and squares at 128 px, 300 fine-tuning steps: see
#: docs/usage/study.md "Anchors from the data" and ``bench/anchors.py``.
DEFAULT_OBJECTIVE = Objective.GRID

#: The fitted sizes are multiplied by this before they are trained (``analysis.fit``; the CLI's
#: ``--growth``; 1.0 keeps the coverage optimum). Coverage counts a box's single best anchor, but
#: training learns from every anchor the matcher makes positive, and a grid anchor somewhat
#: larger than a box still overlaps it when the box sits off the anchor's centre. Chosen 2026-12-05
#: on a shapes variant (seed 8: pillar, stick, circle, triangle; fine-tuned from the bundled
#: checkpoint, 200 steps, 3 runs each): base anchors mAP 0.196 / 0.177 / 0.200, the fit 0.165 /
#: 0.172 / 0.119, the fit x1.25 0.232 / 0.228 / 0.227, a grid-only fit 0.215 / 0.208 / 0.189.
#: Checked afterwards on a variant not used to choose it: docs/usage/study.md, "Anchors from the data".
TRAINING_GROWTH = 1.25


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The fitted parameters and their score against the base's (both on all boxes)."""

    params: AnchorParams
    before: Score
    after: Score
    evaluations: int
    seconds: float


@dataclasses.dataclass(frozen=True)
class Grid:
    """Where each layer's anchors sit: the distinct centre rows and columns (normalised) of the
    OD API's grid anchors. Both generators place anchors on a product grid whose positions do not
    depend on the anchor shapes, so this is measured once, on the base anchors."""

    rows: tuple[np.ndarray, ...]  # per layer, (h,) centre y values
    cols: tuple[np.ndarray, ...]  # per layer, (w,) centre x values

    @staticmethod
    def of(grid_by_layer: Sequence[np.ndarray]) -> "Grid":
        """From ``generators.grid_anchors_by_layer`` (per layer, (h * w * k, 4) normalised boxes)."""
        rows = tuple(np.unique(np.round((g[:, 0] + g[:, 2]) / 2, 9)) for g in grid_by_layer)
        cols = tuple(np.unique(np.round((g[:, 1] + g[:, 3]) / 2, 9)) for g in grid_by_layer)
        return Grid(rows, cols)


def _nearest(values: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N,) distance from each value to its nearest centre (centres sorted)."""
    i = np.clip(np.searchsorted(centres, values), 1, max(1, len(centres) - 1))
    lo, hi = centres[np.maximum(i - 1, 0)], centres[np.minimum(i, len(centres) - 1)]
    return np.minimum(np.abs(values - lo), np.abs(values - hi))


def _overlap(box: np.ndarray, anchor: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(N, K) 1-D overlap of a box of length ``box`` (N, 1) centred at 0 and an anchor of length
    ``anchor`` (1, K) centred at ``offset`` (N, 1)."""
    return np.clip(np.minimum(box / 2, offset + anchor / 2) - np.maximum(-box / 2, offset - anchor / 2), 0, None)


def best_grid_iou(boxes: np.ndarray, shapes: Sequence[np.ndarray], grid: Grid, frame_hw: tuple[int, int]) -> np.ndarray:
    """(N,) best IoU of each box with any anchor of ``shapes`` placed on ``grid``, without
    building the anchors: IoU only falls as an anchor moves away from a box along either axis,
    so for each layer and shape the best position is the centre row and column nearest the box's
    centre. Equals ``coverage.best_grid_iou`` on the generator's own anchors (tested).

    Args:
        boxes: (N, 4) normalised in the input frame.
        shapes: per layer, (k, 2) anchor heights and widths in input pixels.
        grid: the layers' centre rows and columns.
        frame_hw: the input frame in pixels.
    """
    height, width = frame_hw
    bh = ((boxes[:, 2] - boxes[:, 0]) * height)[:, None]
    bw = ((boxes[:, 3] - boxes[:, 1]) * width)[:, None]
    cy, cx = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    best = np.zeros(len(boxes))
    for layer, rows, cols in zip(shapes, grid.rows, grid.cols):
        layer = np.asarray(layer).reshape(-1, 2)
        dy = (_nearest(cy, rows) * height)[:, None]
        dx = (_nearest(cx, cols) * width)[:, None]
        ah, aw = layer[None, :, 0], layer[None, :, 1]
        inter = _overlap(bh, ah, dy) * _overlap(bw, aw, dx)
        best = np.maximum(best, (inter / (bh * bw + ah * aw - inter)).max(axis=1))
    return best


def score(params: AnchorParams, box_hw: np.ndarray, feature_maps: Sequence[tuple[int, int]],
          frame_hw: tuple[int, int], threshold: float, *, boxes: np.ndarray | None = None,
          grid: Grid | None = None) -> Score:
    """Shape coverage and mean best IoU of ``box_hw`` ((N, 2) input pixels) under ``params``;
    with ``boxes`` ((N, 4) normalised, the same boxes) and ``grid``, also their grid coverage
    and mean best grid IoU."""
    shapes = anchor_shapes(params, feature_maps, frame_hw)
    best = coverage.best_centred_iou(box_hw, np.concatenate(shapes))
    if boxes is None or grid is None:
        return Score(float((best >= threshold).mean()), float(best.mean()))
    on_grid = best_grid_iou(boxes, shapes, grid, frame_hw)
    return Score(float((best >= threshold).mean()), float(best.mean()), float((on_grid >= threshold).mean()),
                 float(on_grid.mean()))


def kmeans_ratios(box_hw: np.ndarray, k: int, iterations: int = 50) -> tuple[float, ...]:
    """``k`` aspect ratios (width / height) by 1-D k-means on log ratios, started at quantiles."""
    logs = np.log(box_hw[:, 1] / box_hw[:, 0])
    centres = np.quantile(logs, (np.arange(k) + 0.5) / k)
    for _ in range(iterations):
        nearest = np.abs(logs[:, None] - centres[None, :]).argmin(axis=1)
        updated = np.array([logs[nearest == j].mean() if (nearest == j).any() else centres[j] for j in range(k)])
        if np.allclose(updated, centres):
            break
        centres = updated
    return tuple(float(r) for r in np.sort(np.exp(centres)))


def _genome(params: AnchorParams) -> np.ndarray:
    if isinstance(params, SsdAnchorParams):
        head = [np.log(params.min_scale), np.log(params.max_scale)]
    else:
        head = [np.log(params.anchor_scale), float(params.scales_per_octave)]
    return np.array(head + [float(np.log(r)) for r in params.aspect_ratios])


def _params(base: AnchorParams, genome: np.ndarray) -> AnchorParams:
    ratios = tuple(sorted(round(float(np.exp(np.clip(g, *np.log(RATIO_BOUNDS)))), DECIMALS) for g in genome[2:]))
    if isinstance(base, SsdAnchorParams):
        low, high = sorted(float(np.exp(np.clip(g, *np.log(SCALE_BOUNDS)))) for g in genome[:2])
        low, high = round(low, DECIMALS), round(high, DECIMALS)
        if high - low < 10 ** -DECIMALS:
            high = round(min(SCALE_BOUNDS[1], low + 0.05), DECIMALS)
            low = min(low, round(high - 0.05, DECIMALS))
        return dataclasses.replace(base, min_scale=low, max_scale=high, aspect_ratios=ratios, scales=())
    scale = round(float(np.exp(np.clip(genome[0], *np.log(ANCHOR_SCALE_BOUNDS)))), DECIMALS)
    per_octave = int(np.clip(round(genome[1]), *SCALES_PER_OCTAVE))
    return dataclasses.replace(base, anchor_scale=scale, scales_per_octave=per_octave, aspect_ratios=ratios)


def _seed_params(base: AnchorParams, box_hw: np.ndarray, frame_hw: tuple[int, int], k: int) -> AnchorParams:
    ratios = tuple(round(r, DECIMALS) for r in kmeans_ratios(box_hw, k))
    size = np.sqrt(box_hw[:, 0] * box_hw[:, 1])
    if isinstance(base, SsdAnchorParams):
        scale = size / min(frame_hw)
        low = float(np.clip(np.percentile(scale, 5), *SCALE_BOUNDS))
        high = float(np.clip(np.percentile(scale, 95), low + 0.05, SCALE_BOUNDS[1]))
        return dataclasses.replace(base, min_scale=round(low, DECIMALS), max_scale=round(high, DECIMALS),
                                   aspect_ratios=ratios, scales=())
    # the smallest level's base anchor is anchor_scale * 2**min_level pixels: match the small boxes
    anchor_scale = float(np.clip(np.percentile(size, 10) / 2 ** base.min_level, *ANCHOR_SCALE_BOUNDS))
    return dataclasses.replace(base, anchor_scale=round(anchor_scale, DECIMALS), aspect_ratios=ratios)


def fit(base: AnchorParams, box_hw: np.ndarray, feature_maps: Sequence[tuple[int, int]], frame_hw: tuple[int, int],
        threshold: float, *, seed: int = 0, ratios: int | None = None, objective: Objective = Objective.SHAPE,
        boxes: np.ndarray | None = None, grid: Grid | None = None, generations: int = GENERATIONS,
        population: int = POPULATION) -> FitResult:
    """Anchor parameters that cover ``box_hw`` better than ``base``.

    Args:
        base: the config's anchors (the generator kind and the fixed fields are kept).
        box_hw: (N, 2) box heights and widths in model-input pixels.
        feature_maps: the extractor's feature-map shapes (``probe.feature_map_shapes``).
        frame_hw: the model input (height, width) in pixels.
        threshold: the matcher's ``matched_threshold``.
        seed: the evolution's seed; equal inputs and seed give equal results.
        ratios: number of aspect ratios (3..6); default: the base's count, clamped to 3..6.
        objective: what to maximise; :attr:`Objective.GRID` needs ``boxes`` and ``grid``.
        boxes: (N, 4) the same boxes, normalised in the input frame; with ``grid``, the grid
            coverage is measured (and reported) too.
        grid: the layers' anchor centres (:meth:`Grid.of`).

    Returns:
        The fit; its ``after`` score is never below ``before`` (the base competes).

    Raises:
        ValueError: no boxes, ``ratios`` outside 3..6, or the grid objective without boxes and grid.
    """
    if objective is Objective.GRID and (boxes is None or grid is None):
        raise ValueError("the grid objective needs the normalised boxes and the grid")
    if len(box_hw) == 0:
        raise ValueError("no boxes to fit anchors to")
    k = ratios if ratios is not None else int(np.clip(len(base.aspect_ratios), MIN_RATIOS, MAX_RATIOS))
    if not MIN_RATIOS <= k <= MAX_RATIOS:
        raise ValueError(f"ratios must be in {MIN_RATIOS}..{MAX_RATIOS} (got {k})")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    chosen = np.arange(len(box_hw)) if len(box_hw) <= SAMPLE_BOXES else \
        np.sort(rng.choice(len(box_hw), SAMPLE_BOXES, replace=False))
    sample = box_hw[chosen]
    sample_boxes = None if boxes is None else boxes[chosen]
    evaluations = 0
    cache: dict[AnchorParams, float] = {}

    def fitness(p: AnchorParams) -> float:
        nonlocal evaluations
        if p not in cache:
            evaluations += 1
            cache[p] = score(p, sample, feature_maps, frame_hw, threshold, boxes=sample_boxes, grid=grid).fitness(objective)
        return cache[p]

    seeded = _seed_params(base, sample, frame_hw, k)
    start = [seeded]
    if len(base.aspect_ratios) == k:
        start.append(_params(base, _genome(base)) if isinstance(base, SsdAnchorParams) and base.scales else base)
    pool = {p: fitness(p) for p in start}
    genomes = [_genome(p) for p in start]
    while len(pool) < population:  # the rest of the first population: mutants of the seeds
        parent = genomes[len(pool) % len(genomes)]
        child = _params(base, parent + rng.normal(0, 0.3, size=parent.shape))
        pool.setdefault(child, fitness(child))
    for generation in range(generations):
        sigma = 0.25 * (1 - generation / generations) + 0.02
        parents = sorted(pool, key=pool.__getitem__, reverse=True)[: max(2, population // 4)]
        children: dict[AnchorParams, float] = {}
        for i in range(population):
            genome = _genome(parents[i % len(parents)])
            if rng.random() < 0.3:  # crossover with another parent, gene by gene
                other = _genome(parents[int(rng.integers(len(parents)))])
                genome = np.where(rng.random(genome.shape) < 0.5, genome, other)
            mask = rng.random(genome.shape) < 0.5
            genome = genome + mask * rng.normal(0, sigma, size=genome.shape)
            child = _params(base, genome)
            children[child] = fitness(child)
        pool = dict(sorted({**{p: pool[p] for p in parents}, **children}.items(), key=lambda kv: -kv[1])[:population])
    best = max(pool, key=lambda p: (pool[p], -len(repr(p))))
    before = score(base, box_hw, feature_maps, frame_hw, threshold, boxes=boxes, grid=grid)
    after = score(best, box_hw, feature_maps, frame_hw, threshold, boxes=boxes, grid=grid)
    if after.fitness(objective) < before.fitness(objective) and len(base.aspect_ratios) == k:  # the sample misled: keep the base
        best, after = base, before
    return FitResult(best, before, after, evaluations, time.perf_counter() - started)
