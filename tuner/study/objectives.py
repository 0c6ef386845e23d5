"""What a study optimizes: mAP alone, or mAP against the deployed model's latency or size.

``--objectives map`` (the default) is a single-objective study: Optuna maximizes mAP, reports
each evaluation and may prune. ``--objectives map,latency`` (or ``map,size``) is a
multi-objective study: Optuna maximizes mAP and minimizes the TFLite model's median latency
(ms) or file size (KB), both measured before training (:mod:`tuner.study.budget`, cached by
architecture). Optuna cannot prune a multi-objective study (``Trial.report`` is single-objective
only: optuna#3450, #2135), so such a study trains every trial to its end and says so at start;
its result is a Pareto front (:func:`pareto_front`), not one best trial.

mAP is always the first value, so :func:`tuner.runinfo.map_value` reads any study's mAP.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Sequence

from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from tuner.deploy.cost import Cost
from tuner.runinfo import map_value

#: Metric name of mAP, as optuna-dashboard shows it.
MAP_NAME = "mAP"


class ObjectivesError(ValueError):
    """``--objectives`` is not one of the accepted forms (the message names the fix)."""


class Secondary(enum.StrEnum):
    """The deployment cost a multi-objective study minimizes beside mAP."""

    LATENCY = "latency"
    SIZE = "size"

    @property
    def metric_name(self) -> str:
        return {Secondary.LATENCY: "latency ms", Secondary.SIZE: "size KB"}[self]

    def of(self, cost: Cost) -> float:
        """This objective's value of a measured ``cost``."""
        return cost.latency_ms if self is Secondary.LATENCY else cost.size_kb


@dataclasses.dataclass(frozen=True)
class Objectives:
    """The study's objectives: mAP, and optionally one deployment cost (``secondary``)."""

    secondary: Secondary | None = None

    @classmethod
    def parse(cls, text: str) -> Objectives:
        """``map``, ``map,latency`` or ``map,size`` (case and spaces ignored).

        Raises:
            ObjectivesError: anything else.
        """
        names = [n.strip().lower() for n in str(text).split(",") if n.strip()]
        if names == ["map"]:
            return cls()
        if len(names) == 2 and names[0] == "map" and names[1] in {s.value for s in Secondary}:
            return cls(Secondary(names[1]))
        raise ObjectivesError(f"--objectives {text!r} is not one of map, map,latency, map,size; mAP comes first, "
                              "then at most one deployment cost")

    @property
    def multi(self) -> bool:
        return self.secondary is not None

    @property
    def text(self) -> str:
        """The ``--objectives`` form (``map`` or ``map,latency`` ...)."""
        return "map" if self.secondary is None else f"map,{self.secondary.value}"

    @property
    def directions(self) -> list[StudyDirection]:
        return [StudyDirection.MAXIMIZE] + ([StudyDirection.MINIMIZE] if self.multi else [])

    @property
    def metric_names(self) -> list[str]:
        """Names of the values, in order (``Study.set_metric_names``: optuna-dashboard's axes)."""
        return [MAP_NAME] + ([self.secondary.metric_name] if self.secondary is not None else [])

    def values(self, map_: float, cost: Cost | None) -> float | tuple[float, float]:
        """What the objective returns to Optuna for a trial of mAP ``map_`` and ``cost``.

        Raises:
            ValueError: a multi-objective study without the trial's cost (a bug: such a
                study costs every trial).
        """
        if self.secondary is None:
            return map_
        if cost is None:
            raise ValueError("a multi-objective study needs every trial's cost")
        return map_, self.secondary.of(cost)

    def note(self) -> str:
        """The study's start line about its objectives ('' for plain mAP)."""
        if self.secondary is None:
            return ""
        return (f"objectives: maximize mAP, minimize the TFLite model's {self.secondary.metric_name} (measured before "
                "training); pruning is off: Optuna cannot prune a multi-objective study (optuna#3450), so every "
                "trial trains all its steps; the summary shows the Pareto front")

    @classmethod
    def of_study(cls, directions: Sequence[StudyDirection], metric_names: Sequence[str] | None) -> Objectives | None:
        """The objectives a stored study was created with (``None``: not one this tool creates)."""
        if len(directions) == 1 and directions[0] == StudyDirection.MAXIMIZE:
            return cls()
        if len(directions) == 2 and metric_names:
            for secondary in Secondary:
                if list(metric_names) == [MAP_NAME, secondary.metric_name]:
                    return cls(secondary)
        return None


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[StudyDirection]) -> bool:
    """Whether values ``a`` are at least as good as ``b`` in every objective and better in one."""
    better = False
    for x, y, direction in zip(a, b, directions):
        if direction == StudyDirection.MINIMIZE:
            x, y = -x, -y
        if x < y:
            return False
        better = better or x > y
    return better


def pareto_front(trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> list[FrozenTrial]:
    """The trials no other trial of ``trials`` dominates, by mAP (best first).

    Only trials with values count; of trials with equal values the lowest number stays (a
    confirmation repeat of the same architecture does not push its leader off the front).
    """
    valued = [t for t in trials if t.values]
    front: list[FrozenTrial] = []
    seen: set[tuple[float, ...]] = set()
    for t in sorted(valued, key=lambda t: t.number):
        key = tuple(t.values)
        if key in seen or any(dominates(o.values, t.values, directions) for o in valued):
            continue
        seen.add(key)
        front.append(t)
    return sorted(front, key=lambda t: (-(map_value(t) or 0.0), t.number))
