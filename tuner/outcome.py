"""Typed results of a trial: evaluations, the final outcome and its failure class."""
from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any, Mapping


class Status(str, enum.Enum):
    """How a trial ended."""

    COMPLETED = "completed"
    STOPPED = "stopped"      # stop() was called (pruned, interrupted)
    FAILED = "failed"


class FailureClass(enum.StrEnum):
    """Why a failed trial failed; the value (also its ``str()``) is what a study stores as the
    ``failure_class`` attribute.

    A runner reports the first five (:attr:`TrialOutcome.failure`). The last three are recorded
    only by the study, on Optuna trials that never reached a verdict on their config: they are
    not counted toward ``--n-trials``, and the first two are re-run on resume.
    """

    CONFIG = "config"        # the OD API rejected the config (or the sampled values break it)
    NAN = "nan"              # the loss became NaN or infinite
    OOM = "oom"              # out of memory (host or device)
    CRASH = "crash"          # any other non-zero exit
    TIMEOUT = "timeout"      # the trial ran past its time budget
    INTERRUPTED = "interrupted"  # study only: the user interrupted the study while it ran (re-run)
    ORPHANED = "orphaned"    # study only: its worker died or stopped sending heartbeats (re-run)
    DUPLICATE = "duplicate"  # study only: a second re-run of the same trial, failed without training


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The metrics of one evaluated checkpoint (COCO tags as the OD API writes them)."""

    step: int
    metrics: Mapping[str, float]
    checkpoint: str = ""

    def value(self, tag: str) -> float:
        """The metric ``tag``, NaN when absent."""
        return float(self.metrics.get(tag, math.nan))


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """Everything known about a finished trial; serialised to ``result.json``."""

    status: Status
    failure: FailureClass | None
    reason: str
    evaluations: tuple[Evaluation, ...]
    best: Evaluation | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    wall_seconds: float
    log_tail: str = ""
    steps_trained: int = 0   # training steps run (all of them when completed; fewer when stopped or failed)
    seed: int | None = None  # the trainer's seed (None: unseeded)
    deterministic: bool = False  # whether the trainer ran with TensorFlow's op determinism

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        data["failure"] = self.failure.value if self.failure else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialOutcome:
        def evaluation(d: Mapping[str, Any] | None) -> Evaluation | None:
            return None if d is None else Evaluation(int(d["step"]), dict(d["metrics"]), d.get("checkpoint", ""))

        return cls(
            status=Status(data["status"]),
            failure=FailureClass(data["failure"]) if data.get("failure") else None,
            reason=data.get("reason", ""),
            evaluations=tuple(e for e in map(evaluation, data.get("evaluations", ())) if e),
            best=evaluation(data.get("best")),
            best_checkpoint=data.get("best_checkpoint"),
            last_checkpoint=data.get("last_checkpoint"),
            wall_seconds=float(data.get("wall_seconds", 0.0)),
            log_tail=data.get("log_tail", ""),
            steps_trained=int(data.get("steps_trained", 0)),
            seed=None if data.get("seed") is None else int(data["seed"]),
            deterministic=bool(data.get("deterministic", False)),
        )

