"""The confirmation phase: the baseline and the top ``K`` trials trained ``R`` more times.

A single short run cannot tell a 5-point lift from noise, and picking the maximum of single
runs picks the luckiest draw (the winner's curse). After the search, :func:`enqueue_repeats`
enqueues ``R`` repeats of each leader (:func:`leaders`: the baseline and the best ``K``
completed search trials) as trials of the same study: each carries its parent's parameters and
attributes (:data:`Attr.REPEAT_OF` = the parent's number) and, being a new trial number, a new
training seed (:func:`tuner.study.seeds.trial_seed`). Repeats are never pruned, never counted
toward ``--n-trials`` and never shown to the sampler (:mod:`tuner.study.sampling`).

:func:`confirm` then groups every leader's runs (the parent and its completed repeats) and
picks the best mean; :func:`verdict` says in words whether the pick's lift over the baseline
exceeds the spread of the runs. :func:`record` stores the result on the study (study user
attributes :data:`PICK` and :data:`NOISE`) for ``tflite.convert``, the notebook and the dashboard.

Resume: every repeat slot ``(parent, i)`` is claimed once in the storage before it is enqueued,
so a resumed study (or a second worker) never enqueues a repeat twice; a repeat that was
interrupted is re-run like any interrupted trial (:func:`tuner.study.storage.recover` keeps its
``repeat_of``).
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.cli import text_table
from tuner.runinfo import Attr, StudyAttr, map_value
from tuner.study import storage as storagemod

#: Default ``--confirm``: the baseline and the 2 best trials are repeated ...
CONFIRM = 2
#: ... ``--repeats`` more times each: 3 runs per leader, 6 more trials per study.
REPEATS = 2
PICK = StudyAttr.CONFIRMED_PICK
NOISE = StudyAttr.BASELINE_NOISE
_SLOT = "odapi_tuner:repeat:{parent}:{index}"


def is_repeat(trial: FrozenTrial | optuna.Trial) -> bool:
    """Whether ``trial`` is a confirmation repeat of another trial."""
    return trial.user_attrs.get(Attr.REPEAT_OF) is not None


def _complete(trial: FrozenTrial) -> bool:
    value = map_value(trial)
    return trial.state is TrialState.COMPLETE and value is not None and math.isfinite(value)


def leaders(trials: Sequence[FrozenTrial], k: int) -> list[FrozenTrial]:
    """The trials to repeat: the baseline (its latest completed run, if it was re-run) first,
    then the ``k`` best completed search trials (repeats and the baseline excluded), best first."""
    search = [t for t in trials if _complete(t) and not is_repeat(t)]
    bases = [t for t in search if t.user_attrs.get(Attr.BASELINE)]
    others = sorted((t for t in search if not t.user_attrs.get(Attr.BASELINE)),
                    key=lambda t: (-(map_value(t) or 0.0), t.number))
    return bases[-1:] + others[:max(0, k)]


def _repeat_attrs(parent: FrozenTrial) -> dict[str, Any]:
    attrs: dict[str, Any] = {Attr.REPEAT_OF: parent.number}
    for key in (Attr.BASELINE, Attr.FITTED_ANCHORS):
        if parent.user_attrs.get(key):
            attrs[key] = True
    return attrs


def enqueue_repeats(study: optuna.Study, k: int, repeats: int) -> list[tuple[int, int]]:
    """Enqueue the missing repeats of every leader of ``study``.

    Returns:
        ``(parent number, repeat index)`` of each repeat enqueued now (slots claimed earlier,
        by this process or another, are skipped).
    """
    if repeats <= 0:
        return []
    enqueued = []
    for parent in leaders(study.get_trials(deepcopy=False), k):
        for index in range(repeats):
            if storagemod.claim(study, _SLOT.format(parent=parent.number, index=index)):
                study.enqueue_trial(parent.params, user_attrs=_repeat_attrs(parent), skip_if_exists=False)
                enqueued.append((parent.number, index))
    return enqueued


def pending(study: optuna.Study) -> int:
    """Repeats enqueued and not yet taken by a worker."""
    return sum(is_repeat(t) for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


@dataclasses.dataclass(frozen=True)
class Run:
    """One completed run of a leader."""

    number: int
    value: float
    seed: int | None
    checkpoint: str | None


@dataclasses.dataclass(frozen=True)
class Leader:
    """A leader and its runs (the parent first, then its repeats in trial order)."""

    number: int
    baseline: bool
    runs: tuple[Run, ...]

    @property
    def values(self) -> list[float]:
        return [r.value for r in self.runs]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (0 for a single run)."""
        return statistics.stdev(self.values) if len(self.runs) > 1 else 0.0

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    @property
    def spread(self) -> float:
        return self.high - self.low

    @property
    def best_run(self) -> Run:
        """The run with the highest value (its checkpoint is the one to deploy)."""
        return max(self.runs, key=lambda r: (r.value, -r.number))

    def to_json(self) -> dict[str, Any]:
        return {"trial": self.number, "baseline": self.baseline, "mean": self.mean, "std": self.std,
                "runs": [dataclasses.asdict(r) for r in self.runs]}


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """The leaders with their runs, the baseline among them, and the pick (best mean)."""

    leaders: tuple[Leader, ...]
    repeats: int

    @property
    def base(self) -> Leader | None:
        return next((leader for leader in self.leaders if leader.baseline), None)

    @property
    def pick(self) -> Leader | None:
        """The leader with the best mean (ties: more runs, then the lower trial number)."""
        if not self.leaders:
            return None
        return max(self.leaders, key=lambda leader: (leader.mean, len(leader.runs), -leader.number))

    @property
    def complete(self) -> bool:
        """Whether every leader has all its runs."""
        return all(len(leader.runs) >= 1 + self.repeats for leader in self.leaders)

    def to_json(self) -> dict[str, Any]:
        pick = self.pick
        return {"trial": pick.number if pick else None, "best_run": pick.best_run.number if pick else None,
                "repeats": self.repeats, "complete": self.complete, "verdict": verdict(self),
                "leaders": [leader.to_json() for leader in self.leaders]}


