"""The results side of ``bench/search.py``: one study read back from its storage, the rows of the
summary (per sampler, and the baseline), the configs two studies both trained, the verdict, and
the tables as text.

Nothing here runs a study or imports TensorFlow: the aggregation and the verdict are pure
functions of :class:`StudyResult` values, so they are tested on hand-made ones. A study's
trials may lack ``steps_trained``/``wall_seconds`` (:data:`Attr.STEPS`, :data:`Attr.WALL_SECONDS`:
studies of older versions): they count 0, and :attr:`StudyResult.unrecorded` says how many.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path
from typing import Any, Iterable, Sequence

import optuna
from optuna.trial import TrialState

from tuner.cli import text_table
from tuner.runinfo import SQLITE_FILE, Attr
from tuner.study import report
from tuner.study.compute import duration

BASELINE = "baseline"


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """One study as run by the bench and read back from its storage.

    Attributes:
        sampler, seed, name, run_dir: what was run, where.
        exit_code: of ``python -m tuner.study``; ``error``: the last line of its log when non-zero.
        study_seconds: wall time of the study processes as measured by the bench.
        baseline, best: mAP of the completed baseline and of the best completed trial (``None``: none).
        completed, pruned, failed: trials by state.
        steps, trial_seconds: summed ``steps_trained`` and ``wall_seconds`` of all its trials.
        baseline_steps, baseline_seconds: those of the baseline trial.
        unrecorded: completed or pruned trials without ``steps_trained``/``wall_seconds`` (counted 0).
        sampled: ``(parameters as sorted JSON, mAP)`` of each completed trial but the baseline.
    """

    sampler: str
    seed: int
    name: str
    run_dir: str
    exit_code: int
    error: str = ""
    study_seconds: float = 0.0
    baseline: float | None = None
    best: float | None = None
    completed: int = 0
    pruned: int = 0
    failed: int = 0
    steps: int = 0
    trial_seconds: float = 0.0
    baseline_steps: int = 0
    baseline_seconds: float = 0.0
    unrecorded: int = 0
    sampled: tuple[tuple[str, float], ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def lift(self) -> float | None:
        """Best minus this study's own baseline (``None`` without both)."""
        return None if self.best is None or self.baseline is None else self.best - self.baseline


