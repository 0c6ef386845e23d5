"""One trial on the real OD API: train, evaluate every checkpoint, stream metrics, stop on demand.

The implementation is in :mod:`.runner`; ``python -m tuner.trial`` is the CLI (:mod:`.__main__`).
"""
from __future__ import annotations

from tuner.trial.runner import (CONFIG_FILE, LOG_DIR, MODEL_DIR, RESULT_FILE, Trial, TrialSpec, TrialSpecError,
                                TrialTimings, run_trial)

__all__ = ["CONFIG_FILE", "LOG_DIR", "MODEL_DIR", "RESULT_FILE", "Trial", "TrialSpec", "TrialSpecError",
           "TrialTimings", "run_trial"]
