"""Does the cost known before training agree with the trained model's? Printed as a table.

For one trial of a finished study (default: ``tflite.select``'s choice), this measures the same
architecture both ways, ``--repeats`` times each, alternating:

* before training: :func:`tuner.deploy.measure_cost` on the trial's ``pipeline.config`` (the
  untrained model, exported, converted to ``--variant`` and timed), each time in a fresh cache, so
  it really measures;
* after training: ``python -m tflite.convert --study RUN --trial N --variants V`` on the trial's best
  checkpoint (its ``report.json`` row: file size and median latency).

Both use ``--threads`` interpreter threads and 50 timed runs. The table gives each measurement's
size and median latency, then the size difference (exact: the graph is the same, only the weights
differ) and the latency difference set against the run-to-run spread of each side. Latency is
only as good as the machine is quiet: run nothing beside it (the load average is printed).

Usage::

    .venv/bin/python bench/cost_agreement.py --study runs/demo [--trial N] [--variant int8] \\
        [--threads 2] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tflite.select import resolve_study, select  # noqa: E402
from tuner import config as cfgmod  # noqa: E402
from tuner.cli import text_table  # noqa: E402
from tuner.deploy import measure_cost  # noqa: E402

VARIANTS = ("int8", "fp16", "fp32")


def _converted(study: str, trial: int, variant: str, threads: int, out: Path) -> tuple[float, float]:
    """(size KB, median latency ms) of the trained trial converted by tflite.convert."""
    cmd = [sys.executable, "-m", "tflite.convert", "--study", study, "--trial", str(trial), "--variants", variant,
           "--threads", str(threads), "--eval-count", "4", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"error: tflite.convert failed: {(done.stderr.strip().splitlines() or [''])[-1]}")
    row = next(r for r in json.loads((out / "report.json").read_text())["rows"] if r["variant"] == variant)
    return row["size_bytes"] / 1024, float(row["latency_median_ms"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", required=True, help="run directory of a finished study")
    p.add_argument("--trial", type=int, help="default: the trial tflite.convert would take")
    p.add_argument("--variant", default="int8", choices=VARIANTS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    selection = select(resolve_study(args.study), args.trial)
    cfg = cfgmod.load(selection.config_path)
    print(f"trial {selection.number} of {args.study} ({selection.checkpoint}), {args.variant}, {args.threads} threads; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    rows, before, after = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            cost = measure_cost(cfg, variant=args.variant, threads=args.threads, cache_dir=Path(tmp) / f"cache{i}")
            before.append((cost.size_kb, cost.latency_ms))
            rows.append((f"before training #{i + 1}", f"{cost.size_kb:.1f}", f"{cost.latency_ms:.3f}"))
            print(f"  {rows[-1][0]}: {rows[-1][1]} KB, {rows[-1][2]} ms", flush=True)
            size, latency = _converted(args.study, selection.number, args.variant, args.threads, Path(tmp) / f"conv{i}")
            after.append((size, latency))
            rows.append((f"trained (tflite.convert) #{i + 1}", f"{size:.1f}", f"{latency:.3f}"))
            print(f"  {rows[-1][0]}: {rows[-1][1]} KB, {rows[-1][2]} ms", flush=True)
    print("\n".join(text_table(("measurement", "size KB", "latency ms"), rows)))
    size_gap = (statistics.fmean(a[0] for a in after) / statistics.fmean(b[0] for b in before) - 1) * 100
    lat_b, lat_a = [b[1] for b in before], [a[1] for a in after]
    print(f"size: trained {size_gap:+.2f} % against the pre-training cost")
    print(f"latency: pre-training median of runs {statistics.median(lat_b):.3f} ms (spread {max(lat_b) - min(lat_b):.3f}), "
          f"trained {statistics.median(lat_a):.3f} ms (spread {max(lat_a) - min(lat_a):.3f}); difference "
          f"{statistics.median(lat_a) - statistics.median(lat_b):+.3f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
