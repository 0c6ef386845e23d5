"""Several coupled edits in one go, in a fixed order: ``python -m tuner.config edit``.

An :class:`EditPlan` names the edits to make; :func:`apply_plan` makes them with the library's
own coupled edits, in an order where each sees the result of the one before, whatever order the
user gave them in:

1. ``num_steps`` (:func:`~tuner.config.schedules.set_num_steps`: the schedule stretches along),
2. ``schedule`` (:func:`~tuner.config.schedules.set_schedule_type`: a new schedule is sized to
   the new ``num_steps``, carrying the base rate and warmup),
3. ``learning_rate`` (:func:`~tuner.config.schedules.set_base_learning_rate`: the schedule
   rescales),
4. ``warmup_fraction`` (:func:`~tuner.config.schedules.set_warmup_fraction`, of the final
   ``total_steps``),
5. ``l2_weight`` (:func:`~tuner.config.edits.set_l2_weight`: every L2 regularizer),
6. ``batch_size`` (``train_config.batch_size``, range-checked like ``set``),
7. ``dataset`` (:func:`~tuner.config.edits.point_to_dataset`: inputs, label maps, num_classes).

Every edit checks its value; a bad one raises before the next runs, so callers that write only
after :func:`apply_plan` returns write nothing on bad input.
"""
from __future__ import annotations

import dataclasses

from tuner.config.edits import point_to_dataset, set_l2_weight
from tuner.config.errors import ConfigValueError
from tuner.config.findings import Config
from tuner.config.paths import set_value
from tuner.config.schedules import set_base_learning_rate, set_num_steps, set_schedule_type, set_warmup_fraction

__all__ = ["Dataset", "EditPlan", "apply_plan"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Where a config's data is: train records, eval records (paths or globs) and label map."""

    train: str
    eval: str
    label_map: str


@dataclasses.dataclass(frozen=True)
class EditPlan:
    """The edits of one ``edit`` call; None leaves a setting alone.

    Attributes:
        num_steps: ``train_config.num_steps``, the schedule stretched along.
        schedule: ``constant``, ``exponential``, ``manual_step`` (or ``manual``), ``cosine``.
        learning_rate: The base learning rate, the schedule rescaled.
        warmup_fraction: Cosine warmup as a fraction of ``total_steps``.
        l2_weight: The weight of every L2 regularizer.
        batch_size: ``train_config.batch_size``.
        dataset: Inputs and label map of both readers (num_classes from the label map).
    """

    num_steps: int | None = None
    schedule: str | None = None
    learning_rate: float | None = None
    warmup_fraction: float | None = None
    l2_weight: float | None = None
    batch_size: int | None = None
    dataset: Dataset | None = None

    def is_empty(self) -> bool:
        """True when the plan edits nothing."""
        return all(getattr(self, field.name) is None for field in dataclasses.fields(self))


def apply_plan(cfg: Config, plan: EditPlan) -> None:
    """Make the edits of ``plan`` on ``cfg`` in place, in the module's order.

    Raises:
        ConfigError: An edit does not apply (bad value, no schedule, no L2 regularizer, an
            unreadable label map, ...); ``cfg`` may then hold the edits before it.
        ConfigValueError: ``plan`` is empty.
    """
    if plan.is_empty():
        raise ConfigValueError("the edit plan edits nothing", fix="set at least one of its fields")
    if plan.num_steps is not None:
        set_num_steps(cfg, plan.num_steps)
    if plan.schedule is not None:
        set_schedule_type(cfg, "manual_step" if plan.schedule == "manual" else plan.schedule)
    if plan.learning_rate is not None:
        set_base_learning_rate(cfg, plan.learning_rate)
    if plan.warmup_fraction is not None:
        set_warmup_fraction(cfg, plan.warmup_fraction)
    if plan.l2_weight is not None:
        set_l2_weight(cfg, plan.l2_weight)
    if plan.batch_size is not None:
        set_value(cfg, "train_config.batch_size", plan.batch_size)
    if plan.dataset is not None:
        point_to_dataset(cfg, plan.dataset.train, plan.dataset.eval, plan.dataset.label_map)
