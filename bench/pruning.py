"""What would a pruner have done to a finished study? An exact offline replay, no training.

Input: a finished study run with ``--pruner none``, so that every trial's learning curve (the
mAP reported to Optuna at each evaluated global step) is complete, e.g.::

    python -m tuner.study --base ssd_mobilenet_v2_shapes --pruner none --steps 300 \\
        --eval-every 50 --n-trials 8 --run-dir runs/replay --seed 0

For each pruner setting of :data:`SETTINGS` (plus the study's own default pruner, built by
``tuner.study.pruning.build_pruner``, when that module can be imported), the completed trials'
curves are replayed in trial-number order into a fresh in-memory Optuna study with that pruner:
each evaluation is reported and ``should_prune()`` asked after it, as ``tuner.study`` does while
training. One row per setting: trials pruned, training steps saved (last step of a pruned
trial's curve minus the step it was pruned at; absolute and as a share of all the steps the
study trained), whether the best trial (by final value) would have been pruned, and how many of
the top 3. A second table gives the Spearman rank correlation, across trials, between the mAP at
each evaluation step and the final value: how early the ranking of trials settles.

The replay is exact for the pruner's decisions: the replay study has the original study's name
and trial numbers (trials that did not complete are ignored and stand in as failed trials), so
even Hyperband's bracket of a trial (a hash of study name and trial number) is the original one.
What it cannot show: where the freed budget would have gone, and how the sampler would have
reacted to pruned trials (the replayed trials are those the unpruned study sampled).
``steps`` is the largest reported step, ``eval_every`` the smallest gap between consecutive
reported steps of a trial.

Usage::

    .venv/bin/python bench/pruning.py --run-dir runs/replay [--json]
    .venv/bin/python bench/pruning.py --storage sqlite:///runs/replay/study.db --study NAME [--json]

Exit codes: 0 done; 2 bad input (no such run directory or study, no completed trial, a study
that pruned trials), with one line ``error: ...`` on stderr.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner
from optuna.study import StudyDirection
from optuna.trial import TrialState
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tflite.errors import StudyError
from tflite.select import resolve_study
from tuner.cli import OneLineParser, text_table
from tuner.runinfo import sqlite_path
from tuner.study.storage import redact

EXIT_BAD_INPUT = 2
#: How many of the best trials the "top pruned" column looks at.
TOP = 3
HYPERBAND_REDUCTION = 3

#: Builds a pruner from the study's ``(steps, eval_every)``.
PrunerFactory = Callable[[int, int], BasePruner]


class ReplayError(Exception):
    """Bad input; the message is the one line the CLI prints."""


@dataclasses.dataclass(frozen=True)
class PrunerSetting:
    """One row of the replay.

    Attributes:
        name: shown in the table.
        build: the pruner for the study's ``(steps, eval_every)``.
        optional: a setting whose pruner may be unavailable (code being written elsewhere): a
            failure to build it skips its row with a note instead of ending the bench.
    """

    name: str
    build: PrunerFactory
    optional: bool = False


@dataclasses.dataclass(frozen=True)
class Curve:
    """A completed trial: its final value and its intermediate values in step order."""

    number: int
    value: float
    points: tuple[tuple[int, float], ...]

    @property
    def last_step(self) -> int:
        return self.points[-1][0] if self.points else 0


@dataclasses.dataclass(frozen=True)
class StudyCurves:
    """What the replay needs from the input study.

    Attributes:
        name, storage: the study (storage URL with any password redacted).
        curves: completed trials, by trial number.
        ignored: numbers of the trials that did not complete (failed, running, waiting).
        steps: the largest reported step.
        eval_every: the smallest gap between consecutive reported steps of a trial.
    """

    name: str
    storage: str
    curves: tuple[Curve, ...]
    ignored: tuple[int, ...]
    steps: int
    eval_every: int

    @property
    def steps_trained(self) -> int:
        """All the steps the unpruned study trained its completed trials for."""
        return sum(c.last_step for c in self.curves)

    @property
    def ranked(self) -> list[Curve]:
        """Completed trials, best final value first (lower number first on ties)."""
        return sorted(self.curves, key=lambda c: (-c.value, c.number))


@dataclasses.dataclass(frozen=True)
class Row:
    """The outcome of replaying one pruner setting.

    Attributes:
        setting: the setting's name.
        pruned_at: trial number -> step at which the trial would have been pruned.
        steps_saved: sum over pruned trials of (last step of the curve - pruned step).
        saved_fraction: ``steps_saved`` / all steps the unpruned study trained.
        best_pruned: whether the trial with the best final value would have been pruned.
        top_pruned: how many of the :data:`TOP` best trials would have been pruned.
    """

    setting: str
    pruned_at: dict[int, int]
    steps_saved: int
    saved_fraction: float
    best_pruned: bool
    top_pruned: int

    def to_json(self) -> dict[str, Any]:
        return {"setting": self.setting, "pruned": len(self.pruned_at), "steps_saved": self.steps_saved,
                "saved_pct": 100.0 * self.saved_fraction, "best_pruned": self.best_pruned,
                "top3_pruned": self.top_pruned, "pruned_at": {str(n): s for n, s in self.pruned_at.items()}}


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A setting that could not be replayed, and why."""

    setting: str
    reason: str


