"""Run a study from its :class:`~tuner.study.plan.StudyPlan`: open or resume it, search, confirm, summarise.

:func:`tuner.study.plan.resolve` has checked everything; :func:`run` creates (or resumes) the
study, runs its trials through the :class:`~tuner.study.objective.Objective` on an
:class:`~tuner.study.executor.Executor` (default: :class:`~tuner.study.executor.LocalExecutor`),
then prints and records the summary.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

import optuna
from optuna.trial import TrialState

from tuner.config.io import write_text_atomic
from tuner.runinfo import BASE_CONFIG_FILE, StudyAttr, map_value
from tuner import tfquiet
from tuner.study import confirm, dashboard, holdout, report
from tuner.study.budget import COST_CACHE_DIR, CostMeter, real_meter
from tuner.study.compute import ComputeTally
from tuner.study.executor import Executor, LocalExecutor, TrialSettings
from tuner.study.inputs import DEFAULT_SPACE, StudyInputError, StudySettings
from tuner.study.objective import Interrupted, Objective
from tuner.study.objectives import Objectives
from tuner.study.plan import StudyPlan, resolve
from tuner.study.progress import Progress
from tuner.study.sampling import study_sampler
from tuner.study.verdict import words
from tuner.study.storage import StorageError, count_finished, create_or_load, open_storage, recover
from tuner.study.workers import SerializedAsk, StudyFactory, WorkerPool
from tuner.trial import RunnerFactory

__all__ = ["DEFAULT_SPACE", "StudyInputError", "StudyPlan", "StudySettings", "resolve", "run"]


def _durations(study: optuna.Study) -> list[float]:
    """Wall times of the study's trials that ran to their end (completed or pruned), for the ETA."""
    return [(t.datetime_complete - t.datetime_start).total_seconds()
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            if t.datetime_start and t.datetime_complete]


def _progress(study: optuna.Study, s: StudySettings, total: int | None, done: int, out: TextIO) -> Progress:
    """The progress display of a phase of ``total`` trials, ``done`` of them already finished."""
    best = report.best_trial(study)
    return Progress(total, done, s.steps, s.jobs, best=map_value(best) if best else None,
                    best_number=best.number if best else None, out=out, interval=s.status_every,
                    history=_durations(study),
                    compute=ComputeTally.from_trials(study.get_trials(deepcopy=False), s.steps))


def _confirmation_phase(study: optuna.Study, s: StudySettings, objective: Objective,
                        open_study: StudyFactory, pools: list[WorkerPool], out: TextIO) -> None:
    """Once the search has all its trials, train the leaders' missing repeats (:mod:`.confirm`)."""
    if s.n_trials is not None and count_finished(study) < s.n_trials:
        return  # the search stopped early (failure, --timeout): confirm when it is complete
    confirm.enqueue_repeats(study, s.confirm, s.repeats)
    waiting = confirm.pending(study)
    if not waiting:
        return
    done = count_finished(study, repeats=True)
    print(f"\nconfirmation: the baseline and the top {s.confirm} trials, {s.repeats} more run(s) each with other "
          f"seeds ({waiting} trials to run)", file=out)
    progress = _progress(study, s, done + waiting, done, out)
    objective.listener = progress.listener()
    pools.append(WorkerPool(open_study, objective, jobs=objective.executor.slots, n_trials=done + waiting, timeout=None,
                            counter=lambda st: count_finished(st, repeats=True)))
    with progress:
        pools[-1].run()


def _check_objectives(study: optuna.Study, objectives: Objectives, name: str) -> None:
    """A resumed study must optimize what this run asks for.

    Raises:
        StudyInputError: it was created with other objectives (nothing was trained or changed).
    """
    stored = Objectives.of_study(study.directions, study.metric_names)
    if stored is None:
        raise StudyInputError(f"study '{name}' was created with {len(study.directions)} objective(s) of another tool; "
                              "start a new study with another --study-name")
    if stored != objectives:
        raise StudyInputError(f"study '{name}' was created with --objectives {stored.text}, not {objectives.text}; "
                              f"resume it with --objectives {stored.text}, or start a new study with another "
                              "--study-name/--run-dir")


