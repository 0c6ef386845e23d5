"""Run a study: validate every input up front (:mod:`.inputs`), then optimize, then summarise.

:func:`prepare` does all checking before anything is created or trained; :func:`run` then
creates (or resumes) the study and runs trials.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Any, TextIO

import optuna
from optuna.trial import TrialState

from tuner.config.io import write_text_atomic
from tuner.runinfo import BASE_CONFIG_FILE
from tuner.study import report
from tuner.study.compute import ComputeTally
from tuner.study.inputs import DEFAULT_SPACE, Prepared, StudyInputError, StudySettings, plan_anchors, prepare
from tuner.study.objective import DevicePool, Interrupted, Objective
from tuner.study.progress import Progress
from tuner.study.seeds import worker_seed
from tuner.study.storage import StorageError, count_finished, create_or_load, open_storage, recover
from tuner.study.workers import WorkerPool

__all__ = ["DEFAULT_SPACE", "Prepared", "StudyInputError", "StudySettings", "prepare", "run", "worker_seed"]


def _sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler named ``name`` (checked by :func:`prepare`; an unknown name is a bug)."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)
    raise ValueError(f"unknown sampler {name!r}")


def _durations(study: optuna.Study) -> list[float]:
    """Wall times of the study's trials that ran to their end (completed or pruned), for the ETA."""
    return [(t.datetime_complete - t.datetime_start).total_seconds()
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            if t.datetime_start and t.datetime_complete]


def run(prepared: Prepared, out: TextIO = sys.stdout) -> optuna.Study:
    """Create or resume the study and run trials until --n-trials/--timeout; print the summary.

    Raises:
        StudyInputError: the storage cannot be opened.
        KeyboardInterrupt: the user interrupted (running trials were stopped first).
    """
    s, info, run_dir = prepared.settings, prepared.info, prepared.run_dir
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines say what happened
    anchors = plan_anchors(prepared)  # reads the training data: bad boxes stop the study before anything is written
    created_dir = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)  # first: the default SQLite file lives in it
    try:
        storage = open_storage(info.storage)
    except StorageError as exc:
        if created_dir:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # leave nothing behind (only if still empty)
        raise StudyInputError(str(exc)) from None
    if not (run_dir / BASE_CONFIG_FILE).exists():  # base.config last: it marks a complete run directory
        info.save(run_dir)
        write_text_atomic(run_dir / BASE_CONFIG_FILE, prepared.base_text)
    pruner = prepared.pruning.build()
    study, created = create_or_load(info.study_name, storage, _sampler(s.sampler, s.seed), pruner,
                                    fitted_anchors=anchors.fitted is not None)
    storage.remove_session()
    if prepared.note:
        print(prepared.note, file=out)
    if anchors.note:
        print(anchors.note, file=out)
    print(prepared.pruning.note or prepared.pruning.describe(), file=out)
    trials_before = 0 if created else len(study.get_trials(deepcopy=False))
    rerun = recover(study)
    done = count_finished(study)
    print(f"study '{info.study_name}' ({'new' if created else 'resumed'}, {done} trials done"
          + (f", re-running {len(rerun)} interrupted" if rerun else "") + f") in {run_dir}; storage "
          f"{report.redact(info.storage)}", file=out)
    remaining = None if s.n_trials is None else max(0, s.n_trials - done)
    best_trial = report.best_trial(study)
    progress = Progress(s.n_trials, done, s.steps, s.jobs, best=best_trial.value if best_trial else None,
                        best_number=best_trial.number if best_trial else None, out=out, history=_durations(study),
                        compute=ComputeTally.from_trials(study.get_trials(deepcopy=False), s.steps))
    threads = max(1, (os.cpu_count() or 2) // s.jobs) if s.jobs > 1 else 0
    objective = Objective(base_cfg=prepared.base_cfg, space=prepared.space, run_dir=run_dir, steps=s.steps,
                          eval_every=s.eval_every, objective=s.objective,
                          devices=DevicePool(list(s.devices) or None, jobs=s.jobs), threads=threads,
                          trial_timeout=s.trial_timeout, listener=progress.listener(), trial0_is_baseline=True,
                          anchors=anchors, seed=s.seed if s.seed is not None else 0, deterministic=s.deterministic)

    opened = [0]
    opened_lock = threading.Lock()

    def open_study() -> optuna.Study:
        # One Study (own storage connection, own sampler) per worker thread; seeds differ by
        # thread, by process and by resume (see worker_seed).
        with opened_lock:
            index = opened[0]
            opened[0] += 1
        seed = None if s.seed is None else worker_seed(s.seed, trials_before=trials_before, worker=index,
                                                        process=0 if created else os.getpid())
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
    print("\n" + report.summary(study, steps=s.steps), file=out)
    print(f"\ninspect it: {report.dashboard_command(info.storage)}", file=out)
    print(f"curves of every trial: tensorboard --logdir {run_dir}", file=out)
    if interrupted.is_set():
        print("interrupted: run the same command again to resume (interrupted trials are re-run)", file=out)
        raise KeyboardInterrupt
    return study