@dataclasses.dataclass(frozen=True)
class StepCorrelation:
    """Spearman's rho between the value at ``step`` and the final value, over ``trials``
    trials (``None`` when undefined: fewer than 2 trials, or one side constant)."""

    step: int
    trials: int
    rho: float | None


def _raw_median(warmup: float, startup: int) -> PrunerFactory:
    def build(steps: int, eval_every: int) -> BasePruner:
        return MedianPruner(n_startup_trials=startup, n_warmup_steps=int(warmup * steps))
    return build


def _raw_hyperband(min_resource: Callable[[int, int], int]) -> PrunerFactory:
    def build(steps: int, eval_every: int) -> BasePruner:
        return HyperbandPruner(min_resource=min_resource(steps, eval_every), max_resource=steps,
                               reduction_factor=HYPERBAND_REDUCTION)
    return build


def _policy(kind: str, warmup: float, startup: int) -> PrunerFactory:
    """The pruner ``python -m tuner.study --pruner KIND --prune-after W --prune-min-trials N``
    builds (guarded: never before the warm-up, before N completed trials, or at the last step)."""
    def build(steps: int, eval_every: int) -> BasePruner:
        from tuner.study.pruning import build_pruner

        return build_pruner(kind, steps, eval_every, prune_after=warmup, min_trials=startup)
    return build


#: The settings replayed. The "old" rows are the pruners studies used before the warm-up rule
#: (raw Optuna pruners); the others are what ``tuner.study`` builds with ``--prune-after X``
#: (``wX%``: no pruning before X% of the trial's steps, nor at its last step) and
#: ``--prune-min-trials K`` (``nK``: no pruning before K trials completed).
SETTINGS: tuple[PrunerSetting, ...] = (
    PrunerSetting("median w0% n2 (old default)", _raw_median(0.0, 2)),
    *(PrunerSetting(f"median w{warmup:.0%} n{startup}", _policy("median", warmup, startup))
      for warmup in (0.25, 0.5, 0.75) for startup in (2, 4)),
    PrunerSetting("hyperband min=eval_every (old)", _raw_hyperband(lambda steps, eval_every: eval_every)),
    *(PrunerSetting(f"hyperband w50% n{startup}", _policy("hyperband", 0.5, startup)) for startup in (2, 4)),
)


def study_default_setting() -> PrunerSetting:
    """The pruner ``python -m tuner.study`` builds by default (``tuner.study.pruning``).

    Imported when built, not here: while that module is missing or broken, this row is
    skipped with a note and the other rows still run.
    """
    def build(steps: int, eval_every: int) -> BasePruner:
        kind = _default_kind()
        pruner = importlib.import_module("tuner.study.pruning").build_pruner(kind, steps, eval_every)
        if not isinstance(pruner, BasePruner):
            raise TypeError(f"build_pruner({kind!r}, ...) returned {type(pruner).__name__}, not a pruner")
        return pruner

    try:
        name = f"study default ({_default_kind()})"
    except Exception:  # noqa: BLE001 - reported when the row is built
        name = "study default"
    return PrunerSetting(name, build, optional=True)


