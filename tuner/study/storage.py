"""Optuna storage for a study: opening it, creating/loading the study, recovering dead trials.

Resume contract: running the same command again continues the study. Finished trials are
kept. A trial left RUNNING by a dead worker (same host: its PID is gone; any host: its
heartbeat stopped) or interrupted by the user is marked failed and its parameters are
enqueued again, once. Trial 0 of a new study is the unmodified base config (the baseline).

Several workers (processes sharing a PostgreSQL study) may recover at once. Each orphan is
claimed before its re-run is enqueued (a study system attribute, set and read back), so
normally one worker enqueues it; should two still both enqueue one, the objective runs only
the lowest-numbered re-run and fails the other at once as ``duplicate`` (not counted).
"""
from __future__ import annotations

import os
import re
import socket
import uuid
import warnings
from typing import Any, Mapping, Sequence

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tuner.cli import first_line
from tuner.outcome import FailureClass
from tuner.runinfo import Attr

HEARTBEAT_SECONDS = 20
GRACE_SECONDS = 90
#: Failure classes of trials that never finished through no fault of their config: re-run.
RERUN_FAILURES = (FailureClass.ORPHANED, FailureClass.INTERRUPTED)
#: A second re-run of the same orphan, failed without training: neither counted nor re-run.
DUPLICATE = FailureClass.DUPLICATE
#: Failure classes that do not count toward --n-trials.
UNCOUNTED_FAILURES = (*RERUN_FAILURES, DUPLICATE)
_RERUN_CLAIM = "odapi_tuner:rerun_claim:{number}"