def confirm(trials: Sequence[FrozenTrial], k: int, repeats: int) -> Confirmation:
    """Group the runs of each leader of ``trials`` (see :func:`leaders`)."""
    by_parent: dict[int, list[FrozenTrial]] = {}
    for trial in trials:
        if is_repeat(trial) and _complete(trial):
            by_parent.setdefault(int(trial.user_attrs[Attr.REPEAT_OF]), []).append(trial)
    found = []
    for parent in leaders(trials, k):
        runs = [parent, *sorted(by_parent.get(parent.number, []), key=lambda t: t.number)]
        found.append(Leader(parent.number, bool(parent.user_attrs.get(Attr.BASELINE)), tuple(
            Run(t.number, map_value(t) or 0.0, t.user_attrs.get(Attr.SEED),
                t.user_attrs.get(Attr.BEST_CHECKPOINT)) for t in runs)))
    return Confirmation(tuple(found), repeats)


def _pts(value: float) -> str:
    """A difference in mAP as points (mAP x 100), signed."""
    return f"{100 * value:+.1f} pts"


def verdict(confirmation: Confirmation) -> str:
    """The pick's lift over the baseline against the noise, in words."""
    pick, base = confirmation.pick, confirmation.base
    if pick is None:
        return "no leader completed"
    if base is None:
        return f"trial {pick.number}: mean {pick.mean:.4f} over {len(pick.runs)} runs (no completed baseline to compare)"
    if pick is base:
        return (f"the base config has the best mean ({base.mean:.4f} over {len(base.runs)} runs): no variant beat it "
                "once repeated")
    lift = pick.mean - base.mean
    runs = (f"{len(pick.runs)} runs each" if len(pick.runs) == len(base.runs)
            else f"{len(pick.runs)} and {len(base.runs)} runs")
    if len(pick.runs) < 2 or len(base.runs) < 2:
        return f"{_pts(lift)} vs baseline, single runs: cannot be told from noise (repeat with --confirm/--repeats)"
    if pick.low > base.high:
        return f"{_pts(lift)} vs baseline, {runs}, ranges do not overlap: a real lift"
    return (f"{_pts(lift)} vs baseline, {runs}, within noise (ranges overlap; the baseline's runs spread "
            f"{100 * base.spread:.1f} pts)")


def record(study: optuna.Study, confirmation: Confirmation) -> None:
    """Store the pick and the noise estimate on the study (study user attributes)."""
    study.set_user_attr(PICK, confirmation.to_json())
    base = confirmation.base
    if base is not None:
        study.set_user_attr(NOISE, {"trial": base.number, "runs": base.values, "std": base.std,
                                    "spread": base.spread})


def lines(confirmation: Confirmation) -> list[str]:
    """The summary's confirmation block: a table of the leaders' runs, the pick and its verdict."""
    if not confirmation.leaders:
        return []
    header = ("trial", "runs", "mean", "std", "min", "max", "each run (trial: mAP)")
    rows = [(str(leader.number) + (" (base)" if leader.baseline else ""), str(len(leader.runs)),
             f"{leader.mean:.4f}", f"{leader.std:.4f}", f"{leader.low:.4f}", f"{leader.high:.4f}",
             ", ".join(f"{r.number}: {r.value:.4f}" for r in leader.runs)) for leader in confirmation.leaders]
    out = [f"confirmation: the baseline and the top {len(confirmation.leaders) - (confirmation.base is not None)} "
           f"trained {confirmation.repeats} more times with other seeds"]
    out += text_table(header, rows)
    if not confirmation.complete:
        out.append("  (some repeats are missing: run the same command again to finish them)")
    pick = confirmation.pick
    if pick is not None:
        out.append(f"pick: trial {pick.number} (best mean {pick.mean:.4f}); {verdict(confirmation)}")
    base = confirmation.base
    if base is not None and len(base.runs) > 1:
        out.append(f"noise: the baseline's {len(base.runs)} runs spread {100 * base.spread:.1f} pts "
                   f"(std {100 * base.std:.1f} pts)")
    return out