def _default_kind() -> str:
    """The default ``--pruner`` of a study (``StudySettings.pruner``)."""
    from tuner.study.inputs import StudySettings

    return str(next(f.default for f in dataclasses.fields(StudySettings) if f.name == "pruner"))


def settings() -> list[PrunerSetting]:
    return [*SETTINGS, study_default_setting()]


def _check_sqlite(url: str, where: str) -> None:
    """Optuna creates a missing SQLite file silently; refuse instead."""
    raw = sqlite_path(url)
    if raw is not None and raw != ":memory:" and not Path(raw).is_file():
        raise ReplayError(f"the study database does not exist: {raw} ({where}); pass the run directory of a finished "
                          "study or the right --storage URL")


def resolve(run_dir: str | None, storage: str | None, study: str | None) -> tuple[str, str]:
    """``(study name, storage URL)`` from ``--run-dir`` or ``--storage`` with ``--study``.

    A run directory's own ``study.db`` is used wherever the directory now is (as
    ``tflite.select.resolve_study`` does).

    Raises:
        ReplayError: no such run directory, not a run directory, missing SQLite file.
    """
    if run_dir is not None:
        if not Path(run_dir).is_dir():
            raise ReplayError(f"no such run directory: {run_dir}; pass the --run-dir python -m tuner.study wrote, "
                              "or --storage URL --study NAME")
        try:
            ref = resolve_study(run_dir)
        except StudyError as exc:
            raise ReplayError(exc.one_line()) from None
        return ref.name, ref.storage
    assert storage is not None and study is not None  # the parser requires both
    _check_sqlite(storage, "--storage")
    return study, storage


def load(name: str, storage: str) -> StudyCurves:
    """Read the completed trials' curves of study ``name``.

    Raises:
        ReplayError: unknown study or unreadable storage; a study with pruned trials (its
            curves are incomplete); no completed trial with intermediate values.
    """
    shown = redact(storage)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise ReplayError(f"no study named {name!r} in {shown}; check the name (optuna studies list --storage URL)"
                          ) from None
    except Exception as exc:  # noqa: BLE001 - any storage failure is bad input here
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ReplayError(f"cannot open the study storage {shown}: {first}; check the --storage URL") from None
    if study.directions != [StudyDirection.MAXIMIZE]:
        raise ReplayError(f"study {name!r} in {shown} is not a single maximized objective; pass a python -m "
                          "tuner.study study")
    trials = study.get_trials(deepcopy=False)
    pruned = [t.number for t in trials if t.state is TrialState.PRUNED]
    if pruned:
        raise ReplayError(f"study {name!r} has {len(pruned)} pruned trial(s) (first: trial {pruned[0]}), so their "
                          "curves are incomplete: the input must be a `--pruner none` study; run python -m "
                          "tuner.study ... --pruner none")
    complete = [t for t in trials if t.state is TrialState.COMPLETE and t.value is not None]
    curves = tuple(Curve(t.number, float(t.value),  # type: ignore[arg-type] - None filtered out above
                         tuple(sorted(t.intermediate_values.items()))) for t in complete)
    steps = [step for c in curves for step, _ in c.points]
    if not steps:
        raise ReplayError(f"study {name!r} in {shown} has no completed trial with reported evaluations; let a "
                          "`--pruner none` study complete some trials first")
    gaps = [b[0] - a[0] for c in curves for a, b in zip(c.points, c.points[1:])]
    done = {t.number for t in complete}
    ignored = tuple(t.number for t in trials if t.number not in done)
    return StudyCurves(name, shown, curves, ignored, steps=max(steps), eval_every=min(gaps) if gaps else max(steps))


