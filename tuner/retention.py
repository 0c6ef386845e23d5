"""Checkpoint retention at the end of a trial: keep the best-mAP and the last checkpoint.

The trainer keeps every checkpoint while a trial runs (so none is deleted while queued for
evaluation); this module removes the others once the trial has ended and rewrites the
``checkpoint`` state file so TensorFlow tools still find the latest one.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from tuner import atomic

_CKPT_FILE = re.compile(r"^(ckpt-\d+)\.(index|data-\d+-of-\d+)$")


def checkpoint_names(model_dir: str | os.PathLike[str]) -> list[str]:
    """Names (``ckpt-N``) of the checkpoints in ``model_dir``, in save order."""
    names = {m.group(1) for f in os.listdir(model_dir) if (m := _CKPT_FILE.match(f))}
    return sorted(names, key=lambda n: int(n.split("-")[1]))


def retain(model_dir: str | os.PathLike[str], keep: Iterable[str]) -> list[str]:
    """Delete every checkpoint of ``model_dir`` not named in ``keep``.

    The ``checkpoint`` state file is rewritten atomically to list the kept ones, the newest
    as ``model_checkpoint_path``.

    Returns:
        The names deleted.

    Raises:
        ValueError: ``keep`` names a checkpoint that does not exist (nothing is deleted).
    """
    model_dir = Path(model_dir)
    existing = checkpoint_names(model_dir)
    keep_set = set(keep)
    unknown = keep_set - set(existing)
    if unknown:
        raise ValueError(f"cannot keep {sorted(unknown)}: not in {model_dir} (found {existing})")
    kept = [n for n in existing if n in keep_set]
    if kept:
        lines = [f'model_checkpoint_path: "{kept[-1]}"'] + [f'all_model_checkpoint_paths: "{n}"' for n in kept]
        atomic.write_text(model_dir / "checkpoint", "\n".join(lines) + "\n")
    elif (model_dir / "checkpoint").exists():
        (model_dir / "checkpoint").unlink()
    deleted = [n for n in existing if n not in keep_set]
    for f in os.listdir(model_dir):
        m = _CKPT_FILE.match(f)
        if m and m.group(1) not in keep_set:
            (model_dir / f).unlink()
    return deleted
