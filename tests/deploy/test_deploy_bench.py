"""bench/deploy_cost.py: the architectures it measures fit the base config, and its table (on
hand-made costs; the bench itself measures real models, docs/benchmarks.md gives its table)."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from tuner import config as cfgmod
from tuner.deploy import Cost, arch_hash

BENCH = Path(__file__).resolve().parents[2] / "bench" / "deploy_cost.py"


def load_bench(name: str) -> types.ModuleType:
    """``bench/deploy_cost.py`` as a module (bench/ is not a package; tests/bench/benchload.py is
    importable only from tests/bench)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def _cost(arch: str, size_kb: float, latency: float, cached: bool = False) -> Cost:
    return Cost(arch_hash=arch, variant="int8", threads=2, size_kb=size_kb, size_bytes=int(size_kb * 1024),
                latency_ms=latency, latency_p90_ms=latency * 2, latency_runs=50, measure_seconds=61.4,
                cpu_seconds=80.2, stage_seconds={}, input_size=(128, 128), tf_version="2.15.1", machine="m",
                measured_at="2026-12-02T00:00:00+00:00", from_cache=cached)


def test_every_architecture_applies_to_the_base_and_is_distinct() -> None:
    bench = load_bench("deploy_cost")
    hashes = set()
    for arch in bench.ARCHS:
        cfg = cfgmod.load(bench.BASE)
        arch.apply(cfg)
        hashes.add(arch_hash(cfg))
    assert len(hashes) == len(bench.ARCHS)


def test_table_rows_show_hash_size_latency_seconds_and_failures() -> None:
    bench = load_bench("deploy_cost")
    base, fpn = bench.ARCHS[0], bench.ARCHS[-1]
    lines = bench.table([(base, _cost("fa77a6dc122c4325", 895.3, 1.234)), (fpn, "cannot measure: boom"),
                         (base, _cost("fa77a6dc122c4325", 895.3, 1.234, cached=True))])
    assert lines[0].split()[:3] == ["architecture", "hash", "size"]
    assert lines[2].split() == ["base", "(128", "px,", "x0.35)", "fa77a6dc122c4325", "895", "1.23", "(2.47)", "61", "80"]
    assert lines[3].startswith("fpn on") and lines[3].endswith("failed: cannot measure: boom")
    assert lines[4].endswith("cached")


def test_only_selects_by_name_prefix() -> None:
    bench = load_bench("deploy_cost")
    assert [a.name for a in bench.select("input_size,fpn")] == ["input_size 192", "input_size 256", "fpn on"]
    with pytest.raises(SystemExit, match="matches no architecture"):
        bench.select("resnet")
