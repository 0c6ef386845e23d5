"""Lint rules for the learning-rate schedule: the mistakes that waste a run without an error.

Cosine ``total_steps`` out of step with ``num_steps``; a warmup (cosine warmup, exponential
burn-in, manual-step warmup) that never ends within training; manual-step schedules the OD API
rejects; a schedule that barely decays, or decays to ~0 long before the end.

Repairs (``lint --fix``): a cosine ``total_steps`` out of step is set to ``num_steps`` with the
warmup and hold scaled in proportion (:func:`~tuner.config.schedules.set_num_steps` with the
schedule's own length as reference), which also ends a cosine warmup that outlasts training; a
cosine warmup not below ``total_steps``, or an exponential burn-in not below ``num_steps``, is
cut to :data:`FIXED_WARMUP_FRACTION` of the schedule's length.
"""
from __future__ import annotations

from typing import Any, Iterator

from tuner.config.errors import ConfigError
from tuner.config.findings import Config, Finding, LintContext, Repair, cli, error, warning
from tuner.config.paths import set_value
from tuner.config.schedules import (learning_rate_at, learning_rate_message, schedule_path, set_num_steps,
                                    set_warmup_fraction)

#: A schedule "barely decays" if it ends above this fraction of its peak.
BARELY_DECAYS = 0.5
#: A rate below this fraction of the peak counts as ~0 ...
NEAR_ZERO = 1e-3
#: ... and reaching it before this fraction of num_steps wastes the rest of training.
TOO_EARLY = 0.75
#: ``lint --fix`` cuts a warmup that never ends to this fraction of the schedule's length.
FIXED_WARMUP_FRACTION = 0.05


def _stretch(total_steps: int, n: int) -> Repair:
    """Cosine ``total_steps`` -> ``n``, warmup and hold scaled by ``n / total_steps``."""
    return Repair(f"sets total_steps={n}, scaling warmup and hold in proportion",
                  lambda c: set_num_steps(c, n, schedule_length=total_steps or None))


def _cut_warmup(field: str, path: str, length: int) -> Repair:
    """A cosine warmup (``set_warmup_fraction``) or exponential burn-in cut to
    :data:`FIXED_WARMUP_FRACTION` of ``length``."""
    steps = int(round(FIXED_WARMUP_FRACTION * length))
    what = f"sets {field}={steps} ({FIXED_WARMUP_FRACTION:.0%} of {length})"
    if field == "warmup_steps":
        return Repair(what, lambda c: set_warmup_fraction(c, FIXED_WARMUP_FRACTION))
    return Repair(what, lambda c: set_value(c, f"{path}.{field}", steps))


def _schedule(cfg: Config) -> tuple[str, Any, str] | None:
    """(oneof member, schedule message, its path), or None without optimizer or schedule."""
    try:
        lr = learning_rate_message(cfg)
        kind = lr.WhichOneof("learning_rate")
        if kind is None:
            return None
        return kind, getattr(lr, kind), schedule_path(cfg)
    except ConfigError:
        return None


