"""bench/search.py: TPE vs random vs the baseline at equal budget.

Fast tests (no TensorFlow, no training) check the aggregation, the verdict and the reading of a
study on hand-made values; the dataset flags against DatasetSpec's own defaults (whatever they
are when the test runs); bad flags; and a failing study (a real ``python -m tuner.study`` that
exits 2 at once) recorded as failed while the bench goes on. One smoke test runs the real
``--quick`` bench (4 OD API trials of 10 steps) and checks its JSON.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import optuna
import pytest
from benchload import load_bench
from optuna.trial import TrialState, create_trial

from tuner.data.shapes import DatasetSpec
from tuner.runinfo import SQLITE_FILE, Attr

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "search.py"


@pytest.fixture(scope="module")
def bench() -> types.ModuleType:
    return load_bench("search")


@pytest.fixture(scope="module")
def results_mod(bench: types.ModuleType) -> types.ModuleType:
    return sys.modules["search_results"]  # imported by bench/search.py


def _result(r: types.ModuleType, sampler: str, seed: int, best: float | None, baseline: float | None = 0.20,
            exit_code: int = 0, **kw):
    return r.StudyResult(sampler, seed, f"{sampler}-s{seed}", f"/runs/{sampler}-s{seed}", exit_code, best=best,
                         baseline=baseline, **kw)


def _three_seeds(r: types.ModuleType) -> list:
    """tpe beats random by 0.05 in the median; baselines 0.20, 0.22, 0.24 (spread 0.04)."""
    out = []
    for seed, (tpe, rnd, base) in enumerate([(0.30, 0.25, 0.20), (0.32, 0.27, 0.22), (0.34, 0.29, 0.24)]):
        out.append(_result(r, "tpe", seed, tpe, base, steps=1500, trial_seconds=600.0, study_seconds=650.0,
                           baseline_steps=300, baseline_seconds=120.0))
        out.append(_result(r, "random", seed, rnd, base, steps=1500, trial_seconds=500.0, study_seconds=540.0,
                           baseline_steps=300, baseline_seconds=110.0))
    return out


# --- aggregation and verdict (hand-made results) ---------------------------------------------

def test_spread_ignores_missing_values(results_mod):
    spread = results_mod.Spread.of([0.3, None, 0.1, 0.2])
    assert (spread.median, spread.min, spread.max, spread.n) == (0.2, 0.1, 0.3, 3)
    assert spread.width == pytest.approx(0.2)
    assert results_mod.Spread.of([None]) is None


def test_rows_aggregate_each_samplers_successful_studies_and_every_baseline(results_mod):
    r = results_mod
    results = _three_seeds(r)
    # a failed random study on seed 3: its baseline completed before it failed
    results.append(_result(r, "random", 3, 0.9, 0.26, exit_code=1, error="boom", steps=300, trial_seconds=99.0,
                           baseline_steps=300, baseline_seconds=99.0))
    tpe, rnd, base = r.summary_rows(results, ["tpe", "random"])
    assert (tpe.label, tpe.seeds, tpe.failed_studies) == ("tpe", (0, 1, 2), 0)
    assert (tpe.best.median, tpe.best.min, tpe.best.max) == (0.32, 0.30, 0.34)
    assert tpe.lift.median == pytest.approx(0.10) and tpe.lift.min == pytest.approx(0.10)
    assert (tpe.steps, tpe.trial_seconds, tpe.study_seconds) == (4500, 1800.0, 1950.0)
    # the failed study is counted, not aggregated (its 0.9 would be the max)
    assert (rnd.seeds, rnd.failed_studies, rnd.best.max, rnd.steps) == ((0, 1, 2), 1, 0.29, 4500)
    # the baseline row: every study with a completed baseline, the failed one included
    assert (base.label, base.seeds, base.best.n) == ("baseline", (0, 0, 1, 1, 2, 2, 3), 7)
    assert (base.best.min, base.best.max, base.lift) == (0.20, 0.26, None)
    assert (base.steps, base.trial_seconds) == (7 * 300, 3 * 120.0 + 3 * 110.0 + 99.0)


def test_verdict_states_a_difference_larger_than_the_baseline_spread(results_mod):
    rows = results_mod.summary_rows(_three_seeds(results_mod), ["tpe", "random"])
    assert results_mod.verdict(rows) == (
        "tpe vs random: median best 0.3200 vs 0.2700 (+0.0500), larger than the baseline's spread of 0.0400 "
        "-> tpe ahead by more than the run-to-run noise of one config")
    rows = results_mod.summary_rows(_three_seeds(results_mod), ["random", "tpe"])  # order of --samplers
    assert results_mod.verdict(rows).startswith("random vs tpe: median best 0.2700 vs 0.3200 (-0.0500), larger")
    assert "-> tpe ahead" in results_mod.verdict(rows)


def test_verdict_within_the_spread_is_no_measurable_difference(results_mod):
    r = results_mod
    results = [dataclasses.replace(x, baseline=0.20 + 0.06 * x.seed) for x in _three_seeds(r)]  # spread 0.12
    assert r.verdict(r.summary_rows(results, ["tpe", "random"])) == (
        "tpe vs random: median best 0.3200 vs 0.2700 (+0.0500), within the baseline's spread of 0.1200 "
        "-> no measurable difference at this budget")


def test_verdict_without_a_noise_estimate_or_a_sampler(results_mod):
    r = results_mod
    one_baseline = [_result(r, "tpe", 0, 0.3, 0.2), _result(r, "random", 0, 0.25, None)]
    assert r.verdict(r.summary_rows(one_baseline, ["tpe", "random"])).endswith(
        "(+0.0500), the baseline was trained fewer than twice: no noise estimate -> no verdict (run more seeds)")
    failed = [_result(r, "tpe", 0, 0.3), _result(r, "random", 0, 0.25, exit_code=1)]
    assert r.verdict(r.summary_rows(failed, ["tpe", "random"])) == (
        "tpe vs random: no verdict: no successful study of random")
    only = [_result(r, "tpe", 0, 0.3), _result(r, "tpe", 1, 0.5)]
    assert r.verdict(r.summary_rows(only, ["tpe"])) == (
        "tpe only: median best 0.4000 over 2 seed(s), lift +0.2000 over its own baseline; no comparison "
        "(give --samplers tpe,random)")


def test_configs_trained_by_two_studies_of_a_seed_are_paired_and_reach_the_verdict(results_mod):
    r = results_mod
    same, other = '{"lr": 0.02}', '{"lr": 0.1}'
    results = [_result(r, "tpe", 0, 0.30, 0.2, sampled=((same, 0.30), (other, 0.1))),
               _result(r, "random", 0, 0.25, 0.2, sampled=((same, 0.25),)),
               _result(r, "random", 1, 0.25, 0.2, sampled=((other, 0.9),))]  # another seed: not a pair
    [repeat] = r.repeats(results)
    assert (repeat.seed, repeat.studies, repeat.values) == (0, ("tpe-s0", "random-s0"), (0.30, 0.25))
    assert repeat.diff == pytest.approx(0.05)
    line = r.verdict(r.summary_rows(results, ["tpe", "random"]), [repeat])
    assert line.endswith("but on 1 seed(s) each (run more seeds); yet one sampled config trained twice differed "
                         "by 0.0500"), line
    assert "tpe-s0 and random-s0 trained the same sampled config" in r.render(results, [], line)


# --- reading a study -------------------------------------------------------------------------

def _attrs(steps: int, seconds: float, **extra) -> dict:
    return {Attr.STEPS: steps, Attr.WALL_SECONDS: seconds, **extra}


def test_read_study_counts_states_steps_and_wall_and_flags_unrecorded_trials(results_mod, tmp_path):
    r = results_mod
    study = optuna.create_study(study_name="tpe-s0", storage=f"sqlite:///{tmp_path / SQLITE_FILE}",
                                direction="maximize")
    study.add_trial(create_trial(value=0.2, user_attrs=_attrs(300, 100.0, **{Attr.BASELINE: True})))
    study.add_trial(create_trial(value=0.3, params={"lr": 0.1},
                                 distributions={"lr": optuna.distributions.FloatDistribution(0.01, 0.2)},
                                 user_attrs=_attrs(300, 120.0)))
    study.add_trial(create_trial(state=TrialState.PRUNED, user_attrs=_attrs(100, 40.0)))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={Attr.FAILURE: "config"}))  # never ran
    study.add_trial(create_trial(value=0.25))  # an older study's trial: no steps/wall recorded
    res = r.read_study("tpe", 0, tmp_path, "tpe-s0", 0, "", 500.0)
    assert (res.baseline, res.best, res.lift) == (0.2, 0.3, pytest.approx(0.1))
    assert (res.completed, res.pruned, res.failed) == (3, 1, 1)
    assert (res.steps, res.trial_seconds, res.baseline_steps, res.baseline_seconds) == (700, 260.0, 300, 100.0)
    assert (res.unrecorded, res.study_seconds) == (1, 500.0)
    assert res.sampled == (('{"lr": 0.1}', 0.3), ("{}", 0.25))
    assert "note: 1 trial(s) of tpe-s0 lack steps_trained/wall_seconds (older study): counted 0" in r.render(
        [res], r.summary_rows([res], ["tpe"]), "")


def test_read_study_without_a_database_creates_none(results_mod, tmp_path):
    res = results_mod.read_study("random", 2, tmp_path / "random-s2", "random-s2", 2, "error: bad", 3.0)
    assert (res.baseline, res.best, res.completed, res.steps, res.error) == (None, None, 0, 0, "error: bad")
    assert not (tmp_path / "random-s2").exists()
    assert results_mod.trial_count(tmp_path / "random-s2", "random-s2") == 0


# --- flags -------------------------------------------------------------------------------------

def test_dataset_is_the_datasetspec_defaults_plus_the_flags(bench):
    parse = bench.build_parser().parse_args
    assert bench.dataset_spec(parse([])) == dataclasses.replace(DatasetSpec(), seed=1)
    spec = bench.dataset_spec(parse(["--data-seed", "7", "--classes", "circle,bar", "--train", "40", "--eval", "9",
                                     "--data-spec-json", '{"min_object": 0.15, "clutter": 3}']))
    assert spec == dataclasses.replace(DatasetSpec(), seed=7, classes=("circle", "bar"), train=40, eval=9,
                                       min_object=0.15, clutter=3)
    quick = bench.dataset_spec(parse(["--quick", "--train", "16"]))  # an explicit flag wins over --quick
    assert quick == DatasetSpec(**{**bench.QUICK_SPEC, "seed": 1, "train": 16})


@pytest.mark.parametrize("flags, message", [
    (["--data-spec-json", '{"seed": 3}'], "give 'seed' with --data-seed"),
    (["--data-spec-json", '{"clutr": 3}'], "unknown DatasetSpec field 'clutr'"),
    (["--data-spec-json", "[1]"], "must be a JSON object"),
    (["--data-spec-json", '{"max_objects": 99}'], "--max-objects must be in 1..20"),
])
def test_bad_dataset_flags_name_the_fix(bench, flags, message):
    with pytest.raises(bench.BenchError, match=message):
        bench.dataset_spec(bench.build_parser().parse_args(flags))


@pytest.mark.parametrize("flags, message", [
    (["--samplers", "tpe,grid"], "--samplers must list some of tpe, random"),
    (["--seeds", "0,x"], "--seeds must be comma-separated integers"),
    (["--train-data", "a.record"], "give all of --train-data, --eval-data and --label-map"),
    (["--classes", "circle,hexagon"], "unknown class 'hexagon'"),
])
def test_bad_flags_exit_2_before_anything_is_written(bench, tmp_path, capsys, flags, message):
    assert bench.main([*flags, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_each_study_is_the_users_command(bench, tmp_path):
    plan = bench.Plan(tmp_path, (0,), ("tpe",), ("t.rec", "e.rec", "lm.pbtxt"), "", "base.config", "space.yaml",
                      5, 300, 50, "none")
    assert plan.command("random", 2) == [
        sys.executable, "-m", "tuner.study", "--base", "base.config", "--train-data", "t.rec", "--eval-data", "e.rec",
        "--label-map", "lm.pbtxt", "--sampler", "random", "--seed", "2", "--n-trials", "5", "--steps", "300",
        "--eval-every", "50", "--pruner", "none", "--confirm", "0", "--run-dir", str(tmp_path / "random-s2"), "--study-name",
        "random-s2", "--space", "space.yaml"]


def test_quick_space_drops_the_batch_size_and_what_depends_on_it(bench, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("description: d\nparams:\n"
                     "  lr: {knob: learning_rate, float: [0.01, 0.1]}\n"
                     "  batch: {knob: batch_size, choices: [8, 16]}\n"
                     "  big_batch_lr: {knob: momentum, float: [0.8, 0.9], when: {batch: 16}}\n"
                     "  also: {path: train_config.batch_size, choices: [2, 4]}\n")
    written = bench.quick_space(space, tmp_path)
    import yaml
    assert yaml.safe_load(written.read_text()) == {"description": "d",
                                                   "params": {"lr": {"knob": "learning_rate", "float": [0.01, 0.1]}}}


def test_quick_base_changes_only_the_batch_size(bench, tmp_path, odapi):
    from tuner import config as cfgmod

    path = bench.quick_base("ssd_mobilenet_v2_shapes", tmp_path)
    changes = cfgmod.diff(cfgmod.load(REPO / "pipelines" / "ssd_mobilenet_v2_shapes.config"), cfgmod.load(path))
    assert [(c.path, c.new) for c in changes] == [("train_config.batch_size", bench.QUICK_BATCH)]


# --- real studies --------------------------------------------------------------------------------

def test_a_failing_study_is_recorded_and_the_others_still_run(bench, tmp_path, capsys):
    """A real ``python -m tuner.study`` exiting 2 at once (unknown base config): no training."""
    data = tmp_path / "x.record"
    data.write_text("")
    code = bench.main(["--base", "no-such-config", "--seeds", "0", "--n-trials", "1", "--train-data", str(data),
                       "--eval-data", str(data), "--label-map", str(data), "--out", str(tmp_path / "out"), "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["exit_code"]) for s in report["studies"]] == [("tpe-s0", 2), ("random-s0", 2)]
    for study in report["studies"]:
        assert "config 'no-such-config' not found" in study["error"]
        log = (tmp_path / "out" / f"{study['name']}.log").read_text()
        assert log.startswith("--- ") and "--study-name " + study["name"] in log.splitlines()[0]
    assert [(row["label"], row["failed_studies"], row["best"]) for row in report["rows"]] == [
        ("tpe", 1, None), ("random", 1, None), ("baseline", 0, None)]
    assert report["verdict"] == "tpe vs random: no verdict: no successful study of tpe and random"


@pytest.mark.odapi
def test_quick_bench_runs_both_samplers_and_records_their_compute(tmp_path, odapi):
    """The real ``--quick`` bench: 2 studies x 2 trials of 10 steps (4 OD API trials)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--out", str(tmp_path / "out"), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=1200)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    studies = {(s["sampler"], s["seed"]): s for s in report["studies"]}
    assert set(studies) == {("tpe", 0), ("random", 0)}
    for study in studies.values():
        assert study["exit_code"] == 0 and study["error"] == ""
        assert study["baseline"] is not None, f"{study['name']}: no completed baseline"
        assert (study["completed"], study["pruned"], study["failed"]) == (2, 0, 0)
        assert study["steps"] == 2 * 10 and study["baseline_steps"] == 10 and study["unrecorded"] == 0
        assert study["trial_seconds"] > study["baseline_seconds"] > 0
        assert study["study_seconds"] > study["trial_seconds"] * 0.9  # the processes ran the trials
    rows = {row["label"]: row for row in report["rows"]}
    assert list(rows) == ["tpe", "random", "baseline"]
    assert rows["tpe"]["seeds"] == [0] and rows["random"]["seeds"] == [0] and rows["baseline"]["best"]["n"] == 2
    assert report["verdict"].startswith("tpe vs random: median best ")
    assert json.loads((tmp_path / "out" / "bench-timings.json").read_text()).keys() == {"tpe-s0", "random-s0"}
    print(f"quick bench: {elapsed:.0f} s")
