"""Does the TPE sampler find better configs than random search at equal budget? Printed as a table.

For each seed of ``--seeds`` and each sampler of ``--samplers`` the bench runs one study exactly as
a user would (``python -m tuner.study ... --sampler X --seed S --run-dir OUT/X-sS``; its output
goes to ``OUT/X-sS.log``), all with the same budget (``--n-trials`` trials, the baseline
included, of ``--steps`` steps each) on one generated shapes dataset (``OUT/data``; DatasetSpec
defaults except ``--data-seed``, default 1: not the demo data's seed 0, so the search is measured
on data the defaults were not tuned on). ``--pruner none`` by default, so every trial's full
learning curve is in the storage and ``bench/pruning.py --run-dir OUT/X-sS`` can replay it.

Then it reads every study from its ``study.db`` and prints:

* one row per sampler: seeds that ran, the best mAP (median [min, max] over seeds), the lift of
  the best over that study's own baseline (trial 0, the unmodified base config), training steps
  and wall time summed over its studies;
* a row ``baseline``: the baseline's mAP over all studies. It is the same config trained once per
  study, so its max - min is the run-to-run noise of one config (the spread);
* one line per study, and a verdict: the samplers' median best differ by more than the spread,
  or not. TPE's first trials (``n_startup_trials=3``, the baseline included) are the random
  sampler's draws for the same seed, so ``tpe-sS`` and ``random-sS`` train the same configs
  there (a note gives each such pair's mAP: more run-to-run noise); they differ from trial 3 on.

Wall times: ``trial wall`` sums the trials' own wall time (``wall_seconds``); ``study wall`` is
the wall time of the ``python -m tuner.study`` processes as the bench measured them, summed over
the bench runs that ran trials (``OUT/bench-timings.json``). Trials of older studies may lack
``steps_trained``/``wall_seconds``: they count 0 and the output says so. Running the bench again
resumes every study (nothing finished is redone), so an interrupted bench continues.

Usage::

    .venv/bin/python bench/search.py [--seeds 0,1,2] [--samplers tpe,random] [--n-trials 5] \\
        [--steps 300] [--eval-every 50] [--pruner none] [--base ssd_mobilenet_v2_shapes] [--space FILE] \\
        [--data-seed 1] [--classes a,b] [--train N] [--eval N] [--data-spec-json '{"clutter": 3}'] \\
        [--train-data R --eval-data R --label-map P] [--out runs/bench-search] [--quick] [--json]

``--quick`` is a smoke scale for tests (one seed, 2 trials of 10 steps on a tiny easy dataset, a
batch-4 copy of the base config and the search space without its batch-size entry); flags given
explicitly still win. The full table is recorded in docs/benchmarks.md. The
aggregation, the verdict and the tables are in ``bench/search_results.py``.

Exit codes: 0 every study ran; 1 a study exited non-zero (its row says so, the others ran); 2 bad
input (one line ``error: ...`` on stderr); 130 interrupted (run the same command to resume).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import optuna
import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

from search_results import (StudyResult, read_study, render, repeats, summary_rows, to_json, trial_count,  # noqa: E402
                            verdict)
from tuner import atomic  # noqa: E402
from tuner.cli import OneLineParser  # noqa: E402
from tuner.config.io import write_text_atomic  # noqa: E402
from tuner.data import shapes  # noqa: E402
from tuner.paths import PIPELINES_DIR  # noqa: E402
from tuner.study.compute import duration  # noqa: E402

SAMPLERS = ("tpe", "random")
TIMINGS_FILE = "bench-timings.json"
DEFAULT_SPACE = PIPELINES_DIR / "spaces" / "ssd.yaml"
NORMAL: dict[str, Any] = {"seeds": "0,1,2", "n_trials": 5, "steps": 300, "eval_every": 50}
#: ``--quick``: used where the flag is not given explicitly.
QUICK: dict[str, Any] = {"seeds": "0", "n_trials": 2, "steps": 10, "eval_every": 10}
#: ``--quick``'s dataset (DatasetSpec fields): tiny and easy, one large object per image.
QUICK_SPEC: dict[str, Any] = {"train": 32, "eval": 8, "size": 128, "classes": ("circle", "square"),
                              "min_object": 0.3, "max_object": 0.6, "max_objects": 1, "clutter": 0}
QUICK_BATCH = 4
#: Seconds a study gets to stop its trials after Ctrl-C before it is terminated, then killed.
STOP_GRACE = (120.0, 30.0)


class BenchError(Exception):
    """Bad input; the message is the one line the CLI prints (exit code 2)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the bench runs: the studies' shared arguments, and where.

    Attributes:
        out: the bench directory (absolute).
        seeds, samplers: one study per pair.
        data: train record, eval record, label map (absolute paths); ``data_text`` describes them.
        base, space: ``--base`` and ``--space`` as passed to every study (``space`` ``None``: its default).
        n_trials, steps, eval_every, pruner: the budget of every study.
    """

    out: Path
    seeds: tuple[int, ...]
    samplers: tuple[str, ...]
    data: tuple[str, str, str]
    data_text: str
    base: str
    space: str | None
    n_trials: int
    steps: int
    eval_every: int
    pruner: str
    fine_tune_checkpoint: str | None = None

    @property
    def budget(self) -> str:
        return (f"{self.n_trials} trials per study (baseline included) x {self.steps} steps, eval every "
                f"{self.eval_every}, pruner {self.pruner}; base {self.base}; space {self.space or 'default'}"
                + (f"; fine-tuned from {self.fine_tune_checkpoint}" if self.fine_tune_checkpoint else ""))

    def command(self, sampler: str, seed: int) -> list[str]:
        """The ``python -m tuner.study`` command line of one study, as a user would type it."""
        name = study_name(sampler, seed)
        return [sys.executable, "-m", "tuner.study", "--base", self.base, "--train-data", self.data[0],
                "--eval-data", self.data[1], "--label-map", self.data[2], "--sampler", sampler, "--seed", str(seed),
                "--n-trials", str(self.n_trials), "--steps", str(self.steps), "--eval-every", str(self.eval_every),
                "--pruner", self.pruner, "--confirm", "0", "--run-dir", str(self.out / name), "--study-name", name,
                *(["--space", self.space] if self.space else []),
                *(["--fine-tune-checkpoint", self.fine_tune_checkpoint] if self.fine_tune_checkpoint else [])]


def study_name(sampler: str, seed: int) -> str:
    return f"{sampler}-s{seed}"


def dataset_spec(args: argparse.Namespace) -> shapes.DatasetSpec:
    """DatasetSpec defaults, then ``--quick``'s tiny spec, then ``--data-spec-json``, then the flags.

    Raises:
        BenchError: bad JSON, an unknown field, a field that has its own flag, or an invalid spec.
    """
    fields = {f.name for f in dataclasses.fields(shapes.DatasetSpec)}
    own = {"seed": "--data-seed", "classes": "--classes", "train": "--train", "eval": "--eval"}
    values: dict[str, Any] = dict(QUICK_SPEC) if args.quick else {}
    if args.data_spec_json:
        try:
            extra = json.loads(args.data_spec_json)
        except json.JSONDecodeError as exc:
            raise BenchError(f"--data-spec-json is not JSON ({exc}); e.g. '{{\"clutter\": 3}}'") from None
        if not isinstance(extra, dict):
            raise BenchError("--data-spec-json must be a JSON object of DatasetSpec fields")
        for key in extra:
            if key in own:
                raise BenchError(f"--data-spec-json: give {key!r} with {own[key]}, not in the JSON")
            if key not in fields:
                raise BenchError(f"--data-spec-json: unknown DatasetSpec field {key!r}; fields: "
                                 f"{', '.join(sorted(fields - set(own)))}")
        values.update(extra)
    values["seed"] = args.data_seed
    if args.classes is not None:
        values["classes"] = [c.strip() for c in args.classes.split(",") if c.strip()]
    values.update({k: getattr(args, k) for k in ("train", "eval") if getattr(args, k) is not None})
    if "classes" in values:
        values["classes"] = tuple(values["classes"])
    try:
        spec = shapes.DatasetSpec(**values)
        spec.validate()
    except (TypeError, shapes.DatasetSpecError) as exc:
        raise BenchError(f"dataset: {exc}") from None
    return spec


def quick_base(base: str, out: Path) -> Path:
    """A copy of ``base`` with batch size :data:`QUICK_BATCH`, written to ``out`` (if it changed).

    Raises:
        BenchError: ``base`` is not found or not a valid config.
    """
    from tuner import config as cfgmod
    from tuner.baseconfig import DataError, resolve_base

    try:
        cfg = cfgmod.load(resolve_base(base))
    except (DataError, cfgmod.ConfigError) as exc:
        raise BenchError(f"--base: {exc}") from None
    cfgmod.set_value(cfg, "train_config.batch_size", QUICK_BATCH)
    path = out / f"base-quick-b{QUICK_BATCH}.config"
    _write_if_changed(path, cfgmod.dumps(cfg))
    return path


def quick_space(space: Path, out: Path) -> Path:
    """``space`` without its batch-size entry (and the entries conditional on it), written to ``out``.

    Raises:
        BenchError: ``space`` is unreadable or not a YAML mapping.
    """
    try:
        data = yaml.safe_load(space.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BenchError(f"--space {space}: cannot read it ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise BenchError(f"--space {space}: not a search-space file (expected a mapping with 'params')")
    params = dict(data.get("params") or {})
    dropped = {n for n, e in params.items()
               if isinstance(e, dict) and (e.get("knob") == "batch_size" or e.get("path") == "train_config.batch_size")}
    for name, entry in list(params.items()):  # file order: a parent comes before its conditionals
        when = entry.get("when") if isinstance(entry, dict) else None
        if name in dropped or (isinstance(when, dict) and set(when) & dropped):
            dropped.add(name)
            del params[name]
    path = out / "space-quick.yaml"
    _write_if_changed(path, yaml.safe_dump({**data, "params": params}, sort_keys=False))
    return path


def _write_if_changed(path: Path, text: str) -> None:
    """Leave an identical file alone (a resumed study compares its inputs)."""
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise BenchError(f"{flag} must be comma-separated integers (got {text!r})") from None
    if not values or len(set(values)) != len(values):
        raise BenchError(f"{flag} must list at least one value, each once (got {text!r})")
    return values


def make_plan(args: argparse.Namespace) -> Plan:
    """Check the flags, generate (or reuse) the dataset, write ``--quick``'s base and space.

    Raises:
        BenchError: bad flags, an invalid dataset spec, ``OUT/data`` holding another dataset.
        OSError: ``--out`` cannot be written.
    """
    def setting(name: str) -> Any:
        value = getattr(args, name)
        return value if value is not None else (QUICK if args.quick else NORMAL)[name]

    seeds = _ints(str(setting("seeds")), "--seeds")
    samplers = tuple(s.strip() for s in args.samplers.split(",") if s.strip())
    if not samplers or len(set(samplers)) != len(samplers) or set(samplers) - set(SAMPLERS):
        raise BenchError(f"--samplers must list some of {', '.join(SAMPLERS)}, each once (got {args.samplers!r})")
    given = (args.train_data, args.eval_data, args.label_map)
    if any(given) and not all(given):
        raise BenchError("give all of --train-data, --eval-data and --label-map, or none of them")
    spec = None if all(given) else dataset_spec(args)  # checked before anything is written
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if spec is None:
        data = tuple(str(Path(p).resolve()) for p in given)
        data_text = "given records"
    else:
        try:
            ds = shapes.generate(out / "data", spec)
        except FileExistsError as exc:
            raise BenchError(f"{exc} (the studies in {out} ran on that dataset: for another one, choose another "
                             "--out)") from None
        data = (str(ds.train_record), str(ds.eval_record), str(ds.label_map))
        data_text = f"shapes {json.dumps({**dataclasses.asdict(spec), 'classes': list(spec.classes)})}"
    base = str(Path(args.base).resolve()) if Path(args.base).is_file() else args.base
    space = str(Path(args.space).resolve()) if args.space else None
    if args.quick:
        base = str(quick_base(base, out))
        space = str(quick_space(Path(space) if space else DEFAULT_SPACE, out))
    return Plan(out, seeds, samplers, data, f"{data_text} in {Path(data[0]).parent}", base,  # type: ignore[arg-type]
                space, setting("n_trials"), setting("steps"), setting("eval_every"), args.pruner,
                str(Path(args.fine_tune_checkpoint).absolute()) if args.fine_tune_checkpoint else None)


def last_line(log: Path) -> str:
    """The last non-empty line of ``log`` (``""`` if none)."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for ``process``; on Ctrl-C (which it received too) let it stop its trials, then re-raise."""
    try:
        return process.wait()
    except KeyboardInterrupt:
        print("[bench] interrupted: waiting for the study to stop its trials", file=sys.stderr, flush=True)
        for grace, action in zip(STOP_GRACE, (process.terminate, process.kill)):
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                action()
        process.wait()
        raise


