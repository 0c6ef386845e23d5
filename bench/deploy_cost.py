"""What each architecture knob costs when deployed, measured before any training. Printed as a table.

For the bundled shapes config (SSD MobileNet V2 x0.35, 128x128, the demo model) and one knob
changed at a time (input size 192 and 256, depth multiplier 0.5 and 1.0, the depthwise box
predictor, FPN-lite), :func:`tuner.deploy.measure_cost` exports the untrained model with the OD
API's TFLite exporter, converts it to ``--variant`` (int8 calibrated on a small generated shapes
dataset) and times it with the TFLite interpreter on ``--threads``. The table gives per
architecture its hash, the ``.tflite`` size, the median (and 90th-percentile) latency, and the wall
and CPU seconds the measurement took (the child process, TensorFlow start-up included). The
machine's load average is printed before and after: latency and wall time are only as good as
the machine is quiet; CPU seconds depend less on the load.

The cache is a fresh directory unless ``--cache-dir`` names one (then measured architectures are
read back, marked ``cached``). One measurement runs at a time.

Usage::

    .venv/bin/python bench/deploy_cost.py [--variant int8] [--threads 2] [--runs 50] [--only base,fpn] \\
        [--out runs/bench-deploy-cost] [--cache-dir DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tuner import config as cfgmod  # noqa: E402
from tuner.deploy import VARIANTS, Cost, CostError, measure_cost  # noqa: E402
from tuner.paths import PIPELINES_DIR  # noqa: E402
from tuner.space.knobs import KNOBS  # noqa: E402
from tuner.cli import text_table  # noqa: E402

BASE = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"


@dataclasses.dataclass(frozen=True)
class Arch:
    """One architecture: a name and the knob values applied to the base."""

    name: str
    knobs: tuple[tuple[str, Any], ...] = ()

    def apply(self, cfg: Any) -> None:
        for knob, value in self.knobs:
            KNOBS[knob](cfg, value)


ARCHS: tuple[Arch, ...] = (
    Arch("base (128 px, x0.35)"),
    Arch("input_size 192", (("input_size", 192),)),
    Arch("input_size 256", (("input_size", 256),)),
    Arch("depth_multiplier 0.5", (("depth_multiplier", 0.5),)),
    Arch("depth_multiplier 1.0", (("depth_multiplier", 1.0),)),
    Arch("use_depthwise on", (("use_depthwise", True),)),
    Arch("fpn on", (("fpn", True),)),
)


def select(only: str | None) -> list[Arch]:
    """The architectures whose name starts with one of the comma-separated ``only`` prefixes (all without)."""
    if not only:
        return list(ARCHS)
    prefixes = [p.strip() for p in only.split(",") if p.strip()]
    chosen = [a for a in ARCHS if any(a.name.startswith(p) for p in prefixes)]
    if not chosen:
        raise SystemExit(f"error: --only {only} matches no architecture; names: {', '.join(a.name for a in ARCHS)}")
    return chosen


def table(rows: Sequence[tuple[Arch, Cost | str]]) -> list[str]:
    """The printed table: one row per architecture (a :class:`Cost`, or the one-line error)."""
    header = ["architecture", "hash", "size KB", "latency ms (p90)", "measure s", "CPU s", "note"]
    body = []
    for arch, cost in rows:
        if isinstance(cost, str):
            body.append([arch.name, "-", "-", "-", "-", "-", f"failed: {cost}"])
            continue
        body.append([arch.name, cost.arch_hash, f"{cost.size_kb:.0f}",
                     f"{cost.latency_ms:.2f} ({cost.latency_p90_ms:.2f})",
                     f"{cost.measure_seconds:.0f}", f"{cost.cpu_seconds:.0f}", "cached" if cost.from_cache else ""])
    return text_table(header, body)


def calibration_data(out: Path) -> Any:
    """A small generated shapes dataset (the int8 calibration images), made once in ``out``."""
    from tuner import tfquiet
    from tuner.data import shapes

    with tfquiet.quietly():
        return shapes.generate(out / "data", shapes.DatasetSpec(train=32, eval=8, size=128, seed=5))


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _print(line: str) -> None:
    print(line, flush=True)


def run(archs: Sequence[Arch], variant: str, threads: int, runs: int, out: Path, cache_dir: Path,
        log: Callable[[str], None] = _print) -> list[tuple[Arch, Cost | str]]:
    """Measure every architecture in turn; a failure is a row, not the end of the bench."""
    data = calibration_data(out)
    base = cfgmod.load(BASE)
    cfgmod.point_to_dataset(base, data.train_record, data.eval_record, data.label_map)
    rows: list[tuple[Arch, Cost | str]] = []
    for arch in archs:
        cfg = cfgmod.loads(cfgmod.dumps(base))
        arch.apply(cfg)
        start = time.monotonic()
        try:
            cost: Cost | str = measure_cost(cfg, variant=variant, threads=threads, cache_dir=cache_dir,
                                            latency_runs=runs)
        except CostError as exc:
            cost = str(exc)
        log(f"  {arch.name}: {'failed' if isinstance(cost, str) else f'{cost.size_kb:.0f} KB, {cost.latency_ms:.2f} ms'}"
            f" ({time.monotonic() - start:.0f} s)")
        rows.append((arch, cost))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="int8", choices=VARIANTS)
    p.add_argument("--threads", type=int, default=2, help="TFLite interpreter threads")
    p.add_argument("--runs", type=int, default=50, help="timed invocations per architecture")
    p.add_argument("--only", default=None, help="comma-separated name prefixes of the architectures to measure")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench-deploy-cost", help="calibration data goes here")
    p.add_argument("--cache-dir", type=Path, default=None, help="cost cache (default: a fresh temporary directory)")
    args = p.parse_args(argv)
    archs = select(args.only)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="cost-cache-", dir=args.out))
    from tuner.deploy.cost import machine, tf_version

    print(f"deploy cost of {BASE.name} and its knobs: {args.variant}, {args.threads} threads, {args.runs} runs; "
          f"{dt.date.today().isoformat()}, {machine()}, TensorFlow {tf_version()}")
    print(f"load average before: {load_average()}; cache {cache}", flush=True)
    rows = run(archs, args.variant, args.threads, args.runs, args.out, cache)
    print(f"load average after: {load_average()}")
    print()
    print("\n".join(table(rows)))
    return 0 if all(not isinstance(c, str) for _, c in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
