"""bench/pruning.py: the offline replay of pruners on hand-made learning curves (no TensorFlow).

The six curves below (evaluations at steps 100..600, final value = best value) have answers
worked out by hand from Optuna's rules: the median pruner compares a trial's best value so far
with the median, at that step, of the completed trials; Hyperband (reduction factor 3) promotes a
trial past a rung only while its value there is among the top third of its bracket (the best,
for the first two). Trial 2 is the late bloomer: 0.0 at its first two evaluations, best at the end.
"""
from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import optuna
import pytest
from benchload import load_bench
from optuna.trial import TrialState, create_trial

from tuner.runinfo import SQLITE_FILE, RunInfo

STEPS = (100, 200, 300, 400, 500, 600)
CURVES = (
    (0.10, 0.20, 0.30, 0.40, 0.50, 0.60),  # 0: steady            final 0.60 (3rd)
    (0.20, 0.30, 0.40, 0.50, 0.55, 0.58),  # 1: fast start        final 0.58
    (0.00, 0.00, 0.41, 0.60, 0.70, 0.80),  # 2: late bloomer      final 0.80 (best)
    (0.05, 0.10, 0.15, 0.20, 0.25, 0.30),  # 3: poor              final 0.30
    (0.16, 0.26, 0.42, 0.52, 0.60, 0.65),  # 4: good throughout   final 0.65 (2nd)
    (0.02, 0.05, 0.10, 0.15, 0.20, 0.25),  # 5: worst             final 0.25
)
NAME = "replay"  # Hyperband's brackets hash the study name: the expected rows hold for this name only

#: setting -> (trial number -> pruned step, steps saved, best pruned, top-3 pruned); 3600 steps trained.
EXPECTED = {
    "median w0% n2 (old default)": ({2: 100, 3: 100, 5: 100}, 1500, True, 1),
    "median w25% n2": ({2: 200, 3: 200, 5: 200}, 1200, True, 1),
    "median w25% n4": ({5: 200}, 400, False, 0),
    "median w50% n2": ({3: 300, 5: 300}, 600, False, 0),
    "median w50% n4": ({5: 300}, 300, False, 0),
    "median w75% n2": ({3: 500, 5: 500}, 200, False, 0),
    "median w75% n4": ({5: 500}, 100, False, 0),
    # Brackets for study "replay": trials 0, 2, 4, 5 in bracket 0 (rungs at 100 and 300), 1 and 3
    # in bracket 1 (rung at 300). At 100, trial 2 (0.00) and 5 (0.02) are not the best of theirs.
    "hyperband min=eval_every (old)": ({2: 100, 3: 300, 5: 100}, 1300, True, 1),
    # One bracket, one rung at 300: 3 (0.15 < 0.42) and 5 (0.10, not in the top 6 // 3) fail it.
    "hyperband w50% n2": ({3: 300, 5: 300}, 600, False, 0),
    "hyperband w50% n4": ({5: 300}, 300, False, 0),
}


@pytest.fixture(scope="module")
def bench() -> types.ModuleType:
    return load_bench("pruning")


def _make_study(db: Path, curves=CURVES, *, fail_at: int | None = None, pruned: bool = False,
                name: str = NAME) -> str:
    """A study like a `--pruner none` run of ``curves``; a failed trial (a partial curve whose
    gap of 50 steps would change eval_every if it were read) at number ``fail_at``."""
    url = f"sqlite:///{db}"
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    for i, curve in enumerate(curves):
        if i == fail_at:
            study.add_trial(create_trial(state=TrialState.FAIL, intermediate_values={100: 0.9, 150: 0.95}))
        study.add_trial(create_trial(value=max(curve), intermediate_values=dict(zip(STEPS, curve))))
    if fail_at is not None and fail_at >= len(curves):
        study.add_trial(create_trial(state=TrialState.FAIL, intermediate_values={100: 0.9, 150: 0.95}))
    if pruned:
        study.add_trial(create_trial(state=TrialState.PRUNED, intermediate_values={100: 0.0}))
    return url


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return _make_study(tmp_path_factory.mktemp("replay") / "s.db", fail_at=len(CURVES))


