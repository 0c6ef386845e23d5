"""Studies: a base config and a search space become an Optuna study over real OD API trials.

:mod:`.inputs` validates, :mod:`.runner` runs, :mod:`.objective` turns an Optuna trial into a
:class:`tuner.trial.TrialRun` (default: the OD API's :class:`tuner.trial.Trial`), :mod:`.storage`
opens/resumes/recovers, :mod:`.progress` and :mod:`.report` show it. CLI: ``python -m tuner.study``.
"""
from __future__ import annotations

from tuner.study.runner import Prepared, StudyInputError, StudySettings, prepare, run

__all__ = ["Prepared", "StudyInputError", "StudySettings", "prepare", "run"]
