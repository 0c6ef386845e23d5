"""How a trial supervises its two processes, with small TensorFlow-free stand-ins for them.

The stand-ins speak the same protocol as ``tuner.odapi.train`` / ``tuner.odapi.evaluate``
(:mod:`tuner.protocol`: exit codes, ``CONFIG_REJECTED:`` lines, the ``DONE`` marker, the eval
ledger and event files), so every failure class, the timeout and the metric streaming are
checked in seconds. The real OD API paths are covered in ``test_runner.py``.
"""
from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from procutil import group_alive, install_stand_in

from tuner import events
from tuner.outcome import FailureClass, Status
from tuner.trial import Trial, TrialSpec, TrialSpecError

#: One module for both roles; behaviour comes from FAKE_TRAIN / FAKE_EVAL.
FAKE = textwrap.dedent('''
    import os, signal, sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from eventfiles import EventFile, tensor_event
    from tuner import protocol

    role = os.environ["FAKE_ROLE_OF_" + sys.argv[1]]
    model_dir = Path(sys.argv[sys.argv.index("--model-dir") + 1])
    mode = os.environ["FAKE_" + role.upper()]
    print(f"fake {{role}} started: {{mode}}", flush=True)
    print("argv:", " ".join(sys.argv[2:]), flush=True)
    if mode == "config":
        print("CONFIG_REJECTED: ValueError: Unknown ssd feature_extractor: ssd_mobilenet_v9_keras",
              file=sys.stderr, flush=True)
        sys.exit(protocol.EXIT_CONFIG_REJECTED)
    if mode == "oom":
        print("OUT_OF_MEMORY: OOM when allocating tensor with shape[16,3,128,128]", file=sys.stderr, flush=True)
        sys.exit(protocol.EXIT_OUT_OF_MEMORY)
    if mode == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "crash":
        raise RuntimeError("boom in the input pipeline")
    if mode == "sleep":
        time.sleep(600)
    if mode == "train_ok":
        marker = protocol.done_marker(model_dir)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("20\\n")
        sys.exit(0)
    if mode == "train_eval_ok":  # --evaluate-final: training, then the last checkpoint evaluated here
        assert "--evaluate-final" in sys.argv, sys.argv
        with EventFile(model_dir / "eval") as fh:
            fh.append(tensor_event("DetectionBoxes_Precision/mAP", 0.5, 20, metadata=True))
        protocol.append_ledger(model_dir, {{"step": 20, "checkpoint": "ckpt-2", "seconds": 0.0}})
        sys.exit(0)
    if mode == "eval_ok":
        with EventFile(model_dir / "eval") as fh:
            for step, value in ((10, 0.25), (20, 0.5)):
                fh.append(tensor_event("DetectionBoxes_Precision/mAP", value, step, metadata=step == 10))
                fh.append(tensor_event("DetectionBoxes_Precision/mAP@.50IOU", value + 0.1, step,
                                       metadata=step == 10))
                protocol.append_ledger(model_dir, {{"step": step, "checkpoint": f"ckpt-{{step // 10 + 1}}",
                                                   "seconds": 0.0}})
        sys.exit(0)
    sys.exit(f"unknown fake mode {{mode}}")
''')


