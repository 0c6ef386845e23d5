"""A deployment budget for a study: TFLite latency and size limits, checked before training.

With ``--max-latency-ms`` and/or ``--max-size-kb`` every trial's architecture is costed first
(:func:`tuner.deploy.cost.measure_cost`: the untrained model exported, converted to the deploy
variant and timed; cached by architecture hash, so a variant that only changes training knobs
costs nothing more). A variant over budget ends at once, without training, as an *infeasible*
trial: Optuna state PRUNED (it gets no value, so it is never the best), attribute
``infeasible`` = the reason, 0 steps trained. Each costed trial carries its constraint values
(Optuna's ``Trial.set_constraint``: ``latency_ms`` and/or ``size_kb``, measured minus limit,
<= 0 is feasible), which the TPE sampler reads from the trials and so learns to avoid the
infeasible region. The objective stays single (mAP), so pruning keeps working.

:data:`CostMeter` is the seam: the study measures with :func:`real_meter`; tests pass a fake
that derives a cost from the config without TensorFlow.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from pathlib import Path
from typing import Any, Callable, Sequence

from tuner.deploy.cost import Cost, measure_cost

#: Cost of one config (``TrainEvalPipelineConfig``) as the deploy variant; raises
#: :class:`tuner.deploy.cost.CostError` when it cannot be measured.
CostMeter = Callable[[Any], Cost]
#: The cost cache of a run directory (costs depend on the architecture and the machine only).
COST_CACHE_DIR = "cost-cache"


class DeployVariant(enum.StrEnum):
    """The TFLite variant the user deploys (what the budget is measured on)."""

    INT8 = "int8"
    FP16 = "fp16"
    FP32 = "fp32"


@dataclasses.dataclass(frozen=True)
class Budget:
    """Limits on the deployed model. A limit of ``None`` is not checked.

    Attributes:
        max_latency_ms: median latency of one ``invoke`` at ``threads`` threads, in ms.
        max_size_kb: size of the ``.tflite`` file in KiB.
        variant: the deploy variant both are measured on.
        threads: TFLite interpreter threads for the latency.
    """

    max_latency_ms: float | None = None
    max_size_kb: float | None = None
    variant: DeployVariant = DeployVariant.INT8
    threads: int = 2

    @property
    def active(self) -> bool:
        """Whether any limit is set (otherwise nothing is costed)."""
        return self.max_latency_ms is not None or self.max_size_kb is not None

    def check(self) -> str | None:
        """What is wrong with the flags, as one line (``None``: nothing)."""
        for flag, value in (("--max-latency-ms", self.max_latency_ms), ("--max-size-kb", self.max_size_kb)):
            if value is not None and not (math.isfinite(value) and value > 0):
                return f"{flag} must be a positive number (got {value:g})"
        if self.threads < 1:
            return f"--deploy-threads must be >= 1 (got {self.threads})"
        return None

    def violations(self, cost: Cost) -> dict[str, float]:
        """Optuna constraint values of ``cost`` by name (``latency_ms``, ``size_kb``): measured
        minus limit for each set limit (<= 0: within the limit)."""
        out: dict[str, float] = {}
        if self.max_latency_ms is not None:
            out["latency_ms"] = cost.latency_ms - self.max_latency_ms
        if self.max_size_kb is not None:
            out["size_kb"] = cost.size_kb - self.max_size_kb
        return out

    def over(self, cost: Cost) -> str | None:
        """Why ``cost`` is over budget, in words (``None``: within budget)."""
        reasons = []
        if self.max_latency_ms is not None and cost.latency_ms > self.max_latency_ms:
            reasons.append(f"latency {cost.latency_ms:.2f} ms > --max-latency-ms {self.max_latency_ms:g}")
        if self.max_size_kb is not None and cost.size_kb > self.max_size_kb:
            reasons.append(f"size {cost.size_kb:.0f} KB > --max-size-kb {self.max_size_kb:g}")
        if not reasons:
            return None
        return f"over the deployment budget ({self.variant.value} TFLite, {self.threads} threads): " + ", ".join(reasons)

    def describe(self) -> str:
        """The study's start line about the budget."""
        limits = []
        if self.max_latency_ms is not None:
            limits.append(f"latency <= {self.max_latency_ms:g} ms")
        if self.max_size_kb is not None:
            limits.append(f"size <= {self.max_size_kb:g} KB")
        return (f"deployment budget: {' and '.join(limits)} ({self.variant.value} TFLite, {self.threads} threads); "
                "each architecture is costed before training (cached), a variant over budget ends as infeasible "
                "without training")

    def describe_costing(self) -> str:
        """The start line of a study that costs every trial without limits (a cost objective)."""
        return (f"deployment cost: each architecture is costed before training as {self.variant.value} TFLite at "
                f"{self.threads} threads (cached); no limit is set (--max-latency-ms/--max-size-kb add one)")


def real_meter(budget: Budget, cache: Path, calibration_records: Sequence[str] | None = None) -> CostMeter:
    """The study's meter: :func:`measure_cost` with the budget's variant and threads, cached in
    ``cache`` (the study's ``--cost-cache``, default ``<run dir>/cost-cache``); int8 is calibrated
    on the config's training records unless ``calibration_records`` are given."""

    def meter(cfg: Any) -> Cost:
        return measure_cost(cfg, variant=budget.variant.value, threads=budget.threads, cache_dir=cache,
                            calibration_records=calibration_records)

    return meter
