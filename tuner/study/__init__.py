"""Studies: a base config and a search space become an Optuna study over real OD API trials.

Three stages (docs/design.md): **resolve** (:mod:`.plan`, with the checks of :mod:`.inputs`)
turns the settings into one checked :class:`StudyPlan`; **decide** (:mod:`.planner`) turns each
Optuna trial into a variant; **execute** (:mod:`.executor`) runs it, by default as the OD API's
:class:`tuner.trial.Trial` in subprocesses. :mod:`.runner` drives them (:mod:`.objective`,
:mod:`.workers`), :mod:`.storage` opens/resumes/recovers, :mod:`.progress` and :mod:`.report`
show it. CLI: ``odapi-tuner study`` (``python -m tuner.study``).
"""
from __future__ import annotations

from tuner.study.inputs import StudyInputError, StudySettings
from tuner.study.plan import StudyPlan, resolve
from tuner.study.runner import run

__all__ = ["StudyInputError", "StudyPlan", "StudySettings", "resolve", "run"]
