"""How close two training runs of one config come, by seed and op determinism, and what it costs.

Three settings (same seed; same seed with op determinism; different seeds), printed as a table.

For one config (default: the demo base ``ssd_mobilenet_v2_shapes`` fine-tuned from the bundled
``pipelines/checkpoints/shapes_pretrained/ckpt`` on the demo data, as ``make demo`` trains it) the
bench runs ``python -m tuner.trial`` ``--runs`` times in each setting:

* ``same seed``: ``--seed S`` every run (what a study trial gets), op determinism off;
* ``same seed, deterministic``: ``--seed S --deterministic``;
* ``different seeds``: ``--seed S``, ``S+1``, ... (op determinism off): the run-to-run noise.

Runs go round-robin over the settings (run 1 of each, then run 2 of each, ...), so a change in
the machine's load touches every setting alike. Each row gives the seeds, the mAP at the last
step of each run (``--steps``), their spread (max - min) and the mean wall time of one run (the
trial's ``wall_seconds``: trainer and evaluator, start-up included); a closing line gives what op
determinism cost against the same seed without it.

The config trained is ``OUT/base.config`` (data and checkpoint resolved); each run is a trial
directory ``OUT/<setting>-<i>`` with its output in ``OUT/<setting>-<i>.log``. Running the bench
again reuses every finished run (``result.json``) and redoes unfinished ones, so ``--runs`` can be
raised later; ``OUT`` holding runs of another config, budget or seed is refused.

Usage::

    .venv/bin/python bench/seeds.py [--steps 300] [--eval-every 150] [--runs 2] [--seed 0] \\
        [--base ssd_mobilenet_v2_shapes] [--fine-tune-checkpoint PATH|none] \\
        [--train-data R --eval-data R --label-map P] [--out runs/bench-seeds]

Exit codes: 0 every run completed; 1 a run failed (its row says so); 2 bad input (one line
``error: ...`` on stderr); 130 interrupted (run the same command again to continue).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from tuner import atomic, events, tfquiet  # noqa: E402
from tuner.cli import OneLineParser, text_table  # noqa: E402
from tuner.config.errors import ConfigError  # noqa: E402
from tuner.config.io import write_text_atomic  # noqa: E402
from tuner.baseconfig import DataError, prepare_config  # noqa: E402
from tuner.outcome import Status, TrialOutcome  # noqa: E402
from tuner.paths import PIPELINES_DIR  # noqa: E402
from tuner.trial import RESULT_FILE, TrialSpec, TrialSpecError  # noqa: E402

DEFAULT_CHECKPOINT = PIPELINES_DIR / "checkpoints" / "shapes_pretrained" / "ckpt"
PLAN_FILE = "bench-seeds.json"
CONFIG_FILE = "base.config"


class BenchError(Exception):
    """Bad input; the message is the one line the CLI prints (exit code 2)."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One way of running the same config ``runs`` times."""

    key: str                # directory prefix
    label: str              # row name
    deterministic: bool
    same_seed: bool         # every run the same seed, else seed + run index

    def seed(self, base: int, run: int) -> int:
        return base if self.same_seed else base + run


SETTINGS = (Setting("same", "same seed", False, True),
            Setting("same-det", "same seed, deterministic", True, True),
            Setting("diff", "different seeds", False, False))


@dataclasses.dataclass(frozen=True)
class Run:
    """One finished (or failed) run of a setting."""

    setting: Setting
    index: int
    seed: int
    outcome: TrialOutcome | None   # None: no result.json (the CLI failed before the trial started)
    log: Path

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.outcome.status is Status.COMPLETED

    @property
    def final_map(self) -> float:
        """mAP of the last evaluation (NaN when there is none)."""
        if self.outcome is None or not self.outcome.evaluations:
            return float("nan")
        return self.outcome.evaluations[-1].value(events.MAP)


