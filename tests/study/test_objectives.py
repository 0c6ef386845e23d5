"""Multi-objective studies (--objectives map,latency|map,size): the objectives, the Pareto front,
and whole studies on the fake runner and fake cost meter with real prepare(), real SQLite
storage and the real TPE sampler. The real OD API and cost meter: test_objectives_study.py."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import optuna
import pytest
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

from studyhelpers import fake_study_settings
from tflite.select import resolve_study, select
from tuner.runinfo import Attr, map_value
from tuner.study import runner as runner_mod
from tuner.study.plan import resolve
from tuner.study.inputs import StudyInputError, StudySettings, prepare
from tuner.study.objectives import Objectives, ObjectivesError, Secondary, dominates, pareto_front
from tuner.study.__main__ import main as study_main
from tuner.testing import FakeBuild, FakeCostMeter, FakeRunner, learning_rate_curve
from tuner.trial import MODEL_DIR

pytestmark = pytest.mark.usefixtures("no_anchor_analysis")

MAX, MIN = StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE
#: Input size changes the fake latency (0.1 ms per kilopixel at depth 0.35), the learning rate the
#: fake mAP: the two objectives are independent, so the front holds more than one trial.
SPACE = ("params:\n  size:\n    knob: input_size\n    choices: [64, 96, 128]\n"
         "  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n    log: true\n")


@pytest.fixture()
def settings(tmp_path) -> StudySettings:
    return fake_study_settings(tmp_path, SPACE, steps=40, eval_every=10, n_trials=8, sampler="tpe", seed=5,
                               objectives="map,latency")


def _run(settings: StudySettings) -> tuple[optuna.Study, str, FakeRunner, FakeCostMeter]:
    runner, meter, out = FakeRunner(learning_rate_curve()), FakeCostMeter(), io.StringIO()
    study = runner_mod.run(resolve(settings, build_check=FakeBuild()), out=out, runner=runner, cost_meter=meter)
    return study, out.getvalue(), runner, meter


@pytest.mark.parametrize(("text", "secondary"), [("map", None), ("map,latency", Secondary.LATENCY),
                                                 (" MAP, size ", Secondary.SIZE)])
def test_objectives_parse_the_accepted_forms(text, secondary) -> None:
    objectives = Objectives.parse(text)
    assert objectives.secondary is secondary and objectives.multi is (secondary is not None)
    assert Objectives.of_study(objectives.directions, objectives.metric_names) == objectives
    assert Objectives.parse(objectives.text) == objectives


@pytest.mark.parametrize("text", ["latency", "map,latency,size", "latency,map", "map,speed", ""])
def test_other_objectives_are_refused_with_the_accepted_forms(text) -> None:
    with pytest.raises(ObjectivesError, match="is not one of map, map,latency, map,size"):
        Objectives.parse(text)


def test_a_multi_objective_study_needs_the_cost_of_each_trial() -> None:
    assert Objectives.parse("map,size").directions == [MAX, MIN]
    with pytest.raises(ValueError, match="needs every trial's cost"):
        Objectives.parse("map,size").values(0.3, None)
    assert Objectives().values(0.3, None) == 0.3


def _trial(number: int, values: list[float]) -> optuna.trial.FrozenTrial:
    trial = create_trial(values=values)
    trial.number = number
    return trial


def test_pareto_front_keeps_the_non_dominated_trials_best_map_first() -> None:
    trials = [_trial(0, [0.30, 5.0]), _trial(1, [0.20, 2.0]), _trial(2, [0.25, 6.0]),  # 2: worse than 0 in both
              _trial(3, [0.30, 5.0]),  # same values as 0 (a repeat): 0 stays, 3 is not shown twice
              _trial(4, [0.10, 1.0]), _trial(5, [0.10, 1.5])]
    assert [t.number for t in pareto_front(trials, [MAX, MIN])] == [0, 1, 4]
    assert dominates([0.3, 5.0], [0.25, 6.0], [MAX, MIN]) and not dominates([0.3, 5.0], [0.3, 5.0], [MAX, MIN])


def test_a_map_latency_study_never_prunes_and_ends_with_its_pareto_front(settings) -> None:
    study, out, runner, meter = _run(settings)
    trials = study.get_trials()
    assert study.directions == [MAX, MIN] and study.metric_names == ["mAP", "latency ms"]
    assert len(trials) == 8 and all(t.state is TrialState.COMPLETE for t in trials) and len(runner.runs) == 8
    assert len(meter.costed) == 8
    for t in trials:
        assert t.values == [pytest.approx(t.user_attrs[Attr.METRICS][next(iter(t.user_attrs[Attr.METRICS]))]),
                            pytest.approx(t.user_attrs[Attr.TFLITE_LATENCY_MS])]
        assert t.intermediate_values == {}  # Optuna cannot take reports from a multi-objective trial
        assert t.user_attrs[Attr.STEPS] == 40  # every trial trained all its steps
        assert map_value(t) == t.values[0]
    assert "pruning is off: Optuna cannot prune a multi-objective study (optuna#3450)" in out
    assert "deployment cost: each architecture is costed before training as int8 TFLite" in out
    front = pareto_front(trials, study.directions)
    assert 1 < len(front) < len(trials)  # independent objectives: a trade-off, not one winner
    header = next(line for line in out.splitlines() if line.startswith("Pareto front"))
    assert f"Pareto front ({len(front)} of 8 completed trials" in header
    table = out.split(header + "\n", 1)[1].splitlines()
    assert table[0].split()[:4] == ["trial", "mAP", "latency", "ms"]
    shown = [int(line.split()[0]) for line in table[2:2 + len(front)]]
    assert shown == [t.number for t in front]  # best mAP first
    assert f"python -m tflite.convert --study {settings.run_dir} --trial N" in out
    assert "size KB  latency ms" in out  # the trials table shows every trial's cost too


def _with_checkpoints(study: optuna.Study) -> None:
    for t in study.get_trials():
        model = Path(t.user_attrs[Attr.TRIAL_DIR]) / MODEL_DIR
        model.mkdir(parents=True, exist_ok=True)
        (model / f"{t.user_attrs[Attr.BEST_CHECKPOINT]}.index").write_bytes(b"")


def test_tflite_convert_takes_the_best_map_or_any_front_member(settings) -> None:
    study, _, _, _ = _run(settings)
    _with_checkpoints(study)
    ref = resolve_study(settings.run_dir)
    chosen = select(ref)
    best = max(study.get_trials(), key=lambda t: (map_value(t), -t.number))
    assert chosen.number == best.number and chosen.value == pytest.approx(map_value(best))
    assert "the best completed trial" in chosen.why
    for member in pareto_front(study.get_trials(), study.directions):
        picked = select(ref, trial=member.number)
        assert picked.number == member.number and picked.value == pytest.approx(member.values[0])


def test_a_map_size_study_minimizes_the_size(settings) -> None:
    study, out, _, _ = _run(dataclasses.replace(settings, objectives="map,size", n_trials=4))
    assert study.metric_names == ["mAP", "size KB"]
    assert all(t.values[1] == pytest.approx(t.user_attrs[Attr.TFLITE_SIZE_KB]) for t in study.get_trials())
    assert "size KB" in out.split("Pareto front", 1)[1]


def test_a_budget_still_applies_in_a_multi_objective_study(settings) -> None:
    study, _, runner, _ = _run(dataclasses.replace(settings, max_latency_ms=0.4, n_trials=6))
    for t in study.get_trials():
        if t.user_attrs[Attr.TFLITE_LATENCY_MS] > 0.4:
            assert t.state is TrialState.PRUNED and Attr.INFEASIBLE in t.user_attrs and t.values is None
        else:
            assert t.state is TrialState.COMPLETE
    assert study.get_trials()[0].state is TrialState.PRUNED  # the 128 px base is over 0.4 ms


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_asking_to_prune_a_multi_objective_study_is_a_one_line_error(settings, pruner) -> None:
    with pytest.raises(StudyInputError, match=f"--pruner {pruner} cannot prune --objectives map,latency: Optuna "
                                              "cannot prune a multi-objective study"):
        prepare(dataclasses.replace(settings, pruner=pruner))
    assert not Path(settings.run_dir).exists()


def test_resuming_with_other_objectives_is_refused_and_changes_nothing(settings) -> None:
    _run(dataclasses.replace(settings, n_trials=2))
    with pytest.raises(StudyInputError, match="was created with --objectives map,latency, not map; resume it with "
                                              "--objectives map,latency"):
        _run(dataclasses.replace(settings, objectives="map", n_trials=3))
    with pytest.raises(StudyInputError, match="not map,size"):
        _run(dataclasses.replace(settings, objectives="map,size", n_trials=3))
    study = optuna.load_study(study_name="ssd_mobilenet_v2_shapes", storage=f"sqlite:///{settings.run_dir}/study.db")
    assert len(study.get_trials()) == 2
    study, _, runner, _ = _run(dataclasses.replace(settings, n_trials=3))  # the same objectives resume
    assert len(study.get_trials()) == 3 and len(runner.runs) == 1


def test_the_cli_refuses_an_unknown_objective_with_exit_2(capsys) -> None:
    assert study_main(["--base", "ssd_mobilenet_v2_shapes", "--objectives", "map,speed"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: argument --objectives: 'map,speed' is not one of map, map,latency, map,size; mAP comes "
                   "first, then at most one deployment cost (see python -m tuner.study --help)"]
