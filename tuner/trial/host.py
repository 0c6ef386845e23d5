"""The trial's side of a warm trainer (:mod:`tuner.odapi.host`): :class:`WarmHost` and :class:`HostedProcess`.

A :class:`WarmHost` is one slot's trainer process, kept between trials: started on the first
trial it is given, and again for the next trial whenever it has ended (after a trial that did
not exit 0, after its ``max_trials``, or killed). It runs one trial at a time. :meth:`WarmHost.submit`
returns a :class:`HostedProcess`, which a :class:`tuner.trial.Trial` drives as it drives a
``subprocess.Popen``: ``poll()``, ``wait()``, ``returncode``, and :meth:`HostedProcess.signal_group`
in place of ``os.killpg``. Signalling a running trial kills the host (the trial's
isolation: nothing of a stopped, crashed or killed trial survives into the next one); signalling
one that has ended does nothing (the host lives on for the next trial).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tuner.protocol import HOST_END_LINE
from tuner.trial.process import die_with_parent, on_lasting_thread, signal_group

#: Trials per warm process before it is replaced (TensorFlow's caches grow with every graph:
#: about 190 MB per demo trial, linearly, since the input pipelines are traced without autograph,
#: 310 MB before; bench/warm_memory.py). 4 bounds a slot at about 2.0 GB.
MAX_TRIALS = 4


class HostedProcess:
    """One trial in a :class:`WarmHost`, seen as a process (see the module docstring)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self.pid = proc.pid
        self._code: int | None = None
        self._ended = threading.Event()

    def _end(self, code: int) -> None:
        self._code = code
        self._ended.set()

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def poll(self) -> int | None:
        """The trial's exit code once it has ended (the host's own when the host died under it), else ``None``."""
        if self._ended.is_set():
            return self._code
        host = self._proc.poll()
        if host is not None and not self._ended.wait(0.5):  # its last line may still be in the pipe
            self._end(host)  # it died under the trial: the trial's code is the host's
        return self._code if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(["tuner.odapi.host"], timeout or 0.0)
            time.sleep(0.05)
        return code

    def signal_group(self, sig: int) -> None:
        """Kill the host's process group with ``sig`` while the trial runs; nothing once it has ended."""
        if self._ended.is_set():
            return
        signal_group(self._proc.pid, sig)


class WarmHost:
    """One slot's warm trainer process (module docstring). Thread-safe; one trial at a time.

    Args:
        env: the environment of the process (the slot's device and threads, as a trainer's).
        threads: TensorFlow's CPU threads in it (0: TensorFlow decides).
        max_trials: trials before the process is replaced.
    """

    module = "tuner.odapi.host"

    def __init__(self, env: dict[str, str], threads: int = 0, max_trials: int = MAX_TRIALS) -> None:
        self.env = env
        self.threads = threads
        self.max_trials = max_trials
        self._proc: subprocess.Popen[bytes] | None = None
        self._served = 0
        self._usable = False
        self._current: HostedProcess | None = None
        self._lock = threading.Lock()
        self.started = 0  # processes started so far (tests and benchmarks read it)

    def submit(self, argv: list[str], log: Path) -> HostedProcess:
        """Start ``python -m tuner.odapi.train ARGV`` in the warm process, its output to ``log``.

        Raises:
            RuntimeError: the previous trial has not ended (one trial at a time).
        """
        with self._lock:
            if self._current is not None and self._current.poll() is None:
                raise RuntimeError("a warm host runs one trial at a time; the previous one has not ended")
            if not self._usable or self._proc is None or self._proc.poll() is not None:
                self._spawn()
            assert self._proc is not None and self._proc.stdin is not None
            handle = HostedProcess(self._proc)
            self._current = handle
            self._served += 1
            if self._served >= self.max_trials:
                self._usable = False  # it ends after this trial
            try:
                self._proc.stdin.write((json.dumps({"argv": argv, "log": str(log)}) + "\n").encode())
                self._proc.stdin.flush()
            except OSError:  # it died since the check: the handle reports its exit code
                self._usable = False
            return handle

    def _spawn(self) -> None:
        self.close()
        command = [sys.executable, "-m", self.module, "--threads", str(self.threads), "--max-trials",
                   str(self.max_trials)]
        proc = on_lasting_thread(lambda: subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env,
            start_new_session=True, preexec_fn=die_with_parent))
        self._proc, self._served, self._usable = proc, 0, True
        self.started += 1
        threading.Thread(target=self._read, args=(proc,), name=f"warm-host-{proc.pid}", daemon=True).start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            parts = raw.decode(errors="replace").split()
            if len(parts) == 2 and parts[0] == HOST_END_LINE:
                with self._lock:
                    handle = self._current if self._proc is proc else None
                    if parts[1] != "0":
                        self._usable = False  # it ends after a trial that did not exit 0
                if handle is not None:
                    handle._end(int(parts[1]))  # noqa: SLF001 - the handle's one writer

    def close(self) -> None:
        """End the warm process, if any (a study calls it when it ends)."""
        proc, self._proc = self._proc, None
        self._usable = False
        if proc is None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.close()  # it ends by itself between trials
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
