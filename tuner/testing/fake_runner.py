"""A :data:`tuner.trial.RunnerFactory` that trains nothing: learning curves computed from the config.

:class:`FakeRunner` fills the study's runner seam (:mod:`tuner.trial.base`) in milliseconds per
trial, so whole studies (sampling, pruning, failures, interrupts and resume, reports) run in
tests on real Optuna storage. Each trial's curve comes from a *curve function* of its
:class:`~tuner.trial.TrialSpec` (usually of a value in its config, see :func:`learning_rate`):

* it returns a :data:`Curve` (step -> objective value at that evaluation), evaluated at every
  ``eval_every`` step up to ``steps``; a step's value may be a :class:`~tuner.outcome.FailureClass`,
  which fails the trial at that step (after the evaluations before it landed);
* or it returns a :class:`~tuner.outcome.FailureClass`, or raises :class:`FakeFailure`: the
  trial fails at once with that class; any other exception fails it as ``crash``.

Like the real runner, a run creates its trial directory, writes ``pipeline.config``,
``logs/train.log`` (one line per evaluation) and finally ``result.json`` (atomically), honours
:meth:`FakeRun.stop` from any thread (``STOPPED``, the first reason kept, ``steps_trained`` the
last step reached) and names checkpoints as the OD API does (``ckpt-1`` is step 0).
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Iterator

from tuner import config as cfgmod
from tuner import atomic
from tuner.outcome import Evaluation, FailureClass, Status, TrialOutcome
from tuner.trial.base import TrialRun
from tuner.trial.spec import CONFIG_FILE, LOG_DIR, RESULT_FILE, TrialSpec

#: step -> objective value at that step's evaluation, or a failure at that step.
Curve = Callable[[int], float | FailureClass]
#: What a :class:`FakeRunner` is configured with: the curve of a trial, or its failure.
CurveFunction = Callable[[TrialSpec], Curve | FailureClass]


class FakeFailure(Exception):
    """Raised by a curve function (or a curve) to fail the trial with ``failure``."""

    def __init__(self, failure: FailureClass, reason: str = "") -> None:
        super().__init__(reason or f"injected {failure.value} failure")
        self.failure = failure


def config_of(spec: TrialSpec) -> Any:
    """The trial's parsed pipeline config."""
    return cfgmod.loads(spec.config_text)


def learning_rate(spec: TrialSpec) -> float:
    """The base learning rate of the trial's config (what a ``learning_rate`` knob sets)."""
    return cfgmod.base_learning_rate(config_of(spec))


def rising(final: float, steps: int, speed: float = 4.0) -> Curve:
    """A curve that rises from 0 toward ``final``, reaching ``final * (1 - e**-speed)`` at ``steps``."""
    return lambda step: final * (1.0 - math.exp(-speed * step / steps))


def learning_rate_curve(best: float = 0.02, top: float = 0.5) -> CurveFunction:
    """Curves whose level falls with the distance (in decades) of the config's learning rate from
    ``best``: ``top`` at ``best``, ``top / e`` one decade away."""

    def curve(spec: TrialSpec) -> Curve:
        decades = math.log10(learning_rate(spec) / best)
        return rising(top * math.exp(-decades * decades), spec.steps)

    return curve


