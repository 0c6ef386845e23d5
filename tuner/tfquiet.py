"""TensorFlow in one of our CLI processes without its start-up noise on the user's terminal.

Importing TensorFlow prints C++ lines at every level up to ERROR ("Unable to register cuDNN
factory", oneDNN and CUDA notices) and Python ``FutureWarning``s; they read like failures and
say nothing about the user's job. :func:`quietly` wraps the import (and any model building)
with ``TF_CPP_MIN_LOG_LEVEL=3`` and Python warnings off, then restores the environment, so the
trial processes a study starts later still log at their own level (into their log files).

A CLI's ``--verbose`` calls :func:`set_verbose`: from then on :func:`quietly` changes nothing in
that process, so TensorFlow's lines and warnings reach the terminal (for diagnosing an install).
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Iterator

_VAR = "TF_CPP_MIN_LOG_LEVEL"
_verbose = False


def set_verbose(on: bool = True) -> None:
    """Process-wide: with ``on``, :func:`quietly` silences nothing (a CLI's ``--verbose``)."""
    global _verbose
    _verbose = bool(on)


def is_verbose() -> bool:
    """Whether :func:`set_verbose` turned silencing off in this process."""
    return _verbose


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Run the block with TensorFlow's C++ logging at FATAL only and Python warnings ignored.

    A level the user set is kept. TensorFlow reads the variable when it is first imported, so
    this matters around the first import in the process. After :func:`set_verbose` it does nothing.
    """
    if _verbose:
        yield
        return
    before = os.environ.get(_VAR)
    if before is None:
        os.environ[_VAR] = "3"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if before is None:
            os.environ.pop(_VAR, None)
