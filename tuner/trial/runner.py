"""One trial on the real OD API: train, evaluate the checkpoints asked for, stream metrics, stop on demand.

A trial that evaluates checkpoints during training runs two processes, each started once (so
TensorFlow's start-up is paid twice per trial, not once per checkpoint): ``python -m
tuner.odapi.train`` and ``python -m tuner.odapi.evaluate``, each in its own process group, with
output in ``logs/train.log`` and ``logs/eval.log``. A trial that evaluates its last checkpoint
only (:attr:`TrialSpec.final_only`) runs the trainer alone, which evaluates once training ends. Metrics are read from the evaluation event files
(:mod:`tuner.events`) as each evaluation lands; the trainer's loss is watched in the training
event files so a diverging run ends at once as a NaN failure.

Trial directory layout::

    pipeline.config          the config this trial trains (written by the trial)
    model/                   OD API model_dir: checkpoints, train/ and eval/ event files
    logs/train.log, eval.log full process output
    result.json              the TrialOutcome (status, failure class, best step and metrics, seed)

:class:`Trial` is the default :class:`tuner.trial.base.TrialRun` of a study; its contract
(thread-safety of :meth:`Trial.stop`, one thread iterating :meth:`Trial.evaluations`, the
trial directory owned by the runner) is stated there.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from tuner import atomic, events, retention
from tuner.protocol import EXIT_CONFIG_REJECTED, EXIT_OUT_OF_MEMORY, read_ledger
from tuner.outcome import Evaluation, FailureClass, Status, TrialOutcome
from tuner.trial.base import TrialRun
from tuner.trial.host import HostedProcess, WarmHost
from tuner.trial.process import die_with_parent, signal_group, trial_env
from tuner.trial.spec import (CONFIG_FILE, LOG_DIR, MODEL_DIR, RESULT_FILE, SEED_LIMIT, TrialSpec,  # noqa: F401
                              TrialSpecError)  # (re-exported: tuner.trial's names)

_OOM_MARKERS = ("ResourceExhaustedError", "OUT_OF_MEMORY", "MemoryError", "std::bad_alloc", "OOM when allocating")


def _tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 64 * 1024))
        text = fh.read().decode("utf-8", "replace")
    noise = ("Warning", "warnings.warn", "cuda_", "rebuild TensorFlow", "Instructions for updating", "deprecated")
    kept = [ln for ln in text.splitlines() if ln.strip() and not any(n in ln for n in noise)]
    return "\n".join(kept[-lines:])


@dataclasses.dataclass
class TrialTimings:
    """What the tuner itself spends around the OD API processes (see bench/trial_overhead.py).

    Attributes:
        launch_seconds: writing the trial directory and starting both processes.
        teardown_seconds: from the end of the watch loop to ``result.json`` written (process
            shutdown, checkpoint retention).
        seen_at: step -> wall-clock time (``time.time()``) its evaluation was yielded.
    """

    launch_seconds: float = 0.0
    teardown_seconds: float = 0.0
    seen_at: dict[int, float] = dataclasses.field(default_factory=dict)


def _signal_group(proc: subprocess.Popen[bytes] | HostedProcess, sig: int) -> None:
    """Send ``sig`` to the process group of one of the trial's processes (a warm trainer's only
    while it runs this trial)."""
    if isinstance(proc, HostedProcess):
        proc.signal_group(sig)
        return
    signal_group(proc.pid, sig)


class Trial(TrialRun):
    """A running (or finished) trial on the real OD API, in two subprocesses. Use
    :meth:`evaluations` to drive it.

    Example::

        trial = Trial(spec)
        for evaluation in trial.evaluations():
            print(evaluation.step, evaluation.value(events.MAP))
        print(trial.outcome)
    """

    #: The two processes' modules (``python -m``); the protocol between them and the trial is
    #: :mod:`tuner.protocol`. Tests substitute small TensorFlow-free stand-ins.
    train_module = "tuner.odapi.train"
    eval_module = "tuner.odapi.evaluate"

    def __init__(self, spec: TrialSpec, host: WarmHost | None = None) -> None:
        spec.validate()
        self.spec = spec
        # A warm trainer (tuner.trial.host) for a one-process seeded trial: anything else starts
        # its own processes (an unseeded trial must not inherit the global seed of the previous one).
        self.host = host if spec.final_only and spec.seed is not None else None
        self.trial_dir = Path(spec.trial_dir)
        self.model_dir = self.trial_dir / MODEL_DIR
        self.log_dir = self.trial_dir / LOG_DIR
        self._outcome: TrialOutcome | None = None
        self.last_train_step = 0
        self.last_loss = math.nan
        self._procs: dict[str, subprocess.Popen[bytes] | HostedProcess] = {}
        self._stop_reason: str | None = None
        self._first_failed: str | None = None
        self._lock = threading.Lock()
        self._started = 0.0
        self.timings = TrialTimings()

    @property
    def outcome(self) -> TrialOutcome | None:
        return self._outcome

    # -- control ----------------------------------------------------------------------
    def stop(self, reason: str = "stopped on request") -> None:
        """End the trial now: both process groups get SIGTERM, then SIGKILL after 5 s.

        Thread-safe (any thread, a signal handler), any number of times; the first reason is kept.
        """
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
        self._kill_all()

    def _kill_all(self, grace: float = 5.0) -> None:
        procs = list(self._procs.values())
        for proc in procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in procs:  # the group may outlive its leader: kill it whole either way
            _signal_group(proc, signal.SIGKILL)
            # Bounded waits only: stop() may run in a signal handler that interrupted another
            # thread inside Popen.poll(), and an unbounded wait would then block on its lock.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5.0)

    # -- running ----------------------------------------------------------------------
    def _launch(self, name: str, module: str, args: list[str]) -> None:
        if self.host is not None and module == Trial.train_module:  # the warm trainer runs this module's code
            self._procs[name] = self.host.submit(args, self.log_dir / f"{name}.log")
            return
        log = open(self.log_dir / f"{name}.log", "ab")
        try:
            self._procs[name] = subprocess.Popen(
                [sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=trial_env(self.spec.device, self.spec.threads),
                start_new_session=True, preexec_fn=die_with_parent)
        finally:
            log.close()

    def _start(self) -> None:
        if (self.trial_dir / RESULT_FILE).exists():
            raise FileExistsError(f"{self.trial_dir} already holds a finished trial ({RESULT_FILE}); "
                                  "use a new trial directory")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        config = self.trial_dir / CONFIG_FILE
        config.write_text(self.spec.config_text)
        common = ["--config", str(config), "--model-dir", str(self.model_dir), "--threads", str(self.spec.threads)]
        self._started = time.monotonic()
        seeding = [] if self.spec.seed is None else ["--seed", str(self.spec.seed)]
        if self.spec.deterministic:
            seeding.append("--deterministic")
        training = common + ["--steps", str(self.spec.steps), "--checkpoint-every", str(self.spec.eval_every)] + seeding
        if self.spec.final_only:  # one process: train, then evaluate the last checkpoint
            self._launch("train", self.train_module, training + ["--evaluate-final"])
            return
        self._launch("train", self.train_module, training)
        self._launch("eval", self.eval_module,
                     common + ["--eval-every", str(self.spec.eval_every), "--final-step", str(self.spec.steps),
                               "--eval-steps", ",".join(map(str, self.spec.evaluated_steps))])

    def evaluations(self, poll: float = 0.25) -> Iterator[Evaluation]:
        """Run the trial, yielding each checkpoint's metrics as its evaluation lands.

        Evaluations come in step order. When the generator ends, :attr:`outcome` is set,
        ``result.json`` is written and checkpoints other than the best and last are gone.
        Closing the generator early stops the trial.

        Raises:
            FileExistsError: the trial directory already holds a finished trial.
        """
        launch = time.perf_counter()
        self._start()
        self.timings.launch_seconds = time.perf_counter() - launch
        eval_reader = events.EventDirReader(self.model_dir / "eval")
        train_reader = events.EventDirReader(self.model_dir / "train", tags=[events.TOTAL_LOSS])
        pending: dict[int, dict[str, float]] = {}
        landed: list[Evaluation] = []
        failure: tuple[FailureClass, str] | None = None
        try:
            while True:
                # Decide "finished" before reading, so whatever the processes wrote is read below.
                finished = all(p.poll() is not None for p in self._procs.values())
                for event in train_reader.poll():
                    self.last_train_step, self.last_loss = max(self.last_train_step, event.step), event.value
                    if not math.isfinite(event.value) and failure is None:
                        failure = (FailureClass.NAN, f"loss became {event.value} at step {event.step}")
                        self._kill_all()
                # Ledger first, event files second: a ledger line is appended only after its
                # evaluation's summaries were flushed, so every metric of a step in this ledger
                # snapshot is on disk before the event files are read below (read the other way
                # round, a step could be reported while its last summaries were still in the
                # writer's queue, and those metrics would be lost).
                done_steps = {entry["step"]: entry["checkpoint"] for entry in read_ledger(self.model_dir)}
                for event in eval_reader.poll():
                    pending.setdefault(event.step, {})[event.tag] = event.value
                for step in sorted(s for s in pending if s in done_steps):
                    evaluation = Evaluation(step, pending.pop(step), done_steps[step])
                    landed.append(evaluation)
                    self.timings.seen_at[step] = time.time()
                    yield evaluation
                if failure or self._stop_reason or finished:
                    break
                if self.spec.timeout and time.monotonic() - self._started > self.spec.timeout:
                    failure = (FailureClass.TIMEOUT, f"trial exceeded its {self.spec.timeout:.0f} s budget")
                    break
                crashed = [n for n, p in self._procs.items() if p.poll() not in (None, 0)]
                if crashed:  # neither process may wait for a dead partner
                    self._first_failed = crashed[0]
                    self._kill_all()
                time.sleep(poll)
        except GeneratorExit:
            with self._lock:
                self._stop_reason = self._stop_reason or "stopped: the caller closed the trial"
            raise
        finally:
            teardown = time.perf_counter()
            self._kill_all()
            if self._outcome is None:
                self._outcome = self._finish(landed, failure)
            self.timings.teardown_seconds = time.perf_counter() - teardown

    # -- ending -----------------------------------------------------------------------
    def _classify_exit(self) -> tuple[FailureClass, str] | None:
        failed = [n for n, p in self._procs.items() if p.returncode != 0]
        if not failed:
            return None
        name = self._first_failed or failed[0]
        proc = self._procs[name]
        text = _tail(self.log_dir / f"{name}.log", 200)
        if proc.returncode == EXIT_CONFIG_REJECTED:
            line = next((ln for ln in reversed(text.splitlines()) if ln.startswith("CONFIG_REJECTED")), "")
            return FailureClass.CONFIG, line.removeprefix("CONFIG_REJECTED: ") or "the OD API rejected the config"
        if proc.returncode == EXIT_OUT_OF_MEMORY or any(m in text for m in _OOM_MARKERS):
            return FailureClass.OOM, f"{name} process ran out of memory (exit {proc.returncode})"
        if proc.returncode == -signal.SIGKILL:  # we never SIGKILL a process we have not stopped
            return FailureClass.OOM, (f"{name} process was killed by SIGKILL, most likely by the kernel's "
                                      "out-of-memory killer (see dmesg); lower the batch size or image size")
        if "NaN" in text and ("loss" in text.lower() or "Tensor had NaN" in text):
            return FailureClass.NAN, f"{name} process stopped on a NaN (exit {proc.returncode})"
        last = next((ln for ln in reversed(text.splitlines()) if "Error" in ln), f"exit code {proc.returncode}")
        return FailureClass.CRASH, f"{name} process crashed: {last.strip()[:300]}"

    def _finish(self, landed: list[Evaluation], failure: tuple[FailureClass, str] | None) -> TrialOutcome:
        wall = time.monotonic() - self._started
        if failure is None and self._stop_reason is None:
            failure = self._classify_exit()
            if failure is None and not landed:
                failure = (FailureClass.CRASH, "training ended without any evaluation")
        if failure is not None:
            status, reason = Status.FAILED, failure[1]
        elif self._stop_reason is not None:
            status, reason = Status.STOPPED, self._stop_reason
        else:
            status, reason = Status.COMPLETED, f"trained {self.spec.steps} steps, {len(landed)} evaluations"
        objective = self.spec.objective
        scored = [e for e in landed if math.isfinite(e.value(objective))]
        best = max(scored, key=lambda e: (e.value(objective), -e.step)) if scored else None
        names = retention.checkpoint_names(self.model_dir) if self.model_dir.exists() else []
        last = names[-1] if names else None
        keep = {n for n in (best.checkpoint if best else None, last) if n}
        if names:
            retention.retain(self.model_dir, keep)
        log_name = self._first_failed or "train"
        trained = self.spec.steps if status is Status.COMPLETED else max(
            [self.last_train_step, *(e.step for e in landed)])
        outcome = TrialOutcome(
            status=status, failure=failure[0] if failure else None, reason=reason,
            evaluations=tuple(landed), best=best, best_checkpoint=best.checkpoint if best else None,
            last_checkpoint=last, wall_seconds=round(wall, 2), steps_trained=trained,
            seed=self.spec.seed, deterministic=self.spec.deterministic,
            log_tail=_tail(self.log_dir / f"{log_name}.log") if status is Status.FAILED else "")
        atomic.write_json(self.trial_dir / RESULT_FILE, outcome.to_json())
        return outcome


def run_trial(spec: TrialSpec) -> TrialOutcome:
    """Run a trial to its end; return its outcome."""
    trial = Trial(spec)
    for _ in trial.evaluations():
        pass
    assert trial.outcome is not None  # set by evaluations() on every path
    return trial.outcome