@pytest.fixture()
def fake_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Factory: a Trial whose processes are the stand-in, behaving as ``train`` / ``eval`` say."""
    install_stand_in(tmp_path, monkeypatch, "fake_odapi", FAKE)

    class FakeTrial(Trial):
        train_module = "fake_odapi"
        eval_module = "fake_odapi"

        def _launch(self, name: str, module: str, args: list[str]) -> None:
            super()._launch(name, module, [name, *args])

    def build(train: str, eval_: str = "sleep", timeout: float | None = None, **spec: Any) -> FakeTrial:
        monkeypatch.setenv("FAKE_ROLE_OF_train", "train")
        monkeypatch.setenv("FAKE_ROLE_OF_eval", "eval")
        monkeypatch.setenv("FAKE_TRAIN", train)
        monkeypatch.setenv("FAKE_EVAL", eval_)
        return FakeTrial(TrialSpec("# fake config\n", tmp_path / "trial", steps=20, eval_every=10, timeout=timeout,
                                   **spec))

    return build


def _run(trial: Trial) -> tuple[list, float]:
    started = time.monotonic()
    seen = list(trial.evaluations())
    return seen, time.monotonic() - started


@pytest.mark.parametrize("mode, failure, reason", [
    ("config", FailureClass.CONFIG, "ValueError: Unknown ssd feature_extractor: ssd_mobilenet_v9_keras"),
    ("oom", FailureClass.OOM, "train process ran out of memory (exit 4)"),
    ("killed", FailureClass.OOM, "train process was killed by SIGKILL, most likely by the kernel's out-of-memory"),
    ("crash", FailureClass.CRASH, "train process crashed: RuntimeError: boom in the input pipeline"),
])
def test_a_failing_trainer_ends_the_trial_with_its_failure_class(fake_trial, mode, failure, reason) -> None:
    trial = fake_trial(mode)
    seen, seconds = _run(trial)
    outcome = trial.outcome
    assert seen == []
    assert outcome.status is Status.FAILED and outcome.failure is failure, outcome
    assert outcome.reason.startswith(reason), outcome.reason
    assert seconds < 15, "the evaluator must not be waited for once the trainer has failed"
    assert not any(group_alive(p.pid) for p in trial._procs.values())
    assert "fake train started" in (trial.log_dir / "train.log").read_text()


def test_a_trial_past_its_budget_is_a_timeout_and_leaves_nothing_running(fake_trial) -> None:
    trial = fake_trial("sleep", "sleep", timeout=2.0)
    _, seconds = _run(trial)
    assert trial.outcome.status is Status.FAILED and trial.outcome.failure is FailureClass.TIMEOUT
    assert trial.outcome.reason == "trial exceeded its 2 s budget"
    assert seconds < 10
    assert not any(group_alive(p.pid) for p in trial._procs.values())


def test_stop_from_another_thread_ends_both_process_groups_within_seconds(fake_trial) -> None:
    import threading

    trial = fake_trial("sleep", "sleep")
    threading.Timer(1.5, trial.stop, kwargs={"reason": "pruned at step 10"}).start()
    _, seconds = _run(trial)
    assert trial.outcome.status is Status.STOPPED and trial.outcome.reason == "pruned at step 10"
    assert seconds < 10
    assert not any(group_alive(p.pid) for p in trial._procs.values())


def test_evaluations_stream_from_the_ledger_and_event_files(fake_trial) -> None:
    trial = fake_trial("train_ok", "eval_ok")
    seen, _ = _run(trial)
    assert [(e.step, e.checkpoint) for e in seen] == [(10, "ckpt-2"), (20, "ckpt-3")]
    assert [e.value(events.MAP) for e in seen] == [0.25, 0.5]
    assert seen[1].value(events.MAP50) == pytest.approx(0.6)
    assert trial.outcome.status is Status.COMPLETED
    assert trial.outcome.best.step == 20 and trial.outcome.best_checkpoint == "ckpt-3"


def _argv(trial: Trial, name: str) -> list[str]:
    line = next(ln for ln in (trial.log_dir / f"{name}.log").read_text().splitlines() if ln.startswith("argv: "))
    return line.removeprefix("argv: ").split()


@pytest.mark.parametrize("deterministic", [False, True])
def test_the_trainer_gets_the_seed_and_result_json_records_it(fake_trial, deterministic) -> None:
    trial = fake_trial("train_ok", "eval_ok", seed=1234567, deterministic=deterministic)
    _run(trial)
    train, evaluate = _argv(trial, "train"), _argv(trial, "eval")
    assert train[train.index("--seed") + 1] == "1234567"
    assert ("--deterministic" in train) is deterministic
    assert "--seed" not in evaluate and "--deterministic" not in evaluate  # evaluation draws nothing at random
    result = json.loads((trial.trial_dir / "result.json").read_text())
    assert result["seed"] == 1234567 and result["deterministic"] is deterministic
    assert trial.outcome.seed == 1234567 and trial.outcome.deterministic is deterministic


def test_an_unseeded_trial_passes_no_seed_and_records_none(fake_trial) -> None:
    trial = fake_trial("train_ok", "eval_ok")
    _run(trial)
    assert "--seed" not in _argv(trial, "train") and "--deterministic" not in _argv(trial, "train")
    result = json.loads((trial.trial_dir / "result.json").read_text())
    assert result["seed"] is None and result["deterministic"] is False


def test_an_evaluator_that_finishes_with_no_evaluation_is_a_crash(fake_trial) -> None:
    trial = fake_trial("train_ok", "train_ok")
    _run(trial)
    assert trial.outcome.status is Status.FAILED and trial.outcome.failure is FailureClass.CRASH
    assert trial.outcome.reason == "training ended without any evaluation"


def test_the_trainer_gets_a_checkpoint_schedule_that_never_deletes_a_queued_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odapi: None) -> None:
    """The OD API keeps 7 checkpoints by default: a slow evaluator would lose the older ones."""
    import tensorflow as tf
    from object_detection import model_lib_v2

    from tuner.odapi import train

    # train.main wraps the summary writer factory; restore it for the rest of the session.
    monkeypatch.setattr(tf.compat.v2.summary, "create_file_writer", tf.compat.v2.summary.create_file_writer)
    calls: list[dict] = []
    monkeypatch.setattr(model_lib_v2, "train_loop", lambda **kwargs: calls.append(kwargs))
    config = tmp_path / "x.config"  # read before training (freeze_variables): a real config
    config.write_text((Path(__file__).resolve().parents[2] / "pipelines" / "ssd_mobilenet_v2_shapes.config").read_text())
    code = train.main(["--config", str(config), "--model-dir", str(tmp_path / "m"),
                       "--steps", "3000", "--checkpoint-every", "100"])
    assert code == 0 and len(calls) == 1
    kwargs = calls[0]
    assert kwargs["checkpoint_every_n"] == 100 and kwargs["train_steps"] == 3000
    assert kwargs["checkpoint_max_to_keep"] > 3000 // 100  # every checkpoint, plus step 0
    assert 100 % kwargs["num_steps_per_iteration"] == 0
    assert (tmp_path / "m" / "train" / "DONE").read_text() == "3000\n"


def test_a_last_only_trial_runs_its_trainer_alone_and_streams_its_one_evaluation(fake_trial) -> None:
    trial = fake_trial("train_eval_ok", "crash", eval_steps=(20,))
    seen, _ = _run(trial)
    assert set(trial._procs) == {"train"}, "a last-only trial starts no evaluator"
    assert "--evaluate-final" in _argv(trial, "train")
    assert [(e.step, e.value(events.MAP)) for e in seen] == [(20, 0.5)]
    assert trial.outcome.status is Status.COMPLETED and trial.outcome.best.step == 20


def test_the_evaluator_gets_the_steps_to_evaluate(fake_trial) -> None:
    trial = fake_trial("train_ok", "eval_ok")
    _run(trial)
    evaluate = _argv(trial, "eval")
    assert evaluate[evaluate.index("--eval-steps") + 1] == "10,20"
    assert "--evaluate-final" not in _argv(trial, "train")


@pytest.mark.parametrize("eval_steps, message", [
    ((10, 10, 20), "ascending and distinct"),
    ((15, 20), "not a checkpoint step"),
    ((10,), "must end with the last step 20"),
])
def test_bad_evaluation_steps_are_refused_before_anything_starts(tmp_path: Path, eval_steps, message) -> None:
    with pytest.raises(TrialSpecError, match=message):
        Trial(TrialSpec("", tmp_path / "t", steps=20, eval_every=10, eval_steps=eval_steps))
    assert not (tmp_path / "t").exists()