def cosine(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """Cosine: total_steps != num_steps; warmup (+ hold) not below total_steps; warmup rate > base."""
    found = _schedule(cfg)
    if found is None or found[0] != "cosine_decay_learning_rate":
        return
    _, s, path = found
    n = cfg.train_config.num_steps
    if n and s.total_steps != n:
        what = "stops at 0 before training ends" if s.total_steps < n else "never finishes decaying"
        yield warning(f"{path}.total_steps", f"cosine total_steps {s.total_steps} != num_steps {n}: "
                                             f"the rate {what}", cli("set", f"{path}.total_steps={n}"),
                      _stretch(s.total_steps, n))
    if s.warmup_steps >= s.total_steps:
        rejects = " (the OD API rejects it)" if s.warmup_steps > s.total_steps else ""
        yield error(f"{path}.warmup_steps", f"warmup_steps {s.warmup_steps} >= total_steps "
                                            f"{s.total_steps}: the schedule never decays{rejects}",
                    cli("edit", "--warmup-fraction F") + " with F < 1 (warmup_steps = F * total_steps)",
                    _cut_warmup("warmup_steps", path, s.total_steps))
    elif s.hold_base_rate_steps and s.warmup_steps + s.hold_base_rate_steps >= s.total_steps:
        yield error(f"{path}.hold_base_rate_steps",
                    f"warmup_steps {s.warmup_steps} + hold_base_rate_steps {s.hold_base_rate_steps} >= "
                    f"total_steps {s.total_steps}: the schedule never decays",
                    cli("set", f"{path}.hold_base_rate_steps=H") + f" with H < {s.total_steps - s.warmup_steps}")
    if s.warmup_learning_rate > s.learning_rate_base:
        yield error(f"{path}.warmup_learning_rate", "warmup_learning_rate is above "
                                                    "learning_rate_base (the OD API rejects it)",
                    cli("set", f"{path}.warmup_learning_rate=R") + " with R <= learning_rate_base")


def warmup(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """A warmup or burn-in at least as long as training: the base rate is never reached."""
    found = _schedule(cfg)
    n = cfg.train_config.num_steps
    if found is None or not n:
        return
    kind, s, path = found
    if kind == "cosine_decay_learning_rate":
        if s.warmup_steps and s.total_steps > s.warmup_steps >= n:  # else reported by `cosine`
            yield error(f"{path}.warmup_steps", f"warmup_steps {s.warmup_steps} >= num_steps {n}: "
                                                "training ends during the warmup",
                        cli("set", f"{path}.warmup_steps=W") + f" with W < {n}", _stretch(s.total_steps, n))
    elif kind == "exponential_decay_learning_rate":
        if s.burnin_steps >= n:
            yield error(f"{path}.burnin_steps", f"burnin_steps {s.burnin_steps} >= num_steps {n}: the "
                                                "whole run trains at the burn-in rate, never at "
                                                "initial_learning_rate",
                        cli("set", f"{path}.burnin_steps=B") + f" with B < {n}", _cut_warmup("burnin_steps", path, n))
    elif kind == "manual_step_learning_rate":
        if s.warmup and s.schedule and s.initial_learning_rate > s.schedule[0].learning_rate:
            yield warning(f"{path}.initial_learning_rate",
                          f"warmup is on but initial_learning_rate {s.initial_learning_rate:g} is above the first "
                          f"step's rate {s.schedule[0].learning_rate:g}: the 'warm-up' ramps the rate down until step "
                          f"{s.schedule[0].step}",
                          cli("set", f"{path}.initial_learning_rate=R") + " with R below the first step's rate (0 "
                          "warms up from nothing), or " + cli("set", f"{path}.warmup=false"))
        if s.warmup and s.schedule and s.schedule[0].step >= n:
            yield error(f"{path}.schedule[0].step", f"with warmup the rate ramps up until the first "
                                                    f"step {s.schedule[0].step} >= num_steps {n}: "
                                                    "training ends during the warmup",
                        cli("set", f"{path}.schedule[0].step=S") + f" with S < {n} (and the later steps "
                        f"after it), or {_fresh_schedule(kind)}")


def manual_steps(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """Manual step schedules the OD API's ``manual_stepping`` rejects at the first step."""
    found = _schedule(cfg)
    if found is None or found[0] != "manual_step_learning_rate":
        return
    _, s, path = found
    if not s.schedule:
        yield error(f"{path}.schedule", "the manual step schedule has no steps (the OD API rejects it)",
                    cli("add", f"{path}.schedule={{step: S learning_rate: R}}") + " (one per step)")
        return
    if s.schedule[0].step == 0:
        yield error(f"{path}.schedule[0].step", "the first step is 0 (the OD API rejects it)",
                    cli("set", f"{path}.schedule[0].step=S") + " with S > 0 (the rate before it is "
                    "initial_learning_rate)")
    for i in range(1, len(s.schedule)):
        if s.schedule[i].step <= s.schedule[i - 1].step:
            yield error(f"{path}.schedule[{i}].step",
                        f"step {s.schedule[i].step} is not after the previous step "
                        f"{s.schedule[i - 1].step}: steps must strictly increase (the OD API rejects it)",
                        cli("set", f"{path}.schedule[{i}].step=S") + f" with S > {s.schedule[i - 1].step}")
            return


def decay_shape(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """A schedule that barely decays within num_steps, or reaches ~0 long before the end."""
    found = _schedule(cfg)
    n = cfg.train_config.num_steps
    if found is None or not n or found[0] == "constant_learning_rate":
        return
    kind, s, path = found
    if kind == "cosine_decay_learning_rate" and s.total_steps != n:
        return  # reported by the cosine rule
    samples = 400
    steps = [round(n * i / samples) for i in range(samples + 1)]
    rates = [learning_rate_at(cfg, step) for step in steps]
    peak = max(rates)
    if peak <= 0:
        return
    peak_at = rates.index(peak)
    if rates[-1] > BARELY_DECAYS * peak:
        yield warning(path, f"the rate barely decays within num_steps {n}: it ends at "
                            f"{rates[-1] / peak:.0%} of its peak",
                      f"shorten the decay: {cli('set', _length_field(kind, path))}, or {_fresh_schedule(kind)}")
        return
    for step, rate in zip(steps[peak_at:], rates[peak_at:]):
        if rate <= NEAR_ZERO * peak:
            if step < TOO_EARLY * n:
                yield warning(path, f"the rate is ~0 from step {step} ({step / n:.0%} of num_steps "
                                    f"{n}); the rest of training learns nothing",
                              f"stretch the decay over num_steps: {cli('set', _length_field(kind, path))}, "
                              f"or {_fresh_schedule(kind)}")
            break


def _length_field(kind: str, path: str) -> str:
    """The ``set`` assignment that changes how long a schedule of ``kind`` takes to decay."""
    if kind == "exponential_decay_learning_rate":
        return f"{path}.decay_steps=S"
    if kind == "manual_step_learning_rate":
        return f"{path}.schedule[i].step=S"
    return f"{path}.hold_base_rate_steps=S"  # cosine: total_steps is num_steps here; the hold delays the decay


def _fresh_schedule(kind: str) -> str:
    """The edit that replaces a schedule of ``kind`` by a new one sized to num_steps."""
    other = "exponential" if kind == "cosine_decay_learning_rate" else "cosine"
    return cli("edit", f"--schedule {other}") + " (a new schedule is sized to num_steps)"
