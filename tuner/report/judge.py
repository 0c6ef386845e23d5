"""One model's verdict from its results on the eval images, and the files that show it (no TensorFlow).

:func:`judge` runs the COCO evaluation (:mod:`tuner.report.coco`), matches each class at IoU .5
(:mod:`tuner.report.matching`) and picks its operating point (:mod:`tuner.report.operating`).
:func:`write_files` writes the model's ``<model>_operating_points.json``,
``<model>_pr_curves.png`` and (given images to show) ``<model>_images.png``: file names carry
the model because the dashboard lists a trial's artifacts by file name.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np

from tuner.report import coco, matching, operating, plots
from tuner.report.detections import Category, ImageResult, class_counts
from tuner.report.verdict import ClassVerdict, ModelVerdict

OPERATING_POINTS = "operating_points"
PR_CURVES = "pr_curves"
IMAGES = "images"
_SUFFIX = {OPERATING_POINTS: ".json", PR_CURVES: ".png", IMAGES: ".png"}


def file_name(model: str, role: str) -> str:
    """``<model>_<role>.<ext>`` (e.g. ``fp32_operating_points.json``)."""
    return f"{model}_{role}{_SUFFIX[role]}"


@dataclasses.dataclass(frozen=True)
class Judged:
    """One model's verdict and what it was computed from."""

    verdict: ModelVerdict
    results: tuple[ImageResult, ...]
    curves: dict[int, matching.PrCurve]
    points: tuple[operating.OperatingPoint, ...]


def judge(model: str, file: str | None, results: Sequence[ImageResult], categories: Sequence[Category],
          target_precision: float | None = None) -> Judged:
    """COCO metrics, per-class AP and operating points of one model.

    Raises:
        ValueError: no images or no categories; ``target_precision`` outside ``(0, 1]``.
    """
    evaluated = coco.evaluate(results, categories)
    counts = class_counts(results, categories)
    curves, points, classes = {}, [], []
    for c in categories:
        curve = matching.pr_curve(matching.match_class(results, c.id))
        point = operating.choose(curve, c, target_precision)
        ap = evaluated.per_class[c.id]
        curves[c.id] = curve
        points.append(point)
        classes.append(ClassVerdict(c, counts[c.id].images, counts[c.id].boxes, ap.ap, ap.ap50, point))
    verdict = ModelVerdict(model, file, evaluated.metrics, tuple(classes))
    return Judged(verdict, tuple(results), curves, tuple(points))


def shown_indices(count: int, k: int) -> list[int]:
    """``k`` image positions spread evenly over ``count`` images (first and last included)."""
    if k <= 0 or count <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, count - 1, min(k, count)).round()})


def write_files(judged: Judged, categories: Sequence[Category], out: Path, title: str,
                images: Sequence[tuple[int, np.ndarray]] = ()) -> Judged:
    """Write the model's files into ``out``; return ``judged`` with their names recorded in its verdict.

    Args:
        judged: the model's verdict.
        categories: the classes.
        out: the directory to write into.
        title: figure title (study, trial, model).
        images: ``(position in the results, decoded image)`` pairs to draw; none: no images file.
    """
    v = judged.verdict
    files = {OPERATING_POINTS: file_name(v.model, OPERATING_POINTS), PR_CURVES: file_name(v.model, PR_CURVES)}
    operating.write(judged.points, out / files[OPERATING_POINTS])
    ap50 = {c.category.id: c.ap50 for c in v.classes}
    plots.pr_curves(judged.curves, judged.points, ap50, categories, out / files[PR_CURVES], title)
    if images:
        files[IMAGES] = file_name(v.model, IMAGES)
        thresholds = {p.category.id: p.threshold for p in judged.points}
        plots.examples([(image, judged.results[i]) for i, image in images], thresholds, categories,
                       out / files[IMAGES], title)
    return dataclasses.replace(judged, verdict=dataclasses.replace(v, files=files))
