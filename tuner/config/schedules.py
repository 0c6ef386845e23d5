"""Learning-rate semantic edits: the coupled changes people get wrong by hand.

The optimizer (``train_config.optimizer.<rms_prop|momentum|adam>_optimizer``) holds a
``LearningRate`` whose oneof ``learning_rate`` is one of ``constant_learning_rate``,
``exponential_decay_learning_rate``, ``manual_step_learning_rate`` or
``cosine_decay_learning_rate``. :func:`learning_rate_at` evaluates a schedule the way the OD
API's ``learning_schedules`` module does, without importing TensorFlow.
"""
from __future__ import annotations

import math

from google.protobuf.internal import type_checkers
from google.protobuf.message import Message
from object_detection.protos import optimizer_pb2, pipeline_pb2

from tuner.config.errors import ConfigValueError

Config = pipeline_pb2.TrainEvalPipelineConfig

#: Short names accepted by :func:`set_schedule_type`, mapped to the LearningRate oneof member.
SCHEDULE_KINDS = {
    "constant": "constant_learning_rate",
    "exponential": "exponential_decay_learning_rate",
    "manual_step": "manual_step_learning_rate",
    "cosine": "cosine_decay_learning_rate",
}
#: Fractions of num_steps (and rate multipliers) used for a new manual step schedule.
MANUAL_STEP_PLAN = ((0.6, 0.1), (0.85, 0.01))
#: A new exponential schedule halves the rate this many times over num_steps.
EXPONENTIAL_HALVINGS = 5


def learning_rate_message(cfg: Config) -> optimizer_pb2.LearningRate:
    """Return the optimizer's ``LearningRate`` message (live, editable).

    Raises:
        ConfigValueError: No optimizer or no schedule is set.
    """
    optimizer = cfg.train_config.optimizer
    kind = optimizer.WhichOneof("optimizer")
    if kind is None:
        raise ConfigValueError("train_config.optimizer has no optimizer set",
                               path="train_config.optimizer",
                               fix="set e.g. train_config.optimizer.momentum_optimizer.learning_rate")
    return getattr(optimizer, kind).learning_rate


def schedule_path(cfg: Config) -> str:
    """Dotted path of the active schedule, e.g. ``train_config.optimizer.momentum_optimizer.
    learning_rate.cosine_decay_learning_rate``.

    Raises:
        ConfigValueError: No optimizer or no schedule.
    """
    kind = _schedule_kind(cfg)
    return f"train_config.optimizer.{cfg.train_config.optimizer.WhichOneof('optimizer')}." \
           f"learning_rate.{kind}"


def _schedule_kind(cfg: Config) -> str:
    lr = learning_rate_message(cfg)
    kind = lr.WhichOneof("learning_rate")
    if kind is None:
        raise ConfigValueError("the optimizer has no learning-rate schedule set",
                               path="train_config.optimizer",
                               fix="set one: python -m tuner.config edit CONFIG --schedule cosine -o OUT "
                                   "(set_schedule_type in Python)")
    return kind


def _schedule(cfg: Config) -> tuple[str, Message]:
    kind = _schedule_kind(cfg)
    return kind, getattr(learning_rate_message(cfg), kind)


def base_learning_rate(cfg: Config) -> float:
    """The schedule's base (peak, post-warmup) learning rate.

    Manual step: the highest of its rates (the initial rate, or the first step's after a
    warm-up from a lower initial rate, as context R-CNN's schedule starts at 0).

    Raises:
        ConfigValueError: No optimizer or schedule.
    """
    kind, sched = _schedule(cfg)
    if kind == "constant_learning_rate":
        value = sched.learning_rate
    elif kind == "cosine_decay_learning_rate":
        value = sched.learning_rate_base
    elif kind == "manual_step_learning_rate":
        value = max([sched.initial_learning_rate] + [step.learning_rate for step in sched.schedule])
    else:
        value = sched.initial_learning_rate
    return type_checkers.ToShortestFloat(value)


def _check_rate(lr: float) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ConfigValueError(f"learning rate must be a finite number > 0, got {lr!r}",
                               fix="give a value such as 0.004")
    return float(lr)


