"""Run a study: validate every input up front, then optimize, then summarise.

:func:`prepare` does all checking (base config, search space against it, data, budget,
storage) before anything is created or trained; any problem is a :class:`StudyInputError`
with a one-line message. :func:`run` then creates (or resumes) the study and runs trials.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

import optuna

from tuner import config as cfgmod
from tuner import events, paths, space as spacemod
from tuner.config.errors import ConfigError
from tuner.config.io import write_text_atomic
from tuner.data.demo import DataError, prepare_config, resolve_base
from tuner.runinfo import BASE_CONFIG_FILE, RunInfo, sqlite_url
from tuner.study import report
from tuner.study.objective import DevicePool, Interrupted, Objective
from tuner.study.workers import WorkerPool
from tuner.study.progress import Progress
from tuner.study.storage import StorageError, count_finished, create_or_load, open_storage, recover
from tuner.trial import TrialSpec, TrialSpecError

DEFAULT_SPACE = paths.PIPELINES_DIR / "spaces" / "ssd.yaml"


class StudyInputError(ValueError):
    """Bad input detected before any training (the CLI exits 2)."""


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """Everything the CLI collects (see ``python -m tuner.study --help``)."""

    base: str
    space: str | None = None
    train_data: str | None = None
    eval_data: str | None = None
    label_map: str | None = None
    steps: int = 200
    eval_every: int = 100
    n_trials: int | None = None
    timeout: float | None = None
    study_name: str | None = None
    storage: str | None = None
    run_dir: str | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    jobs: int = 1
    devices: tuple[str, ...] = ()
    seed: int | None = None
    objective: str = events.MAP


@dataclasses.dataclass
class Prepared:
    """The validated inputs of a study, ready to run."""

    settings: StudySettings
    info: RunInfo
    run_dir: Path
    base_cfg: Any
    base_text: str
    space: spacemod.SearchSpace
    note: str


def prepare(settings: StudySettings) -> Prepared:
    """Check every input; create nothing but the demo dataset (if the base needs it).

    Raises:
        StudyInputError: the first problem, as one line with the fix.
    """
    s = settings
    if s.n_trials is not None and s.n_trials < 1:
        raise StudyInputError(f"--n-trials must be >= 1 (got {s.n_trials})")
    if s.jobs < 1:
        raise StudyInputError(f"--jobs must be >= 1 (got {s.jobs})")
    if s.devices and len(s.devices) < s.jobs:
        raise StudyInputError(f"--jobs {s.jobs} needs at least {s.jobs} --devices (got {','.join(s.devices)})")
    if s.sampler not in ("tpe", "random"):
        raise StudyInputError(f"--sampler must be tpe or random (got {s.sampler!r})")
    if s.pruner not in ("median", "hyperband", "none"):
        raise StudyInputError(f"--pruner must be median, hyperband or none (got {s.pruner!r})")
    try:
        TrialSpec("", Path("."), s.steps, s.eval_every).validate()
        base_path = resolve_base(s.base)
        raw_base = cfgmod.load(base_path)
        space = spacemod.load_space(s.space or DEFAULT_SPACE)
        spacemod.validate(space, raw_base)
        if s.storage:  # a user URL must be reachable before anything starts; SQLite is created later
            open_storage(s.storage).remove_session()
        base_text, note = prepare_config(str(base_path), s.train_data, s.eval_data, s.label_map, steps=s.steps)
    except (TrialSpecError, DataError, ConfigError, spacemod.SpaceError, StorageError, FileExistsError) as exc:
        raise StudyInputError(str(exc)) from None
    base_cfg = cfgmod.loads(base_text)
    name = s.study_name or base_path.stem
    run_dir = Path(s.run_dir) if s.run_dir else paths.DEFAULT_RUN_DIR / name
    reader = base_cfg.train_input_reader
    info = RunInfo(study_name=name, storage=s.storage or sqlite_url(run_dir), base=str(base_path.resolve()),
                   train_data=",".join(reader.tf_record_input_reader.input_path),
                   eval_data=",".join(base_cfg.eval_input_reader[0].tf_record_input_reader.input_path),
                   label_map=reader.label_map_path, steps=s.steps, eval_every=s.eval_every, objective=s.objective)
    _check_run_dir(run_dir, info, base_text)
    return Prepared(s, info, run_dir, base_cfg, base_text, space, note)


def _check_run_dir(run_dir: Path, info: RunInfo, base_text: str) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise StudyInputError(f"--run-dir {run_dir} is a file; choose a directory")
    existing_base = run_dir / BASE_CONFIG_FILE
    if existing_base.exists():
        old = RunInfo.load(run_dir)
        if existing_base.read_text() != base_text or (old.steps, old.eval_every) != (info.steps, info.eval_every):
            raise StudyInputError(
                f"{run_dir} holds study '{old.study_name}' of a different base config, data or budget; resume it "
                "with the same arguments, or start a new study with another --run-dir/--study-name")
        if old.study_name != info.study_name:
            raise StudyInputError(f"{run_dir} holds study '{old.study_name}', not '{info.study_name}'; "
                                  "use another --run-dir")


def _sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)


def _pruner(name: str, steps: int, eval_every: int) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=eval_every, max_resource=steps)
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def run(prepared: Prepared, out: TextIO = sys.stdout) -> optuna.Study:
    """Create or resume the study and run trials until --n-trials/--timeout; print the summary.

    Raises:
        StudyInputError: the storage cannot be opened.
        KeyboardInterrupt: the user interrupted (running trials were stopped first).
    """
    s, info, run_dir = prepared.settings, prepared.info, prepared.run_dir
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines say what happened
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / BASE_CONFIG_FILE).exists():
        write_text_atomic(run_dir / BASE_CONFIG_FILE, prepared.base_text)
        info.save(run_dir)
    try:
        storage = open_storage(info.storage)
    except StorageError as exc:
        raise StudyInputError(str(exc)) from None
    study, created = create_or_load(info.study_name, storage, _sampler(s.sampler, s.seed),
                                    _pruner(s.pruner, s.steps, s.eval_every))
    storage.remove_session()
    if prepared.note:
        print(prepared.note, file=out)
    rerun = recover(study)
    done = count_finished(study)
    print(f"study '{info.study_name}' ({'new' if created else 'resumed'}, {done} trials done"
          + (f", re-running {len(rerun)} interrupted" if rerun else "") + f") in {run_dir}; storage "
          f"{report.redact(info.storage)}", file=out)
    remaining = None if s.n_trials is None else max(0, s.n_trials - done)
    best = study.best_value if any(t.value is not None for t in study.get_trials(deepcopy=False)) else None
    progress = Progress(s.n_trials, done, s.steps, s.jobs, best=best, out=out)
    threads = max(1, (os.cpu_count() or 2) // s.jobs) if s.jobs > 1 else 0
    objective = Objective(base_cfg=prepared.base_cfg, space=prepared.space, run_dir=run_dir, steps=s.steps,
                          eval_every=s.eval_every, objective=s.objective,
                          devices=DevicePool(list(s.devices) if s.devices else None), threads=threads,
                          listener=progress.listener())

    pruner = _pruner(s.pruner, s.steps, s.eval_every)

    def open_study(index: list[int] = [0]) -> optuna.Study:  # noqa: B006 - counts the worker threads
        # One Study (own storage connection, own sampler) per worker thread; seeds differ by thread.
        index[0] += 1
        seed = None if s.seed is None else s.seed + index[0] - 1
        return optuna.load_study(study_name=info.study_name, storage=open_storage(info.storage),
                                 sampler=_sampler(s.sampler, seed), pruner=pruner)

    pool = WorkerPool(open_study, objective, jobs=s.jobs, n_trials=s.n_trials, timeout=s.timeout)
    interrupted = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        interrupted.set()
        pool.stop()
        objective.interrupt()

    handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if remaining != 0:
            with progress:
                pool.run()
    except Interrupted:
        interrupted.set()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    print("\n" + report.summary(study), file=out)
    print(f"\ninspect it: {report.dashboard_command(info.storage)}", file=out)
    print(f"curves of every trial: tensorboard --logdir {run_dir}", file=out)
    if interrupted.is_set():
        print("interrupted: run the same command again to resume (interrupted trials are re-run)", file=out)
        raise KeyboardInterrupt
    return study