class StorageError(ValueError):
    """The storage URL is malformed or unreachable."""


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Connect to an RDB storage (creating its tables if needed), with heartbeats on.

    Raises:
        StorageError: malformed or unreachable URL (message redacts the password).
    """
    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental; they are what we need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                engine_kwargs=_engine_kwargs(url))
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/driver errors vary by backend
        raise StorageError(f"cannot open storage {redact(url)}: {first_line(exc)}; check the URL, that the "
                           "server is running and the credentials") from None


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Trials of --jobs J write from J threads plus heartbeat threads: wait for SQLite's lock
        # instead of failing after its default 5 s (a failure there would lose a trial silently).
        return {"connect_args": {"timeout": 120}}
    return {"pool_pre_ping": True}


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host: its heartbeat decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def failure_class(trial: FrozenTrial) -> FailureClass | None:
    """The failure class of a failed trial (None for other states).

    The objective records a class for every failure it sees; a failed trial without one was
    failed from outside (Optuna's heartbeat check: its worker stopped) and is ``orphaned``.
    A stored class this version does not know reads as ``crash`` (counted, not re-run).
    """
    if trial.state is not TrialState.FAIL:
        return None
    stored = trial.user_attrs.get(Attr.FAILURE)
    if not stored:
        return FailureClass.ORPHANED
    try:
        return FailureClass(stored)
    except ValueError:
        return FailureClass.CRASH


def claim(study: optuna.Study, key: str) -> bool:
    """Claim ``key`` (a study system attribute) for this process: check, set, read back.

    Returns ``False`` if the key was claimed before, by this process or another (see module doc).
    """
    storage = study._storage  # noqa: SLF001
    if key in storage.get_study_system_attrs(study._study_id):  # noqa: SLF001
        return False
    token = f"{worker_id()}:{uuid.uuid4().hex[:8]}"
    storage.set_study_system_attr(study._study_id, key, token)  # noqa: SLF001
    return storage.get_study_system_attrs(study._study_id).get(key) == token  # noqa: SLF001


def _claim_rerun(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Claim the re-run of ``trial`` for this process (see :func:`claim`)."""
    return claim(study, _RERUN_CLAIM.format(number=trial.number))


def _enqueue_rerun(study: optuna.Study, trial: FrozenTrial) -> None:
    attrs: dict[str, Any] = {Attr.RETRY_OF: trial.number}
    for key in (Attr.BASELINE, Attr.FITTED_ANCHORS, Attr.REPEAT_OF):  # what the trial was re-runs as that
        if trial.user_attrs.get(key) is not None and trial.user_attrs.get(key) is not False:
            attrs[key] = trial.user_attrs[key]
    study.enqueue_trial(trial.params, user_attrs=attrs, skip_if_exists=False)


def recover(study: optuna.Study) -> list[int]:
    """Fail trials of dead same-host workers, then enqueue a re-run of every failed trial that
    ended through no fault of its config and was not re-run (or claimed by another worker) yet.

    Returns:
        Numbers of the trials whose parameters were enqueued again.
    """
    storage = study._storage  # noqa: SLF001 - the study's own storage object
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(Attr.WORKER, "")
        if worker and not _alive(worker):
            trial_id = trial._trial_id  # noqa: SLF001
            try:
                storage.set_trial_user_attr(trial_id, Attr.FAILURE, FailureClass.ORPHANED.value)
                storage.set_trial_user_attr(trial_id, Attr.REASON, f"worker {worker} died while running it")
                storage.set_trial_state_values(trial_id, TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another worker recovered it first
    with warnings.catch_warnings():  # fail_stale_trials is marked experimental; its behaviour is what we need
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    rerun_of = {t.user_attrs.get(Attr.RETRY_OF) for t in trials}
    enqueued = []
    for trial in trials:
        if (failure_class(trial) in RERUN_FAILURES and trial.number not in rerun_of
                and _claim_rerun(study, trial)):
            _enqueue_rerun(study, trial)
            enqueued.append(trial.number)
    return enqueued


def is_duplicate_rerun(trial: FrozenTrial | optuna.Trial, study: optuna.Study) -> bool:
    """Whether ``trial`` re-runs an orphan that a lower-numbered trial already re-runs."""
    retry_of = trial.user_attrs.get(Attr.RETRY_OF)
    if retry_of is None:
        return False
    return any(t.user_attrs.get(Attr.RETRY_OF) == retry_of and t.number < trial.number
               for t in study.get_trials(deepcopy=False))


def create_or_load(name: str, storage: optuna.storages.BaseStorage, sampler: optuna.samplers.BaseSampler,
                   pruner: optuna.pruners.BasePruner, fitted_anchors: bool = False,
                   directions: Sequence[StudyDirection] = (StudyDirection.MAXIMIZE,),
                   metric_names: Sequence[str] | None = None, baseline_params: Mapping[str, Any] | None = None,
                   fitted_params: Mapping[str, Any] | None = None) -> tuple[optuna.Study, bool]:
    """The study ``name`` in ``storage``; a new study gets the baseline enqueued as trial 0 and,
    with ``fitted_anchors``, the base config with fitted anchors as trial 1, each with the
    parameter values that describe it (Optuna's stored form, :func:`tuner.space.to_optuna_params`
    of :func:`tuner.space.values_of`), which the objective records without sampling.

    A new study is created with ``directions`` and named ``metric_names`` (optuna-dashboard's
    labels); an existing one is loaded as it is (the caller compares its directions).

    Only the worker that creates the study enqueues the baseline. Another worker may still ask
    for a trial between the creation and the enqueue; the objective (``trial0_is_baseline``)
    therefore runs trial 0 as the baseline whatever its origin, and an enqueued baseline that
    did not become trial 0 as an ordinary sampled trial.

    Returns:
        (study, created).
    """
    try:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                    directions=list(directions), load_if_exists=False)
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner), False
    if metric_names:
        with warnings.catch_warnings():  # marked experimental; it is what names optuna-dashboard's axes
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(metric_names))
    study.enqueue_trial(dict(baseline_params or {}), user_attrs={Attr.BASELINE: True}, skip_if_exists=False)
    if fitted_anchors:
        study.enqueue_trial(dict(fitted_params or {}), user_attrs={Attr.FITTED_ANCHORS: True}, skip_if_exists=False)
    return study, True


def counted(trial: FrozenTrial, repeats: bool = False) -> bool:
    """Whether a trial counts toward --n-trials (re-run failures do not, their re-run does;
    confirmation repeats only with ``repeats``)."""
    if not repeats and trial.user_attrs.get(Attr.REPEAT_OF) is not None:
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state is TrialState.FAIL and failure_class(trial) not in UNCOUNTED_FAILURES


def count_finished(study: optuna.Study, repeats: bool = False) -> int:
    """Finished trials that count toward --n-trials (see :func:`counted`)."""
    return sum(counted(t, repeats) for t in study.get_trials(deepcopy=False))
