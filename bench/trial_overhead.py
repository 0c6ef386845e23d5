"""What odapi-tuner adds around the OD API in one real trial, printed as a table.

Runs one trial of the demo config on the demo dataset (default 300 steps, evaluating every 100:
about 5 minutes on 2 cores) and reports:

* launch: writing the trial directory and starting the two OD API processes;
* metric latency: from the eval summary's own wall time (written by the evaluator) to the
  evaluation being yielded by ``Trial.evaluations()`` (target < 2 s);
* supervisor CPU: CPU time of the watching process over the trial;
* teardown: process shutdown, checkpoint retention and result.json;
* added overhead = launch + supervisor CPU + teardown, as a fraction of wall time (target < 2%);
* the fixed start-up cost of the OD API processes, paid once per process per trial (two
  processes: trainer and evaluator): trainer launch -> step-0 checkpoint, and the evaluator's
  first evaluation (graph tracing) against the later ones.

Usage: ``.venv/bin/python bench/trial_overhead.py [--steps 300] [--eval-every 100] [--out DIR]``;
exit code 1 when a target is missed or the trial did not complete.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from tuner import events
from tuner.baseconfig import prepare_config
from tuner.protocol import READY_LINE, read_ledger
from tuner.trial import Trial, TrialSpec


LATENCY_TARGET_S = 2.0
OVERHEAD_TARGET = 0.02


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--out", help="trial directory (default: a temporary one)")
    args = parser.parse_args(argv)
    config_text, note = prepare_config("ssd_mobilenet_v2_shapes", None, None, None, steps=args.steps)
    if note:
        print(note)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="odapi-bench-")) / "trial"
    trial = Trial(TrialSpec(config_text, out, args.steps, args.eval_every))
    ckpt0 = trial.model_dir / "ckpt-1.index"
    ckpt0_seen: list[float] = []

    def watch_step0() -> None:  # retention deletes ckpt-1 at the end: note when it appears
        while not ckpt0_seen and trial.outcome is None:
            if ckpt0.exists():
                ckpt0_seen.append(time.time())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_step0, daemon=True)
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    launched_at = time.time()
    watcher.start()
    evaluations = list(trial.evaluations())
    wall = time.perf_counter() - wall0
    cpu = _cpu_seconds() - cpu0  # includes the 0.1 s polls of the watcher thread: an upper bound
    outcome = trial.outcome
    assert outcome is not None
    written = {e.step: e.wall_time for e in events.read_scalars(trial.model_dir / "eval", tags=[events.MAP])}
    latencies = [trial.timings.seen_at[e.step] - written[e.step] for e in evaluations if e.step in written]
    ledger = read_ledger(trial.model_dir)
    eval_seconds = [entry["seconds"] for entry in ledger]
    overhead = trial.timings.launch_seconds + cpu + trial.timings.teardown_seconds
    ready = [float(line.split()[1]) for line in (trial.log_dir / "eval.log").read_text().splitlines()
             if line.startswith(READY_LINE + " ")]
    latency_ok = bool(latencies) and max(latencies) < LATENCY_TARGET_S
    overhead_ok = overhead / wall < OVERHEAD_TARGET

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    rows = [
        ("trial wall time", f"{wall:.1f} s", f"{outcome.status.value}, {len(evaluations)} evaluations"),
        ("launch", f"{trial.timings.launch_seconds * 1000:.1f} ms", ""),
        ("metric latency (median)", f"{statistics.median(latencies):.2f} s" if latencies else "-", ""),
        ("metric latency (max)", f"{max(latencies):.2f} s" if latencies else "-",
         f"target < {LATENCY_TARGET_S:g} s: {verdict(latency_ok)}"),
        ("supervisor CPU", f"{cpu:.2f} s", "polling event files and the ledger"),
        ("teardown", f"{trial.timings.teardown_seconds * 1000:.1f} ms", "shutdown, retention, result.json"),
        ("added overhead", f"{overhead:.2f} s = {100 * overhead / wall:.2f}%",
         f"target < {100 * OVERHEAD_TARGET:g}% of a 5-minute trial: {verdict(overhead_ok)}"),
        ("OD API trainer start-up", f"{ckpt0_seen[0] - launched_at:.1f} s" if ckpt0_seen else "-",
         "launch -> step-0 checkpoint; once per trial"),
        ("OD API evaluator start-up", f"{ready[0] - launched_at:.1f} s" if ready else "-",
         "launch -> model and eval input built; once per trial, in parallel with the trainer's"),
        ("OD API first evaluation", f"{eval_seconds[0]:.1f} s" if eval_seconds else "-",
         "includes graph tracing; once per trial"),
        ("OD API later evaluations", f"{statistics.median(eval_seconds[1:]):.1f} s" if len(eval_seconds) > 1 else "-",
         "median, per checkpoint"),
        ("OD API processes per trial", "2", "trainer + evaluator, each started once"),
    ]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"\nodapi-tuner overhead per trial ({args.steps} steps, eval every {args.eval_every}, demo data)")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value.rjust(vwidth)}  {note}")
    print(f"\nbest: step {outcome.best.step if outcome.best else '-'}, mAP "
          f"{outcome.best.value(events.MAP):.4f}" if outcome.best else "")
    return 0 if latency_ok and overhead_ok and outcome.status.value == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