@dataclasses.dataclass(frozen=True)
class Plan:
    out: Path
    config: Path
    steps: int
    eval_every: int
    runs: int
    seed: int
    note: str

    def command(self, setting: Setting, run: int) -> list[str]:
        """The ``python -m tuner.trial`` command of run ``run`` (0-based) of ``setting``."""
        return [sys.executable, "-m", "tuner.trial", "--config", str(self.config), "--steps", str(self.steps),
                "--eval-every", str(self.eval_every), "--out", str(self.run_dir(setting, run)),
                "--seed", str(setting.seed(self.seed, run)), *(["--deterministic"] if setting.deterministic else [])]

    def run_dir(self, setting: Setting, run: int) -> Path:
        return self.out / f"{setting.key}-{run + 1}"


def checkpoint_arg(value: str | None) -> str | None:
    """``--fine-tune-checkpoint``: the bundled checkpoint by default, ``none``: from scratch."""
    if value is None:
        return str(DEFAULT_CHECKPOINT)
    return None if value.lower() == "none" else value


def make_plan(args: argparse.Namespace) -> Plan:
    """Check the flags, write ``OUT/base.config`` and ``OUT/bench-seeds.json`` (or check them).

    Raises:
        BenchError: bad flags, data or checkpoint; ``OUT`` holding runs of another plan.
        OSError: ``--out`` cannot be written.
    """
    if args.runs < 2:
        raise BenchError(f"--runs must be >= 2: a spread needs two runs (got {args.runs})")
    try:
        for seed in (args.seed, args.seed + args.runs - 1):
            TrialSpec("", Path("."), args.steps, args.eval_every, seed=seed).validate()
        checkpoint = checkpoint_arg(args.fine_tune_checkpoint)
        with tfquiet.quietly():  # locating or generating the demo data imports TensorFlow: its start-up stays quiet
            text, note = prepare_config(args.base, args.train_data, args.eval_data, args.label_map,
                                        fine_tune_checkpoint=checkpoint)
    except (TrialSpecError, DataError, ConfigError) as exc:
        raise BenchError(str(exc)) from None
    out = Path(args.out).resolve()
    identity = {"config_sha256": hashlib.sha256(text.encode()).hexdigest(), "steps": args.steps,
                "eval_every": args.eval_every, "seed": args.seed}
    plan_file = out / PLAN_FILE
    if plan_file.is_file():
        try:
            old = json.loads(plan_file.read_text())
        except (OSError, ValueError):
            old = None
        if old != identity:
            raise BenchError(f"{out} holds runs of another config, budget or seed ({plan_file}); continue them with "
                             "the same flags, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    config = out / CONFIG_FILE
    if not config.is_file() or config.read_text() != text:
        write_text_atomic(config, text)
    atomic.write_json(plan_file, identity)
    return Plan(out, config, args.steps, args.eval_every, args.runs, args.seed, note)


def read_run(plan: Plan, setting: Setting, run: int) -> Run:
    result = plan.run_dir(setting, run) / RESULT_FILE
    outcome = TrialOutcome.from_json(json.loads(result.read_text())) if result.is_file() else None
    return Run(setting, run, setting.seed(plan.seed, run), outcome, plan.out / f"{setting.key}-{run + 1}.log")


def execute(plan: Plan, setting: Setting, run: int) -> Run:
    """Run one trial (a finished one is read back, an unfinished one is started again).

    Raises:
        KeyboardInterrupt: after the trial stopped (it gets the Ctrl-C too).
    """
    run_dir = plan.run_dir(setting, run)
    if (run_dir / RESULT_FILE).is_file():
        return read_run(plan, setting, run)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an interrupted run: its checkpoints would confuse the new one
    log = plan.out / f"{setting.key}-{run + 1}.log"
    cmd = plan.command(setting, run)
    print(f"[bench] {setting.label}, run {run + 1}/{plan.runs}: seed {setting.seed(plan.seed, run)} (log {log})",
          file=sys.stderr, flush=True)
    with log.open("a") as fh:
        fh.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')} {shlex.join(cmd)}\n")
        fh.flush()
        process = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)  # this cwd: the config's data paths
        try:
            process.wait()
        except KeyboardInterrupt:
            process.wait()  # python -m tuner.trial stops its trial on Ctrl-C
            raise
    return read_run(plan, setting, run)


