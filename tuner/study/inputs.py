"""Everything a study needs, checked before anything is created or trained.

:func:`prepare` checks the base config, the search space against it, the data, the budget, the
storage and the run directory; any problem is a :class:`StudyInputError` with a one-line
message saying what, where and the fix. Nothing is written except the demo dataset (when the
base needs it).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import os
from pathlib import Path
from typing import Any

from tuner import config as cfgmod
from tuner import events, paths, space as spacemod
from tuner.config.errors import ConfigError
from tuner.baseconfig import DataError, prepare_loaded, resolve_base, set_fine_tune_checkpoint
from tuner.runinfo import (BASE_CONFIG_FILE, RUN_INFO_FILE, SQLITE_FILE, RunInfo, RunInfoError, is_run_dir_sqlite,
                           sqlite_path, sqlite_url)
from tuner.deploy.cost import CostError, check_exportable
from tuner.study import holdout
from tuner.study import evaluation as evalplan
from tuner.study.budget import Budget, DeployVariant
from tuner.study.evaluation import EvalPlan
from tuner.study.confirm import CONFIRM, REPEATS
from tuner.study.objectives import Objectives, ObjectivesError
from tuner.study.pruning import PrunerKind, PruningError, PruningPlan, plan
from tuner.study.sampling import SamplerName
from tuner.study.storage import StorageError, open_storage, redact
from tuner.trial import TrialSpecError, check_steps

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
    fine_tune_checkpoint: str | None = None
    steps: int = 200
    eval_every: int | None = None  # None: the evaluation plan decides (tuner.study.evaluation)
    n_trials: int | None = None
    timeout: float | None = None
    trial_timeout: float | None = None
    status_every: float = 30.0  # seconds between the status lines while trials run (--status-every)
    study_name: str | None = None
    storage: str | None = None
    run_dir: str | None = None
    sampler: SamplerName = SamplerName.TPE  # a name (str) is accepted: prepare() checks and converts it
    pruner: PrunerKind = PrunerKind.AUTO     # likewise
    prune_after: float | None = None
    prune_min_trials: int | None = None
    jobs: int = 1
    devices: tuple[str, ...] = ()
    seed: int | None = None
    objective: str = events.MAP
    deterministic: bool = False
    fit_anchors: bool = True
    confirm: int = CONFIRM
    repeats: int = REPEATS
    test_data: str | None = None
    max_latency_ms: float | None = None
    max_size_kb: float | None = None
    deploy_variant: DeployVariant = DeployVariant.INT8  # a name (str) is accepted: prepare() checks and converts it
    deploy_threads: int = 2
    cost_cache: str | None = None  # default: <run dir>/cost-cache
    objectives: Objectives = Objectives()  # --objectives; its text (map,latency) is accepted: prepare() parses it

    @property
    def costed(self) -> bool:
        """Whether every trial's architecture is costed before training (a budget or a cost objective)."""
        return self.budget.active or self.objectives.multi

    @property
    def budget(self) -> Budget:
        return Budget(self.max_latency_ms, self.max_size_kb, DeployVariant(self.deploy_variant), self.deploy_threads)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The inputs of a study that :func:`prepare` checked without reading the data or building a
    model (:class:`tuner.study.plan.StudyPlan` adds what those decide)."""

    settings: StudySettings
    info: RunInfo
    run_dir: Path
    base_cfg: Any
    base_text: str
    space: spacemod.SearchSpace
    note: str
    pruning: PruningPlan
    evaluation: EvalPlan
    test_records: tuple[str, ...]  # --test-data, expanded and checked (() without it)


def _check_settings(s: StudySettings) -> None:
    if s.n_trials is not None and s.n_trials < 1:
        raise StudyInputError(f"--n-trials must be >= 1 (got {s.n_trials})")
    if s.timeout is not None and not (math.isfinite(s.timeout) and s.timeout > 0):
        raise StudyInputError(f"--timeout must be a positive number of seconds (got {s.timeout:g})")
    if s.trial_timeout is not None and not (math.isfinite(s.trial_timeout) and s.trial_timeout > 0):
        raise StudyInputError(f"--trial-timeout must be a positive number of seconds (got {s.trial_timeout:g})")
    if not (math.isfinite(s.status_every) and s.status_every > 0):
        raise StudyInputError(f"--status-every must be a positive number of seconds (got {s.status_every:g})")
    if s.confirm < 0:
        raise StudyInputError(f"--confirm must be >= 0 (got {s.confirm}); 0 turns the confirmation off")
    if s.repeats < 1:
        raise StudyInputError(f"--repeats must be >= 1 (got {s.repeats}); use --confirm 0 to repeat nothing")
    if s.jobs < 1:
        raise StudyInputError(f"--jobs must be >= 1 (got {s.jobs})")
    if s.deploy_variant not in {v.value for v in DeployVariant}:
        raise StudyInputError(f"--deploy-variant {s.deploy_variant!r} is not one of "
                              f"{', '.join(v.value for v in DeployVariant)}")
    problem = s.budget.check()
    if problem:
        raise StudyInputError(problem)
    if s.devices and len(s.devices) < s.jobs:
        raise StudyInputError(f"--jobs {s.jobs} needs at least {s.jobs} --devices (got {','.join(s.devices)})")


def _with_names(s: StudySettings) -> StudySettings:
    """``s`` with its sampler and pruner as enums and its objectives parsed.

    Raises:
        StudyInputError: an unknown sampler or pruner name (never a silent fallback).
    """
    try:
        sampler = SamplerName(s.sampler)
    except ValueError:
        raise StudyInputError(f"--sampler must be one of {', '.join(SamplerName)} (got {s.sampler!r})") from None
    try:
        pruner = PrunerKind.parse(s.pruner)
    except PruningError as exc:
        raise StudyInputError(str(exc)) from None
    try:
        objectives = s.objectives if isinstance(s.objectives, Objectives) else Objectives.parse(s.objectives)
    except ObjectivesError as exc:
        raise StudyInputError(str(exc)) from None
    return dataclasses.replace(s, sampler=sampler, pruner=pruner, objectives=objectives)


def prepare(settings: StudySettings) -> Prepared:
    """Check every input; create nothing but the demo dataset (if the base needs it).

    Raises:
        StudyInputError: the first problem, as one line with the fix.
    """
    s = _with_names(settings)
    _check_settings(s)
    space_path = Path(s.space) if s.space else DEFAULT_SPACE
    try:
        if s.eval_every is not None:
            check_steps(s.steps, s.eval_every)
        base_path = resolve_base(s.base)
        raw_base = cfgmod.load(base_path)  # the one parse of the base config
        _check_default_space(s, raw_base)
        space = spacemod.load_space(space_path)
        with_checkpoint = copy.deepcopy(raw_base)
        set_fine_tune_checkpoint(with_checkpoint, s.fine_tune_checkpoint)  # a space may depend on it (knob freeze)
        spacemod.validate(space, with_checkpoint)
        space_sha256 = _sha256(space_path)
        name = s.study_name or base_path.stem
        run_dir = Path(s.run_dir) if s.run_dir else paths.DEFAULT_RUN_DIR / name
        _check_writable_dir(run_dir)
        evaluation, pruning = evalplan.plan(s.steps, _eval_every(s, run_dir), lambda grid: _pruning(s, grid))
        had_trials = run_dir.is_dir() and any(run_dir.glob("trial-*"))  # looked at before the storage: see below
        study_exists = None
        if s.storage:  # a user URL must be reachable before anything starts; SQLite is created later
            study_exists = _study_in_storage(s.storage, name)
        base_cfg, note = prepare_loaded(raw_base, base_path, s.train_data, s.eval_data, s.label_map, steps=s.steps,
                                        fine_tune_checkpoint=s.fine_tune_checkpoint)
    except (TrialSpecError, PruningError, DataError, ConfigError, spacemod.SpaceError, StorageError,
            FileExistsError) as exc:
        raise StudyInputError(str(exc)) from None
    base_text = cfgmod.dumps(base_cfg)
    if s.costed:
        try:
            check_exportable(base_cfg)
        except CostError as exc:
            flags = f"--objectives {s.objectives.text}" if s.objectives.multi else "--max-latency-ms/--max-size-kb"
            raise StudyInputError(f"{flags}: {exc}") from None
    reader = base_cfg.train_input_reader
    info = RunInfo(study_name=name, storage=s.storage or sqlite_url(run_dir), base=str(base_path.resolve()),
                   train_data=",".join(reader.tf_record_input_reader.input_path),
                   eval_data=",".join(base_cfg.eval_input_reader[0].tf_record_input_reader.input_path),
                   label_map=reader.label_map_path, steps=s.steps, eval_every=evaluation.every, objective=s.objective,
                   space=str(space_path.resolve()), space_sha256=space_sha256,
                   eval_steps=() if evaluation.requested else evaluation.at)
    test_records: list[str] = []
    if s.test_data:
        try:
            test_records = holdout.check_test_data(s.test_data, info.train_data, info.eval_data)
        except holdout.HoldoutError as exc:
            raise StudyInputError(str(exc)) from None
    _check_run_dir(run_dir, info, base_text, explicit_storage=bool(s.storage))
    # Trial directories were listed before the storage was asked: a study another worker is
    # creating right now has its study row before its first trial directory.
    if had_trials and (study_exists is False or (not s.storage and not (run_dir / SQLITE_FILE).exists())):
        raise StudyInputError(f"{run_dir} holds trials of study '{name}', but {redact(info.storage)} has no such study "
                              f"(deleted?); start it again with another --run-dir, or delete {run_dir}")
    return Prepared(s, info, run_dir, base_cfg, base_text, space, note, pruning, evaluation, tuple(test_records))


def _check_default_space(s: StudySettings, base: Any) -> None:
    """The default space searches SSD anchors, loss and post-processing: an SSD base only.

    Raises:
        StudyInputError: no --space and a base that is not an SSD (one line: how to give a space).
    """
    kind = base.model.WhichOneof("model")
    if s.space or kind == "ssd":
        return
    raise StudyInputError(f"the default search space ({DEFAULT_SPACE.relative_to(paths.PIPELINES_DIR.parent)}) is for "
                          f"SSD models and the base config is a {kind or 'model-less'} config: give a space for it with "
                          "--space FILE (the knobs learning_rate, warmup_fraction, batch_size, momentum and l2_weight and "
                          "the augmentation entries apply to any model; docs/usage/study.md, 'Model families'), and check it without "
                          "training with --dry-run 4")


def _eval_every(s: StudySettings, run_dir: Path) -> int | None:
    """``--eval-every``; when not given and ``run_dir`` holds a study of an older version (which
    evaluated every ``eval_every``-th step and recorded no evaluation plan), that study's interval,
    so it resumes as it ran."""
    if s.eval_every is not None:
        return s.eval_every
    try:
        old = RunInfo.load(run_dir)
    except (FileNotFoundError, RunInfoError):
        return None
    return None if old.eval_steps else old.eval_every


def _pruning(s: StudySettings, grid: int) -> PruningPlan:
    """The study's pruning plan on a checkpoint grid of ``grid`` steps: off, said at start, in a
    multi-objective study.

    Raises:
        PruningError: a pruning setting is out of range.
        StudyInputError: a pruner was asked for in a multi-objective study (Optuna cannot prune one).
    """
    pruning = plan(s.pruner, s.steps, grid, prune_after=s.prune_after, min_trials=s.prune_min_trials,
                   asked=s.eval_every is not None)
    if not s.objectives.multi:
        return pruning
    if s.pruner not in (PrunerKind.AUTO, PrunerKind.NONE):
        raise StudyInputError(f"--pruner {s.pruner} cannot prune --objectives {s.objectives.text}: Optuna cannot prune "
                              "a multi-objective study (optuna#3450); drop --pruner, or use --objectives map with "
                              "--max-latency-ms/--max-size-kb to keep pruning under a budget")
    return dataclasses.replace(pruning, kind=PrunerKind.NONE, decision_steps=(), note=s.objectives.note())


def _study_in_storage(url: str, name: str) -> bool:
    """Whether the storage at ``url`` holds study ``name``; a new SQLite file is not created.

    Raises:
        StorageError: the storage cannot be opened.
        StudyInputError: a new SQLite file's directory does not exist or is not a directory.
    """
    sqlite_file = _new_sqlite_file(url)
    if sqlite_file is not None:  # checked, not created: bad input elsewhere must leave nothing behind
        parent = sqlite_file.parent
        if not parent.is_dir():
            raise StudyInputError(f"--storage {redact(url)}: directory {parent} does not exist; create it "
                                  "or give another path")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StudyInputError(f"--storage {redact(url)}: directory {parent} is not writable; choose "
                                  "a writable path")
        return False
    storage = open_storage(url)
    try:
        return name in {study.study_name for study in storage.get_all_studies()}
    finally:
        storage.remove_session()


def _new_sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL whose file does not exist yet, else ``None``."""
    path = sqlite_path(url)
    if not path or path == ":memory:":
        return None
    file = Path(path)
    return None if file.exists() else file


