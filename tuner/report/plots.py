"""The verdict's pictures (PNG, matplotlib's Agg backend, no display needed).

* :func:`pr_curves`: one figure, one line per class: precision against recall at IoU .5 over
  every score threshold (:func:`tuner.report.matching.pr_curve`, the raw curve the operating
  points are chosen on; COCO's AP@.50 in the legend is the area under its interpolated,
  non-increasing envelope), the class's operating point marked on its line.
* :func:`examples`: a few eval images side by side, ground truth dashed, detections with
  ``score >= `` their class's threshold solid with class and score (a class without a threshold
  shows no detections).

Callers write into a directory that is renamed into place as a whole, so files are written directly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from tuner.report.detections import Category, ImageResult
from tuner.report.matching import IOU, PrCurve
from tuner.report.operating import OperatingPoint


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(categories: Sequence[Category]) -> dict[int, Any]:
    plt = _pyplot()
    cmap = plt.get_cmap("tab10" if len(categories) <= 10 else "tab20")
    return {c.id: cmap(i % cmap.N) for i, c in enumerate(categories)}


def pr_curves(curves: Mapping[int, PrCurve], points: Sequence[OperatingPoint], ap50: Mapping[int, float | None],
              categories: Sequence[Category], path: Path, title: str) -> None:
    """Write the precision-recall figure of one model to ``path``."""
    plt = _pyplot()
    colors = _colors(categories)
    by_id = {p.category.id: p for p in points}
    fig, ax = plt.subplots(figsize=(7, 5.5), dpi=100)
    for c in categories:
        curve = curves[c.id]
        if not curve.n_gt:
            ax.plot([], [], color=colors[c.id], label=f"{c.name} (no ground truth)")
            continue
        recall = np.r_[0.0, curve.recall]
        precision = np.r_[curve.precision[0] if len(curve.precision) else 1.0, curve.precision]
        ap = ap50.get(c.id)
        ax.plot(recall, precision, color=colors[c.id], linewidth=1.5, drawstyle="steps-post",
                label=f"{c.name} (AP@.50 {'-' if ap is None else f'{ap:.3f}'}, {curve.n_gt} boxes)")
        point = by_id.get(c.id)
        if point is not None and point.threshold is not None:
            ax.plot([point.recall], [point.precision], "o", color=colors[c.id], markersize=8,
                    markeredgecolor="black")
            ax.annotate(f"{point.threshold:.2f}", (point.recall, point.precision), textcoords="offset points",
                        xytext=(6, 6), fontsize=8)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"recall (IoU {IOU:g})")
    ax.set_ylabel("precision")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.text(0.99, 0.01, "dots: operating point (score threshold)", ha="right", fontsize=7, color="0.4")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def examples(shown: Sequence[tuple[np.ndarray, ImageResult]], thresholds: Mapping[int, float | None],
             categories: Sequence[Category], path: Path, title: str) -> None:
    """Write ``shown`` (decoded image, its result) side by side to ``path``."""
    plt = _pyplot()
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    colors = _colors(categories)
    names = {c.id: c.name for c in categories}
    cols = min(len(shown), 4)
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows + 0.4), dpi=100, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (image, result) in zip(axes.ravel(), shown):
        ax.imshow(image)
        for (y0, x0, y1, x1), cls in zip(result.gt_boxes, result.gt_classes):
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, linestyle="--", linewidth=2.2,
                                   edgecolor=colors.get(int(cls), "white"), zorder=3,
                                   path_effects=[patheffects.withStroke(linewidth=4, foreground="white")]))
        kept = 0
        for (y0, x0, y1, x1), score, cls in zip(result.boxes, result.scores, result.classes):
            threshold = thresholds.get(int(cls))
            if threshold is None or score < threshold:
                continue
            kept += 1
            color = colors.get(int(cls), "red")
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, linewidth=1.8, edgecolor=color))
            ax.text(x0, y0, f"{names.get(int(cls), cls)} {score:.2f}", fontsize=7, color="white", va="bottom",
                    bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "linewidth": 0})
        gt = ", ".join(f"{names.get(int(c), c)}" for c in result.gt_classes) or "none"
        ax.set_title(f"truth: {gt}; {kept} kept", fontsize=8)
    fig.suptitle(f"{title}\ndashed: ground truth; solid: detections at or above their class's threshold", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
