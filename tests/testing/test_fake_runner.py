"""The fake runner keeps the runner contract (tuner.trial.base): curves, failures, stop, result.json."""
from __future__ import annotations

import json
import threading

import pytest

from tuner import config as cfgmod
from tuner import events
from tuner.outcome import FailureClass, Status, TrialOutcome
from tuner.paths import PIPELINES_DIR
from tuner.testing import FakeFailure, FakeRunner, learning_rate, learning_rate_curve, rising
from tuner.trial import RESULT_FILE, TrialRun, TrialSpec, TrialSpecError

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"


def _spec(tmp_path, lr: float | None = None, **kwargs) -> TrialSpec:
    cfg = cfgmod.load(SHAPES)
    if lr is not None:
        cfgmod.set_base_learning_rate(cfg, lr)
    return TrialSpec(cfgmod.dumps(cfg), tmp_path / "trial-0000", **{"steps": 50, "eval_every": 10, "seed": 3,
                                                                      **kwargs})


def _result(spec: TrialSpec) -> TrialOutcome:
    return TrialOutcome.from_json(json.loads((spec.trial_dir / RESULT_FILE).read_text()))


def test_a_curve_from_the_config_runs_to_completion_and_is_recorded_like_a_real_trial(tmp_path) -> None:
    spec = _spec(tmp_path, lr=0.02)
    run = FakeRunner(learning_rate_curve(best=0.02, top=0.5))(spec)
    assert isinstance(run, TrialRun) and run.outcome is None and not spec.trial_dir.exists()  # nothing started
    seen = list(run.evaluations())
    assert [e.step for e in seen] == [10, 20, 30, 40, 50]
    assert [e.checkpoint for e in seen] == ["ckpt-2", "ckpt-3", "ckpt-4", "ckpt-5", "ckpt-6"]  # ckpt-1: step 0
    values = [e.value(events.MAP) for e in seen]
    assert values == sorted(values) and values[-1] == pytest.approx(0.5 * (1 - 2.718281828 ** -4), rel=1e-6)
    outcome = run.outcome
    assert outcome is not None and outcome.status is Status.COMPLETED and outcome.failure is None
    assert (outcome.steps_trained, outcome.best, outcome.best_checkpoint, outcome.last_checkpoint, outcome.seed) == (
        50, seen[-1], "ckpt-6", "ckpt-6", 3)
    assert _result(spec) == outcome
    assert (spec.trial_dir / "pipeline.config").read_text() == spec.config_text
    assert len((run.log_dir / "train.log").read_text().splitlines()) == 5
    assert learning_rate(spec) == pytest.approx(0.02)
    further = list(FakeRunner(learning_rate_curve(best=0.02))(_spec(tmp_path / "b", lr=0.2)).evaluations())
    assert further[-1].value(events.MAP) < values[-1]  # a decade off the best rate: a lower curve


def test_stop_from_another_thread_ends_the_trial_as_stopped_at_the_last_step_reached(tmp_path) -> None:
    spec = _spec(tmp_path)
    runner = FakeRunner(lambda s: rising(0.4, s.steps), step_seconds=0.002)
    run = runner(spec)
    seen = []
    for evaluation in run.evaluations():
        seen.append(evaluation)
        if evaluation.step == 20:
            stopper = threading.Thread(target=lambda: [run.stop("pruned at step 20"), run.stop("interrupted")])
            stopper.start()
            stopper.join()
    outcome = run.outcome
    assert [e.step for e in seen] == [10, 20]
    assert (outcome.status, outcome.reason, outcome.steps_trained, outcome.failure) == (
        Status.STOPPED, "pruned at step 20", 20, None)
    assert _result(spec).status is Status.STOPPED and runner.runs == [run]
    stopped_early = FakeRunner(lambda s: rising(0.4, s.steps))(_spec(tmp_path / "b"))
    stopped_early.stop("interrupted")  # before evaluations(): it ends at once
    assert list(stopped_early.evaluations()) == []
    assert (stopped_early.outcome.status, stopped_early.outcome.steps_trained) == (Status.STOPPED, 0)


def _bad_at_30(step: int) -> float | FailureClass:
    return FailureClass.NAN if step >= 30 else 0.1


def _raise_oom(spec: TrialSpec):
    raise FakeFailure(FailureClass.OOM, "out of memory (fake)")


def _raise_bug(spec: TrialSpec):
    raise KeyError("no such field")


@pytest.mark.parametrize("curve, failure, reason, steps, landed", [
    (lambda spec: FailureClass.CONFIG, FailureClass.CONFIG, "injected config failure", 0, 0),
    (_raise_oom, FailureClass.OOM, "out of memory (fake)", 0, 0),
    (_raise_bug, FailureClass.CRASH, "KeyError: 'no such field'", 0, 0),
    (lambda spec: _bad_at_30, FailureClass.NAN, "injected nan failure at step 30", 30, 2),
])
def test_injected_failures_end_failed_with_their_class(tmp_path, curve, failure, reason, steps, landed) -> None:
    spec = _spec(tmp_path)
    run = FakeRunner(curve)(spec)
    assert len(list(run.evaluations())) == landed
    outcome = run.outcome
    assert (outcome.status, outcome.failure, outcome.reason, outcome.steps_trained) == (
        Status.FAILED, failure, reason, steps)
    assert _result(spec) == outcome


def test_a_finished_trial_directory_is_not_reused_and_bad_specs_fail_at_construction(tmp_path) -> None:
    spec = _spec(tmp_path)
    list(FakeRunner(lambda s: rising(0.1, s.steps))(spec).evaluations())
    with pytest.raises(FileExistsError, match="already holds a finished trial"):
        list(FakeRunner(lambda s: rising(0.1, s.steps))(spec).evaluations())
    with pytest.raises(TrialSpecError, match="not a multiple of --eval-every"):
        FakeRunner(lambda s: rising(0.1, s.steps))(_spec(tmp_path, steps=55))
