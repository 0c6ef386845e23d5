"""Helpers for study tests (imported by name; pytest puts this folder on sys.path)."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

def study_cmd(*args: str) -> list[str]:
    """The study command; without --confirm in ``args`` it gets ``--confirm 0`` (a test about
    something else does not pay for the confirmation phase's repeats)."""
    extra = () if "--confirm" in args else ("--confirm", "0")
    return [sys.executable, "-m", "tuner.study", *args, *extra]


def run_study(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(study_cmd(*args), capture_output=True, text=True, timeout=timeout, env=full_env)


def fake_study_settings(tmp_path: Path, space: str, **changes: Any):  # -> tuner.study.inputs.StudySettings
    """Settings of a study of the bundled shapes config on placeholder data (framing-only
    TFRecords, which the fake runner never reads) with the search space ``space`` (YAML text);
    ``changes`` override the defaults (random sampler, seed 7, no anchor fit, no confirmation)."""
    from tuner.study.inputs import StudySettings

    empty_records = struct.pack("<QII", 0, 0, 0)  # a record of no bytes: the framing lint counts
    (tmp_path / "train.record").write_bytes(empty_records * 32)
    (tmp_path / "eval.record").write_bytes(empty_records * 4)
    (tmp_path / "label_map.pbtxt").write_text('item { id: 1 name: "circle" }\nitem { id: 2 name: "square" }\n')
    (tmp_path / "space.yaml").write_text(space)
    defaults: dict[str, Any] = dict(
        base="ssd_mobilenet_v2_shapes", space=str(tmp_path / "space.yaml"), train_data=str(tmp_path / "train.record"),
        eval_data=str(tmp_path / "eval.record"), label_map=str(tmp_path / "label_map.pbtxt"),
        run_dir=str(tmp_path / "run"), sampler="random", seed=7, fit_anchors=False, confirm=0)
    return StudySettings(**{**defaults, **changes})
