"""Whole studies through tuner.study.runner.run, on real SQLite storage, with the fake runner.

Everything but the training is real: prepare(), the storage, sampling, the guarded pruner,
failure recording, the signal handler, recovery and resume, the summary. The data files hold
empty records (the fake reads none) and the anchor analysis, which would read them, is skipped.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from tuner import events
from tuner.outcome import FailureClass
from tuner.runinfo import Attr, sqlite_url, trial_dir_name
from tuner.study import runner as runner_mod
from tuner.study.plan import resolve
from studyhelpers import fake_study_settings
from tuner.study.inputs import SamplerName, StudySettings, prepare
from tuner.study.pruning import PrunerKind
from tuner.study.storage import count_finished, failure_class
from tuner.testing import FakeBuild, FakeFailure, FakeRun, FakeRunner, learning_rate_curve, rising
from tuner.trial import RESULT_FILE, TrialSpec

pytestmark = pytest.mark.usefixtures("no_anchor_analysis")

SPACE = "params:\n  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n    log: true\n"
STEPS, EVERY = 50, 10  # few evaluations: every report is a SQLite commit


@pytest.fixture()
def settings(tmp_path) -> StudySettings:
    """A study of the bundled shapes config on placeholder data (framing-only TFRecords)."""
    return fake_study_settings(tmp_path, SPACE, steps=STEPS, eval_every=EVERY, n_trials=6)


def _number(spec: TrialSpec) -> int:
    return int(spec.trial_dir.name.removeprefix("trial-"))


def _run(settings: StudySettings, runner: FakeRunner) -> tuple[optuna.Study, str]:
    out = io.StringIO()
    study = runner_mod.run(resolve(settings, build_check=FakeBuild()), out=out, runner=runner)
    return study, out.getvalue()


def _stored(settings: StudySettings) -> list[FrozenTrial]:
    """The trials as a fresh reader of the storage sees them."""
    storage = sqlite_url(Path(settings.run_dir))
    return optuna.load_study(study_name="ssd_mobilenet_v2_shapes", storage=storage).get_trials()


def test_prepare_gives_the_sampler_and_pruner_as_enums(settings) -> None:
    prepared = prepare(settings)  # "random" and the default "auto" as given by a library caller
    assert prepared.settings.sampler is SamplerName.RANDOM and prepared.settings.pruner is PrunerKind.AUTO


def test_a_poor_curve_is_pruned_after_the_warmup_and_never_before(settings) -> None:
    settings = dataclasses.replace(settings, pruner="median", prune_after=0.5, prune_min_trials=3, n_trials=5)
    lr_curve = learning_rate_curve(best=0.02, top=0.5)
    poor = 4

    def curve(spec: TrialSpec):
        return rising(0.001, spec.steps) if _number(spec) == poor else lr_curve(spec)

    _run(settings, FakeRunner(curve))
    trials = _stored(settings)
    assert len(trials) == 5
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert poor in [t.number for t in pruned]
    assert all(min(t.intermediate_values) == EVERY for t in pruned)
    assert all(max(t.intermediate_values) >= STEPS // 2 for t in pruned), "pruned before the warm-up"
    poor_trial = trials[poor]
    assert sorted(poor_trial.intermediate_values) == [10, 20, 30]  # stopped at the first decision step (warm-up 25)
    assert poor_trial.user_attrs[Attr.STEPS] == 30
    result = json.loads((Path(poor_trial.user_attrs[Attr.TRIAL_DIR]) / RESULT_FILE).read_text())
    assert (result["status"], result["reason"], result["steps_trained"]) == ("stopped", "pruned at step 30", 30)
    assert all(t.state is TrialState.COMPLETE for t in trials[:3])  # fewer than 3 completed before them


def test_failures_are_recorded_with_their_class_and_the_study_goes_on(settings) -> None:
    lr_curve = learning_rate_curve()

    def curve(spec: TrialSpec):
        number = _number(spec)
        if number == 2:
            return FailureClass.NAN
        if number == 3:
            raise FakeFailure(FailureClass.OOM, "ran out of memory (fake)")
        if number == 4:
            return lambda step: FailureClass.TIMEOUT if step > 20 else lr_curve(spec)(step)
        return lr_curve(spec)

    study, out = _run(settings, FakeRunner(curve))
    trials = _stored(settings)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAIL] * 3 + [TrialState.COMPLETE]
    assert [failure_class(t) for t in trials[2:5]] == [FailureClass.NAN, FailureClass.OOM, FailureClass.TIMEOUT]
    assert [t.user_attrs[Attr.FAILURE] for t in trials[2:5]] == ["nan", "oom", "timeout"]  # stored as plain strings
    assert trials[3].user_attrs[Attr.REASON] == "ran out of memory (fake)"
    assert trials[4].user_attrs[Attr.STEPS] == 30
    assert count_finished(study) == 6  # failures count toward --n-trials
    assert "[trial 2] failed (nan)" in out and "  trial 3 failed (oom): ran out of memory (fake)" in out


def test_an_interrupted_study_resumes_keeping_finished_trials_and_rerunning_the_interrupted_one(settings) -> None:
    settings = dataclasses.replace(settings, n_trials=5)
    interrupted_at = 2

    def interrupt(run: FakeRun, evaluation) -> None:
        if _number(run.spec) == interrupted_at and evaluation.step == 20:
            # What Ctrl-C does, through the study's own handler (never Python's default one,
            # which would interrupt the test session itself).
            assert signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, signal.SIG_DFL, None)
            os.kill(os.getpid(), signal.SIGINT)
            assert run.wait_for_stop(10), "the signal handler did not stop the running trial"

    curve = learning_rate_curve()
    first = FakeRunner(curve, on_evaluation=interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(settings, first)
    before = _stored(settings)
    assert [t.state for t in before] == [TrialState.COMPLETE] * 2 + [TrialState.FAIL]
    assert failure_class(before[2]) is FailureClass.INTERRUPTED and before[2].user_attrs[Attr.STEPS] == 20
    assert first.runs[2].stop_reason == "interrupted"

    second = FakeRunner(curve)
    study, out = _run(settings, second)
    after = _stored(settings)
    assert count_finished(study) == settings.n_trials
    assert [(t.number, t.state, t.value, t.params) for t in after[:3]] == [
        (t.number, t.state, t.value, t.params) for t in before]  # finished trials kept as they were
    reruns = [t for t in after if t.user_attrs.get(Attr.RETRY_OF) == interrupted_at]
    assert len(reruns) == 1 and reruns[0].state is TrialState.COMPLETE and reruns[0].params == before[2].params
    assert [_number(run.spec) for run in second.runs] == [t.number for t in after[3:]]  # nothing finished re-ran
    assert len(second.runs) == settings.n_trials - 2
    assert "re-running 1 interrupted" in out
    assert all(t.value == pytest.approx(t.user_attrs[Attr.METRICS][events.MAP]) for t in after
               if t.state is TrialState.COMPLETE)
    assert not (Path(settings.run_dir) / trial_dir_name(len(after))).exists()


def test_a_study_killed_in_its_confirmation_resumes_it_and_redoes_no_finished_repeat(settings) -> None:
    """--confirm 2 --repeats 2 after 4 search trials: 6 repeats (trials 4-9); Ctrl-C in trial 6."""
    settings = dataclasses.replace(settings, n_trials=4, confirm=2, repeats=2)
    lr_curve = learning_rate_curve()

    def noisy(spec: TrialSpec):  # a run's value depends on its config and, a little, on its seed
        base, jitter = lr_curve(spec), (spec.seed % 1000) / 1000 * 0.05
        return lambda step: base(step) + jitter * step / spec.steps

    def interrupt(run: FakeRun, evaluation) -> None:
        if _number(run.spec) == 6 and evaluation.step == 20:
            os.kill(os.getpid(), signal.SIGINT)
            assert run.wait_for_stop(10)

    first = FakeRunner(noisy, on_evaluation=interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(settings, first)
    before = _stored(settings)
    assert [t.number for t in before if t.state is TrialState.COMPLETE] == [0, 1, 2, 3, 4, 5]
    assert failure_class(before[6]) is FailureClass.INTERRUPTED
    assert sum(t.state is TrialState.WAITING for t in before) == 3  # enqueued, not yet run

    second = FakeRunner(noisy)
    study, out = _run(settings, second)
    after = _stored(settings)
    assert [_number(run.spec) for run in second.runs] == [7, 8, 9, 10]  # the 3 waiting + the re-run of 6
    repeats = [t for t in after if t.user_attrs.get(Attr.REPEAT_OF) is not None and t.state is TrialState.COMPLETE]
    assert len(repeats) == 6 and len({t.user_attrs[Attr.SEED] for t in after}) == len(after)
    assert all(t.params == after[t.user_attrs[Attr.REPEAT_OF]].params for t in repeats)
    assert all(t.user_attrs[Attr.STEPS] == STEPS for t in repeats)  # never pruned
    assert count_finished(study) == 4  # repeats do not count toward --n-trials
    means = {}
    for parent in {t.user_attrs[Attr.REPEAT_OF] for t in repeats}:  # fresh runs: a searched leader's own is left out
        runs = ([after[parent].value] if after[parent].user_attrs.get(Attr.BASELINE) else []) + \
            [t.value for t in repeats if t.user_attrs[Attr.REPEAT_OF] == parent]
        means[parent] = sum(runs) / len(runs)
    pick = study.user_attrs["confirmed_pick"]
    assert pick["trial"] == max(means, key=means.get) and pick["complete"]
    assert f"pick: trial {pick['trial']} (best fresh mean {means[pick['trial']]:.4f})" in out
    third = FakeRunner(noisy)
    _run(settings, third)
    assert third.runs == [] and len(_stored(settings)) == len(after)  # nothing left to do


def _slow(numbers: set[int]):  # type: ignore[no-untyped-def]
    """The usual curve, with trials ``numbers`` taking longer at each evaluation."""
    base = learning_rate_curve()

    def curve(spec: TrialSpec):  # type: ignore[no-untyped-def]
        inner, slow = base(spec), _number(spec) in numbers

        def at(step: int) -> float:
            if slow:
                time.sleep(0.05)
            return inner(step)
        return at
    return curve


def test_with_two_jobs_a_trials_values_do_not_depend_on_which_thread_drew_it(tmp_path) -> None:
    """Two threads take trials as they come free; with --seed each trial's values are still a
    function of the seed and its number (the random sampler: no dependence on the history)."""
    drawn = []
    for run in "abc":
        (tmp_path / run).mkdir()
    for run, slow in (("a", {1, 3}), ("b", {0, 2, 4})):
        settings = fake_study_settings(tmp_path / run, SPACE, steps=STEPS, eval_every=EVERY, n_trials=6, jobs=2,
                                       pruner="none")
        _run(settings, FakeRunner(_slow(slow)))
        trials = _stored(settings)
        assert len(trials) == 6
        drawn.append({t.number: t.params for t in trials})
    assert drawn[0] == drawn[1]
    other = fake_study_settings(tmp_path / "c", SPACE, steps=STEPS, eval_every=EVERY, n_trials=6, jobs=2,
                                pruner="none", seed=8)
    _run(other, FakeRunner(learning_rate_curve()))
    assert {t.number: t.params for t in _stored(other)} != drawn[0]
