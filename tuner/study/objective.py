"""The Optuna objective: one study trial = one :class:`~tuner.study.planner.Variant`, decided by the
:class:`~tuner.study.planner.Planner` and run by an :class:`~tuner.study.executor.Executor`.

The executor places the trial and returns its :class:`tuner.trial.TrialRun` (locally: a
:data:`tuner.trial.RunnerFactory`, default :class:`tuner.trial.Trial`, the subprocess runner on the
real OD API; tests pass :class:`tuner.testing.FakeRunner` or :class:`tuner.testing.FakeExecutor`).

Every evaluation is reported to Optuna at its global step; a trial the pruner rejects is
stopped at once (its processes end) and raised as ``optuna.TrialPruned``. A multi-objective
study (:mod:`tuner.study.objectives`) reports nothing (Optuna cannot prune it) and returns
(mAP, latency or size) from the trial's cost, measured before training. Each trial records
the attributes of :class:`tuner.runinfo.Attr` (trial directory, training seed, best step and
checkpoint, COCO metrics at the best step, config diff against the base, failure class and reason)
and, given a :class:`tuner.study.dashboard.Recorder`, its optuna-dashboard note (role and config
changes) and its ``pipeline.config`` artifact as it starts.
"""
from __future__ import annotations

import dataclasses
import enum
import math
import time
from pathlib import Path
from typing import Any, Callable

import optuna

from tuner import config as cfgmod
from tuner import events
from tuner.outcome import FailureClass, Status, TrialOutcome
from tuner.runinfo import Attr, trial_dir_name
from tuner.deploy.cost import Cost, CostError
from tuner.study.budget import Budget, CostMeter
from tuner.study.dashboard import Recorder
from tuner.study.executor import Executor
from tuner.study.objectives import Objectives
from tuner.study.planner import Planner, Role, Variant
from tuner.study.storage import is_duplicate_rerun, worker_id
from tuner.trial import TrialRun


class TrialFailed(Exception):
    """A trial ended as failed (its class and reason are in its user attributes)."""


class Interrupted(Exception):
    """The study was interrupted (Ctrl-C / SIGTERM) while this trial ran."""


class EndState(enum.StrEnum):
    """How a study trial ended, as the objective tells its :class:`Listener`."""

    COMPLETE = "complete"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"  # re-run on resume: not done
    FAILED = "failed"            # the failure class is given with it
    INFEASIBLE = "infeasible"    # over the deployment budget: ended before training (tuner.study.budget)


@dataclasses.dataclass
class Listener:
    """Callbacks the objective calls as things happen (progress display); all optional."""

    started: Callable[[int, TrialRun], None] = lambda number, run: None
    evaluated: Callable[[int, int, float], None] = lambda number, step, value: None
    #: (trial number, state, value or None, steps trained, wall seconds, failure class when FAILED,
    #: and a note: why it is infeasible)
    ended: Callable[..., None] = lambda number, state, value, steps, seconds, failure, note="": None


