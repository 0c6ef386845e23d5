"""The objective on a real trial: pruning stops the trial at once; bad variants fail cleanly."""
from __future__ import annotations

import json

import optuna
from optuna.trial import TrialState

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.runinfo import Attr, trial_dir_name
from tuner.study.executor import LocalExecutor, TrialSettings
from tuner.study.objective import Objective, TrialFailed
from tuner.study.planner import Planner


def test_a_pruned_trial_is_stopped_at_its_first_bad_evaluation(tmp_path, small_base, rejected_space) -> None:
    base = cfgmod.load(small_base)
    space = spacemod.parse_space({"params": {"scale": {
        "path": "model.ssd.anchor_generator.ssd_anchor_generator.min_scale", "float": [0.1, 0.2]}}}, "s")
    # mAP can never reach 2.0: the pruner rejects the trial at its first report.
    study = optuna.create_study(direction="maximize", storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
                                pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    objective = Objective(Planner(base, space, steps=200), LocalExecutor(TrialSettings(200, 10)), run_dir=tmp_path)
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state is TrialState.PRUNED
    assert list(trial.intermediate_values) == [10]
    result = json.loads((tmp_path / trial_dir_name(0) / "result.json").read_text())
    assert result["status"] == "stopped" and result["reason"] == "pruned at step 10"
    assert [e["step"] for e in result["evaluations"]] == [10]
    assert trial.user_attrs[Attr.BEST_STEP] == 10
    assert "min_scale" in trial.user_attrs[Attr.DIFF][0][0]
    # compute accounting: the steps it trained before the stop (at least to its one evaluation;
    # on a busy machine the trainer may have run far ahead of the evaluator, up to all 200) and
    # its wall time, on the trial and in result.json
    assert 10 <= trial.user_attrs[Attr.STEPS] == result["steps_trained"] <= 200
    assert trial.user_attrs[Attr.WALL_SECONDS] == result["wall_seconds"] > 0


def test_a_variant_that_does_not_fit_fails_without_training(tmp_path, small_base) -> None:
    base = cfgmod.load(small_base)
    # A space used without tuner.space.validate (as a library caller might): the sampled IoU
    # threshold is out of the field's range, so applying it fails before anything trains.
    space = spacemod.parse_space({"params": {"iou": {
        "path": "model.ssd.post_processing.batch_non_max_suppression.iou_threshold", "float": [1.5, 2.0]}}}, "s")
    study = optuna.create_study(direction="maximize")
    objective = Objective(Planner(base, space, steps=10), LocalExecutor(TrialSettings(10, 10)), run_dir=tmp_path)
    study.optimize(objective, n_trials=1, catch=(TrialFailed,))
    trial = study.trials[0]
    assert trial.state is TrialState.FAIL
    assert trial.user_attrs[Attr.FAILURE] == "config"
    assert "params.iou" in trial.user_attrs[Attr.REASON]
    assert not (tmp_path / trial_dir_name(0)).exists()
