"""Helpers for study tests (imported by name; pytest puts this folder on sys.path)."""
from __future__ import annotations

import os
import subprocess
import sys

def study_cmd(*args: str) -> list[str]:
    """The study command; without --confirm in ``args`` it gets ``--confirm 0`` (a test about
    something else does not pay for the confirmation phase's repeats)."""
    extra = () if "--confirm" in args else ("--confirm", "0")
    return [sys.executable, "-m", "tuner.study", *args, *extra]


def run_study(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(study_cmd(*args), capture_output=True, text=True, timeout=timeout, env=full_env)
