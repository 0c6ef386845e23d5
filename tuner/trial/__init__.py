"""One trial on the real OD API: train, evaluate every checkpoint, stream metrics, stop on demand.

The interface a study drives is :class:`TrialRun` (:mod:`.base`, with its contract), given a
:class:`TrialSpec` (:mod:`.spec`, with the trial directory's layout); the
subprocess implementation on the real OD API is :class:`Trial` (:mod:`.runner`), the default
:data:`RunnerFactory`; ``python -m tuner.trial`` is the CLI (:mod:`.__main__`).
"""
from __future__ import annotations

from tuner.trial.base import RunnerFactory, TrialRun
from tuner.trial.runner import Trial, TrialTimings, run_trial
from tuner.trial.spec import CONFIG_FILE, LOG_DIR, MODEL_DIR, RESULT_FILE, TrialSpec, TrialSpecError, check_steps

__all__ = ["CONFIG_FILE", "LOG_DIR", "MODEL_DIR", "RESULT_FILE", "RunnerFactory", "Trial", "TrialRun", "TrialSpec",
           "TrialSpecError", "TrialTimings", "check_steps", "run_trial"]
