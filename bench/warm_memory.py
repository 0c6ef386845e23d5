"""Memory of a warm trainer over many trials: does what one trial leaves behind accumulate?

Runs ``--trials`` successive demo trials (the demo config on the demo dataset, ``--steps`` each,
another seed and ``min_scale`` per trial: another graph each time) in ONE warm trainer
(:mod:`tuner.trial.host`, ``max_trials`` set to ``--trials`` so that it is not recycled), and
prints per trial: its wall time, the warm process's resident memory when the trial has ended
(``VmRSS``) and its peak so far (``VmHWM``), read from ``/proc``. The study recycles a warm
trainer every :data:`tuner.trial.host.MAX_TRIALS` trials; this table is what that bound rests on.

Usage: ``.venv/bin/python bench/warm_memory.py [--trials 10] [--steps 20]`` (about 7 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process ``pid`` in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", help="directory for the trials (default: a temporary one)")
    args = parser.parse_args(argv)
    from trial_overhead import _absolute_data, _table

    from tuner import config as cfgmod
    from tuner.baseconfig import prepare_config
    from tuner.trial import Trial, TrialSpec
    from tuner.trial.host import WarmHost
    from tuner.trial.process import trial_env

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="odapi-warm-memory-"))
    text, _ = prepare_config("ssd_mobilenet_v2_shapes", None, None, None, steps=args.steps)
    base = cfgmod.loads(_absolute_data(text))
    # one more than it runs: a warm trainer exits at once after its last trial (os._exit), and
    # the last trial's memory is read from the living process
    host = WarmHost(trial_env(None, 0), max_trials=args.trials + 1)
    rows, ok = [], True
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        for i in range(args.trials):
            base.model.ssd.anchor_generator.ssd_anchor_generator.min_scale = 0.1 + 0.01 * i
            trial = Trial(TrialSpec(cfgmod.dumps(base), out / f"trial-{i}", args.steps, args.steps, seed=i), host=host)
            began = time.perf_counter()
            for _ in trial.evaluations():
                pass
            wall = time.perf_counter() - began
            ok = ok and trial.outcome is not None and trial.outcome.status.value == "completed"
            pid = trial._procs["train"].pid  # noqa: SLF001 - the warm process of this trial
            rss, hwm = _memory_mb(pid)
            rows.append((str(i + 1), f"{wall:.0f}", f"{rss:.0f}", f"{hwm:.0f}", str(pid)))
            print(f"trial {i + 1}/{args.trials}: {wall:.0f} s, RSS {rss:.0f} MB, peak {hwm:.0f} MB", flush=True)
    finally:
        host.close()
    print(f"\none warm trainer, {args.trials} demo trials of {args.steps} steps ({started}, processes started: "
          f"{host.started})")
    print(_table(("trial", "wall s", "RSS after, MB", "peak so far, MB", "pid"), rows))
    return 0 if ok and host.started == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
