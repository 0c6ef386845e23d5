"""Find a study and pick the trial and checkpoint to convert (TensorFlow-free).

``--study`` is either a run directory holding ``study.json`` (:class:`tuner.runinfo.RunInfo`;
its storage is used unless ``--storage`` is given) or a study name in ``--storage``. The
trial is, unless ``--trial N`` names one, the best run of the study's confirmed pick (the
leader with the best mean over its repeated runs, :mod:`tuner.study.confirm`), or the best
completed trial (by mAP, the first objective of a multi-objective study) in a study without a
confirmation;
its checkpoint is the best-mAP checkpoint recorded in the trial's user attributes
(:data:`tuner.runinfo.Attr.BEST_CHECKPOINT`), not the trial's latest.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from tflite.errors import StudyError
from tuner.runinfo import (RUN_INFO_FILE, SQLITE_FILE, Attr, RunInfo, RunInfoError, StudyAttr, is_run_dir_sqlite,
                           map_value, sqlite_path, sqlite_url, trial_dir_name)
from tuner.trial import CONFIG_FILE, MODEL_DIR


@dataclasses.dataclass(frozen=True)
class StudyRef:
    """Where a study lives."""

    name: str
    storage: str
    run_dir: Path | None = None


@dataclasses.dataclass(frozen=True)
class Selection:
    """The trial and checkpoint chosen for conversion.

    Attributes:
        study: the study it belongs to.
        number: Optuna trial number.
        trial_dir: the trial's directory (``pipeline.config``, ``model/``).
        checkpoint: checkpoint name (``ckpt-N``) with the trial's best objective value.
        best_step: training step of that checkpoint (``-1`` when not recorded).
        value: the trial's objective value (NaN when the trial has none).
        params: the trial's sampled parameters.
        metrics: COCO metrics of the checkpoint as the OD API evaluation measured them.
        baseline: ``(number, value)`` of the study's baseline trial, when there is one.
        why: why this trial, in words (the confirmed pick's best run, the best single run, ``--trial``).
    """

    study: StudyRef
    number: int
    trial_dir: Path
    checkpoint: str
    best_step: int
    value: float
    params: dict[str, Any]
    metrics: dict[str, float]
    baseline: tuple[int, float] | None = None
    why: str = ""

    @property
    def config_path(self) -> Path:
        return self.trial_dir / CONFIG_FILE

    @property
    def checkpoint_prefix(self) -> Path:
        """The checkpoint as TensorFlow names it (``.../model/ckpt-N``)."""
        return self.trial_dir / MODEL_DIR / self.checkpoint

    def to_json(self) -> dict[str, Any]:
        return {"study": self.study.name, "storage": self.study.storage,
                "run_dir": str(self.study.run_dir) if self.study.run_dir else None,
                "trial": self.number, "trial_dir": str(self.trial_dir),
                "checkpoint": self.checkpoint, "best_step": self.best_step, "value": self.value,
                "params": self.params, "metrics": self.metrics,
                "baseline": list(self.baseline) if self.baseline else None}


def _check_sqlite(storage: str, where: str) -> None:
    """Optuna creates a missing SQLite file silently; refuse instead."""
    raw = sqlite_path(storage)
    if raw is not None:
        path = Path(raw)
        if not path.is_file():
            raise StudyError("the study database does not exist", f"{path} ({where})",
                             "pass the run directory of an existing study or the right --storage URL")


def resolve_study(study: str, storage: str | None = None) -> StudyRef:
    """Resolve ``--study`` (run directory or study name) and ``--storage`` to a :class:`StudyRef`.

    Raises:
        StudyError: neither a run directory nor a name with a storage; the storage is missing.
    """
    path = Path(study)
    if path.is_dir():
        if not (path / RUN_INFO_FILE).is_file():
            raise StudyError("not a study run directory", f"{path} has no {RUN_INFO_FILE}",
                             "pass the directory python -m tuner.study wrote, or a study name with --storage")
        try:
            info = RunInfo.load(path)
        except RunInfoError as exc:
            raise StudyError(f"unreadable {RUN_INFO_FILE}", str(exc),
                             "restore the file python -m tuner.study wrote, or pass --study NAME with --storage"
                             ) from None
        url = storage or info.storage or sqlite_url(path)
        if storage is None and is_run_dir_sqlite(url) and (path / SQLITE_FILE).is_file():
            url = sqlite_url(path)  # the run directory's own study.db, wherever the directory now is
        _check_sqlite(url, f"storage of {path}")
        return StudyRef(info.study_name, url, path.resolve())
    if storage is None:
        raise StudyError("no such run directory and no --storage for a study name", f"--study {study}",
                         "pass an existing run directory, or the study name together with --storage URL")
    _check_sqlite(storage, "--storage")
    return StudyRef(study, storage, None)


def _load(ref: StudyRef) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=ref.name, storage=ref.storage)
    except KeyError as exc:
        raise StudyError(f"no study named {ref.name!r}", f"storage {ref.storage}",
                         "check the study name (optuna studies list --storage URL)") from exc
    except Exception as exc:
        raise StudyError(f"cannot open the study storage ({type(exc).__name__}: {exc})",
                         f"storage {ref.storage}", "check the --storage URL") from exc


def _trial_dir(attrs: dict[str, Any], ref: StudyRef, number: int) -> Path:
    raw = attrs.get(Attr.TRIAL_DIR)
    if not raw:
        raise StudyError(f"trial {number} records no {Attr.TRIAL_DIR!r} user attribute",
                         f"study {ref.name!r} ({ref.storage})",
                         "pick a trial run by odapi-tuner with --trial N")
    path = Path(raw)
    if ref.run_dir is not None:
        # The run directory's own trial-NNNN first: the recorded path may be relative to the
        # directory the study ran from, or the run directory may have been moved since.
        own = ref.run_dir / trial_dir_name(number)
        if own.is_dir() or not path.is_dir():
            return own
    return path


def _mAP(trial: Any) -> float:
    """The trial's mAP (its first value in a multi-objective study); NaN when it has none."""
    return _finite(map_value(trial))


def _finite(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _step(value: Any) -> int:
    """The recorded best step (0 is a real step); ``-1`` when missing or not a number."""
    if value is None or isinstance(value, bool):
        return -1
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def select(ref: StudyRef, trial: int | None = None) -> Selection:
    """Pick the trial (best completed, or ``trial``) and its best checkpoint.

    Raises:
        StudyError: the study has no completed trial; the trial does not exist, is not
            finished or records no best checkpoint; the checkpoint or config is missing.
    """
    import optuna

    study = _load(ref)
    where = f"study {ref.name!r} ({ref.run_dir or ref.storage})"
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if trial is None:
        candidates = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
                      and math.isfinite(_mAP(t))
                      and t.user_attrs.get(Attr.BEST_CHECKPOINT)]
        if not candidates:
            raise StudyError("no completed trial with a checkpoint", where,
                             "let at least one trial complete (python -m tuner.study) or pick one with --trial N")
        # mAP is the first objective; a multi-objective study (mAP, latency/size) hands back its best mAP
        sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
        chosen, why = _confirmed(study, candidates, sign)
        if chosen is None:
            chosen = max(candidates, key=lambda t: (sign * _mAP(t), -t.number))
            why = f"the best completed trial (mAP {_mAP(chosen):.4f}, a single run)"
    else:
        found = [t for t in study.trials if t.number == trial]
        if not found:
            numbers = [t.number for t in study.trials]
            raise StudyError(f"no trial {trial}", where, f"choose --trial from {numbers}")
        chosen = found[0]
        why = f"trial {trial} as asked (--trial)"
        if chosen.state not in done:
            state = {"FAIL": "failed"}.get(chosen.state.name, chosen.state.name.lower())
            raise StudyError(f"trial {trial} is {state}, not finished", where,
                             "choose a completed or pruned trial with --trial N")
    attrs = dict(chosen.user_attrs)
    checkpoint = attrs.get(Attr.BEST_CHECKPOINT)
    if not checkpoint:
        raise StudyError(f"trial {chosen.number} records no best checkpoint", where,
                         "choose a trial that was evaluated at least once with --trial N")
    trial_dir = _trial_dir(attrs, ref, chosen.number)
    selection = Selection(
        study=ref, number=chosen.number, trial_dir=trial_dir, checkpoint=str(checkpoint),
        best_step=_step(attrs.get(Attr.BEST_STEP)),
        value=_mAP(chosen), params=dict(chosen.params),
        metrics={k: _finite(v) for k, v in dict(attrs.get(Attr.METRICS) or {}).items()},
        baseline=_baseline(study), why=why)
    if not selection.config_path.is_file():
        raise StudyError(f"trial {chosen.number} has no {CONFIG_FILE}", str(selection.config_path),
                         "the trial directory was moved or deleted; restore it or choose another --trial")
    index = Path(f"{selection.checkpoint_prefix}.index")
    if not index.is_file():
        raise StudyError(f"checkpoint {checkpoint} of trial {chosen.number} is missing", str(index),
                         "restore the trial's model/ directory or choose another --trial")
    return selection


def _confirmed(study: Any, candidates: list[Any], sign: float) -> tuple[Any, str]:
    """The best run of the study's confirmed pick (:data:`StudyAttr.CONFIRMED_PICK`: the leader
    with the best mean over its fresh runs, with the study's verdict on its lift), or
    ``(None, "")`` when the study has no pick."""
    confirmed = study.user_attrs.get(StudyAttr.CONFIRMED_PICK) or {}
    pick = confirmed.get("trial")
    if pick is None:
        return None, ""
    runs = [t for t in candidates if t.number == pick or t.user_attrs.get(Attr.REPEAT_OF) == pick]
    if not runs:
        return None, ""
    best = max(runs, key=lambda t: (sign * _mAP(t), -t.number))
    leader = next((entry for entry in confirmed.get("leaders", []) if entry.get("trial") == pick), {})
    fresh, mean = leader.get("fresh") or [], leader.get("mean")
    estimate = (f"fresh mean mAP {mean:.4f} over {len(fresh)} run(s)" if mean is not None and fresh
                else f"mean mAP {sum(_mAP(t) for t in runs) / len(runs):.4f} over {len(runs)} runs")
    which = "the trial itself" if best.number == pick else f"its repeat trial {best.number}"
    verdict = f"; {confirmed['verdict']}" if confirmed.get("verdict") else ""
    return best, (f"the confirmed pick, trial {pick} ({estimate}{verdict}); its best run is {which} "
                  f"(mAP {_mAP(best):.4f})")


def _baseline(study: Any) -> tuple[int, float] | None:
    for t in study.trials:
        if t.user_attrs.get(Attr.BASELINE) and t.values:
            return t.number, _mAP(t)
    return None


def default_out(selection: Selection) -> Path:
    """``<run dir>/tflite-trial-NNNN``, or ``./tflite-<study>-trial-NNNN`` without a run dir."""
    name = f"tflite-trial-{selection.number:04d}"
    if selection.study.run_dir is not None:
        return selection.study.run_dir / name
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in selection.study.name)
    return Path(os.getcwd()) / f"tflite-{safe}-trial-{selection.number:04d}"