def _check_steps(n: int) -> int:
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < 2**31:
        raise ConfigValueError(f"num_steps must be a whole number > 0, got {n!r}",
                               path="train_config.num_steps", fix="give a value such as 50000")
    return n


def set_base_learning_rate(cfg: Config, lr: float) -> None:
    """Set the base learning rate, rescaling the rest of the schedule to keep its shape.

    Cosine: ``learning_rate_base`` and ``warmup_learning_rate`` scale together. Exponential:
    ``initial``, ``burnin`` and ``min`` rates scale. Manual step: every rate, the initial one
    and each step's, scales so that the highest becomes ``lr`` (a warm-up from 0 stays a
    warm-up). Constant: the rate is replaced. If the old base is 0 only the base is set.

    Raises:
        ConfigValueError: ``lr`` is not > 0, or the config has no schedule.
    """
    lr = _check_rate(lr)
    kind, sched = _schedule(cfg)
    old = base_learning_rate(cfg)
    ratio = lr / old if old > 0 else None

    def scale(rate: float) -> float:  # 7 significant digits: float32 noise (0.010000001) stays out of files
        return float(f"{rate * ratio:.7g}")

    if kind == "constant_learning_rate":
        sched.learning_rate = lr
    elif kind == "cosine_decay_learning_rate":
        sched.learning_rate_base = lr
        if ratio is not None:
            sched.warmup_learning_rate = scale(sched.warmup_learning_rate)
    elif kind == "exponential_decay_learning_rate":
        sched.initial_learning_rate = lr
        if ratio is not None:
            for name in ("burnin_learning_rate", "min_learning_rate"):
                if sched.HasField(name):
                    setattr(sched, name, scale(getattr(sched, name)))
    elif ratio is None:
        sched.initial_learning_rate = lr
    else:
        sched.initial_learning_rate = scale(sched.initial_learning_rate)
        for step in sched.schedule:
            step.learning_rate = scale(step.learning_rate)


def _place_steps(sched: Message, steps: list[int], limit: int) -> None:
    """Give the manual schedule's entries the boundaries ``steps``, kept valid for the OD API.

    Boundaries become >= 1 and below ``limit`` where there is room (``max(limit - 1, 1)`` caps
    them), and strictly increasing. Two entries squeezed onto the same step are merged: the
    later one wins (from that step on its rate applies anyway), so the schedule never holds a
    step of 0 or a repeated step, which ``manual_stepping`` rejects.
    """
    cap = max(limit - 1, 1)
    values = [max(1, step) for step in steps]
    for i in range(1, len(values)):  # strictly increasing ...
        values[i] = max(values[i], values[i - 1] + 1)
    for i in range(len(values) - 1, -1, -1):  # ... and below the cap, pushed back from the end
        values[i] = min(values[i], cap if i == len(values) - 1 else values[i + 1] - 1)
    # An entry pushed below step 1 no longer fits: the next entry (same or earlier step) wins.
    kept = [(value, entry.learning_rate) for value, entry in zip(values, sched.schedule) if value >= 1]
    del sched.schedule[:]
    for value, rate in kept:
        entry = sched.schedule.add()
        entry.step = value
        entry.learning_rate = rate


