"""Keep TensorFlow's own output off the terminal while a conversion runs.

TensorFlow, the OD API exporter and the TFLite converter write to the process's file
descriptors 1 and 2 directly (C++ logs, MLIR op summaries, Keras warnings): a hundred lines per
conversion that bury the tool's own progress. :func:`quiet` points both descriptors at a log
file for the duration and hands back a stream on the original terminal for the tool's lines.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, TextIO


@contextlib.contextmanager
def quiet(log_path: Path) -> Iterator[TextIO]:
    """Send everything written to fds 1 and 2 to ``log_path``; yield a stream on the old stdout.

    Python's ``sys.stdout``/``sys.stderr`` keep writing to fds 1 and 2, so they end up in the
    log too (warnings included). Both descriptors are restored on exit, also on an exception.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    console = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    try:
        with open(log_path, "ab") as log:
            for fd in saved:
                os.dup2(log.fileno(), fd)
            try:
                yield console
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
    finally:
        for copy in saved.values():
            os.close(copy)
        console.close()
