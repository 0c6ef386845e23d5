"""Load a bench script (bench/ is not a package) as a module, for the bench tests."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def load_bench(script: str) -> types.ModuleType:
    """``bench/<script>.py`` imported as ``bench_<script>``."""
    spec = importlib.util.spec_from_file_location(f"bench_{script}", BENCH_DIR / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module