def _notes(study: optuna.Study, confirmation: confirm.Confirmation | None, summary: str, test_lines: list[str],
           run_dir: Path, command: str) -> None:
    """The study's note and the pick's trial note on optuna-dashboard (:mod:`tuner.study.dashboard`)."""
    pick_line = noise_line = ""
    if confirmation is not None and confirmation.pick is not None:
        pick = confirmation.pick
        pick_line = (f"**Trial {pick.number}** (best fresh mean {pick.mean:.4f} over {len(pick.fresh)} run(s); its best "
                     f"run, the checkpoint to deploy, is trial {pick.best_run.number}): {confirm.verdict(confirmation)}")
        parent = next((t for t in study.get_trials(deepcopy=False) if t.number == pick.number), None)
        if parent is not None:
            dashboard.note_finished(study, parent, dashboard.trial_note(
                parent.number, dashboard.role(parent), dashboard.changes_of(parent), pick=pick_line.replace("**", "")))
        noise = confirmation.noise
        noise_line = (f"Run-to-run standard deviation {100 * noise.sd:.1f} pts, pooled over {noise.configs} "
                      f"configuration(s) with 2+ fresh runs ({noise.df} degree(s) of freedom)." if noise else
                      "Not estimated: no configuration has 2 fresh runs.")
    dashboard.note_study(study, dashboard.study_note(study.study_name, summary, pick_line=pick_line,
                                                     noise_line=noise_line, test_lines=test_lines,
                                                     run_dir=str(run_dir), dashboard=command))


def run(plan: StudyPlan, out: TextIO = sys.stdout, executor: Executor | None = None,
        runner: RunnerFactory | None = None, cost_meter: CostMeter | None = None) -> optuna.Study:
    """Create or resume the study and run trials until --n-trials/--timeout; print the summary.

    ``executor`` runs the trials (default: a :class:`~tuner.study.executor.LocalExecutor` of
    ``--jobs`` slots on ``--devices``, each trial run by ``runner``, default
    :class:`tuner.trial.Trial`, the OD API in subprocesses); ``cost_meter`` costs each
    architecture when the settings set a deployment budget or a cost objective (default:
    :func:`tuner.study.budget.real_meter`, cached in ``<run dir>/cost-cache``).

    Raises:
        StudyInputError: the storage cannot be opened, or a resumed study optimizes other objectives.
        KeyboardInterrupt: the user interrupted (running trials were stopped first).
    """
    s = plan.settings
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines say what happened
    study, done = _open(plan, out)
    progress = _progress(study, s, s.n_trials, done, out)
    executor = executor or local_executor(plan, runner)
    objective = Objective(plan.planner(), executor, run_dir=plan.run_dir, objective=s.objective,
                          listener=progress.listener(), budget=s.budget, objectives=s.objectives,
                          recorder=dashboard.Recorder(plan.run_dir / dashboard.ARTIFACTS_DIR),
                          cost_meter=_cost_meter(plan, cost_meter))
    try:
        interrupted = _search(plan, study, objective, progress, remaining=None if s.n_trials is None else max(
            0, s.n_trials - done), out=out)
    finally:
        executor.close()
    _finish(plan, study, interrupted, out)
    if interrupted:
        print("interrupted: run the same command again to resume (interrupted trials are re-run)", file=out)
        raise KeyboardInterrupt
    return study