def replay(data: StudyCurves, pruner: BasePruner) -> dict[int, int]:
    """Replay the curves with ``pruner``.

    Returns:
        Trial number -> step at which ``pruner`` would have pruned it.
    """
    study = optuna.create_study(study_name=data.name, direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    by_number = {c.number: c for c in data.curves}
    pruned_at: dict[int, int] = {}
    for number in range(max(by_number) + 1):
        trial = study.ask()
        assert trial.number == number  # same numbers as the original study (Hyperband's brackets depend on them)
        curve = by_number.get(number)
        if curve is None:  # did not complete in the original study: a failed stand-in
            study.tell(trial, state=TrialState.FAIL)
            continue
        for step, value in curve.points:
            trial.report(value, step)
            if trial.should_prune():
                pruned_at[number] = step
                study.tell(trial, state=TrialState.PRUNED)
                break
        else:
            study.tell(trial, curve.value)
    return pruned_at


def row(data: StudyCurves, setting: str, pruned_at: dict[int, int]) -> Row:
    by_number = {c.number: c for c in data.curves}
    saved = sum(by_number[n].last_step - step for n, step in pruned_at.items())
    ranked = data.ranked
    total = data.steps_trained
    return Row(setting, dict(sorted(pruned_at.items())), saved, saved / total if total else 0.0,
               best_pruned=ranked[0].number in pruned_at,
               top_pruned=sum(c.number in pruned_at for c in ranked[:TOP]))


def replay_all(data: StudyCurves, table: Sequence[PrunerSetting]) -> tuple[list[Row], list[Skipped]]:
    """One :class:`Row` per setting; optional settings whose pruner cannot be built are skipped."""
    rows: list[Row] = []
    skipped: list[Skipped] = []
    for setting in table:
        try:
            pruner = setting.build(data.steps, data.eval_every)
        except Exception as exc:
            if not setting.optional:
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            skipped.append(Skipped(setting.name, f"{type(exc).__name__}: {first}"))
            continue
        rows.append(row(data, setting.name, replay(data, pruner)))
    return rows, skipped


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get their average rank); ``None`` when undefined."""
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(stats.spearmanr(x, y).statistic)


def correlations(data: StudyCurves) -> list[StepCorrelation]:
    """Per evaluation step: rho between the value there and the final value, across trials."""
    out = []
    for step in sorted({s for c in data.curves for s, _ in c.points}):
        pairs = [(dict(c.points)[step], c.value) for c in data.curves if step in dict(c.points)]
        out.append(StepCorrelation(step, len(pairs), spearman([p[0] for p in pairs], [p[1] for p in pairs])))
    return out


def _evaluations(data: StudyCurves) -> str:
    counts = sorted({len(c.points) for c in data.curves})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def render(data: StudyCurves, rows: Sequence[Row], skipped: Sequence[Skipped],
           corr: Sequence[StepCorrelation]) -> str:
    """The report as text: the study, the replay table, skipped settings, the correlations."""
    lines = [f"study {data.name!r} ({data.storage}): {len(data.curves)} completed trials replayed in trial order, "
             f"{len(data.ignored)} not complete (ignored)",
             f"evaluations per trial: {_evaluations(data)}; steps {data.steps}, eval_every {data.eval_every} "
             f"(from the reported steps); {data.steps_trained} steps trained in all",
             ""]
    lines += text_table(("setting", "pruned", "steps saved", "best pruned", f"top-{TOP} pruned"),
                    [(r.setting, str(len(r.pruned_at)), f"{r.steps_saved} ({100 * r.saved_fraction:.1f}%)",
                      "yes" if r.best_pruned else "no", str(r.top_pruned)) for r in rows])
    lines.append("wX%: no pruning before X% of the steps; nK: none before K trials completed; "
                 f"hyperband: reduction factor {HYPERBAND_REDUCTION}, max resource = steps")
    lines += [f"note: {s.setting} not replayed ({s.reason})" for s in skipped]
    lines += ["", "Spearman rank correlation, across trials, of the value at a step with the final value"]
    lines += text_table(("step", "trials", "rho"),
                    [(str(c.step), str(c.trials), "-" if c.rho is None else f"{c.rho:+.3f}") for c in corr])
    return "\n".join(lines)


def to_json(data: StudyCurves, rows: Sequence[Row], skipped: Sequence[Skipped],
            corr: Sequence[StepCorrelation]) -> dict[str, Any]:
    counts = [len(c.points) for c in data.curves]
    return {"study": data.name, "storage": data.storage, "trials": len(data.curves), "ignored": len(data.ignored),
            "evaluations_per_trial": {"min": min(counts), "max": max(counts)},
            "steps": data.steps, "eval_every": data.eval_every, "steps_trained": data.steps_trained,
            "rows": [r.to_json() for r in rows],
            "skipped": [dataclasses.asdict(s) for s in skipped],
            "spearman": [dataclasses.asdict(c) for c in corr]}


@dataclasses.dataclass(frozen=True)
class PooledRow:
    """One setting replayed over several studies (each in its own trial order), summed."""

    setting: str
    studies: int
    trials: int
    pruned: int
    steps_saved: int
    steps_trained: int
    best_pruned_in: int
    top_pruned: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pool(results: Sequence[tuple[StudyCurves, Sequence[Row]]]) -> list[PooledRow]:
    """Sum each setting's rows over studies (settings missing from a study are left out there)."""
    names = list(dict.fromkeys(r.setting for _, rows in results for r in rows))
    pooled = []
    for name in names:
        pairs = [(data, r) for data, rows in results for r in rows if r.setting == name]
        pooled.append(PooledRow(name, len(pairs), sum(len(d.curves) for d, _ in pairs),
                                sum(len(r.pruned_at) for _, r in pairs), sum(r.steps_saved for _, r in pairs),
                                sum(d.steps_trained for d, _ in pairs), sum(r.best_pruned for _, r in pairs),
                                sum(r.top_pruned for _, r in pairs)))
    return pooled


