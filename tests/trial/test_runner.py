"""tuner.trial on the real OD API (tiny model, tiny data, few steps) plus fast unit tests."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from procutil import group_alive

from tuner import events
from tuner.outcome import FailureClass, Status, TrialOutcome
from tuner.protocol import read_ledger, read_phases
from tuner.trial import RESULT_FILE, Trial, TrialSpec, TrialSpecError
from tuner.trial.spec import CONFIG_FILE


# -- integration: one shared trained trial ------------------------------------------------
def test_every_checkpoint_is_evaluated_once_in_step_order(trained_trial) -> None:
    trial, seen, outcome = trained_trial
    assert outcome.status is Status.COMPLETED, outcome.reason + "\n" + outcome.log_tail
    assert [e.step for e in seen] == [20, 40, 60]
    assert [e.step for e in outcome.evaluations] == [20, 40, 60]
    for evaluation in seen:
        assert set(events.COCO_TAGS) <= set(evaluation.metrics), sorted(evaluation.metrics)
        assert 0.0 <= evaluation.value(events.MAP) <= 1.0
    ledger = [json.loads(line) for line in (trial.model_dir / "eval" / "checkpoints.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in ledger] == [20, 40, 60]
    assert len({entry["checkpoint"] for entry in ledger}) == 3
    # The tiny model learned something: a real signal, not a constant 0 (measured ~0.01).
    assert max(e.value(events.MAP50) for e in seen) > 0.0, [e.metrics for e in seen]


def test_coco_metrics_reach_the_eval_event_files(trained_trial) -> None:
    """The smoke test of the stack: model_lib_v2 trained and evaluated, COCO metrics written."""
    trial, seen, _ = trained_trial
    by_step = events.group_by_step(events.read_scalars(trial.model_dir / "eval"))
    assert sorted(by_step) == [20, 40, 60]
    for evaluation in seen:
        assert by_step[evaluation.step][events.MAP] == pytest.approx(evaluation.value(events.MAP))
        assert by_step[evaluation.step][events.MAP50] >= by_step[evaluation.step][events.MAP] - 1e-6
    losses = events.read_scalars(trial.model_dir / "train", tags=[events.TOTAL_LOSS])
    assert losses and all(math.isfinite(e.value) for e in losses)
    assert max(e.step for e in losses) == 60


def test_best_and_last_checkpoints_are_kept_and_others_removed(trained_trial) -> None:
    trial, seen, outcome = trained_trial
    best = max(seen, key=lambda e: (e.value(events.MAP), -e.step))
    assert outcome.best is not None and outcome.best.step == best.step
    assert outcome.best_checkpoint == best.checkpoint
    assert outcome.last_checkpoint == seen[-1].checkpoint
    kept = {f.split(".")[0] for f in os.listdir(trial.model_dir) if f.startswith("ckpt-")}
    assert kept == {best.checkpoint, seen[-1].checkpoint}
    state = (trial.model_dir / "checkpoint").read_text()
    assert f'model_checkpoint_path: "{seen[-1].checkpoint}"' in state
    result = json.loads((trial.trial_dir / RESULT_FILE).read_text())
    assert result["best"]["step"] == best.step
    assert result["best"]["metrics"][events.MAP] == pytest.approx(best.value(events.MAP))
    assert TrialOutcome.from_json(result) == outcome


def test_a_finished_trial_directory_is_not_reused(trained_trial) -> None:
    trial, _, _ = trained_trial
    again = Trial(TrialSpec("", trial.trial_dir, steps=10, eval_every=10))
    with pytest.raises(FileExistsError, match="already holds a finished trial"):
        next(again.evaluations())


def test_a_last_only_trial_trains_and_evaluates_in_one_process(tmp_path, make_config) -> None:
    """TrialSpec.final_only: no evaluator process; the trainer evaluates its last checkpoint
    with the same metrics, ledger and result as a two-process trial, and says its phases."""
    spec = TrialSpec(make_config(10), tmp_path / "trial", steps=10, eval_every=10)
    assert spec.final_only
    trial = Trial(spec)
    seen = list(trial.evaluations())
    outcome = trial.outcome
    assert outcome.status is Status.COMPLETED, outcome.reason + "\n" + outcome.log_tail
    assert set(trial._procs) == {"train"} and not (trial.log_dir / "eval.log").exists()
    assert [e.step for e in seen] == [10] and set(events.COCO_TAGS) <= set(seen[0].metrics)
    assert [entry["step"] for entry in read_ledger(trial.model_dir)] == [10]
    assert outcome.best is not None and outcome.best.step == 10 and outcome.best_checkpoint == outcome.last_checkpoint
    log = (trial.log_dir / "train.log").read_text()
    phases = read_phases(log)
    assert list(phases) == ["imported", "trained", "eval_built", "exit"], phases
    assert phases["imported"][0] <= phases["trained"][0] <= phases["exit"][0]
    # The trained model was evaluated as it was, in memory; the evaluator process, restoring the
    # same checkpoint into its own model, gives the same metrics and eval losses.
    assert "EVALUATED step=10 checkpoint=ckpt-2 model=trained" in log
    copy = tmp_path / "copy"
    shutil.copytree(trial.model_dir, copy, ignore=shutil.ignore_patterns("eval"))
    done = subprocess.run([sys.executable, "-m", "tuner.odapi.evaluate", "--config", str(trial.trial_dir / CONFIG_FILE),
                           "--model-dir", str(copy), "--eval-every", "10", "--final-step", "10"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "EVALUATED step=10 checkpoint=ckpt-2 model=restored" in done.stdout, done.stderr
    in_memory = events.group_by_step(events.read_scalars(trial.model_dir / "eval"))[10]
    restored = events.group_by_step(events.read_scalars(copy / "eval"))[10]
    assert set(events.COCO_TAGS) <= set(in_memory) and in_memory.keys() == restored.keys()
    losses = [tag for tag in in_memory if tag.startswith("Loss/")]
    assert losses and all(in_memory[tag] > 0 for tag in losses)
    assert in_memory == pytest.approx(restored, rel=1e-5)


def test_the_evaluator_reads_only_the_steps_asked_for(tmp_path, make_config) -> None:
    """A pruning study's trial (tuner.study.evaluation): checkpoints every 10 steps, evaluations
    at the rungs and the last step only; the checkpoint of step 10 is never evaluated."""
    trial = Trial(TrialSpec(make_config(30), tmp_path / "trial", steps=30, eval_every=10, eval_steps=(20, 30)))
    seen = list(trial.evaluations())
    outcome = trial.outcome
    assert outcome.status is Status.COMPLETED, outcome.reason + "\n" + outcome.log_tail
    assert set(trial._procs) == {"train", "eval"}
    assert [e.step for e in seen] == [20, 30] and [e["step"] for e in read_ledger(trial.model_dir)] == [20, 30]
    assert sorted(events.group_by_step(events.read_scalars(trial.model_dir / "eval"))) == [20, 30]
    assert "EVALUATED step=10" not in (trial.log_dir / "eval.log").read_text()


def _losses(trial: Trial) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in events.read_scalars(trial.model_dir / "train", tags=[events.TOTAL_LOSS])]


def test_a_trial_in_a_warm_process_trains_as_in_a_fresh_one(tmp_path, make_config, trained_trial) -> None:
    """tuner.trial.host: the second trial of a warm trainer (seeded, op determinism on) has the same
    losses and metrics as the same trial in a fresh process: nothing of the first trial leaks in.
    The trials fine-tune from another trial's checkpoint, as the demo's do (the OD API's own build
    before the restore made eager: tuner.odapi.prebuild.build_eagerly)."""
    from object_detection.protos import train_pb2

    from tuner.trial.host import WarmHost
    from tuner.trial.process import trial_env

    source = trained_trial[0]
    checkpoint = str(source.model_dir / source.outcome.last_checkpoint)

    def fine_tune(cfg: Any) -> None:
        cfg.train_config.fine_tune_checkpoint = checkpoint
        cfg.train_config.fine_tune_checkpoint_type = "detection"
        cfg.train_config.fine_tune_checkpoint_version = train_pb2.CheckpointVersion.V2

    def spec(name: str, lr: float, seed: int) -> TrialSpec:
        return TrialSpec(make_config(10, lr=lr, edit=fine_tune), tmp_path / name, steps=10, eval_every=10,
                         seed=seed, deterministic=True)

    host = WarmHost(trial_env(None, 0))
    try:
        warm = [Trial(spec("warm-0", 0.02, 5), host=host), Trial(spec("warm-1", 0.05, 6), host=host)]
        for trial in warm:
            assert len(list(trial.evaluations())) == 1, trial.outcome.reason + "\n" + trial.outcome.log_tail
        assert host.started == 1  # both trials in one process
        fresh = Trial(spec("fresh-1", 0.05, 6))
        assert fresh.host is None and len(list(fresh.evaluations())) == 1, fresh.outcome.log_tail
    finally:
        host.close()
    # op determinism: not within noise, identical (measured so, 2026-12-06)
    assert _losses(warm[1]) == _losses(fresh) and len(_losses(fresh)) == 10
    assert warm[1].outcome.best.metrics == fresh.outcome.best.metrics
    assert _losses(warm[1]) != _losses(warm[0])  # another config and seed: another run
    log = (warm[1].log_dir / "train.log").read_text()
    # the variables made before the first step, eagerly (one trace of it), the steps traced
    # without autograph (no TRACE: fallback line)
    assert "PREBUILT: " in log and "skipped" not in log and "TRACE:" not in log
    phases = read_phases(log)
    assert list(phases) == ["start", "imported", "trained", "eval_built", "exit", "returned"], phases


# -- integration: stop, NaN, rejected config ---------------------------------------------
def _environ(pid: int) -> dict[str, str]:
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_stop_mid_training_leaves_no_process_behind(tmp_path, make_config) -> None:
    """Also checks device pinning: both processes get the trial's device and thread budget."""
    trial = Trial(TrialSpec(make_config(400), tmp_path / "trial", steps=400, eval_every=200, device="", threads=1))
    seen: dict[str, dict[str, str]] = {}

    def inspect() -> None:
        for name, proc in trial._procs.items():
            seen[name] = _environ(proc.pid) | {"cmdline": open(f"/proc/{proc.pid}/cmdline").read()}

    stopped_at: list[float] = []
    stop_step: list[int] = []

    def stop_once_training() -> None:  # mid-training: after the first logged steps
        deadline = time.monotonic() + 300
        while trial.last_train_step == 0 and trial.outcome is None and time.monotonic() < deadline:
            time.sleep(0.2)
        stop_step.append(trial.last_train_step)
        stopped_at.append(time.monotonic())
        trial.stop("pruned")

    inspector = threading.Timer(5.0, inspect)
    stopper = threading.Thread(target=stop_once_training, daemon=True)
    inspector.start()
    stopper.start()
    try:
        assert list(trial.evaluations()) == []
    finally:
        inspector.cancel()
    ended_at = time.monotonic()
    assert set(seen) == {"train", "eval"}
    for env in seen.values():
        assert env["CUDA_VISIBLE_DEVICES"] == "" and env["OMP_NUM_THREADS"] == "1"
        assert "--threads\x001" in env["cmdline"]
    assert stop_step and 0 < stop_step[0] < 400, f"training never logged a step before the stop: {stop_step}"
    assert ended_at - stopped_at[0] < 10.0
    pids = [p.pid for p in trial._procs.values()]
    assert pids and not any(group_alive(pid) for pid in pids)
    assert trial.outcome.status is Status.STOPPED and trial.outcome.reason == "pruned"
    assert (tmp_path / "trial" / RESULT_FILE).exists()


