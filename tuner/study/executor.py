"""Execute: where a study's trials run. The :class:`Executor` seam and the local implementation.

The study decides what a trial trains (:class:`tuner.study.planner.Variant`) and hands it to an
executor, which places it somewhere (a device of this machine, later another machine), starts it
and streams its evaluations back as a :class:`tuner.trial.TrialRun`. :class:`LocalExecutor` runs
each trial through a :data:`tuner.trial.RunnerFactory` (default: the OD API in subprocesses) on
one device of ``--devices``; :class:`tuner.testing.FakeExecutor` fills the same seam in tests.

Contract, for implementations and for the study (:class:`tuner.study.objective.Objective`):

* **slots** is how many trials may run at once; the study runs that many worker threads.
* **submit(variant, trial_dir)** is thread-safe. It waits for a free slot, then returns a
  :class:`Placement`: where the trial runs and its not-yet-started :class:`~tuner.trial.TrialRun`
  (whose own contract is in :mod:`tuner.trial.base`: the study iterates its evaluations, may
  stop it, reads its outcome). Use the placement as a context manager: leaving it frees the
  slot, whatever happened. ``submit`` raises only for misuse (e.g. ``TrialSpecError``); a
  trial that fails is an outcome, not an exception.
* **stop_all(reason)** is thread-safe and may be called from a signal handler: every running
  trial is stopped with ``reason``, and so is every trial submitted afterwards (it ends
  ``STOPPED`` at once), until the executor is discarded.
* **close()** ends what the executor keeps between trials (e.g. warm processes); the study
  calls it once when its trials are done, however they ended.
"""
from __future__ import annotations

import abc
import dataclasses
import queue
import threading
from pathlib import Path
from typing import Callable

from tuner import config as cfgmod
from tuner import events
from tuner.study.planner import Variant
from tuner.trial import RunnerFactory, Trial, TrialRun, TrialSpec
from tuner.trial.host import WarmHost
from tuner.trial.process import trial_env


@dataclasses.dataclass(frozen=True)
class TrialSettings:
    """What every trial of a study shares (the rest comes from its :class:`Variant`).

    Attributes:
        steps: training steps.
        eval_every: checkpoint interval in steps.
        eval_steps: the steps evaluated (``()``: every checkpoint); see :class:`~tuner.trial.TrialSpec`.
        objective: metric tag that defines the best checkpoint.
        threads: CPU threads per TF process (0: TensorFlow decides).
        timeout: wall-clock budget per trial in seconds (``None``: unlimited).
        deterministic: TensorFlow's op determinism in every trainer.
    """

    steps: int
    eval_every: int
    eval_steps: tuple[int, ...] = ()
    objective: str = events.MAP
    threads: int = 0
    timeout: float | None = None
    deterministic: bool = False

    def spec(self, variant: Variant, trial_dir: Path, device: str | None = None) -> TrialSpec:
        """The :class:`~tuner.trial.TrialSpec` that runs ``variant`` in ``trial_dir`` on ``device``."""
        return TrialSpec(cfgmod.dumps(variant.cfg), trial_dir, self.steps, self.eval_every, objective=self.objective,
                         device=device, threads=self.threads, timeout=self.timeout, seed=variant.seed,
                         deterministic=self.deterministic, eval_steps=self.eval_steps)


class Placement:
    """A submitted trial: its run, where it runs, and its slot (freed on leaving the ``with``)."""

    def __init__(self, run: TrialRun, where: str, release: Callable[[], None]) -> None:
        self.run = run
        self.where = where  # e.g. the device ("" when the trial inherits the environment's)
        self._release = release
        self._released = False

    def __enter__(self) -> Placement:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._released:
            self._released = True
            self._release()


class Executor(abc.ABC):
    """Where a study's trials run (see the module docstring for the contract)."""

    slots: int

    @abc.abstractmethod
    def submit(self, variant: Variant, trial_dir: Path) -> Placement:
        """Place ``variant`` in ``trial_dir`` once a slot is free; thread-safe.

        Raises:
            tuner.trial.TrialSpecError: the trial's parameters are inconsistent (nothing started).
        """

    @abc.abstractmethod
    def stop_all(self, reason: str) -> None:
        """Stop every running trial and every later one; thread-safe, signal-safe."""

    @abc.abstractmethod
    def close(self) -> None:
        """End whatever the executor keeps between trials (warm processes); the study calls it
        once, when its trials are done (also after an error or an interrupt)."""


