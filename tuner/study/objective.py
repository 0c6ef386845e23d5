"""The Optuna objective: one study trial = one :class:`tuner.trial.Trial` on a config variant.

Every evaluation is reported to Optuna at its global step; a trial the pruner rejects is
stopped at once (its processes end) and raised as ``optuna.TrialPruned``. Each trial records
the attributes of :class:`tuner.runinfo.Attr` (trial directory, best step and checkpoint, COCO
metrics at the best step, config diff against the base, failure class and reason).
"""
from __future__ import annotations

import copy
import dataclasses
import math
import queue
import threading
from pathlib import Path
from typing import Any, Callable

import optuna

from tuner import config as cfgmod
from tuner import events, space as spacemod
from tuner.outcome import Status, TrialOutcome
from tuner.runinfo import Attr, trial_dir_name
from tuner.study.storage import worker_id
from tuner.trial import Trial, TrialSpec


class TrialFailed(Exception):
    """A trial ended as failed (its class and reason are in its user attributes)."""


class Interrupted(Exception):
    """The study was interrupted (Ctrl-C / SIGTERM) while this trial ran."""


@dataclasses.dataclass
class Listener:
    """Callbacks the objective calls as things happen (progress display); all optional."""

    started: Callable[[int, Trial], None] = lambda number, trial: None
    evaluated: Callable[[int, int, float], None] = lambda number, step, value: None
    ended: Callable[[int, str, float | None], None] = lambda number, state, value: None


class DevicePool:
    """Hands each concurrently running trial one device from ``--devices`` (thread-safe)."""

    def __init__(self, devices: list[str] | None) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        for device in devices or [None]:  # type: ignore[list-item]
            self._queue.put(device)

    def acquire(self) -> str | None:
        return self._queue.get()

    def release(self, device: str | None) -> None:
        self._queue.put(device)


class Objective:
    """Callable objective for ``study.optimize``. Thread-safe (one instance, J threads)."""

    def __init__(self, *, base_cfg: Any, space: spacemod.SearchSpace, run_dir: Path, steps: int,
                 eval_every: int, objective: str = events.MAP, devices: DevicePool | None = None,
                 threads: int = 0, trial_timeout: float | None = None, listener: Listener | None = None) -> None:
        self.base_cfg = base_cfg
        self.space = space
        self.run_dir = run_dir
        self.steps = steps
        self.eval_every = eval_every
        self.objective = objective
        self.devices = devices or DevicePool(None)
        self.threads = threads
        self.trial_timeout = trial_timeout
        self.listener = listener or Listener()
        self._running: dict[int, Trial] = {}
        self._lock = threading.Lock()
        self._interrupted = False

    def interrupt(self) -> None:
        """Stop every running trial now (they end as interrupted and are re-run on resume)."""
        with self._lock:
            self._interrupted = True
            running = list(self._running.values())
        for trial in running:
            trial.stop("interrupted")

    def variant(self, trial: optuna.Trial) -> tuple[Any, dict[str, Any]]:
        """The config for ``trial`` and the values applied (empty for the baseline)."""
        cfg = copy.deepcopy(self.base_cfg)
        values: dict[str, Any] = {}
        if not trial.user_attrs.get(Attr.BASELINE):
            values = spacemod.sample(self.space, trial)
            spacemod.apply(self.space, cfg, values)
        cfgmod.set_num_steps(cfg, self.steps)
        return cfg, values

    def __call__(self, trial: optuna.Trial) -> float:
        if self._interrupted:
            raise Interrupted("the study was interrupted")
        trial.set_user_attr(Attr.WORKER, worker_id())
        trial_dir = self.run_dir / trial_dir_name(trial.number)
        trial.set_user_attr(Attr.TRIAL_DIR, str(trial_dir))
        try:
            cfg, _values = self.variant(trial)
        except spacemod.SpaceError as exc:
            self._fail(trial, "config", str(exc))
            raise TrialFailed(str(exc)) from None
        changes = cfgmod.diff(self.base_cfg, cfg)
        trial.set_user_attr(Attr.DIFF, [[c.path, _plain(c.old), _plain(c.new)] for c in changes])
        device = self.devices.acquire()
        trial.set_user_attr(Attr.DEVICE, device or "")
        try:
            run = Trial(TrialSpec(cfgmod.dumps(cfg), trial_dir, self.steps, self.eval_every, objective=self.objective,
                                  device=device, threads=self.threads, timeout=self.trial_timeout))
            with self._lock:
                self._running[trial.number] = run
            self.listener.started(trial.number, run)
            pruned_at = None
            for evaluation in run.evaluations():
                value = evaluation.value(self.objective)
                self.listener.evaluated(trial.number, evaluation.step, value)
                if math.isfinite(value):
                    trial.report(value, evaluation.step)
                    if pruned_at is None and trial.should_prune():
                        pruned_at = evaluation.step
                        run.stop(f"pruned at step {evaluation.step}")
        finally:
            with self._lock:
                self._running.pop(trial.number, None)
            self.devices.release(device)
        outcome = run.outcome
        assert outcome is not None  # set when evaluations() ends
        self._record(trial, outcome)
        return self._conclude(trial, outcome, pruned_at)

    def _conclude(self, trial: optuna.Trial, outcome: TrialOutcome, pruned_at: int | None) -> float:
        if pruned_at is not None:
            self.listener.ended(trial.number, "pruned", None)
            raise optuna.TrialPruned(f"pruned at step {pruned_at}")
        if outcome.status is Status.STOPPED:
            self._fail(trial, "interrupted", outcome.reason)
            self.listener.ended(trial.number, "interrupted", None)
            raise Interrupted(outcome.reason)
        if outcome.status is Status.FAILED or outcome.best is None:
            failure = outcome.failure.value if outcome.failure else "crash"
            reason = outcome.reason if outcome.status is Status.FAILED else "no finite objective value"
            self._fail(trial, failure, reason)
            self.listener.ended(trial.number, f"failed ({failure})", None)
            raise TrialFailed(f"trial {trial.number} failed ({failure}): {reason}")
        value = outcome.best.value(self.objective)
        self.listener.ended(trial.number, "complete", value)
        return value

    @staticmethod
    def _fail(trial: optuna.Trial, failure: str, reason: str) -> None:
        trial.set_user_attr(Attr.FAILURE, failure)
        trial.set_user_attr(Attr.REASON, reason[:2000])

    @staticmethod
    def _record(trial: optuna.Trial, outcome: TrialOutcome) -> None:
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