def test_absurd_learning_rate_ends_as_a_nan_failure(tmp_path, make_config) -> None:
    trial = Trial(TrialSpec(make_config(200, lr=1e12), tmp_path / "trial", steps=200, eval_every=100))
    list(trial.evaluations())
    outcome = trial.outcome
    assert outcome.status is Status.FAILED
    assert outcome.failure is FailureClass.NAN, outcome.reason + "\n" + outcome.log_tail
    assert "nan" in outcome.reason.lower() or "inf" in outcome.reason.lower()


def test_a_config_the_od_api_rejects_ends_as_a_config_failure(tmp_path, make_config) -> None:
    def unknown_extractor(cfg) -> None:
        cfg.model.ssd.feature_extractor.type = "ssd_mobilenet_v9_keras"

    trial = Trial(TrialSpec(make_config(20, edit=unknown_extractor), tmp_path / "trial", steps=20, eval_every=10))
    list(trial.evaluations())
    outcome = trial.outcome
    assert outcome.status is Status.FAILED
    assert outcome.failure is FailureClass.CONFIG, outcome.reason + "\n" + outcome.log_tail
    assert "ssd_mobilenet_v9_keras" in outcome.reason
    assert (tmp_path / "trial" / "logs" / "train.log").exists()


# -- units ---------------------------------------------------------------------------------
@pytest.mark.parametrize("steps, every, message", [
    (25, 10, "not a multiple of --eval-every 10.*use --steps 20 or 30"),
    (0, 10, "must be positive"),
    (10, 0, "must be positive"),
])
def test_spec_validation(tmp_path, steps, every, message) -> None:
    with pytest.raises(TrialSpecError, match=message):
        TrialSpec("", tmp_path, steps=steps, eval_every=every).validate()


