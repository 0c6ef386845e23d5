"""Where a trial's time goes, and how much of it is training steps: before and after, side by side.

Runs the demo config on the demo dataset, fine-tuned from the demo's checkpoint (``--fine-tune-checkpoint``),
``--jobs`` trials at once (as ``make demo`` runs them),
for each ``--shapes`` step count and each mode, all in one run on this machine:

* ``before``: the code of ``--before REV`` (default: the commit before issue 26's changes), run
  from a git worktree of it: a checkpoint every 100 steps, each evaluated by an evaluator process
  beside the trainer, as every study trial ran then;
* ``every-100``: this tree, evaluating every 100 steps as asked (``--eval-every 100``);
* ``last-only``: this tree as a study that does not prune runs it now: the last checkpoint only,
  evaluated in the trainer's process (:mod:`tuner.study.evaluation`), one fresh process per trial;
* ``warm``: the same trials, as a study runs them now: :data:`WARM_TRIALS` successive trials per
  slot in one warm trainer (:mod:`tuner.trial.host`; the first pays the imports, the rest do not),
  so the mean is the steady state of a study.

Each trial runs in its own supervisor process (``--one``), with the tree under test on its
``PYTHONPATH``. Per trial, from the step-0 checkpoint, the training event files, the evaluation
ledger and (this tree) the processes' ``PHASE`` lines (:mod:`tuner.protocol`): imports; data
pipeline + model build (to the step-0 checkpoint); graph tracing (to the first logged step, less
that many steps' time); training steps (the trainer's step rate times ``--steps``, checkpoint writes
included); evaluations during training (in the evaluator process: CPU taken from the trainer, not
wall added); after training (last step to the result: the wait for, or the build and run of, the
final evaluation, and the trainer's exit); the final evaluation's own time; the share of the wall
time spent on training steps; CPU seconds of the trial's processes. Then per shape and mode: mean
wall, mean share on steps, CPU per trial, and trials per hour at ``--jobs`` trials at once.

Usage: ``.venv/bin/python bench/trial_overhead.py [--shapes 200,300] [--jobs 2] [--modes before,every-100,last-only,warm]``
(about 25 minutes on 2 cores with the defaults); exit 1 when a trial did not complete.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("before", "every-100", "last-only", "warm")
#: Successive trials per slot in ``warm`` mode: one warm trainer's life (tuner.trial.host.MAX_TRIALS).
WARM_TRIALS = 4
#: The last commit before issue 26's changes (evaluation plan, one-process trials, one step per call).
BEFORE_REV = "9bc4f28"
#: What ``make demo`` fine-tunes from (``--fine-tune-checkpoint``).
DEMO_CHECKPOINT = REPO / "pipelines" / "checkpoints" / "shapes_pretrained" / "ckpt"
#: Put first on a ``before`` trial's PYTHONPATH: drops the editable install's finder, so the
#: worktree's ``tuner`` is imported instead of this tree's.
_SITECUSTOMIZE = ("import sys\nsys.meta_path[:] = [f for f in sys.meta_path "
                  "if '__editable__' not in getattr(f, '__module__', '') + repr(f)]\n")


@dataclasses.dataclass
class Split:
    """One trial's wall time by phase (seconds) and its processes' CPU seconds."""

    mode: str
    steps: int
    wall: float
    imports: float | None
    build: float
    tracing: float
    training: float
    evals_during: float
    after_training: float
    final_eval: float
    cpu: float
    completed: bool
    map_value: float

    @property
    def share(self) -> float:
        return self.training / self.wall if self.wall else 0.0


def one(spec: dict) -> int:
    """``--one``: run one trial of ``spec`` with whatever ``tuner`` is importable (``warm``: that
    many successive trials in one warm trainer, ``<out>-<i>``); write each trial's timings beside
    its directory (``<out>.timing.json``)."""
    if not spec.get("warm"):
        return _one_trial(spec, Path(spec["out"]), spec["seed"], None)
    from tuner.trial.host import WarmHost
    from tuner.trial.process import trial_env

    host = WarmHost(trial_env(None, spec["threads"]), spec["threads"], max_trials=spec["warm"])
    try:
        for i in range(spec["warm"]):
            _one_trial(spec, Path(f"{spec['out']}-{i}"), spec["seed"] * 100 + i, host)
    finally:
        host.close()
    return 0


def _one_trial(spec: dict, out: Path, seed: int, host: object) -> int:
    from tuner.trial import Trial, TrialSpec

    trial_spec = TrialSpec(Path(spec["config"]).read_text(), out, spec["steps"], spec["every"],
                           threads=spec["threads"], seed=seed)
    # the ``before`` tree's Trial takes no host: pass one only in warm mode
    trial = Trial(trial_spec, host=host) if host is not None else Trial(trial_spec)  # type: ignore[arg-type]
    ckpt0_file = trial.model_dir / "ckpt-1.index"  # the step-0 checkpoint (retention deletes it at the end)
    seen: list[float] = []

    def watch() -> None:
        while not seen and trial.outcome is None:
            if ckpt0_file.exists():
                seen.append(ckpt0_file.stat().st_mtime)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    launched = time.time()
    for _ in trial.evaluations():
        pass
    ended = time.time()
    if host is None:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime
    else:  # the warm trainer lives on: this trial's CPU from its own PHASE lines
        from tuner.protocol import read_phases  # (not in the before tree, which runs no warm trainer)

        phases = read_phases((trial.log_dir / "train.log").read_text(errors="replace"))
        cpu = phases["exit"][1] - phases["start"][1] if {"exit", "start"} <= set(phases) else float("nan")
    Path(f"{out}.timing.json").write_text(json.dumps({
        "launched": launched, "ended": ended, "ckpt0": seen[0] if seen else None,
        "cpu_children": cpu, "status": trial.outcome.status.value}))
    return 0


def measure(out: Path, mode: str, steps: int) -> Split:
    """The split of the finished trial in ``out`` (read from its files)."""
    from tuner import events
    from tuner.protocol import read_ledger, read_phases

    timing = json.loads(Path(f"{out}.timing.json").read_text())
    result = json.loads((out / "result.json").read_text())
    launched, ended = timing["launched"], timing["ended"]
    phases = read_phases((out / "logs" / "train.log").read_text(errors="replace"))
    imported = phases["imported"][0] if "imported" in phases else None
    losses = events.read_scalars(out / "model" / "train", tags=[events.TOTAL_LOSS])
    first, last = (losses[0], losses[-1]) if losses else (None, None)
    per_step = ((last.wall_time - first.wall_time) / (last.step - first.step)
                if first and last and last.step > first.step else 0.0)
    built = timing["ckpt0"] or launched
    ledger = read_ledger(out / "model")
    final = [e["seconds"] for e in ledger if e["step"] == steps]
    best = result.get("best") or {}
    return Split(mode=mode, steps=steps, wall=ended - launched,
                 imports=imported - launched if imported else None,
                 build=built - (imported or launched),
                 tracing=max(0.0, first.wall_time - built - first.step * per_step) if first else 0.0,
                 training=per_step * steps, evals_during=sum(e["seconds"] for e in ledger if e["step"] < steps),
                 after_training=max(0.0, ended - (last.wall_time if last else ended)),
                 final_eval=final[0] if final else 0.0, cpu=timing["cpu_children"],
                 completed=timing["status"] == "completed",
                 map_value=best.get("metrics", {}).get(events.MAP, float("nan")))


def _before_tree(rev: str, work: Path) -> tuple[Path, str]:
    """A worktree of ``rev`` and the PYTHONPATH that makes its ``tuner`` the one imported."""
    tree = work / f"tree-{rev}"
    subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=True)
    if not tree.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
    site = work / "before-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    return tree, f"{site}:{tree}"


def run_round(config: Path, steps: int, mode: str, jobs: int, out: Path, before: tuple[Path, str] | None,
              threads: int | None = None) -> float:
    """``jobs`` trials of one shape and mode at once, each in its own supervisor process, each
    with ``threads`` CPU threads (``None``: the cores shared out, as a study does); the round's
    wall time."""
    if threads is None:
        threads = max(1, (os.cpu_count() or 2) // jobs) if jobs > 1 else 0
    env = dict(os.environ)
    cwd = REPO
    if mode == "before":
        assert before is not None
        cwd, env["PYTHONPATH"] = before
    procs = []
    started = time.perf_counter()
    for i in range(jobs):
        spec = {"config": str(config), "out": str(out / f"{steps}-{mode}-{i}"), "steps": steps,
                "every": steps if mode in ("last-only", "warm") or steps % 100 else 100, "threads": threads,
                "seed": i, "warm": WARM_TRIALS if mode == "warm" else 0}
        procs.append(subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(spec)],
                                      cwd=cwd, env=env))
    for proc in procs:
        proc.wait()
    return time.perf_counter() - started


def _absolute_data(config_text: str) -> str:
    """The config with its data paths absolute (trials run from another directory too)."""
    from tuner import config as cfgmod

    cfg = cfgmod.loads(config_text)
    for reader in (cfg.train_input_reader, *cfg.eval_input_reader):
        reader.label_map_path = str(Path(reader.label_map_path).resolve())
        paths = [str(Path(p).resolve()) for p in reader.tf_record_input_reader.input_path]
        del reader.tf_record_input_reader.input_path[:]
        reader.tf_record_input_reader.input_path.extend(paths)
    return cfgmod.dumps(cfg)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="200,300", help="comma-separated --steps (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="trials at once (default %(default)s)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"of {', '.join(MODES)}")
    parser.add_argument("--before", default=BEFORE_REV, help="the commit 'before' runs (default %(default)s)")
    parser.add_argument("--fine-tune-checkpoint", default=str(DEMO_CHECKPOINT),
                        help="the checkpoint the trials fine-tune from, as the demo's do (default: the demo's; "
                             "'none': from scratch, as this bench ran before 2026-12-07 07:00)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads per trial (default: the cores shared out among --jobs, as a study does)")
    parser.add_argument("--out", help="directory for the trials (default: a temporary one)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return one(json.loads(args.one))
    from tuner.baseconfig import prepare_config

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in MODES for m in modes):
        parser.error(f"--modes: each of {', '.join(MODES)}")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="odapi-overhead-"))
    out.mkdir(parents=True, exist_ok=True)
    before = _before_tree(args.before, out) if "before" in modes else None
    splits: list[Split] = []
    rounds: dict[tuple[int, str], float] = {}
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        for steps in (int(s) for s in args.shapes.split(",")):
            checkpoint = None if args.fine_tune_checkpoint == "none" else args.fine_tune_checkpoint
            config_text, _note = prepare_config("ssd_mobilenet_v2_shapes", None, None, None, steps=steps,
                                                fine_tune_checkpoint=checkpoint)
            config = out / f"demo-{steps}.config"
            config.write_text(_absolute_data(config_text))
            for mode in modes:
                print(f"{steps} steps, {mode}: {args.jobs} trial(s) at once ...", flush=True)
                rounds[(steps, mode)] = run_round(config, steps, mode, args.jobs, out, before, args.threads)
                names = [f"{steps}-{mode}-{i}" + (f"-{k}" if mode == "warm" else "") for i in range(args.jobs)
                         for k in range(WARM_TRIALS if mode == "warm" else 1)]
                splits += [measure(out / name, mode, steps) for name in names]
    finally:
        if before is not None:  # the worktree goes; its trials stay in --out
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before[0])], check=False)
    print(f"\nwhere a trial's wall time goes (seconds; {args.jobs} trials at once, {os.cpu_count()} cores, demo data, "
          f"fine-tuned from {args.fine_tune_checkpoint}, {started}; before = {args.before})")
    header = ("steps", "mode", "wall", "imports", "build", "tracing", "steps'", "evals during", "after training",
              "final eval", "on steps", "CPU", "mAP")
    rows = [(str(s.steps), s.mode, f"{s.wall:.0f}", f"{s.imports:.1f}" if s.imports is not None else "-",
             f"{s.build:.1f}", f"{s.tracing:.1f}", f"{s.training:.1f}", f"{s.evals_during:.1f}",
             f"{s.after_training:.1f}", f"{s.final_eval:.1f}", f"{100 * s.share:.0f} %", f"{s.cpu:.0f}",
             f"{s.map_value:.4f}") for s in splits]
    print(_table(header, rows))
    print(f"\nper shape and mode ({args.jobs} trials at once)")
    summary = []
    for (steps, mode), wall in rounds.items():
        group = [s for s in splits if (s.steps, s.mode) == (steps, mode)]
        summary.append((str(steps), mode, f"{statistics.mean(s.wall for s in group):.0f} s",
                        f"{100 * statistics.mean(s.share for s in group):.0f} %",
                        f"{statistics.mean(s.cpu for s in group):.0f} s", f"{len(group) * 3600 / wall:.0f}"))
    print(_table(("steps", "mode", "mean wall", "share on steps", "CPU per trial", "trials/hour"), summary))
    return 0 if all(s.completed for s in splits) else 1


if __name__ == "__main__":
    sys.exit(main())