def set_num_steps(cfg: Config, n: int, *, schedule_length: int | None = None) -> None:
    """Change ``train_config.num_steps`` and stretch the schedule to match.

    The schedule is rescaled by ``n / old`` where ``old`` is ``schedule_length`` if given (the
    length the schedule was made for; ``lint --fix`` passes the cosine ``total_steps`` when it
    disagrees with ``num_steps``), else the previous ``num_steps`` (or, if that was 0 = train
    forever, the cosine ``total_steps``). Cosine: ``total_steps = n`` and
    warmup/hold steps scale. Exponential: ``decay_steps`` and ``burnin_steps`` scale. Manual
    step: boundaries scale (kept >= 1, strictly increasing and below ``n`` where there is room;
    entries squeezed onto one step merge, the later rate winning). Constant: nothing to do.
    With no reference length the schedule is left as it is, except cosine ``total_steps``.

    Raises:
        ConfigValueError: ``n`` is not a whole number > 0.
    """
    n = _check_steps(n)
    old = _check_steps(schedule_length) if schedule_length is not None else cfg.train_config.num_steps
    cfg.train_config.num_steps = n
    optimizer = cfg.train_config.optimizer
    if optimizer.WhichOneof("optimizer") is None or \
            learning_rate_message(cfg).WhichOneof("learning_rate") is None:
        return
    kind, sched = _schedule(cfg)
    if kind == "cosine_decay_learning_rate":
        reference = old or sched.total_steps
        ratio = n / reference if reference else 1.0
        warmup = int(round(sched.warmup_steps * ratio))
        hold = int(round(sched.hold_base_rate_steps * ratio))
        sched.total_steps = n
        if sched.HasField("warmup_steps") or warmup != sched.warmup_steps:
            sched.warmup_steps = min(warmup, max(n - 1, 0))
        if sched.HasField("hold_base_rate_steps"):
            sched.hold_base_rate_steps = min(hold, max(n - 1 - sched.warmup_steps, 0))
        return
    if not old:
        return
    ratio = n / old
    if kind == "exponential_decay_learning_rate":
        sched.decay_steps = max(1, int(round(sched.decay_steps * ratio)))
        if sched.HasField("burnin_steps"):
            sched.burnin_steps = int(round(sched.burnin_steps * ratio))
    elif kind == "manual_step_learning_rate":
        _place_steps(sched, [int(round(e.step * ratio)) for e in sched.schedule], n)


def _warmup_of(kind: str, sched: Message) -> tuple[int, float]:
    if kind == "cosine_decay_learning_rate":
        return sched.warmup_steps, sched.warmup_learning_rate
    if kind == "exponential_decay_learning_rate":
        return sched.burnin_steps, sched.burnin_learning_rate
    return 0, 0.0