@pytest.mark.parametrize("seed, deterministic, message", [
    (-1, False, r"--seed must be an integer in \[0, 2\*\*31\) \(got -1\)"),
    (2**31, False, r"--seed must be an integer in \[0, 2\*\*31\) \(got 2147483648\)"),
    (None, True, "--deterministic needs --seed"),
])
def test_seed_validation(tmp_path, seed, deterministic, message) -> None:
    with pytest.raises(TrialSpecError, match=message):
        TrialSpec("", tmp_path, steps=10, eval_every=10, seed=seed, deterministic=deterministic).validate()


def test_seeds_at_both_ends_of_the_range_are_valid(tmp_path) -> None:
    for seed in (0, 2**31 - 1):
        TrialSpec("", tmp_path, steps=10, eval_every=10, seed=seed, deterministic=True).validate()
    assert TrialSpec("", tmp_path, steps=10, eval_every=10).seed is None  # unseeded by default


def test_result_json_of_older_versions_reads_as_unseeded() -> None:
    old = {"status": "completed", "failure": None, "reason": "", "evaluations": [], "best": None,
           "best_checkpoint": None, "last_checkpoint": None, "wall_seconds": 1.0}
    outcome = TrialOutcome.from_json(old)
    assert outcome.seed is None and outcome.deterministic is False
    assert TrialOutcome.from_json({**old, "seed": 7, "deterministic": True}).seed == 7


def test_inner_steps_divide_the_checkpoint_interval() -> None:
    from tuner.odapi.train import inner_steps

    for every in (1, 7, 10, 30, 100, 250, 1000, 997):
        n = inner_steps(every, 20000)
        assert every % n == 0 and 1 <= n <= 25
    assert inner_steps(100, 20000) == 25 and inner_steps(30, 6000) == 15
    # A short trial: one step per call (model_lib_v2 traces the step twice in a longer loop).
    assert inner_steps(100, 200) == 1 and inner_steps(5000, 5000) == 1
