"""The end-of-study summary: top trials against the baseline, with their config changes."""
from __future__ import annotations

import math
import re
import textwrap
from typing import Any, Iterable, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import events
from tuner.cli import text_table
from tuner.config.diff import short_labels
from tuner.runinfo import Attr, map_value
from tuner.study import confirm
from tuner.study.compute import ComputeTally, duration
from tuner.study.objectives import pareto_front
from tuner.space.backbones import BACKBONE_PATTERNS
from tuner.study.storage import failure_class, redact

#: Width of the "changes" column; each shown trial's full list of changes follows the table.
CHANGES_WIDTH = 60
DETAIL_WIDTH = 100


def _value(trial: FrozenTrial) -> float:
    value = map_value(trial)
    return value if value is not None else math.nan


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


#: Regexes written by the ``freeze`` knob, shown by what they mean.
_KNOWN_PATTERNS = {pattern: "backbone" for patterns in BACKBONE_PATTERNS.values() for pattern in patterns}


def _short(value: Any) -> str:
    """A compact form of a config value: floats to 3 significant digits, lists and message
    text likewise; a backbone regex of the ``freeze`` knob as ``backbone``."""
    if isinstance(value, str) and value in _KNOWN_PATTERNS:
        return _KNOWN_PATTERNS[value]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_short(v) for v in value) + "]"
    if isinstance(value, str):
        text = re.sub(r"-?\d+\.\d{4,}(?:e-?\d+)?", lambda m: f"{float(m.group()):.3g}", value)
        return "" if text.strip() == "{ }" else re.sub(r"\{ (.*) \}", r"{\1}", text)
    return str(value)


def change_texts(diff: Sequence[Sequence[Any]], context: Iterable[str] = ()) -> list[str]:
    """Recorded config changes (:data:`Attr.DIFF` entries ``[path, old, new]``) as short texts.

    ``name old->new`` for a changed value, ``+name{fields}`` for something added (an
    augmentation, a schedule), ``-name`` for something removed. ``name`` is the shortest tail of
    the path that no other changed path (of ``diff``, and of ``context``: e.g. every path the
    study changed) ends with (:func:`tuner.config.short_labels`): the L2 weights of two
    regularizers read ``feature_extractor...weight`` and ``convolutional_box_predictor...weight``.
    """
    entries = [entry for entry in diff if len(entry) == 3]
    labels = short_labels([*(str(entry[0]) for entry in entries), *context])
    texts: list[str] = []
    for path, old, new in entries:
        label = labels[str(path)]
        if old is None:
            text = f"+{label}{_short(new)}"
        elif new is None:
            text = f"-{label}"
        else:
            text = f"{label} {_short(old)}->{_short(new)}"
        if text not in texts:
            texts.append(text)
    return texts


def _changes(trial: FrozenTrial, context: Sequence[str] = ()) -> list[str]:
    """``trial``'s changes as short texts; labels unambiguous among its paths and ``context``."""
    if trial.user_attrs.get(Attr.BASELINE):
        return []
    diff = trial.user_attrs.get(Attr.DIFF)
    if diff is None:  # failed before its config existed: show what was sampled
        return [f"{k}={_short(v)}" for k, v in trial.params.items()]
    return change_texts(diff, context)


def _paths(trials: Sequence[FrozenTrial]) -> list[str]:
    """Every config path the ``trials`` changed (the context that makes labels unambiguous)."""
    return sorted({str(entry[0]) for t in trials for entry in (t.user_attrs.get(Attr.DIFF) or []) if len(entry) == 3})


def _column(trial: FrozenTrial, width: int = CHANGES_WIDTH, context: Sequence[str] = ()) -> str:
    if trial.user_attrs.get(Attr.BASELINE):
        return "(base config)"
    texts = _changes(trial, context)
    if not texts:
        return "(no change)"
    text = ", ".join(texts)
    if len(text) <= width:
        return text
    shown: list[str] = []
    for item in texts:
        more = f", ... (+{len(texts) - len(shown) - 1} more)"
        if len(", ".join([*shown, item])) + len(more) > width:
            break
        shown.append(item)
    return ", ".join(shown) + (", " if shown else "") + f"... (+{len(texts) - len(shown)} more)"


def _cost(trial: FrozenTrial) -> tuple[str, str]:
    """The trial's deployed size (KB) and latency (ms) as measured before training, or dashes."""
    size, latency = trial.user_attrs.get(Attr.TFLITE_SIZE_KB), trial.user_attrs.get(Attr.TFLITE_LATENCY_MS)
    return (f"{size:.0f}" if isinstance(size, (int, float)) else "-",
            f"{latency:.2f}" if isinstance(latency, (int, float)) else "-")


def _wall(trial: FrozenTrial) -> str:
    seconds = trial.user_attrs.get(Attr.WALL_SECONDS)
    return duration(float(seconds)) if isinstance(seconds, (int, float)) else "-"




def baseline(study: optuna.Study) -> FrozenTrial | None:
    """The completed baseline trial (the most recent one if it was re-run)."""
    found = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
             if t.user_attrs.get(Attr.BASELINE) and not confirm.is_repeat(t)]
    return found[-1] if found else None


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The completed search trial with the highest value (``None`` if none completed);
    confirmation repeats are left out."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.values and not confirm.is_repeat(t)]
    return max(complete, key=_value) if complete else None


