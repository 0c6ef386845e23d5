"""What a study spent: training steps and wall time by trial outcome, and what pruning saved.

Every trial records the steps it trained and its wall time (:data:`Attr.STEPS`,
:data:`Attr.WALL_SECONDS`). Steps saved by pruning are exact (``--steps`` minus the steps a
pruned trial trained); time saved is an estimate, and smaller than the steps suggest, because a
pruned trial has already paid the OD API's start-up (about a minute per trial on a CPU): each
pruned trial is counted as saving the median wall time of the completed trials minus its own.
"""
from __future__ import annotations

import dataclasses
import enum
import statistics
from typing import Iterable

from optuna.trial import FrozenTrial, TrialState

from tuner.runinfo import Attr


class Spent(str, enum.Enum):
    """How a trial that used compute ended."""

    COMPLETED = "completed"
    PRUNED = "pruned"
    FAILED = "failed"      # failed or interrupted: compute spent on no result
    INFEASIBLE = "infeasible"  # over the deployment budget: costed, never trained


@dataclasses.dataclass
class Spend:
    """Trials, steps and wall seconds of one outcome."""

    trials: int = 0
    steps: int = 0
    seconds: float = 0.0


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s``."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@dataclasses.dataclass
class ComputeTally:
    """Running totals (not thread-safe: the caller locks). ``steps`` is ``--steps`` per trial."""

    steps: int
    spend: dict[Spent, Spend] = dataclasses.field(default_factory=lambda: {k: Spend() for k in Spent})
    steps_saved: int = 0
    _completed_seconds: list[float] = dataclasses.field(default_factory=list)
    _pruned_seconds: list[float] = dataclasses.field(default_factory=list)

    def add(self, outcome: Spent, steps: int, seconds: float) -> None:
        entry = self.spend[outcome]
        entry.trials += 1
        entry.steps += max(0, int(steps))
        entry.seconds += max(0.0, float(seconds))
        if outcome is Spent.PRUNED:
            self.steps_saved += max(0, self.steps - int(steps))
            self._pruned_seconds.append(float(seconds))
        elif outcome is Spent.COMPLETED:
            self._completed_seconds.append(float(seconds))

    @property
    def seconds_saved(self) -> float | None:
        """Estimated wall time pruning saved (``None`` before any trial completed)."""
        if not self._pruned_seconds:
            return 0.0
        if not self._completed_seconds:
            return None
        typical = statistics.median(self._completed_seconds)
        return sum(max(0.0, typical - s) for s in self._pruned_seconds)

    @property
    def total(self) -> Spend:
        return Spend(sum(s.trials for s in self.spend.values()), sum(s.steps for s in self.spend.values()),
                     sum(s.seconds for s in self.spend.values()))

    def saved_text(self) -> str:
        pruned = self.spend[Spent.PRUNED]
        if not pruned.trials:
            return "pruning saved nothing yet"
        share = self.steps_saved / (pruned.trials * self.steps) if self.steps else 0.0
        saved = self.seconds_saved
        time_text = f"~{duration(saved)} of wall time" if saved is not None else "wall time unknown until a trial completes"
        return f"pruning saved {self.steps_saved} steps ({share:.0%} of the pruned trials' budget), {time_text}"

    def line(self) -> str:
        """One line for the progress display."""
        parts = [f"{k.value} {s.trials} ({s.steps} steps, {duration(s.seconds)})" for k, s in self._shown()]
        return "[compute] " + ", ".join(parts) + "; " + self.saved_text()

    def lines(self) -> list[str]:
        """The summary's compute block."""
        total = self.total
        out = [f"compute: {total.steps} steps, {duration(total.seconds)} of trial wall time over {total.trials} trials"]
        for kind, s in self._shown():
            out.append(f"  {kind.value:<10} {s.trials:>3} trials  {s.steps:>7} steps  {duration(s.seconds):>7}")
        out.append(f"  {self.saved_text()}")
        return out

    def _shown(self) -> list[tuple[Spent, Spend]]:
        """Every outcome, except infeasible while there is none (studies without a budget)."""
        return [(k, s) for k, s in self.spend.items() if k is not Spent.INFEASIBLE or s.trials]

    @classmethod
    def from_trials(cls, trials: Iterable[FrozenTrial], steps: int) -> ComputeTally:
        """Totals over finished trials (running and waiting ones are left out)."""
        tally = cls(steps)
        for trial in trials:
            outcome = _spent(trial)
            if outcome is not None:
                tally.add(outcome, int(trial.user_attrs.get(Attr.STEPS, 0) or 0),
                          float(trial.user_attrs.get(Attr.WALL_SECONDS, 0.0) or 0.0))
        return tally


def _spent(trial: FrozenTrial) -> Spent | None:
    if trial.state == TrialState.PRUNED and trial.user_attrs.get(Attr.INFEASIBLE):
        return Spent.INFEASIBLE
    return {TrialState.COMPLETE: Spent.COMPLETED, TrialState.PRUNED: Spent.PRUNED,
            TrialState.FAIL: Spent.FAILED}.get(trial.state)