@dataclasses.dataclass(frozen=True)
class Spread:
    """Median, min and max of ``n`` values."""

    median: float
    min: float
    max: float
    n: int

    @property
    def width(self) -> float:
        return self.max - self.min

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread | None:
        """The spread of the values that are not ``None`` (``None`` if there are none)."""
        kept = [float(v) for v in values if v is not None]
        return cls(statistics.median(kept), min(kept), max(kept), len(kept)) if kept else None


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the summary: a sampler's successful studies, or the baseline over all studies.

    Attributes:
        label: the sampler, or ``baseline``.
        seeds: seeds of the studies aggregated (successful ones; for ``baseline``: with a baseline).
        failed_studies: studies that exited non-zero (not aggregated).
        best: the best mAP per study (for ``baseline``: the baseline's mAP per study).
        lift: best minus that study's baseline (``None`` for ``baseline``).
        steps, trial_seconds: summed over the studies (for ``baseline``: its trials only).
        study_seconds: study wall times summed (0 for ``baseline``: it is part of every study).
    """

    label: str
    seeds: tuple[int, ...]
    failed_studies: int
    best: Spread | None
    lift: Spread | None
    steps: int
    trial_seconds: float
    study_seconds: float


def sampler_row(sampler: str, results: Sequence[StudyResult]) -> Row:
    """The row of ``sampler``: its studies that exited 0."""
    mine = [r for r in results if r.sampler == sampler]
    ok = [r for r in mine if r.ok]
    return Row(sampler, tuple(r.seed for r in ok), len(mine) - len(ok), Spread.of(r.best for r in ok),
               Spread.of(r.lift for r in ok), sum(r.steps for r in ok), sum(r.trial_seconds for r in ok),
               sum(r.study_seconds for r in ok))


def baseline_row(results: Sequence[StudyResult]) -> Row:
    """The baseline's mAP over every study that completed it (failed studies included: the
    baseline is trial 0, complete before anything later went wrong)."""
    with_base = [r for r in results if r.baseline is not None]
    return Row(BASELINE, tuple(r.seed for r in with_base), 0, Spread.of(r.baseline for r in with_base), None,
               sum(r.baseline_steps for r in with_base), sum(r.baseline_seconds for r in with_base), 0.0)


def summary_rows(results: Sequence[StudyResult], samplers: Sequence[str]) -> list[Row]:
    """One row per sampler (in ``samplers`` order), then the baseline row."""
    return [*(sampler_row(s, results) for s in samplers), baseline_row(results)]


@dataclasses.dataclass(frozen=True)
class Repeat:
    """One sampled config that two studies of the same seed both trained.

    TPE's first trials are random draws from its seed, the same draws as the random sampler's
    with that seed: the two studies then train the same config, and the difference of their
    values is the run-to-run noise of that config, as the baseline row measures it for the base.
    """

    seed: int
    studies: tuple[str, str]
    values: tuple[float, float]

    @property
    def diff(self) -> float:
        return abs(self.values[0] - self.values[1])


def repeats(results: Sequence[StudyResult]) -> list[Repeat]:
    """The configs trained by two studies of the same seed (each pair of studies, each config once)."""
    found = []
    for i, a in enumerate(results):
        for b in results[i + 1:]:
            if a.seed != b.seed:
                continue
            theirs = dict(b.sampled)
            shown = set()
            for params, value in a.sampled:
                if params in theirs and params not in shown:
                    shown.add(params)
                    found.append(Repeat(a.seed, (a.name, b.name), (value, theirs[params])))
    return found


def verdict(rows: Sequence[Row], repeated: Sequence[Repeat] = ()) -> str:
    """One line comparing the first two samplers' median best against the baseline's spread.

    The spread (max - min of the baseline's mAP over all studies) is the run-to-run noise of one
    config: a difference of the medians within it is no measurable difference; one larger than
    it is stated as such.

    Args:
        rows: as :func:`summary_rows` returns them (samplers first, then the baseline).
        repeated: configs trained twice (:func:`repeats`); a difference between two runs of one of
            them larger than the spread is added to the line, since it is noise the spread missed.

    Returns:
        The verdict, e.g. ``tpe vs random: median best 0.3120 vs 0.2980 (+0.0140), within the
        baseline's spread of 0.0610 -> no measurable difference at this budget``.
    """
    samplers = [r for r in rows if r.label != BASELINE]
    base = next((r.best for r in rows if r.label == BASELINE), None)
    if len(samplers) == 1 and samplers[0].best is not None:
        only, best = samplers[0], samplers[0].best
        lift = f", lift {only.lift.median:+.4f} over its own baseline" if only.lift else ""
        return (f"{only.label} only: median best {best.median:.4f} over {best.n} seed(s){lift}; no comparison "
                "(give --samplers tpe,random)")
    if len(samplers) < 2:
        return "no verdict: no sampler has a successful study"
    a, b = samplers[0], samplers[1]
    if a.best is None or b.best is None:
        missing = " and ".join(r.label for r in (a, b) if r.best is None)
        return f"{a.label} vs {b.label}: no verdict: no successful study of {missing}"
    diff = a.best.median - b.best.median
    head = f"{a.label} vs {b.label}: median best {a.best.median:.4f} vs {b.best.median:.4f} ({diff:+.4f})"
    if base is None or base.n < 2:
        return f"{head}, the baseline was trained fewer than twice: no noise estimate -> no verdict (run more seeds)"
    if abs(diff) <= base.width:
        return f"{head}, within the baseline's spread of {base.width:.4f} -> no measurable difference at this budget"
    ahead = a.label if diff > 0 else b.label
    seeds = min(a.best.n, b.best.n)
    worst = max((r.diff for r in repeated), default=0.0)
    return (f"{head}, larger than the baseline's spread of {base.width:.4f} -> {ahead} ahead by more than the "
            "run-to-run noise of one config" + (f", but on {seeds} seed(s) each (run more seeds)" if seeds < 3 else "")
            + (f"; yet one sampled config trained twice differed by {worst:.4f}" if worst > base.width else ""))


def to_json(results: Sequence[StudyResult], rows: Sequence[Row], line: str) -> dict[str, Any]:
    """The studies (with their lift), the rows, the repeated configs and the verdict as JSON-ready values."""
    return {"studies": [{**dataclasses.asdict(r), "lift": r.lift} for r in results],
            "rows": [dataclasses.asdict(r) for r in rows],
            "repeats": [{**dataclasses.asdict(r), "diff": r.diff} for r in repeats(results)], "verdict": line}


def _number(value: Any, kind: type) -> Any:
    return kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else kind(0)


def read_study(sampler: str, seed: int, run_dir: Path, name: str, exit_code: int, error: str,
               study_seconds: float) -> StudyResult:
    """Read study ``name`` from ``run_dir/study.db``.

    Args:
        sampler, seed, name, run_dir: the study.
        exit_code, error, study_seconds: how its run went, as the bench saw it.

    Returns:
        The result; without the database or the study in it, counts stay 0 and values ``None``
        (an unreadable database is said in ``error``).
    """
    result = StudyResult(sampler, seed, name, str(run_dir), exit_code, error, study_seconds)
    db = run_dir / SQLITE_FILE
    if not db.is_file():
        return result
    try:
        study = optuna.load_study(study_name=name, storage=f"sqlite:///{db.resolve()}")
    except KeyError:
        return result
    except Exception as exc:  # noqa: BLE001 - a broken database must not lose the other studies' table
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return dataclasses.replace(result, error=f"{error + '; ' if error else ''}cannot read {db}: "
                                                 f"{type(exc).__name__}: {first}")
    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    base, best = report.baseline(study), report.best_trial(study)
    recorded = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    return dataclasses.replace(
        result, baseline=None if base is None else float(base.value),  # type: ignore[arg-type]
        best=None if best is None else float(best.value),  # type: ignore[arg-type]
        completed=states.count(TrialState.COMPLETE), pruned=states.count(TrialState.PRUNED),
        failed=states.count(TrialState.FAIL),
        steps=sum(_number(t.user_attrs.get(Attr.STEPS), int) for t in trials),
        trial_seconds=sum(_number(t.user_attrs.get(Attr.WALL_SECONDS), float) for t in trials),
        baseline_steps=0 if base is None else _number(base.user_attrs.get(Attr.STEPS), int),
        baseline_seconds=0.0 if base is None else _number(base.user_attrs.get(Attr.WALL_SECONDS), float),
        unrecorded=sum(Attr.STEPS not in t.user_attrs or Attr.WALL_SECONDS not in t.user_attrs for t in recorded),
        sampled=tuple((json.dumps(t.params, sort_keys=True), float(t.value))  # type: ignore[arg-type]
                      for t in trials if t.state is TrialState.COMPLETE and t.value is not None
                      and not t.user_attrs.get(Attr.BASELINE)))


def trial_count(run_dir: Path, name: str) -> int:
    """Trials in the study's storage so far (0 when there is none yet; nothing is created)."""
    db = run_dir / SQLITE_FILE
    if not db.is_file():
        return 0
    try:
        return len(optuna.load_study(study_name=name, storage=f"sqlite:///{db.resolve()}").get_trials(deepcopy=False))
    except KeyError:
        return 0


def _spread(s: Spread | None, signed: bool = False) -> str:
    if s is None:
        return "-"
    f = "{:+.4f}" if signed else "{:.4f}"
    return f"{f.format(s.median)} [{f.format(s.min)}, {f.format(s.max)}]"


def _opt(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")


def render(results: Sequence[StudyResult], rows: Sequence[Row], line: str) -> str:
    """The summary table, the per-study table, failures and notes, and the verdict."""
    out = text_table(("sampler", "seeds", "failed", "best mAP median [min, max]", "lift vs own baseline", "steps",
                  "trial wall", "study wall"),
                 [(r.label, f"{len(r.seeds)} studies" if r.label == BASELINE else ",".join(map(str, r.seeds)) or "-",
                   str(r.failed_studies) if r.label != BASELINE else "",
                   _spread(r.best), _spread(r.lift, signed=True), str(r.steps), duration(r.trial_seconds),
                   duration(r.study_seconds) if r.label != BASELINE else "") for r in rows])
    out.append("baseline: the base config's mAP over all studies (trained once per study): its max - min is the "
               "run-to-run noise of one config; lift >= 0, the baseline being one of each study's trials")
    out += ["", *text_table(("study", "exit", "baseline", "best", "lift", "completed", "pruned", "failed", "steps",
                         "trial wall", "study wall"),
                        [(r.name, str(r.exit_code), _opt(r.baseline), _opt(r.best), _opt(r.lift, signed=True),
                          str(r.completed), str(r.pruned), str(r.failed), str(r.steps), duration(r.trial_seconds),
                          duration(r.study_seconds)) for r in results])]
    out += [f"  {r.name} FAILED (exit {r.exit_code}): {r.error or '(no output)'}" for r in results if not r.ok]
    out += [f"  note: {r.unrecorded} trial(s) of {r.name} lack {Attr.STEPS}/{Attr.WALL_SECONDS} (older study): "
            "counted 0" for r in results if r.unrecorded]
    for r in repeats(results):
        out.append(f"  note: {r.studies[0]} and {r.studies[1]} trained the same sampled config (TPE's first trials "
                   f"are the random sampler's draws for seed {r.seed}): mAP {r.values[0]:.4f} vs {r.values[1]:.4f}, "
                   f"a run-to-run difference of {r.diff:.4f}")
    return "\n".join([*out, "", line])


