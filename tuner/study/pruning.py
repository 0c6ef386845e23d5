"""When a study may stop a trial early: the pruning policy, its defaults and the rule behind them.

A from-scratch detector reads mAP ~0 at its first evaluations whatever its config, and learning
curves cross late (measured: ``bench/pruning.py``, docs/usage/study.md "Pruning"). A pruner that compares
those first readings compares noise and kills the eventual best. So every pruner a study builds
here is guarded by two conditions before Optuna's own rule is asked at all:

* **warm-up**: no trial is pruned before step ``ceil(prune_after * steps)`` (``--prune-after``,
  a fraction of ``--steps``); Hyperband's first rung sits at the warm-up too;
* **comparison set**: no trial is pruned before ``min_trials`` trials have completed.

Pruning at a trial's final evaluation saves nothing and would hide a finished result from the
sampler, so the last step never prunes.

``--pruner auto`` (the default) prunes with the median rule only when the study's shape leaves
room for it: at least :data:`MIN_DECISIONS` evaluations between the warm-up and the last step
(with fewer, the replay found no setting that kept the best trial in every study).
Otherwise it says so at start, does not prune, and names the ``--eval-every`` that would make
pruning possible. ``median`` and ``hyperband`` prune as asked (still guarded); ``none`` never
prunes.
"""
from __future__ import annotations

import dataclasses
import enum
import math

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

#: Default warm-up: the fraction of ``--steps`` before which no trial is pruned.
DEFAULT_PRUNE_AFTER = 0.5
#: Default number of completed trials a pruned trial must be compared with.
DEFAULT_MIN_TRIALS = 4
#: ``auto`` prunes only with at least this many evaluations in [warm-up, last step). Measured
#: (docs/benchmarks.md "Search quality", 2026-12-01): with 2 (200 steps evaluated every 50), every replayed
#: setting pruned the final best trial in at least 1 of 6 studies.
MIN_DECISIONS = 3


class PruningError(ValueError):
    """A pruning setting is out of range (the message names the flag and the fix)."""


class PrunerKind(enum.StrEnum):
    """The ``--pruner`` choices."""

    AUTO = "auto"
    MEDIAN = "median"
    HYPERBAND = "hyperband"
    NONE = "none"

    @classmethod
    def parse(cls, name: str) -> PrunerKind:
        """Raises:
            PruningError: ``name`` is not a pruner (no silent fallback).
        """
        try:
            return cls(name)
        except ValueError:
            raise PruningError(f"--pruner must be one of {', '.join(k.value for k in cls)} (got {name!r})") from None


@dataclasses.dataclass(frozen=True)
class PruningPlan:
    """What a study will do about pruning, decided before it starts.

    Attributes:
        requested: the ``--pruner`` given.
        kind: what runs (never ``AUTO``).
        steps, eval_every: the study's budget.
        warmup_steps: no trial is pruned at an evaluation before this step.
        min_trials: completed trials needed before any trial is pruned.
        decision_steps: evaluation steps at which a trial can be pruned.
        note: one line for the user when the plan differs from what a newcomer might expect
            ('' when there is nothing to say).
    """

    requested: PrunerKind
    kind: PrunerKind
    steps: int
    eval_every: int
    warmup_steps: int
    min_trials: int
    decision_steps: tuple[int, ...]
    note: str = ""

    def describe(self) -> str:
        """One line: the rule in force."""
        if self.kind is PrunerKind.NONE:
            return "pruning: off"
        return (f"pruning: {self.kind.value}, from step {self.warmup_steps} of {self.steps} once {self.min_trials} "
                f"trials have completed (decisions at steps {', '.join(map(str, self.decision_steps))})")

    def build(self) -> BasePruner:
        """The Optuna pruner of this plan (guarded as the module docstring says)."""
        if self.kind is PrunerKind.NONE or not self.decision_steps:
            return optuna.pruners.NopPruner()
        if self.kind is PrunerKind.HYPERBAND:
            inner: BasePruner = optuna.pruners.HyperbandPruner(
                min_resource=self.warmup_steps, max_resource=self.steps, reduction_factor=3)
        else:
            inner = optuna.pruners.MedianPruner(n_startup_trials=self.min_trials, n_warmup_steps=self.warmup_steps,
                                                n_min_trials=self.min_trials)
        return GuardedPruner(inner, warmup_steps=self.warmup_steps, last_step=self.steps, min_trials=self.min_trials)


