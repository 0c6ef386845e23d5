"""Run a study's trials on J threads of this process (``--jobs J``).

Why not ``study.optimize(n_jobs=J)``: Optuna's thread pool drops the exception of a thread
whose future is never waited on, and SQLite answers a write-write conflict between
connections with an immediate "database is locked" (no wait). Together they lost trials
silently in our tests. Here each thread owns its own storage connection (its own Study
object), retries a trial that could not even be created, and every other error reaches the
caller.

Creating a trial (``Study.ask``) is serialized across the threads of this process: on SQLite,
Optuna's "pop a waiting trial" is a read followed by a separate write (SQLite has no row locks),
so two threads could both pop the enqueued baseline and train it twice in one directory (seen
in a test). PostgreSQL's ``SELECT ... FOR UPDATE`` makes it safe across processes; several
worker *processes* should therefore share a PostgreSQL (or MySQL) storage, not SQLite.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import optuna
import sqlalchemy.exc

from tuner.study.objective import TrialFailed
from tuner.study.storage import count_finished

#: Opens one worker's own :class:`SerializedAsk` study, given the lock its ``ask`` shares.
StudyFactory = Callable[[threading.Lock], "SerializedAsk"]
_CREATE_RETRIES = 5


class SerializedAsk(optuna.Study):
    """A study whose :meth:`ask` (which ``Study.optimize`` calls for each trial) holds ``ask_lock``,
    shared by every worker thread of this process (see the module docstring: why)."""

    def __init__(self, *, ask_lock: threading.Lock, study_name: str, storage: optuna.storages.BaseStorage | str,
                 sampler: optuna.samplers.BaseSampler | None = None,
                 pruner: optuna.pruners.BasePruner | None = None) -> None:
        super().__init__(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
        self._ask_lock = ask_lock

    def ask(self, fixed_distributions: dict[str, optuna.distributions.BaseDistribution] | None = None,
            ) -> optuna.Trial:
        with self._ask_lock:
            return super().ask(fixed_distributions)


class WorkerPool:
    """J threads pulling trials until ``n_trials`` are counted (by ``counter``: default
    :func:`count_finished`, confirmation repeats left out), ``timeout`` passes, or a stop."""

    def __init__(self, open_study: StudyFactory, objective: Callable[[optuna.Trial], Any], *, jobs: int, n_trials: int | None,
                 timeout: float | None, counter: Callable[[optuna.Study], int] = count_finished) -> None:
        self.open_study = open_study
        self.objective = objective
        self.jobs = jobs
        self.n_trials = n_trials
        self.counter = counter  # finished trials that count toward n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self._lock = threading.Lock()
        self._starting = 0          # trials claimed by this process and not yet finished
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._ask_lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()

    def _claim(self, study: optuna.Study) -> bool:
        with self._lock:
            if self._stop.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline):
                return False
            if self.n_trials is not None and self.counter(study) + self._starting >= self.n_trials:
                return False
            self._starting += 1
            return True

    def _release(self) -> None:
        with self._lock:
            self._starting -= 1

    def _run_one(self, study: optuna.Study) -> None:
        before = len(study.get_trials(deepcopy=False))
        for attempt in range(_CREATE_RETRIES):
            try:
                study.optimize(self.objective, n_trials=1, catch=(TrialFailed,), gc_after_trial=False)
                return
            except sqlalchemy.exc.OperationalError:
                if len(study.get_trials(deepcopy=False)) > before or attempt == _CREATE_RETRIES - 1:
                    raise  # the trial existed already: not a creation conflict
                time.sleep(0.5 + attempt)

    def _work(self) -> None:
        try:
            study = self.open_study(self._ask_lock)
            while self._claim(study):
                try:
                    self._run_one(study)
                finally:
                    self._release()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by run()
            with self._lock:
                self._errors.append(exc)
            self._stop.set()

    def run(self) -> None:
        """Run until done; re-raise the first error any thread met.

        Raises:
            Whatever a worker raised (e.g. ``Interrupted``), after every thread has ended.
        """
        threads = [threading.Thread(target=self._work, name=f"study-worker-{i}", daemon=True)
                   for i in range(self.jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)  # short joins keep the main thread responsive to signals
        if self._errors:
            raise self._errors[0]
