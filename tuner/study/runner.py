"""Run a study: validate every input up front (:mod:`.inputs`), then optimize, then summarise.

:func:`prepare` does all checking before anything is created or trained; :func:`run` then
creates (or resumes) the study and runs trials.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, TextIO

import optuna
from optuna.trial import TrialState

from tuner.config.io import write_text_atomic
from tuner.runinfo import BASE_CONFIG_FILE, StudyAttr, map_value
from tuner import space as spacemod, tfquiet
from tuner.study import confirm, dashboard, holdout, preflight, report
from tuner.study.anchors import AnchorPlan
from tuner.study.budget import COST_CACHE_DIR, CostMeter, real_meter
from tuner.study.compute import ComputeTally
from tuner.study.inputs import (DEFAULT_SPACE, Prepared, SamplerName, StudyInputError, StudySettings, plan_anchors,
                                prepare)
from tuner.study.objective import DevicePool, Interrupted, Objective
from tuner.study.objectives import Objectives
from tuner.study.progress import Progress
from tuner.study.sampling import BlindToRepeats, SeededPerTrial
from tuner.study.verdict import words
from tuner.study.storage import StorageError, count_finished, create_or_load, open_storage, recover
from tuner.study.workers import WorkerPool
from tuner.trial import RunnerFactory

__all__ = ["DEFAULT_SPACE", "Prepared", "StudyInputError", "StudySettings", "prepare", "run"]


#: One sampler per :class:`SamplerName`, built from a seed (``None``: unseeded). TPE reads the
#: deployment budget's constraints from the trials themselves (``Trial.set_constraint``).
_SAMPLERS: dict[SamplerName, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    SamplerName.RANDOM: lambda seed: optuna.samplers.RandomSampler(seed=seed),
    SamplerName.TPE: lambda seed: optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
}


def _sampler(name: SamplerName, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler ``name`` (:func:`prepare` turned the user's name into a :class:`SamplerName`).

    Raises:
        ValueError: ``name`` has no sampler here (a bug: every member must be in the table).
    """
    build = _SAMPLERS.get(name)
    if build is None:
        raise ValueError(f"no sampler for {name!r}; known: {', '.join(_SAMPLERS)}")
    return build(seed)


def _study_sampler(s: StudySettings) -> optuna.samplers.BaseSampler:
    """The sampler of one worker thread: ``--sampler``, seeded per trial from ``--seed``
    (:class:`SeededPerTrial`), blind to the confirmation repeats (:class:`BlindToRepeats`)."""
    return BlindToRepeats(SeededPerTrial(lambda seed: _sampler(s.sampler, seed), s.seed))


def _durations(study: optuna.Study) -> list[float]:
    """Wall times of the study's trials that ran to their end (completed or pruned), for the ETA."""
    return [(t.datetime_complete - t.datetime_start).total_seconds()
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            if t.datetime_start and t.datetime_complete]


