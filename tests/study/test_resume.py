"""A real 3-trial study (baseline + 2) on the OD API, killed mid-trial, then resumed twice.

Run A is SIGKILLed while trial 2 trains; run B (the same command) marks trial 2 failed as
orphaned and re-runs its parameters as trial 3, redoing nothing else; run C has nothing left.
With the random sampler and seed 1, trial 1 draws the freeze pattern the trainer rejects and
trial 2 no freezing, the base's own (tuner.study.seeds.sampler_seed of 1 and each number), so
the study also holds a failed trial.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from procutil import group_alive
from optuna.trial import TrialState

from studyhelpers import run_study, study_cmd
from tuner.runinfo import Attr, RunInfo, sqlite_url, trial_dir_name


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"study exited early ({proc.returncode}) while waiting for {what}:\n"
                                 + proc.stdout.read()[-3000:])
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def resumed_study(tmp_path_factory, small_base, rejected_space):
    run_dir = tmp_path_factory.mktemp("study") / "run"
    args = ["--base", str(small_base), "--space", str(rejected_space), "--steps", "20", "--eval-every", "10",
            "--n-trials", "3", "--sampler", "random", "--seed", "1", "--pruner", "none", "--no-fit-anchors",
            "--study-name", "resume-test", "--run-dir", str(run_dir), "--status-every", "5"]
    proc = subprocess.Popen(study_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    trial2_train_log = run_dir / trial_dir_name(2) / "logs" / "train.log"
    _wait_for(trial2_train_log.exists, 600, "trial 2 to start", proc)
    time.sleep(3)  # trial 2 is training now
    trial2_pids = [int(p) for p in os.popen(f"pgrep -f '{run_dir / trial_dir_name(2)}/pipeline.config'").read().split()]
    proc.send_signal(signal.SIGKILL)  # the worker dies: no cleanup, no Optuna bookkeeping
    proc.wait()
    out_a = proc.stdout.read()
    baseline_result = run_dir / trial_dir_name(0) / "result.json"
    baseline_mtime = baseline_result.stat().st_mtime_ns
    run_b = run_study(*args)
    run_c = run_study(*args)
    return {"run_dir": run_dir, "args": args, "out_a": out_a, "run_b": run_b, "run_c": run_c,
            "trial2_pids": trial2_pids, "baseline_mtime": baseline_mtime, "baseline_result": baseline_result}


def _study(run_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="resume-test", storage=sqlite_url(run_dir))


def test_killed_worker_leaves_no_training_process(resumed_study) -> None:
    assert resumed_study["trial2_pids"], "trial 2 had no processes when the worker was killed"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(group_alive(p) for p in resumed_study["trial2_pids"]):
        time.sleep(0.5)
    assert not any(group_alive(p) for p in resumed_study["trial2_pids"])


def test_resume_redoes_nothing_finished_and_reruns_the_orphan(resumed_study) -> None:
    run_b = resumed_study["run_b"]
    assert run_b.returncode == 0, run_b.stdout[-3000:] + run_b.stderr[-3000:]
    assert "resumed, 2 trials done, re-running 1 interrupted" in run_b.stdout
    trials = _study(resumed_study["run_dir"]).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    baseline, rejected, orphan, rerun = trials
    assert baseline.state is TrialState.COMPLETE and baseline.user_attrs[Attr.BASELINE] is True
    assert baseline.params == {"freeze": "[]"}  # the base freezes nothing: recorded in the space's terms
    assert resumed_study["baseline_result"].stat().st_mtime_ns == resumed_study["baseline_mtime"]
    assert rejected.state is TrialState.FAIL and rejected.user_attrs[Attr.FAILURE] == "config"
    assert "'^NoSuchLayer/' matches none of the model's" in rejected.user_attrs[Attr.REASON]
    assert orphan.state is TrialState.FAIL and orphan.user_attrs[Attr.FAILURE] == "orphaned"
    assert rerun.state is TrialState.COMPLETE and rerun.user_attrs[Attr.RETRY_OF] == 2
    assert rerun.params == orphan.params == {"freeze": "[]"}


def test_each_trial_records_its_results(resumed_study) -> None:
    run_dir = resumed_study["run_dir"]
    for trial in _study(run_dir).get_trials(states=(TrialState.COMPLETE,)):
        attrs = trial.user_attrs
        assert attrs[Attr.TRIAL_DIR] == str(run_dir / trial_dir_name(trial.number))
        assert attrs[Attr.BEST_STEP] in (10, 20)
        assert attrs[Attr.METRICS]["DetectionBoxes_Precision/mAP"] == pytest.approx(trial.value)
        assert set(trial.intermediate_values) == {10, 20}  # reported at the global step
        result = json.loads((run_dir / trial_dir_name(trial.number) / "result.json").read_text())
        assert result["best"]["step"] == attrs[Attr.BEST_STEP]
    baseline = _study(run_dir).trials[0]
    assert baseline.user_attrs[Attr.DIFF] == []
    rerun = _study(run_dir).trials[3]
    assert rerun.user_attrs[Attr.DIFF] == []  # no freezing is the base's own: no change
    rejected = _study(run_dir).trials[1]
    assert rejected.user_attrs[Attr.DIFF] == [["train_config.freeze_variables", None, ["^NoSuchLayer/"]]]
    info = RunInfo.load(run_dir)
    assert info.study_name == "resume-test" and info.steps == 20


def test_progress_and_summary_are_printed(resumed_study) -> None:
    out = resumed_study["run_b"].stdout
    assert "[trial 3] started (3/3)" in out
    assert "[trial 3] step 10/20: mAP" in out and "[trial 3] complete" in out
    # the periodic status while trial 3 trains (about 25 s, over the 5 s of --status-every): the ETA
    # is known from trial 0's duration in run A, the best so far is trial 0
    running = re.findall(r"^\[study\] 2/3 done \| best mAP (\d\.\d{4}) \(trial 0\) \| ETA (\d+m\d\ds) \| "
                         r"trial 3: step (\d+)/20 mAP (\d\.\d{4}|-)$", out, re.M)
    assert running, out[-3000:]
    assert all(0 <= int(step) <= 20 for _, _, step, _ in running)
    study = _study(resumed_study["run_dir"])
    assert float(running[0][0]) == pytest.approx(study.trials[0].value, abs=5e-5)
    best = max((t for t in study.trials if t.value is not None), key=lambda t: t.value)
    final = re.findall(r"^\[study\] 3/3 done \| best mAP (\d\.\d{4}) \(trial (\d+)\) \| ETA 0m00s$", out, re.M)
    assert final and float(final[-1][0]) == pytest.approx(best.value, abs=5e-5) and int(final[-1][1]) == best.number
    assert "trial" in out and "vs base" in out and "(base)" in out
    assert f"optuna-dashboard 'sqlite:///{(resumed_study['run_dir'] / 'study.db').resolve()}'" in out
    assert "tensorboard --logdir" in out


def test_running_again_has_nothing_left_to_do(resumed_study) -> None:
    run_c = resumed_study["run_c"]
    assert run_c.returncode == 0, run_c.stderr[-2000:]
    assert "resumed, 3 trials done" in run_c.stdout
    assert "started" not in run_c.stdout
    assert len(_study(resumed_study["run_dir"]).trials) == 4


def test_the_dashboard_serves_the_study(resumed_study, tmp_path) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    storage = sqlite_url(resumed_study["run_dir"])
    server = subprocess.Popen(["optuna-dashboard", storage, "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=dict(os.environ, PATH=os.path.dirname(__import__("sys").executable) + ":" + os.environ["PATH"]))
    try:
        studies = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    studies = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.5)
        assert studies is not None, "optuna-dashboard did not answer"
        entry = next(s for s in studies["study_summaries"] if s["study_name"] == "resume-test")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{entry['study_id']}", timeout=10) as response:
            detail = json.loads(response.read())
        assert [t["number"] for t in detail["trials"]] == [0, 1, 2, 3]
        assert {t["state"] for t in detail["trials"]} == {"Complete", "Fail"}
        baseline_attrs = {a["key"]: a["value"] for a in detail["trials"][0]["user_attrs"]}
        assert baseline_attrs[Attr.TRIAL_DIR].endswith(trial_dir_name(0))
        assert Attr.METRICS in baseline_attrs
    finally:
        server.terminate()
        server.wait(timeout=10)
