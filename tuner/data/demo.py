"""The demo dataset: the synthetic shapes a base config with placeholder paths trains on.

Generated once under :data:`tuner.paths.DEMO_DATA_DIR` and reused; which config uses it is decided
by :mod:`tuner.baseconfig`.
"""
from __future__ import annotations

import os
from pathlib import Path

from tuner import paths
from tuner.data import shapes


class DataError(ValueError):
    """The data a config should train on is missing or inconsistent (message says the fix)."""


def ensure_demo_dataset(root: str | os.PathLike[str] | None = None) -> shapes.Dataset:
    """Generate the demo dataset once (reused afterwards); return its paths.

    Raises:
        DataError: the directory holds an incomplete (interrupted) or different dataset.
    """
    root = Path(root or paths.DEMO_DATA_DIR)
    try:
        return shapes.generate(root, shapes.DatasetSpec())
    except FileExistsError:
        raise DataError(f"{root} holds an incomplete or different demo dataset (generation was interrupted, or "
                        f"files were changed); delete it (rm -rf {root}, or make clean-demo, which also removes "
                        "runs/demo) and run again") from None
