"""The picture of an anchor analysis: box sizes against anchor shapes, in input pixels (PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

#: Most boxes drawn (a fixed sample beyond it keeps the file small and the plot readable).
MAX_POINTS = 20000


def box_plot(path: Path, box_hw: np.ndarray, classes: np.ndarray, class_names: Mapping[int, str],
             layers: Sequence[tuple[str, Sequence[np.ndarray]]], title: str, threshold: float) -> Path:
    """Write a log-log scatter of box width vs height (input pixels), one colour per class, with
    each feature-map layer's anchor shapes drawn as markers, for each labelled anchor set.

    Args:
        path: the PNG to write (its directory must exist).
        box_hw: (N, 2) box heights and widths in input pixels.
        classes: (N,) class id per box.
        class_names: id -> name for the legend.
        layers: (label, per-layer (k, 2) anchor heights and widths) per anchor set, e.g.
            ``[("base", shapes), ("fitted", shapes)]``.
        title: the plot's title.
        threshold: the matcher threshold (in the title).

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    keep = np.arange(len(box_hw)) if len(box_hw) <= MAX_POINTS else rng.choice(len(box_hw), MAX_POINTS, replace=False)
    fig, ax = plt.subplots(figsize=(10, 6.5), dpi=100)
    for cid in np.unique(classes):
        mask = classes[keep] == cid
        ax.scatter(box_hw[keep][mask, 1], box_hw[keep][mask, 0], s=4, alpha=0.35,
                   label=f"{class_names.get(int(cid), cid)} ({int((classes == cid).sum())})")
    markers = ["x", "+", "1", "2"]
    for s, (label, shapes) in enumerate(layers):
        cmap = plt.get_cmap("autumn" if s == 0 else "winter")
        for i, layer in enumerate(shapes):
            layer = np.asarray(layer).reshape(-1, 2)
            colour = cmap(i / max(1, len(shapes) - 1))
            ax.scatter(layer[:, 1], layer[:, 0], marker=markers[s % len(markers)], s=90, linewidths=2,
                       color=colour, label=f"{label} anchors, layer {i}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("box width (input pixels)")
    ax.set_ylabel("box height (input pixels)")
    ax.set_title(f"{title}\n(a box is covered when an anchor reaches IoU >= {threshold:g})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