def _check_writable_dir(run_dir: Path) -> None:
    """``run_dir`` exists as a directory, or can be created under its nearest existing parent.

    Raises:
        StudyInputError: a parent is a file, or the nearest existing one is not writable.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise StudyInputError(f"--run-dir {run_dir} is a file; choose a directory")
    if run_dir.is_dir():
        if not os.access(run_dir, os.W_OK | os.X_OK):
            raise StudyInputError(f"--run-dir {run_dir} is not writable; choose a writable directory")
        return
    parent = run_dir.absolute()
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise StudyInputError(f"--run-dir {run_dir} cannot be created: {parent} is a file; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StudyInputError(f"--run-dir {run_dir} cannot be created: {parent} is not writable; choose a "
                              "writable path")


def _sha256(space_path: Path) -> str:
    try:
        return hashlib.sha256(space_path.read_bytes()).hexdigest()
    except OSError as exc:  # it vanished since it was parsed
        raise StudyInputError(f"{space_path}: cannot read the search space ({exc.strerror}); check --space") from None


def _check_run_dir(run_dir: Path, info: RunInfo, base_text: str, explicit_storage: bool) -> None:
    """An existing run directory must hold the same study: base, budget, name, storage, space.

    Raises:
        StudyInputError: naming what differs and how to resume or start anew.
    """
    existing_base = run_dir / BASE_CONFIG_FILE
    if not existing_base.exists():
        return
    try:
        old = RunInfo.load(run_dir)
    except (FileNotFoundError, RunInfoError) as exc:
        reason = "missing" if isinstance(exc, FileNotFoundError) else str(exc).split(": ", 1)[-1]
        raise StudyInputError(f"{run_dir} holds a study ({BASE_CONFIG_FILE}) but its {RUN_INFO_FILE} is {reason}; "
                              f"restore {run_dir / RUN_INFO_FILE}, or start a new study with another --run-dir"
                              ) from None
    if existing_base.read_text() != base_text or (old.steps, old.evaluated_steps()) != (
            info.steps, info.evaluated_steps()):
        raise StudyInputError(
            f"{run_dir} holds study '{old.study_name}' of a different base config, data or budget; resume it "
            "with the same arguments, or start a new study with another --run-dir/--study-name")
    if old.study_name != info.study_name:
        raise StudyInputError(f"{run_dir} holds study '{old.study_name}', not '{info.study_name}'; "
                              "use another --run-dir")
    same_storage = old.storage == info.storage or (
        not explicit_storage and is_run_dir_sqlite(old.storage))  # the run dir's own SQLite file (moved dir)
    if not same_storage:
        resume = "without --storage (it uses its own study.db)" if is_run_dir_sqlite(old.storage) \
            else f"with --storage {redact(old.storage)}"
        raise StudyInputError(f"{run_dir} holds study '{old.study_name}' stored in {redact(old.storage)}, not "
                              f"{redact(info.storage)}; resume it {resume}, or use another --run-dir")
    if old.space_sha256 and old.space_sha256 != info.space_sha256:
        raise StudyInputError(f"{run_dir} holds study '{old.study_name}' searched with another space file "
                              f"({old.space or 'unknown'}, sha256 {old.space_sha256[:12]}; now {info.space}, sha256 "
                              f"{info.space_sha256[:12]}); resume it with the same --space, or use another --run-dir")
