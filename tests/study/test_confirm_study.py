"""A real study with ``--confirm 2 --repeats 2`` on the OD API: 2 search trials (baseline + 1,
so the top 2 is that one trial), then the baseline and it trained twice more with other seeds
(4 repeats, never pruned, never counted toward --n-trials), the pick the best mean, the chosen
run and the baseline measured once on a held-out split; a second run redoes nothing.

Every trial fine-tunes from the shared trained trial's checkpoint so that mAP is above zero
and differs from seed to seed; the space varies the NMS score threshold.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from studyhelpers import run_study
from tflite.select import resolve_study, select
from tuner.data import shapes
from tuner.runinfo import Attr, StudyAttr
from tuner.study import holdout

SPACE = """\
params:
  score_threshold:
    path: model.ssd.post_processing.batch_non_max_suppression.score_threshold
    float: [0.01, 0.5]
"""


@pytest.fixture(scope="module")
def confirmed_study(tmp_path_factory, small_base, trained_trial):
    trial, _seen, outcome = trained_trial
    root = tmp_path_factory.mktemp("confirm")
    space = root / "space.yaml"
    space.write_text(SPACE)
    run_dir = root / "run"
    test_set = shapes.generate(root / "test", shapes.DatasetSpec(  # a held-out split the selection never reads
        train=8, eval=16, size=128, seed=7, classes=("circle", "square"), min_object=0.3, max_object=0.6,
        max_objects=1, clutter=0))
    args = ("--base", str(small_base), "--space", str(space), "--steps", "10", "--eval-every", "10",
            "--n-trials", "2", "--sampler", "random", "--seed", "1", "--pruner", "none", "--no-fit-anchors",
            "--fine-tune-checkpoint", str(trial.model_dir / outcome.last_checkpoint),
            "--confirm", "2", "--repeats", "2", "--test-data", str(test_set.eval_record),
            "--study-name", "confirm-test", "--run-dir", str(run_dir))
    first = run_study(*args, timeout=2400)
    evaluated = sorted(run_dir.glob("trial-*/test_eval.json"))
    mtimes = [p.stat().st_mtime_ns for p in evaluated]
    again = run_study(*args, timeout=600)
    assert [p.stat().st_mtime_ns for p in evaluated] == mtimes, "the test split was evaluated again on resume"
    study = optuna.load_study(study_name="confirm-test", storage=f"sqlite:///{run_dir / 'study.db'}")
    return first, again, study, run_dir


def test_the_leaders_are_repeated_with_their_parameters_and_new_seeds(confirmed_study) -> None:
    first, _again, study, _run_dir = confirmed_study
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    trials = study.get_trials()
    assert len(trials) == 6, [(t.number, t.state, t.user_attrs.get(Attr.REPEAT_OF)) for t in trials]
    search = [t for t in trials if Attr.REPEAT_OF not in t.user_attrs]
    repeats = [t for t in trials if Attr.REPEAT_OF in t.user_attrs]
    assert [t.number for t in search] == [0, 1] and len(repeats) == 4
    assert all(t.state is TrialState.COMPLETE for t in trials)
    by_parent: dict[int, list] = {}
    for t in repeats:
        by_parent.setdefault(t.user_attrs[Attr.REPEAT_OF], []).append(t)
    assert sorted(by_parent) == [0, 1] and all(len(runs) == 2 for runs in by_parent.values())
    seeds = [t.user_attrs[Attr.SEED] for t in trials]
    assert len(set(seeds)) == 6  # every run its own training seed
    for parent_number, runs in by_parent.items():
        parent = trials[parent_number]
        for rep in runs:
            assert rep.params == parent.params
            assert rep.user_attrs[Attr.DIFF] == parent.user_attrs[Attr.DIFF]  # the same config, trained again
            assert bool(rep.user_attrs.get(Attr.BASELINE)) == (parent_number == 0)
            assert rep.user_attrs[Attr.STEPS] == 10  # never pruned: the full budget


def test_the_pick_is_the_best_fresh_mean_and_the_summary_says_it(confirmed_study) -> None:
    first, _again, study, run_dir = confirmed_study
    trials = study.get_trials()
    repeats = {p: [t.value for t in trials if t.user_attrs.get(Attr.REPEAT_OF) == p] for p in (0, 1)}
    fresh = {0: [trials[0].value] + repeats[0], 1: repeats[1]}  # trial 1's search run selected it: left out
    means = {p: statistics.fmean(v) for p, v in fresh.items()}
    best = max(means, key=lambda p: (means[p], -p))
    pick = study.user_attrs[StudyAttr.CONFIRMED_PICK]
    assert pick["trial"] == best and pick["complete"]
    leaders = {leader["trial"]: leader for leader in pick["leaders"]}
    assert leaders[1]["selecting"] == 1 and leaders[1]["fresh"] == [t.number for t in trials
                                                                   if t.user_attrs.get(Attr.REPEAT_OF) == 1]
    noise = study.user_attrs[StudyAttr.BASELINE_NOISE]
    assert noise["df"] == 3 and noise["configs"] == 2  # (3 - 1) + (2 - 1)
    pooled = ((len(fresh[0]) - 1) * statistics.variance(fresh[0]) + statistics.variance(fresh[1])) / 3
    assert noise["sd"] == pytest.approx(pooled ** 0.5)
    assert "confirmation: the baseline and the top 2 trials, 2 more run(s) each with other seeds (4 trials to run)" \
        in first.stdout
    assert f"pick: trial {best} (best fresh mean {means[best]:.4f}); " in first.stdout
    assert "noise: run-to-run std " in first.stdout and "(3 degree(s) of freedom)" in first.stdout
    if best == 1:
        assert "90 % interval" in pick["verdict"] and pick["interval"]["n_pick"] == 2
    chosen = select(resolve_study(str(run_dir)))
    runs = [trials[best]] + [t for t in trials if t.user_attrs.get(Attr.REPEAT_OF) == best]
    assert chosen.number == max(runs, key=lambda t: (t.value, -t.number)).number
    assert chosen.why.startswith(f"the confirmed pick, trial {best} ")


def test_the_chosen_run_and_the_baseline_are_evaluated_once_on_the_test_split(confirmed_study) -> None:
    first, _again, study, run_dir = confirmed_study
    best_run = study.user_attrs[StudyAttr.CONFIRMED_PICK]["best_run"]
    trials = study.get_trials()
    tested = study.user_attrs[StudyAttr.TEST_METRICS]
    assert set(tested) == {str(best_run), "0"}
    for number in tested:
        metrics = tested[number]["metrics"]
        assert metrics["images"] == 16 and 0.0 <= metrics["DetectionBoxes_Precision/mAP"] <= 1.0
    assert "held-out test split (never used for selection): mAP on eval (what selected it) vs on test" in first.stdout
    assert f"trial {best_run} (pick): eval {trials[best_run].value:.4f}, test " in first.stdout
    if best_run != 0:  # two models on the test images: the lift with its paired-bootstrap interval
        lift = study.user_attrs[StudyAttr.TEST_LIFT]
        assert lift["method"] == "paired bootstrap" and lift["n_pick"] == 16 and lift["low"] <= lift["lift"] <= lift["high"]
        assert f"lift on test: {lift['verdict']}" in first.stdout and "16 test images, paired bootstrap" in first.stdout


def test_the_lift_on_test_gets_a_paired_bootstrap_interval(confirmed_study) -> None:
    """Whatever the pick: trial 1 against the baseline on the test images, as the study computes it."""
    _first, _again, study, run_dir = confirmed_study
    trials = study.get_trials()
    records = study.user_attrs[StudyAttr.TEST_METRICS]["0"]["records"]
    if not (Path(trials[1].user_attrs[Attr.TRIAL_DIR]) / holdout.DETECTIONS_FILE).is_file():
        holdout.evaluate(trials[1], run_dir, records, _label_map(run_dir))
    results = [holdout.HeldOutResult(n, role, trials[n].value, 0.0, 0.0, 16,
                                     Path(trials[n].user_attrs[Attr.TRIAL_DIR]) / holdout.DETECTIONS_FILE)
               for n, role in ((1, "pick"), (0, "baseline"))]
    interval = holdout.test_lift(results, resamples=100)
    assert interval is not None and interval.method == "paired bootstrap" and interval.n_pick == 16
    assert interval.low <= interval.lift <= interval.high and interval.high - interval.low > 0
    images, categories = holdout.load_detections(results[0].detections)
    assert len(images) == 16 and [c.name for c in categories] == ["circle", "square"]
    assert holdout.test_lift(results, resamples=100) == interval  # seeded: the same interval again


def _label_map(run_dir: Path) -> str:
    from tuner.runinfo import RunInfo

    return RunInfo.load(run_dir).label_map


def test_running_it_again_redoes_nothing(confirmed_study) -> None:
    _first, again, study, _run_dir = confirmed_study
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(study.get_trials()) == 6
    assert "trials to run)" not in again.stdout  # no confirmation phase ran ...
    assert "pick: trial" in again.stdout  # ... and the summary still gives the pick
