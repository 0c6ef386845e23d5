"""Live progress of a study: trial i/N, each running trial's step and last mAP, best so far, ETA.

Events (a trial starts, an evaluation lands, a trial ends) print one line each as they happen;
a status line for the whole study prints every ``interval`` seconds while trials run.
Thread-safe: the objective calls it from J worker threads.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from typing import Callable, Sequence, TextIO

from tuner.study.compute import ComputeTally, Spent
from tuner.study.compute import duration as _duration
from tuner.outcome import FailureClass
from tuner.study.objective import EndState, Listener
from tuner.trial import TrialRun

#: What each end state spent its compute on.
_SPENT = {EndState.COMPLETE: Spent.COMPLETED, EndState.PRUNED: Spent.PRUNED, EndState.INTERRUPTED: Spent.FAILED,
          EndState.FAILED: Spent.FAILED, EndState.INFEASIBLE: Spent.INFEASIBLE}


@dataclasses.dataclass
class _Running:
    trial: TrialRun
    started: float
    last_map: float = math.nan


class Progress:
    """Prints study progress; use :meth:`listener` as the objective's listener."""

    def __init__(self, total: int | None, done: int, steps: int, jobs: int = 1, best: float | None = None,
                 best_number: int | None = None, out: TextIO = sys.stdout, interval: float = 30.0,
                 history: Sequence[float] = (), compute: ComputeTally | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Nothing prints until an event arrives or the periodic status starts (``with``).

        Args:
            total: trials the study should hold (``None``: no count, e.g. ``--timeout`` only).
            done: trials already finished (and counted) when this run starts.
            steps: training steps per trial.
            jobs: trials run at once.
            best: best value so far (``None``: none yet) ...
            best_number: ... and the number of its trial.
            out: where lines go.
            interval: seconds between periodic status lines.
            history: wall times of trials that ran to their end in earlier runs (a resumed study
                has an ETA before its first trial of this run ends).
            compute: steps and wall time already spent (a resumed study); a ``[compute]`` line
                follows the status line after each trial ends.
            clock: monotonic seconds (tests pass a fake clock).
        """
        self.total, self.done, self.steps, self.jobs = total, done, steps, max(1, jobs)
        self.best = best
        self.best_number = best_number
        self.out = out
        self.interval = interval
        self.clock = clock
        self._running: dict[int, _Running] = {}
        self._durations: list[float] = []
        self._durations_full: list[float] = list(history)
        self.compute = compute if compute is not None else ComputeTally(steps)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- output -------------------------------------------------------------------------
    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def _position(self) -> str:
        return f"{self.done + len(self._running)}/{self.total}" if self.total else f"#{self.done + len(self._running)}"

    def eta(self) -> float | None:
        """Seconds left: trials not started yet at the mean duration of trials that ran to the
        end (earlier runs' history included; fast failures excluded unless nothing else ran),
        plus what running trials still need, divided by the jobs."""
        durations = self._durations_full or self._durations
        if not self.total or not durations:
            return None
        mean = sum(durations) / len(durations)
        now = self.clock()
        not_started = max(0, self.total - self.done - len(self._running))
        running_left = sum(max(0.0, mean - (now - r.started)) for r in self._running.values())
        return (not_started * mean + running_left) / self.jobs

    def status_line(self) -> str:
        with self._lock:
            best = f"best mAP {self.best:.4f}" + (f" (trial {self.best_number})" if self.best_number is not None else "") \
                if self.best is not None else "best mAP -"
            eta = self.eta()
            parts = [f"[study] {self.done}/{self.total or '?'} done", best,
                     f"ETA {_duration(eta)}" if eta is not None else "ETA -"]
            for number, r in sorted(self._running.items()):
                last = f"{r.last_map:.4f}" if math.isfinite(r.last_map) else "-"
                parts.append(f"trial {number}: step {r.trial.last_train_step}/{self.steps} mAP {last}")
        return " | ".join(parts)

    # -- events -------------------------------------------------------------------------
    def started(self, number: int, trial: TrialRun) -> None:
        with self._lock:
            self._running[number] = _Running(trial, self.clock())
            position = self._position()
        self._print(f"[trial {number}] started ({position}); logs in {trial.log_dir}")

    def evaluated(self, number: int, step: int, value: float) -> None:
        with self._lock:
            if number in self._running:
                self._running[number].last_map = value
        self._print(f"[trial {number}] step {step}/{self.steps}: mAP {value:.4f}")

    def ended(self, number: int, state: EndState, value: float | None, steps: int = 0, seconds: float = 0.0,
              failure: FailureClass | None = None, note: str = "") -> None:
        """A trial ended; ``failure`` is its class when ``state`` is ``FAILED`` (``crash`` if not given);
        ``note`` says why when there is more to say (an infeasible trial's budget)."""
        with self._lock:
            self.compute.add(_SPENT[state], steps, seconds)
            compute_line = self.compute.line()
            running = self._running.pop(number, None)
            if running:
                self._durations.append(self.clock() - running.started)
                if state in (EndState.COMPLETE, EndState.PRUNED):  # not infeasible: it never trained
                    self._durations_full.append(self.clock() - running.started)
            if state is not EndState.INTERRUPTED:  # an interrupted trial is re-run: it is not done
                self.done += 1
            if value is not None and (self.best is None or value > self.best):
                self.best, self.best_number = value, number
        shown = f", mAP {value:.4f}" if value is not None else ""
        spent = f" after {steps}/{self.steps} steps, {_duration(seconds)}" if seconds else ""
        if state is EndState.INFEASIBLE:
            spent = ", not trained"
        shown_state = f"failed ({failure or FailureClass.CRASH})" if state is EndState.FAILED else state.value
        self._print(f"[trial {number}] {shown_state}{shown}{spent}" + (f": {note}" if note else ""))
        self._print(self.status_line())
        self._print(compute_line)

    def listener(self) -> Listener:
        return Listener(started=self.started, evaluated=self.evaluated, ended=self.ended)

    # -- periodic status ----------------------------------------------------------------
    def __enter__(self) -> Progress:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                if self._running:
                    self._print(self.status_line())

        self._thread = threading.Thread(target=loop, name="study-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=1)