class FakeRun(TrialRun):
    """One fake trial (see the module docstring); made by :class:`FakeRunner`."""

    def __init__(self, spec: TrialSpec, runner: FakeRunner) -> None:
        spec.validate()
        self.spec = spec
        self.trial_dir = spec.trial_dir
        self.log_dir = spec.trial_dir / LOG_DIR
        self.last_train_step = 0
        self._runner = runner
        self._outcome: TrialOutcome | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._stop_reason: str | None = None
        self._began = False

    @property
    def outcome(self) -> TrialOutcome | None:
        return self._outcome

    @property
    def stop_reason(self) -> str | None:
        """The first reason :meth:`stop` was given (``None``: not stopped)."""
        return self._stop_reason

    def stop(self, reason: str = "stopped on request") -> None:
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
        self._stopped.set()

    def wait_for_stop(self, timeout: float) -> bool:
        """Block until :meth:`stop` is called (True) or ``timeout`` seconds pass (False)."""
        return self._stopped.wait(timeout)

    def evaluations(self) -> Iterator[Evaluation]:
        """Yield the curve's evaluations (see the module docstring).

        Raises:
            FileExistsError: the trial directory already holds a finished trial.
            RuntimeError: called a second time.
        """
        if self._began:
            raise RuntimeError("FakeRun.evaluations() may be called once")
        self._began = True
        if (self.trial_dir / RESULT_FILE).exists():
            raise FileExistsError(f"{self.trial_dir} already holds a finished trial ({RESULT_FILE}); "
                                  "use a new trial directory")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.trial_dir / CONFIG_FILE).write_text(self.spec.config_text)
        started = time.monotonic()
        landed: list[Evaluation] = []
        failure: tuple[FailureClass, str] | None = None
        try:
            with (self.log_dir / "train.log").open("a") as log:
                try:
                    curve = self._runner.curve(self.spec)
                except Exception as exc:  # noqa: BLE001 - a failing curve function is the trial's failure
                    failure = _as_failure(exc)
                    return
                if isinstance(curve, FailureClass):
                    failure = (curve, f"injected {curve.value} failure")
                    return
                for step in self.spec.evaluated_steps:
                    if self._stopped.wait(self._runner.step_seconds) or self._stop_reason is not None:
                        return
                    try:
                        value = curve(step)
                    except Exception as exc:  # noqa: BLE001 - likewise, at this step
                        failure = _as_failure(exc)
                        return
                    finally:
                        self.last_train_step = step
                    if isinstance(value, FailureClass):
                        failure = (value, f"injected {value.value} failure at step {step}")
                        return
                    evaluation = Evaluation(step, {self.spec.objective: float(value)}, _checkpoint(step, self.spec))
                    landed.append(evaluation)
                    log.write(f"step {step}: {self.spec.objective} {float(value):.6g}\n")
                    log.flush()
                    if self._runner.on_evaluation is not None:
                        self._runner.on_evaluation(self, evaluation)
                    yield evaluation
        except GeneratorExit:
            self.stop("stopped: the caller closed the trial")
            raise
        finally:
            if self._outcome is None:
                self._outcome = self._finish(landed, failure, time.monotonic() - started)

    def _finish(self, landed: list[Evaluation], failure: tuple[FailureClass, str] | None,
                wall: float) -> TrialOutcome:
        if failure is not None:
            status, reason = Status.FAILED, failure[1]
        elif self._stop_reason is not None:
            status, reason = Status.STOPPED, self._stop_reason
        elif not landed:
            status, reason, failure = Status.FAILED, "training ended without any evaluation", (FailureClass.CRASH, "")
        else:
            status, reason = Status.COMPLETED, f"trained {self.spec.steps} steps, {len(landed)} evaluations"
        objective = self.spec.objective
        scored = [e for e in landed if math.isfinite(e.value(objective))]
        best = max(scored, key=lambda e: (e.value(objective), -e.step)) if scored else None
        trained = self.spec.steps if status is Status.COMPLETED else max([self.last_train_step, *(e.step for e in landed)])
        outcome = TrialOutcome(
            status=status, failure=failure[0] if failure else None, reason=reason, evaluations=tuple(landed),
            best=best, best_checkpoint=best.checkpoint if best else None,
            last_checkpoint=_checkpoint(trained, self.spec) if trained else None, wall_seconds=round(wall, 3),
            log_tail=reason if status is Status.FAILED else "", steps_trained=trained, seed=self.spec.seed,
            deterministic=self.spec.deterministic)
        atomic.write_json(self.trial_dir / RESULT_FILE, outcome.to_json())
        return outcome


def _as_failure(exc: Exception) -> tuple[FailureClass, str]:
    """A curve's exception as the trial's failure: :class:`FakeFailure` keeps its class, any
    other exception is a ``crash`` (as a crashing trainer would be)."""
    if isinstance(exc, FakeFailure):
        return exc.failure, str(exc)
    return FailureClass.CRASH, f"{type(exc).__name__}: {exc}"


def _checkpoint(step: int, spec: TrialSpec) -> str:
    """The OD API's name of the checkpoint saved at ``step`` (``ckpt-1`` at step 0)."""
    return f"ckpt-{step // spec.eval_every + 1}"


class FakeRunner:
    """A :data:`~tuner.trial.RunnerFactory` of :class:`FakeRun` trials. Thread-safe.

    Args:
        curve: the curve function (module docstring); e.g. :func:`learning_rate_curve`.
        on_evaluation: called with the run and each evaluation just before it is yielded, in the
            iterating thread (a test stops, interrupts or inspects the study from there).
        step_seconds: wall time each evaluation interval takes (keep it to milliseconds);
            :meth:`FakeRun.stop` cuts it short.

    Attributes:
        runs: every run made, in order.
    """

    def __init__(self, curve: CurveFunction, *, on_evaluation: Callable[[FakeRun, Evaluation], None] | None = None,
                 step_seconds: float = 0.0) -> None:
        self.curve = curve
        self.on_evaluation = on_evaluation
        self.step_seconds = step_seconds
        self.runs: list[FakeRun] = []
        self._lock = threading.Lock()

    def __call__(self, spec: TrialSpec) -> FakeRun:
        run = FakeRun(spec, self)
        with self._lock:
            self.runs.append(run)
        return run
