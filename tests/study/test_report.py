"""The end-of-study summary on a real (SQLite) Optuna study: top trials vs baseline, with diffs."""
from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from tuner.runinfo import Attr
from tuner.space.backbones import BACKBONE_PATTERNS
from tuner.study import report

MIN_SCALE = "model.ssd.anchor_generator.ssd_anchor_generator.min_scale"
L2 = "model.ssd.{}.conv_hyperparams.regularizer.l2_regularizer.weight"
AUG = "train_config.data_augmentation_options[{}]"
LR = "train_config.optimizer.momentum_optimizer.learning_rate.{}"
_D = FloatDistribution(0.0, 2.0)


def _study(tmp_path) -> optuna.Study:
    study = optuna.create_study(study_name="r", storage=f"sqlite:///{tmp_path / 'r.db'}", direction="maximize")
    metrics = {"DetectionBoxes_Precision/mAP@.50IOU": 0.5}
    study.add_trial(create_trial(value=0.30, user_attrs={Attr.BASELINE: True, Attr.DIFF: [], Attr.BEST_STEP: 200,
                                                         Attr.METRICS: metrics, Attr.STEPS: 200,
                                                         Attr.WALL_SECONDS: 100.0}))
    study.add_trial(create_trial(value=0.35, params={"min_scale": 0.15}, distributions={"min_scale": _D},
                                 user_attrs={
        Attr.BEST_STEP: 100, Attr.DIFF: [[MIN_SCALE, 0.1, 0.1523456]], Attr.STEPS: 200, Attr.WALL_SECONDS: 125.0}))
    long_diff = [[L2.format("feature_extractor"), 4e-05, 1.8924123e-06],
                 [L2.format("box_predictor.convolutional_box_predictor"), 4e-05, 1.8924123e-06],
                 [AUG.format("random_horizontal_flip"), "{ }", None],
                 [AUG.format("random_adjust_brightness"), None, "{ max_delta: 0.3302606 }"],
                 [LR.format("constant_learning_rate"), None, "{ learning_rate: 0.03649108 }"],
                 [LR.format("cosine_decay_learning_rate"), "{ learning_rate_base: 0.08 total_steps: 1000 }", None],
                 ["model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios", [1.0, 2.0, 0.5],
                  [1.0, 2.0, 0.5, 4.0, 0.25]],
                 ["train_config.batch_size", 16, 32]]
    study.add_trial(create_trial(value=0.32, params={"x": 1.0}, distributions={"x": _D},
                                 user_attrs={Attr.BEST_STEP: 200, Attr.DIFF: long_diff}))
    study.add_trial(create_trial(state=TrialState.FAIL, params={"iou": 1.7}, distributions={"iou": _D}, user_attrs={
        Attr.FAILURE: "config", Attr.REASON: "params.iou = 1.7: out of range"}))
    study.add_trial(create_trial(state=TrialState.FAIL))  # failed by Optuna's heartbeat check
    study.add_trial(create_trial(state=TrialState.PRUNED, params={"x": 0.5}, distributions={"x": _D},
                                 intermediate_values={100: 0.01},
                                 user_attrs={Attr.STEPS: 100, Attr.WALL_SECONDS: 70.0}))
    return study


def test_change_texts_are_short_and_say_which_field() -> None:
    texts = report.change_texts([
        [MIN_SCALE, 0.1, 0.1523456], [L2.format("a"), 4e-05, 1e-05], [L2.format("b"), 4e-05, 1e-05],
        [AUG.format("ssd_random_crop"), None, "{ }"], [AUG.format("random_horizontal_flip"), "{ }", None],
        [AUG.format("random_adjust_brightness"), None, "{ max_delta: 0.3302606 }"],
        ["train_config.optimizer.use_moving_average", False, True],
        ["train_config.freeze_variables", None, list(BACKBONE_PATTERNS["ssd_mobilenet_v2_keras"])]])
    assert texts == ["min_scale 0.1->0.152", "a...weight 4e-05->1e-05", "b...weight 4e-05->1e-05", "+ssd_random_crop",
                     "-random_horizontal_flip",
                     "+random_adjust_brightness{max_delta: 0.33}", "use_moving_average false->true",
                     "+freeze_variables[backbone]"]
    # alone in its trial, a weight is still named against the other paths the study changed
    assert report.change_texts([[L2.format("a"), 4e-05, 1e-05]], context=[L2.format("b"), MIN_SCALE]) == [
        "a...weight 4e-05->1e-05"]


def test_summary_lists_top_trials_against_the_baseline_with_their_diffs(tmp_path) -> None:
    text = report.summary(_study(tmp_path), steps=200)
    lines = text.splitlines()
    assert lines[0].split() == ["trial", "mAP", "vs", "base", "mAP@.50", "best", "step", "wall", "changes"]
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert list(rows) == ["1", "2", "0"]  # by mAP, the baseline last
    assert rows["1"].split()[:6] == ["1", "0.3500", "+0.0500", "-", "100", "2m05s"]
    assert rows["1"].endswith("min_scale 0.1->0.152")
    assert rows["0"].split()[:5] == ["0", "(base)", "0.3000", "+0.0000", "0.5000"]
    assert rows["0"].endswith("(base config)")
    assert "x=1" not in text, "the recorded diff is shown, not the Optuna params"
    assert rows["2"].split()[:3] == ["2", "0.3200", "+0.0200"]
    assert "feature_extractor...weight 4e-05->1.89e-06" in rows["2"] and "more)" in rows["2"]
    assert len(rows["2"].split("  ")[-1].strip()) <= report.CHANGES_WIDTH
    details = text[text.index("changes against the base config:"):]
    assert details.splitlines()[1] == "  trial 2: feature_extractor...weight 4e-05->1.89e-06,"
    assert details.splitlines()[2].startswith("    convolutional_box_predictor...weight 4e-05->1.89e-06, -random_")
    for change in ("+random_adjust_brightness{max_delta: 0.33}", "+constant_learning_rate{learning_rate: 0.0365}",
                   "-cosine_decay_learning_rate", "aspect_ratios [1,2,0.5]->[1,2,0.5,4,0.25]", "batch_size 16->32"):
        assert change in details
    assert details.count("weight 4e-05") == 2  # one per regularizer, each named
    assert "trials: 3 complete, 2 fail, 1 pruned" in text
    compute = text[text.index("compute:"):].splitlines()
    assert compute[0] == "compute: 500 steps, 4m55s of trial wall time over 6 trials"
    assert compute[1].split() == ["completed", "3", "trials", "400", "steps", "3m45s"]
    assert compute[2].split() == ["pruned", "1", "trials", "100", "steps", "1m10s"]
    assert compute[3].split() == ["failed", "2", "trials", "0", "steps", "0m00s"]
    # median completed wall 100 s (100, 125 and trial 2, which records none: 0 s); the pruned trial took 70 s
    assert compute[4] == "  pruning saved 100 steps (50% of the pruned trials' budget), ~0m30s of wall time"
    assert "  trial 3 failed (config): params.iou = 1.7: out of range" in text
    assert "  trial 4 failed (orphaned): its worker stopped sending heartbeats" in text
    assert text.splitlines()[-1] == "best single run: trial 1, mAP 0.3500 (+0.0500 vs baseline 0.3000)"


def test_a_trial_that_failed_before_its_config_existed_shows_its_params(tmp_path) -> None:
    study = _study(tmp_path)
    failed = study.get_trials()[3]
    assert report._changes(failed) == ["iou=1.7"]
    assert report.best_trial(study).number == 1