def _confirmation_phase(study: optuna.Study, s: StudySettings, objective: Objective,
                        open_study: Callable[[], optuna.Study], pools: list[WorkerPool], out: TextIO) -> None:
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
    best = report.best_trial(study)
    progress = Progress(done + waiting, done, s.steps, s.jobs, best=map_value(best) if best else None,
                        best_number=best.number if best else None, out=out, history=_durations(study),
                        compute=ComputeTally.from_trials(study.get_trials(deepcopy=False), s.steps))
    objective.listener = progress.listener()
    pools.append(WorkerPool(open_study, objective, jobs=s.jobs, n_trials=done + waiting, timeout=None,
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


def described(prepared: Prepared, anchors: AnchorPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameter values (Optuna's stored form) that describe the baseline and the
    fitted-anchors trial in the space's terms (:func:`tuner.space.values_of`): the sampled
    trials start from the fit when the space has an ``anchors`` knob and there is a fit."""
    space, base = prepared.space, prepared.base_cfg
    centred = anchors.fitted is not None and any(
        p.target is spacemod.Target.KNOB and p.ref == "anchors" for p in space.params)
    baseline = spacemod.to_optuna_params(space, spacemod.values_of(space, base, anchors_at_start=not centred))
    fitted = spacemod.to_optuna_params(space, spacemod.values_of(space, anchors.with_fit(base), anchors_at_start=centred)) \
        if anchors.fitted is not None else {}
    return baseline, fitted


def preflight_variants(prepared: Prepared, anchors: AnchorPlan, n_sampled: int,
                       params: tuple[dict[str, Any], dict[str, Any]] | None = None) -> list[preflight.Variant]:
    """The baseline, fitted-anchors and first ``n_sampled`` sampled variants this study would
    train, drawn with its own sampler and seeds (:func:`tuner.study.preflight.plan_variants`);
    ``params``: :func:`described` of the plan, when the caller has it already."""
    s = prepared.settings
    baseline_params, fitted_params = params if params is not None else described(prepared, anchors)
    return preflight.plan_variants(prepared.base_cfg, prepared.space, anchors=anchors, sampler=_study_sampler(s),
                                   n_sampled=n_sampled, steps=s.steps, directions=s.objectives.directions,
                                   baseline_params=baseline_params, fitted_params=fitted_params)


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


def run(prepared: Prepared, out: TextIO = sys.stdout, runner: RunnerFactory | None = None,
        cost_meter: CostMeter | None = None, build_check: preflight.BuildCheck | None = None) -> optuna.Study:
    """Create or resume the study and run trials until --n-trials/--timeout; print the summary.

    ``runner`` runs each trial (default: :class:`tuner.trial.Trial`, the OD API in subprocesses);
    ``cost_meter`` costs each architecture when the settings set a deployment budget or a cost
    objective (default:
    :func:`tuner.study.budget.real_meter`, cached in ``<run dir>/cost-cache``).

    ``build_check`` is the preflight run on the base config and the first sampled variant before
    anything is written (default: :func:`tuner.study.preflight.build_error`, the OD API's model
    builder; tests on the fake runner pass :class:`tuner.testing.FakeBuild`). A new study only: a
    resumed one has run its preflight.

    Raises:
        StudyInputError: the base or the first sampled variant does not build, or the storage
            cannot be opened.
        KeyboardInterrupt: the user interrupted (running trials were stopped first).
    """
    s, info, run_dir = prepared.settings, prepared.info, prepared.run_dir
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines say what happened
    anchors = plan_anchors(prepared)  # reads the training data: bad boxes stop the study before anything is written
    baseline_params, fitted_params = described(prepared, anchors)
    if not (run_dir / BASE_CONFIG_FILE).exists():  # a new study: check that what it trains first builds
        with tfquiet.quietly():
            problem = preflight.check_start(preflight_variants(prepared, anchors, 1, (baseline_params, fitted_params)),
                                            build_check or preflight.build_error)
        if problem:
            raise StudyInputError(problem)
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
    budget = s.budget
    study, created = create_or_load(info.study_name, storage, _study_sampler(s), pruner,
                                    fitted_anchors=anchors.fitted is not None, directions=s.objectives.directions,
                                    metric_names=s.objectives.metric_names, baseline_params=baseline_params,
                                    fitted_params=fitted_params)
    storage.remove_session()
    if not created:
        _check_objectives(study, s.objectives, info.study_name)
    if prepared.note:
        print(prepared.note, file=out)
    if anchors.note:
        print(anchors.note, file=out)
    print(prepared.pruning.note or prepared.pruning.describe(), file=out)
    print(prepared.evaluation.describe(), file=out)
    if budget.active:
        print(budget.describe(), file=out)
    elif s.objectives.multi:
        print(budget.describe_costing(), file=out)
    rerun = recover(study)
    done = count_finished(study)
    print(f"study '{info.study_name}' ({'new' if created else 'resumed'}, {done} trials done"
          + (f", re-running {len(rerun)} interrupted" if rerun else "") + f") in {run_dir}; storage "
          f"{report.redact(info.storage)}", file=out)
    remaining = None if s.n_trials is None else max(0, s.n_trials - done)
    best_trial = report.best_trial(study)
    progress = Progress(s.n_trials, done, s.steps, s.jobs, best=map_value(best_trial) if best_trial else None,
                        best_number=best_trial.number if best_trial else None, out=out, history=_durations(study),
                        compute=ComputeTally.from_trials(study.get_trials(deepcopy=False), s.steps))
    threads = max(1, (os.cpu_count() or 2) // s.jobs) if s.jobs > 1 else 0
    objective = Objective(base_cfg=prepared.base_cfg, space=prepared.space, run_dir=run_dir, steps=s.steps,
                          eval_every=prepared.evaluation.every, eval_steps=prepared.evaluation.at,
                          objective=s.objective,
                          devices=DevicePool(list(s.devices) or None, jobs=s.jobs), threads=threads,
                          trial_timeout=s.trial_timeout, listener=progress.listener(), trial0_is_baseline=True,
                          anchors=anchors, seed=s.seed if s.seed is not None else 0, deterministic=s.deterministic,
                          runner=runner, budget=budget, objectives=s.objectives,
                          recorder=dashboard.Recorder(run_dir / dashboard.ARTIFACTS_DIR),
                          cost_meter=(cost_meter or real_meter(budget, Path(s.cost_cache) if s.cost_cache
                                                               else run_dir / COST_CACHE_DIR)) if s.costed else None)

    def open_study() -> optuna.Study:
        # One Study (own storage connection, own sampler) per worker thread; each trial is drawn
        # with its own seed (tuner.study.seeds.sampler_seed), whichever thread or process runs it.
        return optuna.load_study(study_name=info.study_name, storage=open_storage(info.storage),
                                 sampler=_study_sampler(s), pruner=pruner)

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
            pools.append(WorkerPool(open_study, objective, jobs=s.jobs, n_trials=s.n_trials, timeout=s.timeout))
            with progress:
                pools[-1].run()
        if not interrupted.is_set() and s.confirm > 0:
            _confirmation_phase(study, s, objective, open_study, pools, out)
    except Interrupted:
        interrupted.set()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    confirmation = None
    if s.confirm > 0:
        confirmation = confirm.confirm(study.get_trials(deepcopy=False), s.confirm, s.repeats)
        confirm.record(study, confirmation)
    summary = report.summary(study, steps=s.steps, confirmation=confirmation, run_dir=str(run_dir),
                             evaluated=prepared.evaluation.steps_text())
    print("\n" + summary, file=out)
    test_lines: list[str] = []
    if prepared.test_records and not interrupted.is_set():
        print("evaluating the chosen trial and the baseline on the test split ...", file=out, flush=True)
        try:
            with tfquiet.quietly():
                results = holdout.run(study, run_dir, prepared.test_records, info.label_map)
            lift = holdout.test_lift(results)
            if lift is not None:
                study.set_user_attr(StudyAttr.TEST_LIFT, {**lift.to_json(), "verdict": words(lift, None)})
            test_lines = holdout.lines(results, lift)
        except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
            test_lines = [f"test split: not measured ({exc})"]
        print("\n".join(test_lines), file=out)
    command = report.dashboard_command(info.storage, str(run_dir / dashboard.ARTIFACTS_DIR))
    _notes(study, confirmation, summary, test_lines, run_dir, command)
    print(f"\ninspect it: {command}", file=out)
    print(f"curves of every trial: tensorboard --logdir {run_dir}", file=out)
    if interrupted.is_set():
        print("interrupted: run the same command again to resume (interrupted trials are re-run)", file=out)
        raise KeyboardInterrupt
    return study
