"""Starting a trial's processes: their environment, and a guarantee that none outlives the study.

:func:`die_with_parent` runs in each child between fork and exec and asks Linux for SIGKILL when
the parent goes (``PR_SET_PDEATHSIG``). Linux delivers it when the *thread* that forked the child
exits: a trial's own processes are forked by the thread that watches them, which lives until the
trial has ended; a warm trainer (:mod:`tuner.trial.host`), which outlives the trial that started
it, is forked by :func:`on_lasting_thread`'s thread, which lives as long as the process.
"""
from __future__ import annotations

import ctypes
import os
import queue
import signal
import sys
import threading
from typing import Callable, TypeVar

_PR_SET_PDEATHSIG = 1
T = TypeVar("T")


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc() if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """In the child (between fork and exec): ask for SIGKILL when the parent's forking thread
    dies (Linux), so a killed study never leaves training processes behind. Elsewhere a no-op.

    Python warns that ``preexec_fn`` may deadlock when other threads hold locks the child needs;
    this function only calls ``prctl`` through an already-loaded ctypes handle and takes no
    Python-level locks.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone (or no longer ours) is left be."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


#: protobuf's implementation in a trial's TensorFlow processes (see :data:`tuner.PROTOBUF_IMPLEMENTATION`).
TRAINER_PROTOBUF = "upb"


def trial_env(device: str | None, threads: int) -> dict[str, str]:
    """The environment of a trial's TensorFlow process: its device (``None``: inherited), its
    CPU threads (0: TensorFlow decides), TensorFlow's C++ log level, GPU memory growth, protobuf's
    compiled implementation."""
    env = dict(os.environ)
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = device
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The compiled protobuf: TensorFlow parses every traced function through it (2-3 s of a demo
    # trial in the pure-Python one; tuner/protoregen.py); our other processes take the Python one.
    env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = TRAINER_PROTOBUF
    # Trainer and evaluator share the trial's GPU: without this each TF process would
    # reserve nearly all of its memory and the second one would run out.
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    env["PYTHONUNBUFFERED"] = "1"
    return env


_requests: queue.Queue[tuple[Callable[[], object], queue.Queue[tuple[bool, object]]]] = queue.Queue()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def _serve() -> None:
    while True:
        fn, reply = _requests.get()
        try:
            reply.put((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            reply.put((False, exc))


def on_lasting_thread(fn: Callable[[], T]) -> T:
    """Call ``fn`` on a thread that lives as long as this process and return its result (or
    raise its exception): what forks a process that must outlive the calling thread."""
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="process-spawner", daemon=True)
            _thread.start()
    reply: queue.Queue[tuple[bool, object]] = queue.Queue()
    _requests.put((fn, reply))
    ok, value = reply.get()
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]
