"""The deployment budget (tuner.study.budget) on whole studies: fake runner and fake cost meter,
real prepare(), real SQLite storage, real samplers. The real meter is tested in
tests/study/test_budget_study.py."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from studyhelpers import fake_study_settings
from tuner.runinfo import Attr
from tuner.study import runner as runner_mod
from tuner.study.plan import resolve
from tuner.study.budget import Budget, DeployVariant
from tuner.study.inputs import StudyInputError, StudySettings, prepare
from tuner.testing import FakeBuild, FakeCostMeter, FakeRunner, learning_rate_curve

pytestmark = pytest.mark.usefixtures("no_anchor_analysis")

#: The shapes base is 128 px at depth multiplier 0.35: 0.1 ms/kpx * 16.4 kpx * 0.35 = 0.57 ms with
#: FakeCostMeter; 96 px 0.32 ms, 64 px 0.14 ms. A 0.4 ms budget leaves out the base architecture.
SPACE = ("params:\n  size:\n    knob: input_size\n    choices: [64, 96, 128]\n"
         "  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n    log: true\n")
LIMIT_MS = 0.4


@pytest.fixture()
def settings(tmp_path) -> StudySettings:
    return fake_study_settings(tmp_path, SPACE, steps=40, eval_every=20, n_trials=8, sampler="tpe", seed=3,
                               pruner="none", max_latency_ms=LIMIT_MS)


def _run(settings: StudySettings) -> tuple[optuna.Study, str, FakeRunner, FakeCostMeter]:
    runner, meter, out = FakeRunner(learning_rate_curve()), FakeCostMeter(), io.StringIO()
    study = runner_mod.run(resolve(settings, build_check=FakeBuild()), out=out, runner=runner, cost_meter=meter)
    return study, out.getvalue(), runner, meter


def test_over_budget_variants_end_infeasible_without_training_and_the_rest_complete(settings) -> None:
    study, out, runner, meter = _run(settings)
    trials = study.get_trials()
    trained = {int(run.spec.trial_dir.name.removeprefix("trial-")) for run in runner.runs}
    assert len(meter.costed) == len(trials) == 8  # every trial costed first
    base = trials[0]
    assert base.state is TrialState.PRUNED and base.user_attrs[Attr.BASELINE] and 0 not in trained
    assert "latency 0.57 ms > --max-latency-ms 0.4" in base.user_attrs[Attr.INFEASIBLE]
    for t in trials:
        latency = t.user_attrs[Attr.TFLITE_LATENCY_MS]
        assert t.constraints == {"latency_ms": pytest.approx(latency - LIMIT_MS)}  # what TPE reads
        if latency > LIMIT_MS:
            assert t.state is TrialState.PRUNED and Attr.INFEASIBLE in t.user_attrs and t.number not in trained
            assert t.user_attrs[Attr.STEPS] == 0
        else:
            assert t.state is TrialState.COMPLETE and t.number in trained and Attr.INFEASIBLE not in t.user_attrs
    assert any(t.state is TrialState.COMPLETE for t in trials)
    assert "deployment budget: latency <= 0.4 ms (int8 TFLite, 2 threads)" in out
    assert "[trial 0] infeasible, not trained: over the deployment budget" in out
    assert "size KB  latency ms" in out and "infeasible: over the deployment budget, never trained" in out
    assert "trial 0 (base config) infeasible:" in out


def test_a_study_without_a_budget_costs_nothing(settings) -> None:
    study, out, runner, meter = _run(dataclasses.replace(settings, max_latency_ms=None, n_trials=3))
    assert meter.costed == [] and len(runner.runs) == 3
    assert "deployment budget" not in out and "size KB" not in out
    assert all(Attr.TFLITE_SIZE_KB not in t.user_attrs for t in study.get_trials())


def test_a_size_budget_names_what_is_over() -> None:
    budget = Budget(max_latency_ms=2.0, max_size_kb=500.0)
    cost = FakeCostMeter(kb_at_width_1=2000)
    from tuner.config import load
    from tuner.paths import PIPELINES_DIR

    measured = cost(load(PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"))  # 700 KB, 0.57 ms
    assert budget.violations(measured) == {"latency_ms": pytest.approx(0.5734 - 2.0), "size_kb": pytest.approx(200.0)}
    assert budget.over(measured) == ("over the deployment budget (int8 TFLite, 2 threads): size 700 KB > "
                                     "--max-size-kb 500")


@pytest.mark.parametrize("change, message", [
    ({"max_latency_ms": 0.0}, "--max-latency-ms must be a positive number (got 0)"),
    ({"max_size_kb": -5.0}, "--max-size-kb must be a positive number (got -5)"),
    ({"deploy_threads": 0}, "--deploy-threads must be >= 1 (got 0)"),
    ({"deploy_variant": "int4"}, "--deploy-variant 'int4' is not one of int8, fp16, fp32"),
])
def test_bad_budget_flags_stop_the_study_before_anything_is_written(settings, change, message) -> None:
    with pytest.raises(StudyInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare(dataclasses.replace(settings, **change))
    assert not Path(settings.run_dir).exists()


def test_the_deploy_variant_is_an_enum_of_what_the_cost_measures() -> None:
    from tuner.deploy.cost import VARIANTS

    assert {v.value for v in DeployVariant} <= set(VARIANTS)
