"""The executor seam (tuner.study.executor): the local executor's slots, devices and stop, and a whole
study run through the fake executor (what it submits, where, how many at once). Real SQLite storage,
real samplers; the trials are fake runs."""
from __future__ import annotations

import io
import threading
import time

import pytest
from studyhelpers import fake_study_settings

from tuner import config as cfgmod
from tuner.outcome import Status
from tuner.paths import PIPELINES_DIR
from tuner.runinfo import Attr, trial_dir_name
from tuner.study import runner as runner_mod
from tuner.study.executor import LocalExecutor, TrialSettings
from tuner.study.plan import resolve
from tuner.study.planner import Role, Variant
from tuner.study.seeds import trial_seed
from tuner.testing import FakeBuild, FakeExecutor, FakeRunner, learning_rate_curve, rising

SPACE = "params:\n  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n    log: true\n"
SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"


def _variant(number: int, seed: int = 5) -> Variant:
    return Variant(number, Role.SAMPLED, {}, (), cfgmod.load(SHAPES), seed=seed)


def test_the_local_executor_builds_the_spec_from_the_variant_and_frees_its_device(tmp_path) -> None:
    runner = FakeRunner(lambda spec: rising(0.3, 20))
    executor = LocalExecutor(TrialSettings(20, 10, (20,), threads=3, deterministic=True), runner=runner,
                             devices=["0", "1"], jobs=2)
    assert executor.slots == 2
    with executor.submit(_variant(4, seed=9), tmp_path / "t4") as first, \
            executor.submit(_variant(5), tmp_path / "t5") as second:
        assert {first.where, second.where} == {"0", "1"} and executor.devices.size == 0
        spec = runner.runs[0].spec
        assert (spec.trial_dir, spec.seed, spec.threads, spec.deterministic, spec.eval_steps) == (
            tmp_path / "t4", 9, 3, True, (20,))
        assert spec.device == first.where and cfgmod.loads(spec.config_text) == cfgmod.load(SHAPES)
        assert [e.step for e in first.run.evaluations()] == [20]
    assert executor.devices.size == 2  # both slots freed on leaving the with


def test_stop_all_stops_the_running_trials_and_every_later_one(tmp_path) -> None:
    runner = FakeRunner(lambda spec: rising(0.3, 1000), step_seconds=0.05)
    executor = LocalExecutor(TrialSettings(1000, 10), runner=runner, jobs=2)
    with executor.submit(_variant(0), tmp_path / "t0") as placed:
        evaluations = []
        worker = threading.Thread(target=lambda: evaluations.extend(placed.run.evaluations()))
        worker.start()
        time.sleep(0.2)
        executor.stop_all("interrupted")
        worker.join(timeout=10)
        assert not worker.is_alive() and placed.run.outcome.status is Status.STOPPED
        assert placed.run.outcome.reason == "interrupted" and len(evaluations) < 100
    with executor.submit(_variant(1), tmp_path / "t1") as later:
        assert list(later.run.evaluations()) == [] and later.run.outcome.status is Status.STOPPED


@pytest.mark.usefixtures("no_anchor_analysis")
def test_a_study_runs_its_variants_through_the_executor_it_is_given(tmp_path) -> None:
    settings = fake_study_settings(tmp_path, SPACE, steps=20, eval_every=10, n_trials=5, jobs=2, seed=3)
    plan = resolve(settings, build_check=FakeBuild())
    executor = FakeExecutor(FakeRunner(learning_rate_curve(), step_seconds=0.01),
                            TrialSettings(20, plan.evaluation.every, plan.evaluation.at), slots=2)
    study = runner_mod.run(plan, out=io.StringIO(), executor=executor)
    submitted = sorted(executor.submitted, key=lambda s: s.variant.number)
    assert [s.variant.number for s in submitted] == [0, 1, 2, 3, 4]
    assert [s.variant.role for s in submitted] == [Role.BASELINE] + [Role.SAMPLED] * 4
    assert [s.variant.seed for s in submitted] == [trial_seed(3, n) for n in range(5)]
    assert [s.trial_dir for s in submitted] == [(tmp_path / "run" / trial_dir_name(n)).absolute() for n in range(5)]
    trials = sorted(study.get_trials(), key=lambda t: t.number)
    assert [t.user_attrs[Attr.DEVICE] for t in trials] == [s.slot for s in submitted]
    assert {s.slot for s in submitted} <= {"fake-0", "fake-1"} and executor.most_at_once <= 2
    assert executor.closed  # the study ends what the executor keeps between trials
    # the sampled variants' configs carry the values the study recorded for them
    for trial, sub in zip(trials[1:], submitted[1:]):
        assert cfgmod.base_learning_rate(sub.variant.cfg) == pytest.approx(trial.params["lr"])
