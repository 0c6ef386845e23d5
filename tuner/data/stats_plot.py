"""The pictures of :mod:`tuner.data.stats` (PNG, matplotlib's Agg backend, no display needed).

``class_counts.png`` (boxes and images per class), ``box_sizes.png`` (histogram of
sqrt(box area), log scale, one line per class) and ``aspect_ratios.png`` (histogram of
width / height, log scale, one line per class). Each file is written atomically.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tuner.data.stats import DatasetStats

FILES = ("class_counts.png", "box_sizes.png", "aspect_ratios.png")
BINS = 40


def _save(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, path)


def _histogram(ax, values: np.ndarray, stats: DatasetStats, xlabel: str) -> None:  # type: ignore[no-untyped-def]
    from matplotlib import ticker

    positive = values[np.isfinite(values) & (values > 0)]
    if not len(positive):
        ax.text(0.5, 0.5, "no boxes", ha="center", transform=ax.transAxes)
        return
    lo, hi = positive.min(), positive.max()
    bins = np.geomspace(lo / 1.05, hi * 1.05, BINS + 1)
    ax.hist(positive, bins=bins, color="0.85", label=f"all ({len(positive)})")
    for c in stats.classes:
        mine = values[(stats.class_ids == c.id) & np.isfinite(values) & (values > 0)]
        ax.hist(mine, bins=bins, histtype="step", linewidth=1.5, label=f"{c.name} ({len(mine)})")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("boxes")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def write_pngs(stats: DatasetStats, out: Path, title: str) -> list[Path]:
    """Write the three PNGs into ``out`` (created if needed); return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in FILES]

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(stats.classes) + 2), dpi=100)
    y = np.arange(len(stats.classes))
    ax.barh(y - 0.2, [c.boxes for c in stats.classes], height=0.4, label="boxes")
    ax.barh(y + 0.2, [c.images for c in stats.classes], height=0.4, label="images")
    ax.set_yticks(y, [c.name for c in stats.classes])
    ax.invert_yaxis()
    ax.set_xlabel("count")
    ax.set_title(f"{title}: boxes and images per class", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, paths[0])
    plt.close(fig)

    for path, values, label in ((paths[1], stats.sizes, f"sqrt(box area), {stats.unit}"),
                                (paths[2], stats.aspects, "aspect ratio (width / height)")):
        fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
        _histogram(ax, values, stats, label)
        ax.set_title(f"{title}: {label}", fontsize=10)
        fig.tight_layout()
        _save(fig, path)
        plt.close(fig)
    return paths