class GuardedPruner(BasePruner):
    """Prunes only when ``inner`` says so, the trial is past the warm-up and before its last
    step, and ``min_trials`` trials have completed. ``inner`` is asked at every report even when
    its answer is ignored: Hyperband records each trial's rung values as it is asked, and a rung
    must hold the early trials' values to compare later ones with. Thread-safe as ``inner`` is."""

    def __init__(self, inner: BasePruner, *, warmup_steps: int, last_step: int, min_trials: int) -> None:
        self.inner = inner
        self.warmup_steps = warmup_steps
        self.last_step = last_step
        self.min_trials = min_trials

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        verdict = self.inner.prune(study, trial)
        if step < self.warmup_steps or step >= self.last_step:
            return False
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < self.min_trials:
            return False
        return verdict


def warmup_steps(steps: int, prune_after: float) -> int:
    """The first step at which a trial may be pruned: ``ceil(prune_after * steps)``, at least 1."""
    return max(1, math.ceil(prune_after * steps - 1e-9))


def decision_steps(steps: int, eval_every: int, prune_after: float) -> tuple[int, ...]:
    """Evaluation steps in [warm-up, ``steps``): where a trial can be pruned."""
    first = warmup_steps(steps, prune_after)
    return tuple(s for s in range(eval_every, steps, eval_every) if s >= first)


def suggest_eval_every(steps: int, prune_after: float, decisions: int = MIN_DECISIONS) -> int | None:
    """The largest ``--eval-every`` (a divisor of ``steps``) that gives ``decisions`` pruning
    points; ``None`` if no divisor does."""
    for every in sorted((d for d in range(1, steps + 1) if steps % d == 0), reverse=True):
        if len(decision_steps(steps, every, prune_after)) >= decisions:
            return every
    return None


def plan(requested: PrunerKind | str, steps: int, eval_every: int, *, prune_after: float | None = None,
         min_trials: int | None = None, asked: bool = True) -> PruningPlan:
    """Decide the pruning of a study of ``steps`` steps evaluated every ``eval_every``
    (``asked``: the user gave that ``--eval-every``; else it is the study's checkpoint grid,
    :mod:`tuner.study.evaluation`, and the note says so).

    Raises:
        PruningError: ``prune_after`` outside [0, 1) or ``min_trials`` < 1.
    """
    kind = requested if isinstance(requested, PrunerKind) else PrunerKind.parse(requested)
    after = DEFAULT_PRUNE_AFTER if prune_after is None else float(prune_after)
    if not (math.isfinite(after) and 0.0 <= after < 1.0):
        raise PruningError(f"--prune-after must be a fraction of --steps in [0, 1) (got {after:g}); e.g. 0.5 "
                           "prunes only in a trial's second half")
    needed = DEFAULT_MIN_TRIALS if min_trials is None else int(min_trials)
    if needed < 1:
        raise PruningError(f"--prune-min-trials must be >= 1 (got {needed})")
    points = decision_steps(steps, eval_every, after)
    first = warmup_steps(steps, after)
    common = dict(requested=kind, steps=steps, eval_every=eval_every, warmup_steps=first, min_trials=needed)
    if kind is PrunerKind.NONE:
        return PruningPlan(kind=PrunerKind.NONE, decision_steps=(), **common)  # type: ignore[arg-type]
    if len(points) >= MIN_DECISIONS:
        return PruningPlan(kind=PrunerKind.MEDIAN if kind is PrunerKind.AUTO else kind, decision_steps=points,
                           **common)  # type: ignore[arg-type]
    suggestion = suggest_eval_every(steps, after)
    hint = f"--eval-every {suggestion}" if suggestion else "more --steps or a smaller --prune-after"
    where = (f"{len(points)} evaluation{'s' if len(points) != 1 else ''} (step "
             f"{', '.join(map(str, points))})" if points else "no evaluation")
    grid = f"--eval-every {eval_every}" if asked else f"a reading at most every {eval_every} steps"
    shape = (f"with --steps {steps}, {grid} and --prune-after {after:g} a trial has {where} between "
             f"its warm-up (step {first}) and its end")
    if kind is PrunerKind.AUTO:
        note = (f"pruning off: {shape}, too few to tell a slow starter from a bad config; {hint} would allow it "
                "(or --pruner median to prune anyway)")
        return PruningPlan(kind=PrunerKind.NONE, decision_steps=(), note=note, **common)  # type: ignore[arg-type]
    note = f"pruning as asked ({kind.value}), but {shape}: decisions rest on {len(points)} noisy reading(s); {hint} " \
           "gives the pruner more to go on"
    return PruningPlan(kind=kind, decision_steps=points, note=note, **common)  # type: ignore[arg-type]


def build_pruner(kind: str, steps: int, eval_every: int, prune_after: float | None = None,
                 min_trials: int | None = None) -> BasePruner:
    """The pruner a study with these settings uses (``bench/pruning.py`` replays it)."""
    return plan(kind, steps, eval_every, prune_after=prune_after, min_trials=min_trials).build()
