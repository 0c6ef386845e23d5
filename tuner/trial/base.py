"""The seam between a study and whatever trains its trials: :class:`TrialRun` and :data:`RunnerFactory`.

The study never builds a runner itself: its local executor (:class:`tuner.study.executor.LocalExecutor`)
is given a :data:`RunnerFactory` (default: the subprocess runner :class:`tuner.trial.Trial`), calls
it with one :class:`~tuner.trial.TrialSpec` per trial and hands the :class:`TrialRun` it returns to
the study's objective, which drives it. A second runner (another backend) or a fake for tests
(:class:`tuner.testing.FakeRunner`) fills the same seam; running trials elsewhere than on this
machine's devices is the executor seam's job (:mod:`tuner.study.executor`).

Contract, for implementations and for the study:

* **Construction** (``factory(spec)``) validates the spec (:class:`~tuner.trial.TrialSpecError`)
  and starts nothing: no process, no file.
* **evaluations()** is called once, and consumed by one thread (the study's worker thread for
  that trial). It starts the trial, yields each :class:`~tuner.outcome.Evaluation` in step
  order as it lands, and ends when the trial has ended for any reason. Closing the generator
  early stops the trial. A trial that fails (bad config, NaN, out of memory, crash, timeout) is
  not an exception: the generator ends and :attr:`TrialRun.outcome` says ``FAILED`` with its
  :class:`~tuner.outcome.FailureClass`. Exceptions are reserved for misuse, e.g.
  ``FileExistsError`` when the trial directory already holds a finished trial.
* **stop(reason)** is thread-safe: it may be called from any thread, from a signal handler,
  before, during or after :meth:`~TrialRun.evaluations`, any number of times. The first reason
  wins. It returns within a bounded time (it never waits on the iterating thread). A stopped
  trial ends with status ``STOPPED``, the reason kept and ``steps_trained`` the last step reached.
* **outcome** is ``None`` until :meth:`~TrialRun.evaluations` has ended (normally, by an
  exception or by being closed), then the :class:`~tuner.outcome.TrialOutcome`; read it from the
  thread that iterated.
* **The trial directory** (``spec.trial_dir``) belongs to the runner: it creates it and writes
  everything in it, ending with ``result.json`` (``TrialOutcome.to_json()``, written atomically)
  once the outcome is known. The study only records the directory's path and reads it afterwards.
"""
from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from tuner.outcome import Evaluation, TrialOutcome

if TYPE_CHECKING:
    from tuner.trial.spec import TrialSpec


class TrialRun(abc.ABC):
    """One trial being run (see the module docstring for the contract).

    Attributes:
        trial_dir: the trial's directory (``spec.trial_dir``), owned by the runner.
        log_dir: where the runner's logs are (shown to the user; may equal ``trial_dir``).
        last_train_step: the last training step known to have run, for progress display
            (0 until known; a runner may leave it at 0).
    """

    trial_dir: Path
    log_dir: Path
    last_train_step: int = 0

    @abc.abstractmethod
    def evaluations(self) -> Iterator[Evaluation]:
        """Run the trial, yielding each evaluation as it lands (one consuming thread).

        Raises:
            FileExistsError: the trial directory already holds a finished trial.
        """

    @abc.abstractmethod
    def stop(self, reason: str = "stopped on request") -> None:
        """End the trial as soon as possible; thread-safe, idempotent, first reason kept."""

    @property
    @abc.abstractmethod
    def outcome(self) -> TrialOutcome | None:
        """The trial's outcome once :meth:`evaluations` has ended, else ``None``."""


#: What the study is given to run its trials: a spec in, a not-yet-started :class:`TrialRun` out.
RunnerFactory = Callable[["TrialSpec"], TrialRun]
