"""The confirmation phase: the baseline and the top ``K`` trials trained ``R`` more times.

A single short run cannot tell a 5-point lift from noise, and picking the maximum of single
runs picks the luckiest draw (the winner's curse). After the search, :func:`enqueue_repeats`
enqueues ``R`` repeats of each leader (:func:`leaders`: the baseline and the best ``K``
completed search trials) as trials of the same study: each carries its parent's parameters and
attributes (:data:`Attr.REPEAT_OF` = the parent's number) and, being a new trial number, a new
training seed (:func:`tuner.study.seeds.trial_seed`). Repeats are never pruned, never counted
toward ``--n-trials`` and never shown to the sampler (:mod:`tuner.study.sampling`).

:func:`confirm` then groups every leader's runs (the parent and its completed repeats). The
parent of a searched leader is its *selecting* run: it was the maximum of the search's single
runs, so it is biased upward (the winner's curse) and is shown, not used. Each leader is judged
on its *fresh* runs: its repeats, and every run of the baseline (a leader by rule, never
selected). The pick is the leader with the best fresh mean; the noise is the run-to-run standard
deviation pooled over every leader with two or more fresh runs; the lift over the baseline gets
a 90 % pooled-t interval, and :func:`verdict` says "a lift" only when that interval lies above 0
(:mod:`tuner.study.verdict`). :func:`record` stores all of it on the study (study user attributes
:data:`PICK` and :data:`NOISE`) for ``tflite.convert``, ``tuner.report``, the notebook and the
dashboard.

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
from tuner.study.verdict import LEVEL, Interval, Noise, lift_interval, pooled_noise, words

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
    """A leader and its runs (the parent first, then its repeats in trial order).

    The parent of a searched leader is its selecting run (:attr:`selecting`); its other runs are
    fresh (:attr:`fresh`). Every run of the baseline is fresh: the baseline is a leader by rule.
    """

    number: int
    baseline: bool
    runs: tuple[Run, ...]

    @property
    def selecting(self) -> Run | None:
        """The search run that made it a leader (None for the baseline)."""
        return None if self.baseline or not self.runs else self.runs[0]

    @property
    def fresh(self) -> tuple[Run, ...]:
        """The runs that were not selected: what the config's estimate rests on."""
        return self.runs if self.baseline else self.runs[1:]

    @property
    def fresh_values(self) -> list[float]:
        return [r.value for r in self.fresh]

    @property
    def mean(self) -> float:
        """The mean of the fresh runs (nan without any)."""
        return statistics.fmean(self.fresh_values) if self.fresh else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation of the fresh runs (0 for fewer than two)."""
        return statistics.stdev(self.fresh_values) if len(self.fresh) > 1 else 0.0

    @property
    def best_run(self) -> Run:
        """The run with the highest value (its checkpoint is the one to deploy)."""
        return max(self.runs, key=lambda r: (r.value, -r.number))

    def to_json(self) -> dict[str, Any]:
        return {"trial": self.number, "baseline": self.baseline, "mean": _finite(self.mean), "std": self.std,
                "fresh": [r.number for r in self.fresh],
                "selecting": self.selecting.number if self.selecting else None,
                "runs": [dataclasses.asdict(r) for r in self.runs]}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """The leaders with their runs, the baseline among them, the pick (best fresh mean), the
    pooled noise and the lift's interval."""

    leaders: tuple[Leader, ...]
    repeats: int
    level: float = LEVEL

    @property
    def base(self) -> Leader | None:
        return next((leader for leader in self.leaders if leader.baseline), None)

    @property
    def pick(self) -> Leader | None:
        """The leader with the best fresh mean (ties: more fresh runs, then the lower trial
        number); leaders without a fresh run yet are not candidates."""
        candidates = [leader for leader in self.leaders if leader.fresh]
        if not candidates:
            return None
        return max(candidates, key=lambda leader: (leader.mean, len(leader.fresh), -leader.number))

    @property
    def noise(self) -> Noise | None:
        """The run-to-run standard deviation pooled over the leaders with >= 2 fresh runs."""
        return pooled_noise([leader.fresh_values for leader in self.leaders])

    @property
    def interval(self) -> Interval | None:
        """The pick's lift over the baseline with its interval (None: no pick other than the
        baseline, no baseline, or no noise estimate)."""
        pick, base, noise = self.pick, self.base, self.noise
        if pick is None or base is None or pick is base or noise is None:
            return None
        return lift_interval(pick.fresh_values, base.fresh_values, noise, self.level)

    @property
    def complete(self) -> bool:
        """Whether every leader has all its runs."""
        return all(len(leader.runs) >= 1 + self.repeats for leader in self.leaders)

    def to_json(self) -> dict[str, Any]:
        pick, noise, interval = self.pick, self.noise, self.interval
        return {"trial": pick.number if pick else None, "best_run": pick.best_run.number if pick else None,
                "repeats": self.repeats, "complete": self.complete, "verdict": verdict(self),
                "noise": noise.to_json() if noise else None, "interval": interval.to_json() if interval else None,
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
    """The pick's lift over the baseline, with its interval, in words that follow the interval
    (:func:`tuner.study.verdict.words`)."""
    pick, base, noise = confirmation.pick, confirmation.base, confirmation.noise
    if pick is None:
        return "no leader has a fresh run yet (run the same command again to finish the confirmation)"
    if base is None:
        return (f"trial {pick.number}: mean {pick.mean:.4f} over {len(pick.fresh)} fresh runs (no completed baseline "
                "to compare)")
    if pick is base:
        return (f"the base config has the best fresh mean ({base.mean:.4f} over {len(base.fresh)} runs): no variant "
                "beat it once repeated")
    interval = confirmation.interval
    if interval is None:
        lift = pick.mean - base.mean
        return (f"{_pts(lift)} ({len(pick.fresh)} fresh runs vs {len(base.fresh)}): not established; no configuration "
                "has 2 fresh runs to estimate the noise from (repeat with --confirm/--repeats)")
    return words(interval, noise)


def record(study: optuna.Study, confirmation: Confirmation) -> None:
    """Store the pick (with its interval and verdict) and the pooled noise on the study."""
    study.set_user_attr(PICK, confirmation.to_json())
    noise = confirmation.noise
    if noise is not None:
        study.set_user_attr(NOISE, {**noise.to_json(), "leaders": {str(leader.number): leader.fresh_values
                                                                   for leader in confirmation.leaders
                                                                   if len(leader.fresh) > 1}})


def lines(confirmation: Confirmation) -> list[str]:
    """The summary's confirmation block: a table of the leaders' runs (the selecting search run
    apart from the fresh ones), the pick, its verdict and the pooled noise."""
    if not confirmation.leaders:
        return []
    header = ("trial", "fresh runs", "fresh mean", "std", "selecting run", "each fresh run (trial: mAP)")
    rows = [(str(leader.number) + (" (base)" if leader.baseline else ""), str(len(leader.fresh)),
             f"{leader.mean:.4f}" if leader.fresh else "-", f"{leader.std:.4f}" if len(leader.fresh) > 1 else "-",
             f"{leader.selecting.number}: {leader.selecting.value:.4f}" if leader.selecting else "- (not selected)",
             ", ".join(f"{r.number}: {r.value:.4f}" for r in leader.fresh) or "-")
            for leader in confirmation.leaders]
    out = [f"confirmation: the baseline and the top {len(confirmation.leaders) - (confirmation.base is not None)} "
           f"trained {confirmation.repeats} more times with other seeds; each is judged on its fresh runs (a "
           "leader's selecting search run is biased upward and left out)"]
    out += text_table(header, rows)
    if not confirmation.complete:
        out.append("  (some repeats are missing: run the same command again to finish them)")
    pick = confirmation.pick
    if pick is not None:
        out.append(f"pick: trial {pick.number} (best fresh mean {pick.mean:.4f}); {verdict(confirmation)}")
    noise = confirmation.noise
    if noise is not None:
        out.append(f"noise: run-to-run std {100 * noise.sd:.1f} pts, pooled over {noise.configs} configuration(s) "
                   f"with 2+ fresh runs ({noise.df} degree(s) of freedom)")
    else:
        out.append("noise: not estimated (no configuration has 2 fresh runs)")
    return out
