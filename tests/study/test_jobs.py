"""--jobs 2 --devices 0,1: two trials at once in one study process, each pinned to its device."""
from __future__ import annotations

import datetime

import optuna
from optuna.trial import TrialState

from studyhelpers import run_study
from tuner.runinfo import Attr, sqlite_url


def test_two_jobs_run_concurrently_on_their_own_devices(tmp_path, small_base) -> None:
    run_dir = tmp_path / "run"
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  scale:\n    path: model.ssd.anchor_generator.ssd_anchor_generator.min_scale\n"
                     "    float: [0.1, 0.2]\n")
    result = run_study("--base", str(small_base), "--space", str(space), "--steps", "10",
                       "--eval-every", "10", "--n-trials", "2", "--jobs", "2", "--devices", "0,1",
                       "--sampler", "random", "--seed", "2", "--pruner", "none", "--study-name", "jobs", "--no-fit-anchors",
                       "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trials = optuna.load_study(study_name="jobs", storage=sqlite_url(run_dir)).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert sorted(t.user_attrs[Attr.DEVICE] for t in trials) == ["0", "1"]
    first, second = sorted(trials, key=lambda t: t.datetime_start or datetime.datetime.min)
    assert second.datetime_start < first.datetime_complete, "the two trials overlapped in time"
    assert "[trial 0] started" in result.stdout and "[trial 1] started" in result.stdout
    for trial in trials:  # one evaluator per trial directory: no trial was run twice
        assert len(list((run_dir / f"trial-{trial.number:04d}" / "model" / "eval").glob("events.out.tfevents.*"))) == 1


def test_trial_timeout_fails_a_trial_that_runs_too_long_and_the_study_goes_on(tmp_path, small_base) -> None:
    """--trial-timeout reaches every trial: one that cannot finish in time fails as 'timeout'."""
    run_dir = tmp_path / "run"
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  scale:\n    path: model.ssd.anchor_generator.ssd_anchor_generator.min_scale\n"
                     "    float: [0.1, 0.2]\n")
    # 2 s cannot hold the OD API's start-up (tens of seconds): both trials time out.
    result = run_study("--base", str(small_base), "--space", str(space), "--steps", "10", "--eval-every", "10",
                       "--n-trials", "2", "--trial-timeout", "2", "--pruner", "none", "--study-name", "slow", "--no-fit-anchors",
                       "--run-dir", str(run_dir), timeout=300)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]  # nothing completed
    trials = optuna.load_study(study_name="slow", storage=sqlite_url(run_dir)).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    for trial in trials:
        assert trial.user_attrs[Attr.FAILURE] == "timeout"
        assert "exceeded its 2 s budget" in trial.user_attrs[Attr.REASON]