def rows(runs: Sequence[Run]) -> tuple[list[list[str]], str]:
    """The table's rows (one per setting, in :data:`SETTINGS` order) and the closing line."""
    table, wall = [], {}
    for setting in SETTINGS:
        mine = sorted((r for r in runs if r.setting == setting), key=lambda r: r.index)
        if not mine:
            continue
        done = [r for r in mine if r.ok]
        maps = [r.final_map for r in done]
        seconds = [r.outcome.wall_seconds for r in done if r.outcome is not None]
        wall[setting.key] = statistics.fmean(seconds) if seconds else None
        cells = [f"{r.final_map:.4f}" if r.ok else "failed" for r in mine]
        table.append([setting.label, f"{len(done)}/{len(mine)}", ",".join(str(r.seed) for r in mine),
                      " ".join(cells), f"{max(maps) - min(maps):.4f}" if len(maps) > 1 else "-",
                      f"{wall[setting.key]:.0f} s" if wall[setting.key] is not None else "-"])
    plain, det = wall.get("same"), wall.get("same-det")
    cost = (f"op determinism: {det:.0f} s per run against {plain:.0f} s with the same seed without it "
            f"({(det / plain - 1) * 100:+.0f}%)") if plain and det else "op determinism: cost not measured"
    return table, cost


def render(runs: Sequence[Run]) -> str:
    table, cost = rows(runs)
    header = ["setting", "runs ok", "seeds", "mAP of each run (last step)", "spread", "wall/run"]
    lines = text_table(header, table) + ["", cost]
    for run in runs:
        if not run.ok:
            reason = run.outcome.reason if run.outcome else f"no result.json; see {run.log}"
            lines.append(f"{run.setting.label}, run {run.index + 1} (seed {run.seed}) did not complete: {reason}")
    return "\n".join(lines)


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="bench/seeds.py", description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="training steps per run (default %(default)s)")
    p.add_argument("--eval-every", type=int, default=150, help="evaluate every K steps (default %(default)s)")
    p.add_argument("--runs", type=int, default=2, help="runs per setting (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="the shared seed; different seeds are seed, seed+1, ... "
                                                       "(default %(default)s)")
    p.add_argument("--base", default="ssd_mobilenet_v2_shapes", help="a path or a name in pipelines/ "
                                                                       "(default %(default)s)")
    p.add_argument("--fine-tune-checkpoint", metavar="PATH",
                   help="checkpoint prefix to fine-tune from, 'none' to train from scratch (default: the bundled "
                        f"{DEFAULT_CHECKPOINT.relative_to(REPO)})")
    p.add_argument("--train-data", help="training TFRecord(s) (default: the config's, or the demo data)")
    p.add_argument("--eval-data", help="evaluation TFRecord(s)")
    p.add_argument("--label-map", help="label_map.pbtxt")
    p.add_argument("--out", default="runs/bench-seeds", help="runs and logs (default %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run every setting's runs and print the table; see the exit codes above."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ chatter if the demo data is generated
    try:
        plan = make_plan(args)
    except (BenchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("bench/seeds.py: how close runs of one config come, by seed and op determinism")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
          f"machine: {os.cpu_count()} CPUs, {platform.platform()}, python {platform.python_version()}\n"
          f"command: {shlex.join([sys.executable, *sys.argv])}\n"
          f"config: {plan.config} ({args.base}; fine-tuned from {checkpoint_arg(args.fine_tune_checkpoint)})\n"
          f"budget: {plan.runs} runs per setting x {plan.steps} steps, eval every {plan.eval_every}; seed {plan.seed}")
    if plan.note:
        print(plan.note)
    print(flush=True)
    runs: list[Run] = []
    started = time.perf_counter()
    try:
        for run in range(plan.runs):
            for setting in SETTINGS:
                runs.append(execute(plan, setting, run))
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue (finished runs are kept)", file=sys.stderr)
        return 130
    print(render(runs))
    print(f"\nbench wall time: {time.perf_counter() - started:.0f} s")
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
