"""TensorFlow in one of our CLI processes without its start-up noise on the user's terminal.

Importing TensorFlow prints C++ lines at every level up to ERROR ("Unable to register cuDNN
factory", oneDNN and CUDA notices) and Python ``FutureWarning``s; they read like failures and
say nothing about the user's job. :func:`quietly` wraps the import (and any model building)
with ``TF_CPP_MIN_LOG_LEVEL=3`` and Python warnings off, then restores the environment, so the
trial processes a study starts later still log at their own level (into their log files).
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Iterator

_VAR = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Run the block with TensorFlow's C++ logging at FATAL only and Python warnings ignored.

    A level the user set is kept. TensorFlow reads the variable when it is first imported, so
    this matters around the first import in the process.
    """
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