def set_schedule_type(cfg: Config, kind: str) -> None:
    """Switch the schedule to ``kind``, carrying the base rate (and any warmup) over.

    Args:
        cfg: Config to edit.
        kind: ``constant``, ``exponential``, ``manual_step`` or ``cosine`` (or the full oneof
            member name, e.g. ``cosine_decay_learning_rate``).

    New schedules are sized from ``num_steps``: cosine decays to 0 at ``num_steps``; exponential
    halves the rate :data:`EXPONENTIAL_HALVINGS` times; manual step follows
    :data:`MANUAL_STEP_PLAN`. A warmup (cosine warmup / exponential burn-in) carries over to
    cosine and exponential; a manual step schedule starts at the base rate (no warmup), since
    its own warmup would ramp towards the first step's lower rate.

    Raises:
        ConfigValueError: Unknown kind, no optimizer, or ``num_steps`` unset for a decaying kind.
    """
    member = SCHEDULE_KINDS.get(kind, kind if kind in SCHEDULE_KINDS.values() else None)
    if member is None:
        raise ConfigValueError(f"unknown schedule type {kind!r}",
                               fix=f"use one of {', '.join(SCHEDULE_KINDS)}")
    lr = learning_rate_message(cfg)
    current = lr.WhichOneof("learning_rate")
    if current == member:
        return
    base = base_learning_rate(cfg) if current else optimizer_pb2.ConstantLearningRate().learning_rate
    warmup_steps, warmup_rate = _warmup_of(current, getattr(lr, current)) if current else (0, 0.0)
    n = cfg.train_config.num_steps
    if member != "constant_learning_rate" and n <= 0:
        raise ConfigValueError(f"cannot size a {kind} schedule: train_config.num_steps is {n}",
                               path="train_config.num_steps",
                               fix="give the length too: python -m tuner.config edit CONFIG --num-steps N "
                                   f"--schedule {kind} -o OUT (set_num_steps in Python)")
    warmup_steps = min(warmup_steps, max(n - 1, 0))
    if member == "constant_learning_rate":
        lr.constant_learning_rate.learning_rate = base
    elif member == "cosine_decay_learning_rate":
        sched = lr.cosine_decay_learning_rate
        sched.learning_rate_base = base
        sched.total_steps = n
        sched.warmup_steps = warmup_steps
        sched.warmup_learning_rate = min(warmup_rate, base)
    elif member == "exponential_decay_learning_rate":
        sched = lr.exponential_decay_learning_rate
        sched.initial_learning_rate = base
        sched.decay_factor = 0.5
        sched.decay_steps = max(1, n // EXPONENTIAL_HALVINGS)
        sched.staircase = True
        if warmup_steps:
            sched.burnin_steps = warmup_steps
            sched.burnin_learning_rate = warmup_rate
    else:
        sched = lr.manual_step_learning_rate
        sched.initial_learning_rate = base
        steps = [int(round(n * fraction)) for fraction, _ in MANUAL_STEP_PLAN]
        for _, factor in MANUAL_STEP_PLAN:
            sched.schedule.add(learning_rate=base * factor)
        _place_steps(sched, steps, n)


def set_warmup_fraction(cfg: Config, fraction: float) -> None:
    """Set a cosine schedule's warmup to ``fraction`` of its ``total_steps``.

    ``warmup_steps = round(fraction * total_steps)``; a warmup rate above the base rate (which
    the OD API rejects) is lowered to a third of the base rate. 0 removes the warmup.

    Raises:
        ConfigValueError: ``fraction`` is not in [0, 1), no optimizer, or the schedule is not
            ``cosine_decay_learning_rate``.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise ConfigValueError(f"warmup_fraction must be in [0, 1) (got {fraction!r})", path="warmup_fraction",
                               fix="use a fraction such as 0.05")
    lr = learning_rate_message(cfg)
    kind = lr.WhichOneof("learning_rate")
    if kind != "cosine_decay_learning_rate":
        raise ConfigValueError(f"warmup_fraction applies to cosine_decay_learning_rate only; the schedule is {kind}",
                               path=schedule_path(cfg) if kind else "train_config.optimizer",
                               fix="switch first: python -m tuner.config edit CONFIG --schedule cosine "
                                   "--warmup-fraction F -o OUT")
    cosine = lr.cosine_decay_learning_rate
    cosine.warmup_steps = int(round(fraction * cosine.total_steps))
    if cosine.warmup_steps and cosine.warmup_learning_rate > cosine.learning_rate_base:
        cosine.warmup_learning_rate = cosine.learning_rate_base / 3.0


def learning_rate_at(cfg: Config, step: int) -> float:
    """Evaluate the schedule at ``step`` as the OD API's ``learning_schedules`` would.

    Raises:
        ConfigValueError: No optimizer or schedule.
    """
    kind, s = _schedule(cfg)
    if kind == "constant_learning_rate":
        return s.learning_rate
    if kind == "exponential_decay_learning_rate":
        burnin_rate = s.burnin_learning_rate or s.initial_learning_rate
        if step < s.burnin_steps:
            return burnin_rate
        exponent = (step - s.burnin_steps) / max(s.decay_steps, 1)
        if s.staircase:
            exponent = math.floor(exponent)
        return max(s.initial_learning_rate * s.decay_factor ** exponent, s.min_learning_rate)
    if kind == "manual_step_learning_rate":
        rates = [s.initial_learning_rate] + [e.learning_rate for e in s.schedule]
        bounds = [e.step for e in s.schedule]
        if s.warmup and bounds and step < bounds[0]:
            return rates[0] + (rates[1] - rates[0]) * step / bounds[0]
        return rates[sum(1 for b in bounds if step >= b)]
    total, warmup, hold = s.total_steps, s.warmup_steps, s.hold_base_rate_steps
    if step > total:
        return 0.0
    if warmup and step < warmup:
        return s.warmup_learning_rate + (s.learning_rate_base - s.warmup_learning_rate) * step / warmup
    if hold and step <= warmup + hold:
        return s.learning_rate_base
    span = max(total - warmup - hold, 1)
    return 0.5 * s.learning_rate_base * (1 + math.cos(math.pi * (step - warmup - hold) / span))
