"""The end-of-study summary: top trials against the baseline, with their config changes."""
from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import events
from tuner.runinfo import Attr
from tuner.study.storage import redact


def _value(trial: FrozenTrial) -> float:
    return float(trial.value) if trial.value is not None else math.nan


def _metric(trial: FrozenTrial, tag: str) -> float:
    value = (trial.user_attrs.get(Attr.METRICS) or {}).get(tag)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _fmt(value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _changes(trial: FrozenTrial, width: int = 70) -> str:
    if trial.user_attrs.get(Attr.BASELINE):
        return "(base config)"
    text = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def baseline(study: optuna.Study) -> FrozenTrial | None:
    """The completed baseline trial (the most recent one if it was re-run)."""
    found = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
             if t.user_attrs.get(Attr.BASELINE)]
    return found[-1] if found else None


def summary(study: optuna.Study, top: int = 5) -> str:
    """A text table of the best ``top`` trials and the baseline, plus the counts by state."""
    trials = study.get_trials(deepcopy=False)
    complete = sorted((t for t in trials if t.state is TrialState.COMPLETE and t.value is not None),
                      key=lambda t: t.value, reverse=True)  # type: ignore[arg-type, return-value]
    base = baseline(study)
    base_value = _value(base) if base else math.nan
    shown = complete[:top]
    if base is not None and base not in shown:
        shown.append(base)
    header = ("trial", "mAP", "vs base", "mAP@.50", "best step", "changes")
    rows = [(str(t.number) + (" (base)" if t.user_attrs.get(Attr.BASELINE) else ""), _fmt(_value(t)),
             _fmt(_value(t) - base_value, signed=True), _fmt(_metric(t, events.MAP50)),
             str(t.user_attrs.get(Attr.BEST_STEP, "-")), _changes(t)) for t in shown]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    lines.append("trials: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    failed = [t for t in trials if t.state is TrialState.FAIL]
    for t in failed[-5:]:
        lines.append(f"  trial {t.number} failed ({t.user_attrs.get(Attr.FAILURE, '?')}): "
                     f"{str(t.user_attrs.get(Attr.REASON, ''))[:150]}")
    if complete and base is not None:
        best = complete[0]
        lines.append(f"best: trial {best.number}, mAP {_fmt(_value(best))} "
                     f"({_fmt(_value(best) - base_value, signed=True)} vs baseline {_fmt(base_value)})")
    return "\n".join(lines)


def dashboard_command(storage_url: str) -> str:
    return f"optuna-dashboard '{redact(storage_url)}' --host 127.0.0.1 --port 8080"