class Objective:
    """Callable objective for ``study.optimize``. Thread-safe (one instance, J threads).

    Per trial: the ``planner`` decides the :class:`~tuner.study.planner.Variant` (baseline,
    fitted anchors, sampled, repeat; config; seed), the trial records what it is, a ``budget``
    that sets a limit (or ``objectives`` with a deployment cost) costs it with ``cost_meter``
    before anything trains (one over budget is raised as ``optuna.TrialPruned`` with the
    ``infeasible`` attribute, having trained nothing), and the ``executor`` runs it
    (:mod:`tuner.study.executor`). Its evaluations are reported to Optuna; a repeat is never
    pruned. With multi-objective ``objectives`` the call returns (mAP, cost) and never reports
    intermediate values.
    """

    def __init__(self, planner: Planner, executor: Executor, *, run_dir: Path, objective: str = events.MAP,
                 listener: Listener | None = None, budget: Budget | None = None, cost_meter: CostMeter | None = None,
                 objectives: Objectives | None = None, recorder: Recorder | None = None) -> None:
        self.planner = planner
        self.executor = executor
        self.run_dir = Path(run_dir).absolute()  # recorded on each trial: valid from any working directory
        self.objective = objective
        self.listener = listener or Listener()
        self.budget = budget or Budget()
        self.objectives = objectives or Objectives()
        self.costed = self.budget.active or self.objectives.multi
        if self.costed and cost_meter is None:
            raise ValueError("a deployment budget or cost objective needs a cost_meter (tuner.study.budget.real_meter)")
        self.cost_meter = cost_meter
        self.recorder = recorder
        self._interrupted = False

    def interrupt(self) -> None:
        """Stop every running trial now (they end as interrupted and are re-run on resume)."""
        self._interrupted = True
        self.executor.stop_all("interrupted")

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        trial.set_user_attr(Attr.WORKER, worker_id())
        if self._interrupted:  # it may have popped a baseline or a re-run: mark it to be re-run
            self._fail(trial, FailureClass.INTERRUPTED, "the study was interrupted before this trial started")
            raise Interrupted("the study was interrupted")
        if is_duplicate_rerun(trial, trial.study):
            reason = f"another trial already re-runs trial {trial.user_attrs.get(Attr.RETRY_OF)}"
            self._fail(trial, FailureClass.DUPLICATE, reason)
            raise TrialFailed(f"trial {trial.number}: {reason}")
        variant = self.planner.plan(trial)
        trial_dir = self.run_dir / trial_dir_name(trial.number)
        trial.set_user_attr(Attr.TRIAL_DIR, str(trial_dir))
        if variant.cfg is None:
            self._fail(trial, FailureClass.CONFIG, variant.error)
            raise TrialFailed(variant.error)
        self._record_variant(trial, variant)
        cost = self._check_budget(trial, variant.cfg, self.budget) if self.costed else None
        with self.executor.submit(variant, trial_dir) as placed:
            trial.set_user_attr(Attr.DEVICE, placed.where)
            run = placed.run
            self.listener.started(trial.number, run)
            pruned_at = None
            for evaluation in run.evaluations():
                value = evaluation.value(self.objective)
                self.listener.evaluated(trial.number, evaluation.step, value)
                if math.isfinite(value) and not self.objectives.multi:  # Optuna: report is single-objective only
                    trial.report(value, evaluation.step)
                    if variant.prunable and pruned_at is None and trial.should_prune():
                        pruned_at = evaluation.step
                        run.stop(f"pruned at step {evaluation.step}")
        outcome = run.outcome
        assert outcome is not None  # set when evaluations() ends
        self._record(trial, outcome)
        return self.objectives.values(self._conclude(trial, outcome, pruned_at), cost)

    def _record_variant(self, trial: optuna.Trial, variant: Variant) -> None:
        """What the trial trains, on the trial: anchor coverage, config diff against the base,
        the dashboard's note and config artifact, the training seed."""
        coverage = self.planner.anchors.coverage(variant.cfg)
        if coverage is not None:
            trial.set_user_attr(Attr.ANCHOR_COVERAGE, coverage)
        changes = cfgmod.diff(self.planner.base_cfg, variant.cfg)
        trial.set_user_attr(Attr.DIFF, [[c.path, _plain(c.old), _plain(c.new)] for c in changes])
        if self.recorder is not None:
            self.recorder.started(trial, variant.role is Role.BASELINE, cfgmod.dumps(variant.cfg), changes)
        trial.set_user_attr(Attr.SEED, variant.seed)

    def _check_budget(self, trial: optuna.Trial, cfg: Any, budget: Budget) -> Cost:
        """Cost ``cfg`` and record it on ``trial``; end the trial (no training) when over budget.

        Raises:
            TrialFailed: the cost cannot be measured (class ``config``: the architecture cannot be
                exported or converted).
            optuna.TrialPruned: over budget (the trial is infeasible).
        """
        started = time.monotonic()
        try:
            cost = self.cost_meter(cfg)  # type: ignore[misc]  (set with the budget)
        except CostError as exc:
            self._fail(trial, FailureClass.CONFIG, f"cannot cost it for the deployment budget: {exc}")
            self.listener.ended(trial.number, EndState.FAILED, None, 0, time.monotonic() - started, FailureClass.CONFIG)
            raise TrialFailed(f"trial {trial.number}: cannot cost it: {exc}") from None
        trial.set_user_attr(Attr.ARCH, cost.arch_hash)
        trial.set_user_attr(Attr.TFLITE_SIZE_KB, cost.size_kb)
        trial.set_user_attr(Attr.TFLITE_LATENCY_MS, cost.latency_ms)
        for name, value in budget.violations(cost).items():
            trial.set_constraint(name, value)  # what the TPE sampler learns the feasible region from
        reason = budget.over(cost)
        if reason is None:
            return cost
        seconds = round(time.monotonic() - started, 2)
        trial.set_user_attr(Attr.INFEASIBLE, reason)
        trial.set_user_attr(Attr.REASON, reason)
        trial.set_user_attr(Attr.STEPS, 0)
        trial.set_user_attr(Attr.WALL_SECONDS, seconds)
        self.listener.ended(trial.number, EndState.INFEASIBLE, None, 0, seconds, None, reason)
        raise optuna.TrialPruned(reason)

    def _conclude(self, trial: optuna.Trial, outcome: TrialOutcome, pruned_at: int | None) -> float:
        spent = (outcome.steps_trained, outcome.wall_seconds)
        if pruned_at is not None:
            self.listener.ended(trial.number, EndState.PRUNED, None, *spent, None)
            raise optuna.TrialPruned(f"pruned at step {pruned_at}")
        if outcome.status is Status.STOPPED:
            self._fail(trial, FailureClass.INTERRUPTED, outcome.reason)
            self.listener.ended(trial.number, EndState.INTERRUPTED, None, *spent, None)
            raise Interrupted(outcome.reason)
        if outcome.status is Status.FAILED or outcome.best is None:
            failure = outcome.failure or FailureClass.CRASH
            reason = outcome.reason if outcome.status is Status.FAILED else "no finite objective value"
            self._fail(trial, failure, reason)
            self.listener.ended(trial.number, EndState.FAILED, None, *spent, failure)
            raise TrialFailed(f"trial {trial.number} failed ({failure.value}): {reason}")
        value = outcome.best.value(self.objective)
        self.listener.ended(trial.number, EndState.COMPLETE, value, *spent, None)
        return value

    @staticmethod
    def _fail(trial: optuna.Trial, failure: FailureClass, reason: str) -> None:
        trial.set_user_attr(Attr.FAILURE, failure.value)  # the plain string: what every study stores
        trial.set_user_attr(Attr.REASON, reason[:2000])

    @staticmethod
    def _record(trial: optuna.Trial, outcome: TrialOutcome) -> None:
        trial.set_user_attr(Attr.STEPS, outcome.steps_trained)
        trial.set_user_attr(Attr.WALL_SECONDS, outcome.wall_seconds)
        if outcome.best is not None:
            trial.set_user_attr(Attr.BEST_STEP, outcome.best.step)
            trial.set_user_attr(Attr.BEST_CHECKPOINT, outcome.best_checkpoint)
            trial.set_user_attr(Attr.METRICS, {k: _plain(v) for k, v in outcome.best.metrics.items()})
        trial.set_user_attr(Attr.REASON, outcome.reason[:2000])


def _plain(value: Any) -> Any:
    """A JSON-safe form of a config value or metric (NaN/inf as strings, lists kept)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