def summary(study: optuna.Study, top: int = 5, steps: int | None = None,
            confirmation: confirm.Confirmation | None = None, run_dir: str | None = None,
            evaluated: str | None = None) -> str:
    """A text table of the best ``top`` search trials and the baseline, each trial's config
    changes against the baseline, the counts by state, (given ``steps``, the study's steps per
    trial) the compute spent by outcome and what pruning saved, and (given ``confirmation``)
    each leader's repeated runs, the pick and the noise; a multi-objective study's Pareto front
    (with the ``tflite.convert`` command for ``run_dir``); ``evaluated``: the steps each trial
    evaluated (:meth:`tuner.study.evaluation.EvalPlan.steps_text`), said under the counts."""
    trials = study.get_trials(deepcopy=False)
    complete = sorted((t for t in trials if t.state is TrialState.COMPLETE and t.values and not confirm.is_repeat(t)),
                      key=_value, reverse=True)
    base = baseline(study)
    base_value = _value(base) if base else math.nan
    shown = complete[:top]
    if base is not None and base not in shown:
        shown.append(base)
    context = _paths(shown)  # one label per path across the rows: "weight" never means two fields
    costed = any(Attr.TFLITE_SIZE_KB in t.user_attrs for t in trials)  # a study with a deployment budget
    header = ("trial", "mAP", "vs base", "mAP@.50", *(("size KB", "latency ms") if costed else ()), "best step",
              "wall", "changes")
    rows = [(str(t.number) + (" (base)" if t.user_attrs.get(Attr.BASELINE) else ""), _fmt(_value(t)),
             _fmt(_value(t) - base_value, signed=True), _fmt(_metric(t, events.MAP50)), *(_cost(t) if costed else ()),
             str(t.user_attrs.get(Attr.BEST_STEP, "-")), _wall(t), _column(t, context=context)) for t in shown]
    lines = text_table(header, rows)
    detailed = [t for t in shown if len(", ".join(_changes(t, context))) > CHANGES_WIDTH]
    if detailed:
        lines.append("changes against the base config:")
        for t in detailed:
            glued = ", ".join(item.replace(" ", "\x00") for item in _changes(t, context))  # wrap between changes only
            lines += [line.replace("\x00", " ") for line in textwrap.wrap(
                glued, DETAIL_WIDTH, initial_indent=f"  trial {t.number}: ", subsequent_indent="    ",
                break_on_hyphens=False, break_long_words=False)]
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    infeasible = [t for t in trials if t.state is TrialState.PRUNED and t.user_attrs.get(Attr.INFEASIBLE)]
    lines.append("trials: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
                 + (f" ({len(infeasible)} of the pruned infeasible: over the deployment budget, never trained)"
                    if infeasible else ""))
    for t in infeasible[-5:]:
        lines.append(f"  trial {t.number}{' (base config)' if t.user_attrs.get(Attr.BASELINE) else ''} infeasible: "
                     f"{str(t.user_attrs[Attr.INFEASIBLE])[:150]}")
    failed = [t for t in trials if t.state is TrialState.FAIL]
    for t in failed[-5:]:
        reason = str(t.user_attrs.get(Attr.REASON, "") if Attr.FAILURE in t.user_attrs
                     else "its worker stopped sending heartbeats")
        lines.append(f"  trial {t.number} failed ({failure_class(t)}): {reason[:150]}")
    if evaluated:
        lines.append(f"evaluated per trial: {evaluated}")
    if steps is not None:
        lines += ComputeTally.from_trials(trials, steps).lines()
    if complete and base is not None:
        best = complete[0]
        lines.append(f"best single run: trial {best.number}, mAP {_fmt(_value(best))} "
                     f"({_fmt(_value(best) - base_value, signed=True)} vs baseline {_fmt(base_value)})")
    if len(study.directions) > 1:
        lines += front_lines(study, complete, run_dir)
    if confirmation is not None:
        lines += confirm.lines(confirmation)
    return "\n".join(lines)


def front_lines(study: optuna.Study, complete: Sequence[FrozenTrial], run_dir: str | None = None) -> list[str]:
    """The Pareto front of a multi-objective study's completed search trials (confirmation
    repeats left out), best mAP first, and how to convert a member."""
    names = study.metric_names or [f"objective {i}" for i in range(len(study.directions))]
    front = pareto_front(complete, study.directions)
    if not front:
        return []
    header = ("trial", *names, "changes")
    context = _paths(front)
    rows = [(str(t.number) + (" (base)" if t.user_attrs.get(Attr.BASELINE) else ""), _fmt(_value(t)),
             *(f"{v:.2f}" for v in t.values[1:]), _column(t, context=context)) for t in front]
    return [f"Pareto front ({len(front)} of {len(complete)} completed trials; each has the best {names[0]} at its "
            f"{' and '.join(names[1:])} or less):", *text_table(header, rows),
            f"convert a front member: python -m tflite.convert --study {run_dir or 'RUN_DIR'} --trial N (without "
            f"--trial: the best {names[0]})"]


def dashboard_command(storage_url: str, artifact_dir: str | None = None) -> str:
    """The optuna-dashboard command line for the study (with its artifact store, when given)."""
    artifacts = f" --artifact-dir '{artifact_dir}'" if artifact_dir else ""
    return f"optuna-dashboard '{redact(storage_url)}'{artifacts} --host 127.0.0.1 --port 8080"