def run_study(cmd: Sequence[str], log: Path) -> tuple[int, float]:
    """Run one study command with its output appended to ``log``.

    Returns:
        Its exit code and wall seconds.

    Raises:
        KeyboardInterrupt: after the study stopped its trials (see :func:`_wait`).
    """
    with log.open("a") as fh:
        fh.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')} {shlex.join(cmd)}\n")
        fh.flush()
        start = time.perf_counter()
        code = _wait(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO))
        return code, time.perf_counter() - start


def run_all(plan: Plan) -> list[StudyResult]:
    """Run (or resume) every study, seed by seed, and read each back.

    A study's wall time is accumulated in ``OUT/bench-timings.json`` over the bench runs that
    ran trials of it (a resume with nothing left to do adds nothing).

    Raises:
        KeyboardInterrupt: the user interrupted (the running study stopped its trials first).
    """
    timings_path = plan.out / TIMINGS_FILE
    try:
        timings: dict[str, float] = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    except (OSError, ValueError):  # an unreadable file only loses the earlier runs' study times
        print(f"[bench] {timings_path} is unreadable: study times restart from 0", file=sys.stderr)
        timings = {}
    results = []
    for seed in plan.seeds:
        for sampler in plan.samplers:
            name = study_name(sampler, seed)
            run_dir, log = plan.out / name, plan.out / f"{name}.log"
            print(f"[bench] {name}: running (log {log})", file=sys.stderr, flush=True)
            before = trial_count(run_dir, name)
            code, seconds = run_study(plan.command(sampler, seed), log)
            if trial_count(run_dir, name) != before:
                timings[name] = timings.get(name, 0.0) + seconds
                atomic.write_json(timings_path, timings)
            print(f"[bench] {name}: exit {code} after {duration(seconds)}", file=sys.stderr, flush=True)
            results.append(read_study(sampler, seed, run_dir, name, code, last_line(log) if code else "",
                                      timings.get(name, 0.0)))
    return results


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="bench/search.py", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", help=f"comma-separated sampler seeds (default {NORMAL['seeds']})")
    p.add_argument("--samplers", default=",".join(SAMPLERS), help="from tpe,random (default %(default)s)")
    p.add_argument("--n-trials", type=int,
                   help=f"trials per study, the baseline included (default {NORMAL['n_trials']})")
    p.add_argument("--steps", type=int, help=f"training steps per trial (default {NORMAL['steps']})")
    p.add_argument("--eval-every", type=int, help=f"evaluate every K steps (default {NORMAL['eval_every']})")
    p.add_argument("--pruner", default="none", choices=("none", "auto", "median", "hyperband"),
                   help="default none: full curves, replayable by bench/pruning.py")
    p.add_argument("--base", default="ssd_mobilenet_v2_shapes",
                   help="a path or a name in pipelines/ (default %(default)s)")
    p.add_argument("--space", help="search-space YAML (default: the study's default)")
    p.add_argument("--fine-tune-checkpoint", metavar="PATH", help="passed to every study (e.g. the bundled "
                   "pipelines/checkpoints/shapes_pretrained/ckpt, as make demo does)")
    p.add_argument("--data-seed", type=int, default=1, help="dataset seed (default %(default)s; the demo data's is 0)")
    p.add_argument("--classes", help="comma-separated shapes (default: the DatasetSpec default)")
    p.add_argument("--train", type=int, help="training images (default: the DatasetSpec default)")
    p.add_argument("--eval", type=int, help="evaluation images (default: the DatasetSpec default)")
    p.add_argument("--data-spec-json", help="other DatasetSpec fields as JSON, e.g. '{\"min_object\": 0.15}'")
    p.add_argument("--train-data", help="existing training TFRecord(s) instead of a generated dataset")
    p.add_argument("--eval-data", help="existing evaluation TFRecord(s)")
    p.add_argument("--label-map", help="existing label_map.pbtxt")
    p.add_argument("--out", default="runs/bench-search", help="studies, logs and data (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="smoke scale for tests (see the module docstring)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the studies, read them back and print the tables (or ``--json``); see the exit codes above."""
    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ chatter while writing the dataset
    try:
        plan = make_plan(args)
    except (BenchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted before any study started", file=sys.stderr)
        return 130
    head = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, python {platform.python_version()}",
            "command": shlex.join([sys.executable, *sys.argv]), "data": plan.data_text, "budget": plan.budget}
    if not args.json:
        print("bench/search.py: samplers against each other and the baseline at equal budget")
        print("\n".join(f"{key}: {value}" for key, value in head.items()) + "\n", flush=True)
    try:
        results = run_all(plan)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    rows = summary_rows(results, plan.samplers)
    line = verdict(rows, repeats(results))
    if args.json:
        print(json.dumps({**head, "cpus": os.cpu_count(), **to_json(results, rows, line)}, indent=1))
    else:
        print(render(results, rows, line))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
