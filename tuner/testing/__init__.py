"""Fakes shared by the project's tests and by anyone testing code that drives trials.

:class:`FakeRunner` (:mod:`.fake_runner`) fills the study's runner seam
(:data:`tuner.trial.RunnerFactory`) with trials that train nothing: deterministic learning
curves computed from each trial's config, injected failures, ``stop()`` honoured.
:class:`FakeCostMeter` (:mod:`.fake_cost`) fills the deployment budget's cost seam
(:data:`tuner.study.budget.CostMeter`) with costs computed from the config's input size and width.
:class:`FakeBuild` (:mod:`.fake_build`) fills the preflight's build check
(:data:`tuner.study.preflight.BuildCheck`): accept all, or refuse by a rule.
:class:`FakeExecutor` (:mod:`.fake_executor`) fills the study's executor seam
(:class:`tuner.study.executor.Executor`): fake slots, every submission recorded.
"""
from __future__ import annotations

from tuner.testing.fake_build import FakeBuild
from tuner.testing.fake_cost import FakeCostMeter
from tuner.testing.fake_executor import FakeExecutor, Submission
from tuner.testing.fake_runner import (Curve, CurveFunction, FakeFailure, FakeRun, FakeRunner, config_of,
                                       learning_rate, learning_rate_curve, rising)

__all__ = ["Curve", "CurveFunction", "FakeBuild", "FakeCostMeter", "FakeExecutor", "FakeFailure", "FakeRun", "FakeRunner", "config_of", "learning_rate",
           "learning_rate_curve", "rising", "Submission"]