def render_pooled(studies: Sequence[StudyCurves], pooled: Sequence[PooledRow],
                  corr: Sequence[tuple[str, Sequence[StepCorrelation]]]) -> str:
    """The pooled table, and each study's rank correlations side by side by step."""
    lines = [f"pooled over {len(studies)} studies (each replayed in its own trial order):"]
    lines += [f"  {d.name}: {len(d.curves)} completed trials ({len(d.ignored)} ignored), {_evaluations(d)} "
              f"evaluations each, steps {d.steps}, eval_every {d.eval_every}" for d in studies]
    lines.append("")
    lines += text_table(("setting", "pruned", "steps saved", "best pruned", f"top-{TOP} pruned"),
                    [(p.setting, f"{p.pruned}/{p.trials}",
                      f"{p.steps_saved} ({100 * p.steps_saved / max(1, p.steps_trained):.1f}%)",
                      f"{p.best_pruned_in}/{p.studies} studies", f"{p.top_pruned}/{TOP * p.studies}")
                     for p in pooled])
    steps = sorted({c.step for _, cs in corr for c in cs})
    lines += ["", "Spearman rho of the value at a step with the final value, per study"]
    lines += text_table(("study", *map(str, steps)),
                    [(name, *("-" if (m := next((c for c in cs if c.step == step), None)) is None or m.rho is None
                              else f"{m.rho:+.2f}" for step in steps)) for name, cs in corr])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Replays the pruner settings and prints the tables (or ``--json``); 2 on bad input."""
    parser = OneLineParser(prog="bench/pruning.py", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", action="append",
                        help="run directory of a finished `--pruner none` study; repeat it to pool several studies")
    parser.add_argument("--storage", help="Optuna storage URL (with --study)")
    parser.add_argument("--study", help="study name in --storage")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = parser.parse_args(argv)
    if (args.run_dir is None) == (args.storage is None and args.study is None):
        parser.error("give --run-dir DIR, or --storage URL with --study NAME")
    if args.run_dir is None and (args.storage is None or args.study is None):
        parser.error("--storage and --study go together")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        studies = [load(*resolve(run_dir, None, None)) for run_dir in args.run_dir] if args.run_dir else \
            [load(*resolve(None, args.storage, args.study))]
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    reports = []
    for data in studies:
        rows, skipped = replay_all(data, settings())
        reports.append((data, rows, skipped, correlations(data)))
    if len(reports) == 1:
        data, rows, skipped, corr = reports[0]
        print(json.dumps(to_json(data, rows, skipped, corr), indent=1) if args.json else render(data, rows, skipped, corr))
        return 0
    pooled = pool([(data, rows) for data, rows, _, _ in reports])
    if args.json:
        print(json.dumps({"studies": [to_json(*r) for r in reports], "pooled": [p.to_json() for p in pooled]},
                         indent=1))
    else:
        print(render_pooled(studies, pooled, [(data.name, corr) for data, _, _, corr in reports]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
