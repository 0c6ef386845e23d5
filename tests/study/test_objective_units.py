"""The objective without training: baseline choice, failures recorded before any process starts."""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.paths import PIPELINES_DIR
from tuner import events
from tuner.outcome import Evaluation, Status, TrialOutcome
from tuner.runinfo import Attr, trial_dir_name
from tuner.study.executor import DevicePool, LocalExecutor, TrialSettings
from tuner.study.objective import Interrupted, Objective, TrialFailed
from tuner.study.planner import Planner
from tuner.study.seeds import trial_seed
from tuner.study.storage import count_finished
from tuner.trial import Trial, TrialRun

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
MIN_SCALE = {"path": "model.ssd.anchor_generator.ssd_anchor_generator.min_scale", "float": [0.1, 0.2]}


def _objective(tmp_path, entries=None, *, trial0_is_baseline: bool = False, seed: int = 0,
               deterministic: bool = False, runner=None) -> Objective:
    space = spacemod.parse_space({"params": entries or {"scale": MIN_SCALE}}, "s.yaml")
    planner = Planner(cfgmod.load(SHAPES), space, steps=20, trial0_is_baseline=trial0_is_baseline, seed=seed)
    executor = LocalExecutor(TrialSettings(20, 10, deterministic=deterministic), runner=runner)
    return Objective(planner, executor, run_dir=tmp_path)


def test_the_default_runner_is_the_subprocess_trial(tmp_path) -> None:
    assert _objective(tmp_path).executor.runner is Trial
    assert issubclass(Trial, TrialRun)


def test_jobs_without_devices_get_one_slot_each() -> None:
    assert DevicePool(None).size == 1
    pool = DevicePool(None, jobs=3)
    assert pool.size == 3
    assert [pool.acquire() for _ in range(3)] == [None, None, None]  # three trials at once, none blocks
    assert DevicePool(["0", "1"], jobs=2).size == 2
    devices = DevicePool(["0", "1"], jobs=1)
    assert sorted([devices.acquire(), devices.acquire()]) == ["0", "1"]


def test_trial_0_is_the_baseline_whoever_created_it(tmp_path) -> None:
    objective = _objective(tmp_path, trial0_is_baseline=True)
    study = optuna.create_study(direction="maximize")
    first = study.ask()  # another worker asked before the creator enqueued the baseline
    assert objective.planner.is_baseline(first) and first.user_attrs[Attr.BASELINE] is True
    study.enqueue_trial({}, user_attrs={Attr.BASELINE: True})
    late = study.ask()  # the baseline enqueued too late: sampled like any other trial
    assert late.number == 1 and not objective.planner.is_baseline(late)
    assert late.user_attrs[Attr.BASELINE] is False
    cfg, values = objective.planner.variant(late, baseline=False)
    assert set(values) == {"scale"}
    study.enqueue_trial({}, user_attrs={Attr.BASELINE: True, Attr.RETRY_OF: 0})
    rerun = study.ask()  # a re-run of the baseline stays the baseline
    assert objective.planner.is_baseline(rerun)
    assert not _objective(tmp_path).planner.is_baseline(optuna.create_study().ask()), "library default: attribute only"


def test_a_combination_the_od_api_would_reject_fails_as_config_before_any_process(tmp_path) -> None:
    # matched_threshold below the base's unmatched_threshold (0.5): each value fits its field,
    # but the OD API refuses the matcher. The space was not validated (a library caller).
    objective = _objective(tmp_path, {"m": {"path": "model.ssd.matcher.argmax_matcher.matched_threshold",
                                            "float": [0.3, 0.4]}})
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1, catch=(TrialFailed,))
    trial = study.trials[0]
    assert trial.state is TrialState.FAIL and trial.user_attrs[Attr.FAILURE] == "config"
    assert ("s.yaml: the sampled values make the config invalid: model.ssd.matcher.argmax_matcher."
            "unmatched_threshold: unmatched_threshold 0.5 > matched_threshold") in trial.user_attrs[Attr.REASON]
    assert not (tmp_path / trial_dir_name(0)).exists()


def test_a_trial_popped_after_an_interrupt_is_marked_for_a_rerun(tmp_path) -> None:
    objective = _objective(tmp_path)
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({}, user_attrs={Attr.BASELINE: True})
    objective.interrupt()
    with pytest.raises(Interrupted):
        study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state is TrialState.FAIL and trial.user_attrs[Attr.FAILURE] == "interrupted"
    assert trial.user_attrs[Attr.BASELINE] is True
    assert count_finished(study) == 0  # not counted: it is re-run on resume
    assert not (tmp_path / trial_dir_name(0)).exists()


def test_a_second_rerun_of_the_same_orphan_fails_at_once_uncounted(tmp_path) -> None:
    objective = _objective(tmp_path)
    study = optuna.create_study(direction="maximize")
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={Attr.FAILURE: "orphaned"}))
    study.add_trial(create_trial(value=0.2, user_attrs={Attr.RETRY_OF: 0}))
    study.enqueue_trial({}, user_attrs={Attr.RETRY_OF: 0})  # enqueued by a second recovering worker
    study.optimize(objective, n_trials=1, catch=(TrialFailed,))
    duplicate = study.trials[2]
    assert duplicate.state is TrialState.FAIL and duplicate.user_attrs[Attr.FAILURE] == "duplicate"
    assert duplicate.user_attrs[Attr.REASON] == "another trial already re-runs trial 0"
    assert count_finished(study) == 1
    assert not (tmp_path / trial_dir_name(2)).exists()


class _StubTrial(TrialRun):
    """Stands in for tuner.trial.Trial: records its spec, lands one evaluation, starts nothing."""

    specs: list = []

    def __init__(self, spec) -> None:
        self.spec = spec
        self._outcome: TrialOutcome | None = None
        _StubTrial.specs.append(spec)

    @property
    def outcome(self) -> TrialOutcome | None:
        return self._outcome

    def stop(self, reason: str = "") -> None:
        pass

    def evaluations(self):
        evaluation = Evaluation(self.spec.steps, {events.MAP: 0.25}, "ckpt-3")
        yield evaluation
        self._outcome = TrialOutcome(Status.COMPLETED, None, "trained", (evaluation,), evaluation, "ckpt-3", "ckpt-3",
                                    1.0, steps_trained=self.spec.steps, seed=self.spec.seed,
                                    deterministic=self.spec.deterministic)


@pytest.mark.parametrize("kwargs, study_seed, deterministic", [
    ({}, 0, False),
    ({"seed": 11, "deterministic": True}, 11, True),
])
def test_each_trial_trains_with_its_recorded_seed(tmp_path, monkeypatch, kwargs, study_seed, deterministic) -> None:
    monkeypatch.setattr(_StubTrial, "specs", [])
    objective = _objective(tmp_path, trial0_is_baseline=True, runner=_StubTrial, **kwargs)
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=3)
    expected = [trial_seed(study_seed, number) for number in range(3)]
    assert [spec.seed for spec in _StubTrial.specs] == expected
    assert all(spec.deterministic is deterministic for spec in _StubTrial.specs)
    assert [t.user_attrs[Attr.SEED] for t in study.trials] == expected
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