class DevicePool:
    """Hands each concurrently running trial one device from ``--devices`` (thread-safe).

    Without devices there are ``jobs`` slots of ``None`` (the trials inherit the environment's
    devices), so ``--jobs J`` alone still runs J trials at once.
    """

    def __init__(self, devices: list[str] | None, jobs: int = 1) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        slots: list[str | None] = list(devices) if devices else [None] * max(1, jobs)
        for device in slots:
            self._queue.put(device)

    @property
    def size(self) -> int:
        """Devices currently free."""
        return self._queue.qsize()

    def acquire(self) -> str | None:
        return self._queue.get()

    def release(self, device: str | None) -> None:
        self._queue.put(device)


class Running:
    """The runs an executor has placed and not yet released, and its stop flag (thread-safe):
    what :meth:`Executor.stop_all` reaches. Shared by the executors here and in :mod:`tuner.testing`."""

    def __init__(self) -> None:
        self._runs: dict[int, TrialRun] = {}
        self._lock = threading.Lock()
        self._reason: str | None = None

    def add(self, key: int, run: TrialRun) -> None:
        """Register ``run``; stop it at once if the executor was stopped (checked under one lock,
        so :meth:`stop_all` cannot miss it)."""
        with self._lock:
            self._runs[key] = run
            reason = self._reason
        if reason is not None:
            run.stop(reason)

    def remove(self, key: int) -> None:
        with self._lock:
            self._runs.pop(key, None)

    def stop_all(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason
            runs = list(self._runs.values())
        for run in runs:
            run.stop(reason)


class LocalExecutor(Executor):
    """Trials on this machine: one device of ``devices`` each (``jobs`` at once without devices),
    each run by ``runner`` (default: :class:`tuner.trial.Trial`, the OD API in subprocesses).

    With the default runner and ``warm``, a seeded trial that evaluates its last checkpoint only
    trains in a warm trainer process kept between trials (:mod:`tuner.trial.host`: TensorFlow's
    and the OD API's imports paid once per process, not per trial; one process per
    device slot, replaced every :data:`tuner.trial.host.MAX_TRIALS` trials); :meth:`close` ends them.
    """

    def __init__(self, settings: TrialSettings, *, runner: RunnerFactory | None = None,
                 devices: list[str] | None = None, jobs: int = 1, warm: bool = True) -> None:
        self.settings = settings
        self.runner: RunnerFactory = runner or Trial
        self.devices = DevicePool(devices, jobs=jobs)
        self.slots = jobs  # --devices may name more devices than --jobs runs trials at once
        self.warm = warm and runner is None
        self._running = Running()
        self._idle_hosts: dict[str | None, list[WarmHost]] = {}
        self._hosts: list[WarmHost] = []
        self._hosts_lock = threading.Lock()

    def submit(self, variant: Variant, trial_dir: Path) -> Placement:
        device = self.devices.acquire()
        host = self._take_host(device) if self.warm else None
        try:
            spec = self.settings.spec(variant, trial_dir, device)
            run = Trial(spec, host=host) if host is not None else self.runner(spec)
        except BaseException:
            self._give_host(device, host)
            self.devices.release(device)
            raise
        self._running.add(id(run), run)

        def release() -> None:
            self._running.remove(id(run))
            self._give_host(device, host)
            self.devices.release(device)

        return Placement(run, device or "", release)

    def _take_host(self, device: str | None) -> WarmHost:
        with self._hosts_lock:
            idle = self._idle_hosts.setdefault(device, [])
            if idle:
                return idle.pop()
            host = WarmHost(trial_env(device, self.settings.threads), self.settings.threads)
            self._hosts.append(host)
            return host

    def _give_host(self, device: str | None, host: WarmHost | None) -> None:
        if host is not None:
            with self._hosts_lock:
                self._idle_hosts.setdefault(device, []).append(host)

    def stop_all(self, reason: str) -> None:
        self._running.stop_all(reason)

    def close(self) -> None:
        with self._hosts_lock:
            hosts, self._hosts, self._idle_hosts = self._hosts, [], {}
        for host in hosts:
            host.close()
