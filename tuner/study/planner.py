"""Decide what a study trial trains: the planner turns an Optuna trial into a :class:`Variant` (no TensorFlow).

The study's objective (:mod:`tuner.study.objective`) and its preflight (:mod:`tuner.study.preflight`,
``--dry-run``) both ask the :class:`Planner`, so a dry run draws exactly what the study trains.
A trial is one of: the baseline (the base config; trial 0 in a study), the fitted-anchors trial
(the base config with the study's fitted anchors), a sampled variant (the space's values applied
to the base, or to the fit when the space has an ``anchors`` knob), or a repeat / re-run of another
trial with that trial's values. Pure: configs, the space and Optuna's trial, nothing trained.
"""
from __future__ import annotations

import copy
import dataclasses
import enum
from typing import Any

import optuna

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.config.diff import Change
from tuner.runinfo import Attr
from tuner.study.anchors import AnchorPlan
from tuner.study.seeds import trial_seed


class Role(enum.StrEnum):
    """Which of the study's trials a config is."""

    BASELINE = "baseline"
    FITTED_ANCHORS = "fitted anchors"
    SAMPLED = "sampled"


@dataclasses.dataclass(frozen=True)
class Variant:
    """What one study trial trains: the planner's decision, before anything runs.

    Attributes:
        number: The study trial number.
        role: Baseline, fitted anchors or sampled.
        values: The space values it was given (applied to a sampled trial; recorded only for the
            baseline and the fitted anchors, which are the base config, or the base with the fit).
        changes: The config changes against the base (sized to the study's steps).
        cfg: The config (``None`` when the sampled values could not be applied).
        error: Why the values could not be applied (``''`` when they were).
        seed: The training seed (:func:`tuner.study.seeds.trial_seed` of the study's seed).
        repeat_of: The trial it repeats (a confirmation repeat, which is never pruned), or ``None``.
    """

    number: int
    role: Role
    values: dict[str, Any]
    changes: tuple[Change, ...]
    cfg: Any
    error: str = ""
    seed: int = 0
    repeat_of: int | None = None

    @property
    def prunable(self) -> bool:
        """Whether the pruner may stop it (a confirmation repeat runs to its end)."""
        return self.repeat_of is None


class Planner:
    """The study's decisions about one trial. Thread-safe: no state changes after construction.

    ``trial0_is_baseline`` (as ``tuner.study`` runs it): trial 0 is the unmodified base config
    whatever its origin, and an enqueued baseline that did not become trial 0 is sampled like any
    other trial. Without it, only trials carrying the ``baseline`` attribute are baselines. A
    re-run (``retry_of``) and a confirmation repeat (``repeat_of``) of a baseline are baselines.
    """

    def __init__(self, base_cfg: Any, space: spacemod.SearchSpace, *, steps: int, anchors: AnchorPlan | None = None,
                 trial0_is_baseline: bool = False, seed: int = 0) -> None:
        self.base_cfg = base_cfg
        self.seed = seed
        self.space = space
        self.steps = steps
        self.anchors = anchors or AnchorPlan()
        self.trial0_is_baseline = trial0_is_baseline
        self._centre_on_fit = any(p.target is spacemod.Target.KNOB and p.ref == "anchors" for p in space.params)
        #: The base config sized to the study's steps: what the baseline trains, what a variant's
        #: changes are read against.
        self.sized_base = copy.deepcopy(base_cfg)
        cfgmod.set_num_steps(self.sized_base, steps)
        self._base_lint = spacemod.lint_errors(self.sized_base)  # only errors a variant adds fail it

    def role(self, trial: optuna.Trial, baseline: bool) -> Role:
        """The trial's role (after :meth:`is_baseline` said whether it is the baseline)."""
        if baseline:
            return Role.BASELINE
        return Role.FITTED_ANCHORS if trial.user_attrs.get(Attr.FITTED_ANCHORS) else Role.SAMPLED

    def is_baseline(self, trial: optuna.Trial) -> bool:
        """Whether ``trial`` runs the base config unchanged; records the answer on the trial."""
        attrs = trial.user_attrs
        if self.trial0_is_baseline:
            if trial.number == 0:
                if not attrs.get(Attr.BASELINE):
                    trial.set_user_attr(Attr.BASELINE, True)
                return True
            if attrs.get(Attr.BASELINE) and attrs.get(Attr.RETRY_OF) is None and attrs.get(Attr.REPEAT_OF) is None:
                trial.set_user_attr(Attr.BASELINE, False)  # enqueued too late: trial 0 is the baseline
                return False
        return bool(attrs.get(Attr.BASELINE))

    def variant(self, trial: optuna.Trial, baseline: bool | None = None) -> tuple[Any, dict[str, Any]]:
        """The config for ``trial`` and its values: the values applied to a sampled trial; for the
        baseline and the fitted-anchors trial (the base config with the study's fitted anchors),
        nothing is applied, and the values they were enqueued with (what describes them in the
        space's terms) are recorded as their parameters.

        A sampled trial starts from the base config, or from the base with the fitted anchors
        when the space has an ``anchors`` knob (so that knob scales the fit).

        Args:
            trial: the Optuna trial (sampled here unless it is the baseline).
            baseline: whether it is the baseline; default: its ``baseline`` attribute.

        Raises:
            tuner.space.SpaceError: a value does not fit the config, or the sampled values
                together break a cross-field rule of :func:`tuner.config.lint` that the base
                config keeps (the OD API would reject the config).
        """
        cfg = copy.deepcopy(self.base_cfg)
        values: dict[str, Any] = {}
        if trial.user_attrs.get(Attr.FITTED_ANCHORS) and not baseline:
            cfg = self.anchors.with_fit(cfg)
            values = spacemod.record_fixed(self.space, trial)
        elif trial.user_attrs.get(Attr.BASELINE) if baseline is None else baseline:
            values = spacemod.record_fixed(self.space, trial)
        else:
            values = spacemod.sample(self.space, trial)
            if self._centre_on_fit:
                cfg = self.anchors.with_fit(cfg)
            spacemod.apply(self.space, cfg, values)
        cfgmod.set_num_steps(cfg, self.steps)
        added = [e for e in spacemod.lint_errors(cfg) if e not in self._base_lint]
        if added:
            path, message, fix = added[0]
            raise spacemod.SpaceError(f"{self.space.source}: the sampled values make the config invalid: {path}: "
                                      f"{message}; narrow the space (or: {fix})")
        return cfg, values

    def plan(self, trial: optuna.Trial) -> Variant:
        """The :class:`Variant` ``trial`` trains: its role (recorded on the trial as
        :meth:`is_baseline` does), config, values, changes and training seed. A variant whose
        values do not apply comes back with ``cfg`` ``None`` and the reason in ``error``; nothing
        is raised."""
        baseline = self.is_baseline(trial)
        role = self.role(trial, baseline)
        seed = trial_seed(self.seed, trial.number)
        repeat_of = trial.user_attrs.get(Attr.REPEAT_OF)
        try:
            cfg, values = self.variant(trial, baseline)
        except spacemod.SpaceError as exc:
            return Variant(trial.number, role, dict(trial.params), (), None, str(exc), seed, repeat_of)
        return Variant(trial.number, role, values, tuple(cfgmod.diff(self.sized_base, cfg)), cfg, "", seed, repeat_of)