def local_executor(plan: StudyPlan, runner: RunnerFactory | None = None) -> LocalExecutor:
    """The study's trials on this machine: ``--jobs`` at once on ``--devices``, each TF process
    with its share of the cores when several run at once."""
    s = plan.settings
    threads = max(1, (os.cpu_count() or 2) // s.jobs) if s.jobs > 1 else 0
    settings = TrialSettings(s.steps, plan.evaluation.every, plan.evaluation.at, objective=s.objective,
                             threads=threads, timeout=s.trial_timeout, deterministic=s.deterministic)
    return LocalExecutor(settings, runner=runner, devices=list(s.devices) or None, jobs=s.jobs)


def _cost_meter(plan: StudyPlan, given: CostMeter | None) -> CostMeter | None:
    """What costs each trial's architecture (a budget or a cost objective), else ``None``."""
    s = plan.settings
    if not s.costed:
        return None
    return given or real_meter(s.budget, Path(s.cost_cache) if s.cost_cache else plan.run_dir / COST_CACHE_DIR)


def _open(plan: StudyPlan, out: TextIO) -> tuple[optuna.Study, int]:
    """Create the run directory and the study, or resume them; say so. The study and its trials
    done (interrupted ones marked to be re-run).

    Raises:
        StudyInputError: the storage cannot be opened (a run directory made for it is removed),
            or a resumed study optimizes other objectives.
    """
    s, info, run_dir = plan.settings, plan.info, plan.run_dir
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
        write_text_atomic(run_dir / BASE_CONFIG_FILE, plan.base_text)
    study, created = create_or_load(info.study_name, storage, study_sampler(s.sampler, s.seed), plan.pruning.build(),
                                    fitted_anchors=plan.anchors.fitted is not None, directions=s.objectives.directions,
                                    metric_names=s.objectives.metric_names, baseline_params=plan.baseline_params,
                                    fitted_params=plan.fitted_params)
    storage.remove_session()
    if not created:
        _check_objectives(study, s.objectives, info.study_name)
    for note in (plan.note, plan.anchors.note, plan.pruning.note or plan.pruning.describe(), plan.evaluation.describe(),
                 s.budget.describe() if s.budget.active else s.budget.describe_costing() if s.objectives.multi else ""):
        if note:
            print(note, file=out)
    rerun = recover(study)
    done = count_finished(study)
    print(f"study '{info.study_name}' ({'new' if created else 'resumed'}, {done} trials done"
          + (f", re-running {len(rerun)} interrupted" if rerun else "") + f") in {run_dir}; storage "
          f"{report.redact(info.storage)}", file=out)
    return study, done


def _search(plan: StudyPlan, study: optuna.Study, objective: Objective, progress: Progress, *,
            remaining: int | None, out: TextIO) -> bool:
    """The search, then the confirmation, on ``--jobs`` worker threads; whether the user
    interrupted (Ctrl-C / SIGTERM: every running trial was stopped, to be re-run on resume)."""
    s, info = plan.settings, plan.info
    pruner = plan.pruning.build()

    def open_study(ask_lock: threading.Lock) -> SerializedAsk:
        # One Study (own storage connection, own sampler) per worker thread; each trial is drawn
        # with its own seed (tuner.study.seeds.sampler_seed), whichever thread or process runs it.
        return SerializedAsk(ask_lock=ask_lock, study_name=info.study_name, storage=open_storage(info.storage),
                             sampler=study_sampler(s.sampler, s.seed), pruner=pruner)

    pools: list[WorkerPool] = []
    interrupted = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        interrupted.set()
        for pool in list(pools):
            pool.stop()
        objective.interrupt()

    handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if remaining != 0:
            pools.append(WorkerPool(open_study, objective, jobs=objective.executor.slots, n_trials=s.n_trials, timeout=s.timeout))
            with progress:
                pools[-1].run()
        if not interrupted.is_set() and s.confirm > 0:
            _confirmation_phase(study, s, objective, open_study, pools, out)
    except Interrupted:
        interrupted.set()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return interrupted.is_set()


def _finish(plan: StudyPlan, study: optuna.Study, interrupted: bool, out: TextIO) -> None:
    """The confirmation's verdict, the summary, the test split (unless interrupted), the
    dashboard notes and where to look next."""
    s, info, run_dir = plan.settings, plan.info, plan.run_dir
    confirmation = None
    if s.confirm > 0:
        confirmation = confirm.confirm(study.get_trials(deepcopy=False), s.confirm, s.repeats)
        confirm.record(study, confirmation)
    summary = report.summary(study, steps=s.steps, confirmation=confirmation, run_dir=str(run_dir),
                             evaluated=plan.evaluation.steps_text())
    print("\n" + summary, file=out)
    test_lines = _test_split(plan, study, out) if plan.test_records and not interrupted else []
    command = report.dashboard_command(info.storage, str((run_dir / dashboard.ARTIFACTS_DIR).resolve()))
    _notes(study, confirmation, summary, test_lines, run_dir, command)
    print(f"\ninspect it: {command}", file=out)
    print(f"curves of every trial: tensorboard --logdir {run_dir}", file=out)


def _test_split(plan: StudyPlan, study: optuna.Study, out: TextIO) -> list[str]:
    """The chosen trial and the baseline on ``--test-data`` (:mod:`.holdout`); its lines, printed."""
    print("evaluating the chosen trial and the baseline on the test split ...", file=out, flush=True)
    try:
        with tfquiet.quietly():
            results = holdout.run(study, plan.run_dir, list(plan.test_records), plan.info.label_map)
        lift = holdout.test_lift(results)
        if lift is not None:
            study.set_user_attr(StudyAttr.TEST_LIFT, {**lift.to_json(), "verdict": words(lift, None)})
        lines = holdout.lines(results, lift)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
        lines = [f"test split: not measured ({exc})"]
    print("\n".join(lines), file=out)
    return lines
