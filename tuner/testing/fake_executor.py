"""An :class:`~tuner.study.executor.Executor` for tests: named fake slots, every submission recorded.

:class:`FakeExecutor` fills the study's executor seam (:mod:`tuner.study.executor`) without
devices or processes: each variant gets one of ``slots`` slots (``fake-0``, ``fake-1``, ...) and
runs as a :class:`~tuner.testing.FakeRun` of the given :class:`~tuner.testing.FakeRunner`. It records
what the study submitted (variant, trial directory, slot) and the most trials it ever ran at
once, so tests can check the study's decisions and its use of the seam without training.
"""
from __future__ import annotations

import dataclasses
import queue
import threading
from pathlib import Path

from tuner.study.executor import Executor, Placement, Running, TrialSettings
from tuner.study.planner import Variant
from tuner.testing.fake_runner import FakeRunner


@dataclasses.dataclass(frozen=True)
class Submission:
    """One :meth:`FakeExecutor.submit` call: what, where to, on which slot."""

    variant: Variant
    trial_dir: Path
    slot: str


class FakeExecutor(Executor):
    """``slots`` fake slots running :class:`~tuner.testing.FakeRun` trials (module docstring). Thread-safe.

    Attributes:
        submitted: every submission, in order.
        most_at_once: the most trials that held a slot at the same time.
        closed: whether the study closed it.
    """

    def __init__(self, runner: FakeRunner, settings: TrialSettings, *, slots: int = 1) -> None:
        self.runner = runner
        self.settings = settings
        self.slots = slots
        self.submitted: list[Submission] = []
        self.most_at_once = 0
        self.closed = False
        self._free: queue.Queue[str] = queue.Queue()
        for i in range(slots):
            self._free.put(f"fake-{i}")
        self._running = Running()
        self._lock = threading.Lock()
        self._held = 0

    def submit(self, variant: Variant, trial_dir: Path) -> Placement:
        slot = self._free.get()
        try:
            run = self.runner(self.settings.spec(variant, trial_dir))
        except BaseException:
            self._free.put(slot)
            raise
        with self._lock:
            self.submitted.append(Submission(variant, trial_dir, slot))
            self._held += 1
            self.most_at_once = max(self.most_at_once, self._held)
        self._running.add(id(run), run)

        def release() -> None:
            self._running.remove(id(run))
            with self._lock:
                self._held -= 1
            self._free.put(slot)

        return Placement(run, slot, release)

    def stop_all(self, reason: str) -> None:
        self._running.stop_all(reason)

    def close(self) -> None:
        self.closed = True