def _run_json(bench: types.ModuleType, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert bench.main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _expect_error(bench: types.ModuleType, capsys: pytest.CaptureFixture[str], args: list[str], *needles: str) -> str:
    with pytest.raises(SystemExit) as exited:  # the parser exits; main() returns otherwise
        sys.exit(bench.main(args))
    assert exited.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert captured.out == ""
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _fixed_rows(report: dict) -> dict[str, tuple[dict[int, int], int, bool, int]]:
    return {r["setting"]: ({int(n): s for n, s in r["pruned_at"].items()}, r["steps_saved"], r["best_pruned"],
                           r["top3_pruned"]) for r in report["rows"] if not r["setting"].startswith("study default")}


def test_study_shape(bench, capsys, url):
    report = _run_json(bench, capsys, "--storage", url, "--study", NAME)
    assert (report["trials"], report["ignored"]) == (6, 1)
    assert report["evaluations_per_trial"] == {"min": 6, "max": 6}
    assert (report["steps"], report["eval_every"], report["steps_trained"]) == (600, 100, 3600)


def test_rows_of_hand_made_curves(bench, capsys, url):
    report = _run_json(bench, capsys, "--storage", url, "--study", NAME)
    assert _fixed_rows(report) == EXPECTED
    assert list(_fixed_rows(report)) == list(EXPECTED)  # the table's order
    for r in report["rows"]:
        assert r["pruned"] == len(r["pruned_at"])
        assert r["saved_pct"] == pytest.approx(100 * r["steps_saved"] / 3600)


def test_spearman_per_step(bench, capsys, url):
    report = _run_json(bench, capsys, "--storage", url, "--study", NAME)
    # rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)), n = 6: sum(d^2) = 36, 36, 4, 2, 2, 0.
    expected = [(100, -1 / 35), (200, -1 / 35), (300, 31 / 35), (400, 33 / 35), (500, 33 / 35), (600, 1.0)]
    assert [(c["step"], c["trials"]) for c in report["spearman"]] == [(s, 6) for s, _ in expected]
    assert [c["rho"] for c in report["spearman"]] == pytest.approx([rho for _, rho in expected])


def test_spearman_ties_and_undefined(bench):
    # ranks with ties averaged: x -> 1, 2.5, 2.5, 4; Pearson of the ranks = 4.5 / sqrt(4.5 * 5)
    assert bench.spearman([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert bench.spearman([0.0, 0.0, 0.0], [0.1, 0.2, 0.3]) is None
    assert bench.spearman([0.5], [0.5]) is None


def test_text_tables(bench, capsys, url):
    assert bench.main(["--storage", url, "--study", NAME]) == 0
    out = capsys.readouterr().out
    assert "6 completed trials replayed in trial order, 1 not complete (ignored)" in out
    assert "evaluations per trial: 6; steps 600, eval_every 100" in out
    assert "3600 steps trained in all" in out
    lines = out.splitlines()
    assert lines[lines.index(next(x for x in lines if x.startswith("median w0% n2"))) - 2].startswith("setting")
    assert next(x for x in lines if x.startswith("median w0% n2")).split()[-5:] == ["3", "1500", "(41.7%)", "yes", "1"]
    assert next(x for x in lines if x.startswith("median w50% n2")).split()[-5:] == ["2", "600", "(16.7%)", "no", "0"]
    assert next(x for x in lines if x.startswith("300 ")).split() == ["300", "6", "+0.886"]


def test_failed_trial_keeps_original_numbers(bench, capsys, tmp_path):
    """A failed trial in the middle is ignored; the others keep their numbers (one more from 2 on)."""
    url = _make_study(tmp_path / "f.db", fail_at=2)
    report = _run_json(bench, capsys, "--storage", url, "--study", NAME)
    assert (report["trials"], report["ignored"], report["eval_every"]) == (6, 1, 100)
    shifted = {name: ({n + (n >= 2): s for n, s in pruned.items()}, *rest)
               for name, (pruned, *rest) in EXPECTED.items() if name.startswith("median")}
    assert {k: v for k, v in _fixed_rows(report).items() if k.startswith("median")} == shifted


def test_run_dir_moved(bench, capsys, tmp_path, url):
    """study.json names the study.db where the study ran; the directory's own copy is read."""
    run_dir = tmp_path / "moved"
    run_dir.mkdir()
    _make_study(run_dir / SQLITE_FILE)
    RunInfo(study_name=NAME, storage="sqlite:////nowhere/runs/replay/study.db", base="b.config", train_data="t",
            eval_data="e", label_map="l", steps=600, eval_every=100, objective="mAP").save(run_dir)
    from_dir = _run_json(bench, capsys, "--run-dir", str(run_dir))
    assert _fixed_rows(from_dir) == EXPECTED
    assert str(run_dir / SQLITE_FILE) in from_dir["storage"]


def test_study_default_row_is_the_studys_own_pruner(bench, capsys, url):
    """The default (--pruner auto, 600 steps every 100: 3 decisions after the 50% warm-up) is
    the guarded median with the default warm-up and comparison set: the same row."""
    report = _run_json(bench, capsys, "--storage", url, "--study", NAME)
    rows = {r["setting"]: r for r in report["rows"]}
    default = rows.pop("study default (auto)")
    same = rows["median w50% n4"]
    assert (default["pruned_at"], default["steps_saved"], default["best_pruned"]) == \
        (same["pruned_at"], same["steps_saved"], same["best_pruned"]) == ({"5": 300}, 300, False)
    assert report["skipped"] == []


def test_refuses_a_pruned_study(bench, capsys, tmp_path):
    url = _make_study(tmp_path / "p.db", pruned=True)
    _expect_error(bench, capsys, ["--storage", url, "--study", NAME], "pruned trial", "`--pruner none`")


def test_refuses_bad_input(bench, capsys, tmp_path, url):
    _expect_error(bench, capsys, ["--run-dir", str(tmp_path / "absent")], "no such run directory")
    (tmp_path / "plain").mkdir()
    _expect_error(bench, capsys, ["--run-dir", str(tmp_path / "plain")], "not a study run directory")
    _expect_error(bench, capsys, ["--storage", url, "--study", "other"], "no study named 'other'")
    missing = tmp_path / "missing.db"
    _expect_error(bench, capsys, ["--storage", f"sqlite:///{missing}", "--study", NAME], "does not exist")
    assert not missing.exists()
    empty = f"sqlite:///{tmp_path / 'e.db'}"
    optuna.create_study(study_name=NAME, storage=empty, direction="maximize")
    _expect_error(bench, capsys, ["--storage", empty, "--study", NAME], "no completed trial")
    optuna.create_study(study_name="min", storage=empty)
    _expect_error(bench, capsys, ["--storage", empty, "--study", "min"], "not a single maximized objective")
    _expect_error(bench, capsys, [], "--run-dir DIR, or --storage URL with --study NAME")
    _expect_error(bench, capsys, ["--storage", url], "--storage and --study go together")
    _expect_error(bench, capsys, ["--run-dir", str(tmp_path), "--study", NAME], "--run-dir DIR, or --storage")


def test_several_run_dirs_are_pooled(bench, capsys, tmp_path):
    """Two copies of the study: every pooled count is twice the single study's."""
    dirs = []
    for name in ("a", "b"):
        run_dir = tmp_path / name
        run_dir.mkdir()
        _make_study(run_dir / SQLITE_FILE)
        RunInfo(study_name=NAME, storage=f"sqlite:///{run_dir / SQLITE_FILE}", base="b.config", train_data="t",
                eval_data="e", label_map="l", steps=600, eval_every=100, objective="mAP").save(run_dir)
        dirs += ["--run-dir", str(run_dir)]
    report = _run_json(bench, capsys, *dirs)
    assert len(report["studies"]) == 2 and _fixed_rows(report["studies"][1]) == EXPECTED
    pooled = {p["setting"]: p for p in report["pooled"]}
    for setting, (pruned_at, saved, best, top) in EXPECTED.items():
        row = pooled[setting]
        assert (row["studies"], row["trials"], row["pruned"], row["steps_saved"], row["steps_trained"],
                row["best_pruned_in"], row["top_pruned"]) == (2, 12, 2 * len(pruned_at), 2 * saved, 7200,
                                                                2 * best, 2 * top), setting
    assert bench.main(dirs) == 0
    text = capsys.readouterr().out
    assert text.startswith("pooled over 2 studies (each replayed in its own trial order):")
    assert "median w0% n2 (old default)     6/12    3000 (41.7%)  2/2 studies  2/6" in text
