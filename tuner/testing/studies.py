"""Real Optuna studies in run directories, made from a list of trials without running any.

:func:`make_run_dir` writes what ``tuner.study`` leaves in a run directory (``study.json`` and
the SQLite study) with trials made by ``optuna.trial.create_trial`` carrying the user
attributes of :class:`tuner.runinfo.Attr` that readers of a finished study use
(:mod:`tflite.select`, :mod:`tuner.report`, the notebook). Trials may point at real trial
directories (a trained trial's checkpoints) or at none.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

#: The objective tag the studies are made with (COCO mAP).
MAP = "DetectionBoxes_Precision/mAP"


@dataclasses.dataclass
class TrialEntry:
    """One trial to put into a study: its directory, value (for a COMPLETE one), best checkpoint
    and step, state (a ``TrialState`` name), parameters, baseline flag, learning curve (default:
    the value at ``step``) and more user attributes (e.g. ``repeat_of``)."""

    trial_dir: Path | None
    value: float | None = 0.1
    checkpoint: str | None = "ckpt-1"
    state: str = "COMPLETE"
    params: dict[str, float] = dataclasses.field(default_factory=lambda: {"lr": 0.05})
    baseline: bool = False
    step: int = 10
    intermediate: dict[int, float] = dataclasses.field(default_factory=dict)
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    cost: float | None = None  # the second value in a multi-objective study (latency ms or size KB)


def make_run_dir(run_dir: Path, trials: list[TrialEntry], name: str = "s", objectives: str = "map") -> Path:
    """Create ``run_dir`` holding a real Optuna study named ``name`` of ``trials`` (trial i is
    ``trials[i]``); returns ``run_dir``. ``objectives`` as ``--objectives`` gives them
    (``map,latency``: a multi-objective study whose trials' second value is their ``cost``)."""
    import optuna

    from tuner.runinfo import Attr, RunInfo, sqlite_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_dir.mkdir(parents=True, exist_ok=True)
    url = sqlite_url(run_dir)
    known: dict[str, Any] = {"study_name": name, "storage": url, "base": "base.config", "train_data": "train.record",
                             "eval_data": "eval.record", "label_map": "label_map.pbtxt", "steps": 30,
                             "eval_every": 10, "objective": MAP}
    fields = dataclasses.fields(RunInfo)  # fields added later get a neutral value
    RunInfo(**{f.name: known.get(f.name, 0 if f.type in ("int", int) else "") for f in fields}).save(run_dir)
    from tuner.study.objectives import Objectives

    kind = Objectives.parse(objectives)
    study = optuna.create_study(study_name=name, storage=url, directions=kind.directions)
    with warnings.catch_warnings():  # marked experimental; tuner.study names its studies' objectives the same way
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(kind.metric_names)
    dist = {"lr": optuna.distributions.FloatDistribution(0.001, 0.5, log=True)}
    for entry in trials:
        state = optuna.trial.TrialState[entry.state]
        attrs: dict[str, Any] = {Attr.BASELINE: entry.baseline, **entry.attrs}
        if entry.trial_dir is not None:
            attrs[Attr.TRIAL_DIR] = str(entry.trial_dir)
        if entry.checkpoint is not None:
            attrs.update({Attr.BEST_CHECKPOINT: entry.checkpoint, Attr.BEST_STEP: entry.step,
                          Attr.METRICS: {MAP: entry.value or 0.0}})
        study.add_trial(optuna.trial.create_trial(
            state=state, values=None if state != optuna.trial.TrialState.COMPLETE or entry.value is None
            else [entry.value, *([entry.cost] if kind.multi else [])],
            params=entry.params, distributions={k: dist[k] for k in entry.params}, user_attrs=attrs,
            intermediate_values=entry.intermediate or ({entry.step: entry.value} if entry.value is not None else {})))
    return run_dir
