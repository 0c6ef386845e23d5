"""Lint rules for the learning-rate schedule: the mistakes that waste a run without an error.

Cosine ``total_steps`` out of step with ``num_steps``; a warmup (cosine warmup, exponential
burn-in, manual-step warmup) that never ends within training; manual-step schedules the OD API
rejects; a schedule that barely decays, or decays to ~0 long before the end.
"""
from __future__ import annotations

from typing import Any, Iterator

from tuner.config.errors import ConfigError
from tuner.config.findings import Config, Finding, LintContext, error, warning
from tuner.config.schedules import learning_rate_at, learning_rate_message, schedule_path

#: A schedule "barely decays" if it ends above this fraction of its peak.
BARELY_DECAYS = 0.5
#: A rate below this fraction of the peak counts as ~0 ...
NEAR_ZERO = 1e-3
#: ... and reaching it before this fraction of num_steps wastes the rest of training.
TOO_EARLY = 0.75


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
                                             f"the rate {what}", f"set_num_steps(cfg, {n}) or set "
                                                                 f"{path}.total_steps={n}")
    if s.warmup_steps >= s.total_steps:
        rejects = " (the OD API rejects it)" if s.warmup_steps > s.total_steps else ""
        yield error(f"{path}.warmup_steps", f"warmup_steps {s.warmup_steps} >= total_steps "
                                            f"{s.total_steps}: the schedule never decays{rejects}",
                    f"set {path}.warmup_steps below {s.total_steps}")
    elif s.hold_base_rate_steps and s.warmup_steps + s.hold_base_rate_steps >= s.total_steps:
        yield error(f"{path}.hold_base_rate_steps",
                    f"warmup_steps {s.warmup_steps} + hold_base_rate_steps {s.hold_base_rate_steps} >= "
                    f"total_steps {s.total_steps}: the schedule never decays",
                    f"set {path}.hold_base_rate_steps below {s.total_steps - s.warmup_steps}")
    if s.warmup_learning_rate > s.learning_rate_base:
        yield error(f"{path}.warmup_learning_rate", "warmup_learning_rate is above "
                                                    "learning_rate_base (the OD API rejects it)",
                    "lower warmup_learning_rate or use set_base_learning_rate")


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
                        f"set {path}.warmup_steps below {n} (set_num_steps keeps it in proportion)")
    elif kind == "exponential_decay_learning_rate":
        if s.burnin_steps >= n:
            yield error(f"{path}.burnin_steps", f"burnin_steps {s.burnin_steps} >= num_steps {n}: the "
                                                "whole run trains at the burn-in rate, never at "
                                                "initial_learning_rate",
                        f"set {path}.burnin_steps below {n} (set_num_steps keeps it in proportion)")
    elif kind == "manual_step_learning_rate":
        if s.warmup and s.schedule and s.schedule[0].step >= n:
            yield error(f"{path}.schedule[0].step", f"with warmup the rate ramps up until the first "
                                                    f"step {s.schedule[0].step} >= num_steps {n}: "
                                                    "training ends during the warmup",
                        f"set {path}.schedule[0].step below {n} (set_num_steps keeps it in proportion)")


def manual_steps(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """Manual step schedules the OD API's ``manual_stepping`` rejects at the first step."""
    found = _schedule(cfg)
    if found is None or found[0] != "manual_step_learning_rate":
        return
    _, s, path = found
    if not s.schedule:
        yield error(f"{path}.schedule", "the manual step schedule has no steps (the OD API rejects it)",
                    "add steps or use set_schedule_type(cfg, 'manual_step') to create them")
        return
    if s.schedule[0].step == 0:
        yield error(f"{path}.schedule[0].step", "the first step is 0 (the OD API rejects it)",
                    f"set {path}.schedule[0].step > 0, or set initial_learning_rate instead")
    for i in range(1, len(s.schedule)):
        if s.schedule[i].step <= s.schedule[i - 1].step:
            yield error(f"{path}.schedule[{i}].step",
                        f"step {s.schedule[i].step} is not after the previous step "
                        f"{s.schedule[i - 1].step}: steps must strictly increase (the OD API rejects it)",
                        f"set {path}.schedule[{i}].step above {s.schedule[i - 1].step}")
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
                      "shorten the decay (set_num_steps keeps it in step) or switch with "
                      "set_schedule_type")
        return
    for step, rate in zip(steps[peak_at:], rates[peak_at:]):
        if rate <= NEAR_ZERO * peak:
            if step < TOO_EARLY * n:
                yield warning(path, f"the rate is ~0 from step {step} ({step / n:.0%} of num_steps "
                                    f"{n}); the rest of training learns nothing",
                              "stretch the decay over num_steps (set_num_steps)")
            break
