"""tuner.study.evaluation: trials evaluate where a reading decides something (units), and a
study on the fake runner runs what the plan says, says it, and resumes with it."""
from __future__ import annotations

import io
import json

import pytest

from studyhelpers import fake_study_settings
from tuner.runinfo import RUN_INFO_FILE
from tuner.study import evaluation, runner as runner_mod
from tuner.study.plan import resolve
from tuner.study.inputs import StudyInputError, prepare
from tuner.study.pruning import PrunerKind, plan as pruning_plan
from tuner.testing import FakeBuild, FakeRunner, rising
from tuner.trial import TrialSpecError


def _plan(steps: int, every: int | None, pruner: PrunerKind = PrunerKind.AUTO):
    return evaluation.plan(steps, every, lambda grid: pruning_plan(pruner, steps, grid, asked=every is not None))


@pytest.mark.parametrize("steps, every, pruner, at, grid, prunes", [
    (200, None, PrunerKind.AUTO, (200,), 200, False),        # the demo's shape: auto does not prune
    (150, None, PrunerKind.AUTO, (150,), 150, False),        # not a multiple of the grid: still valid
    (1000, None, PrunerKind.AUTO, (500, 600, 700, 800, 900, 1000), 100, True),  # auto prunes: its rungs
    (1000, None, PrunerKind.NONE, (1000,), 1000, False),
    (200, 50, PrunerKind.AUTO, (50, 100, 150, 200), 50, False),  # asked for: every 50, whatever pruning says
    (10, None, PrunerKind.MEDIAN, (10,), 10, False),         # no decision step at all: nothing to read early
    (20000, None, PrunerKind.AUTO, (*range(10000, 20000, 1000), 20000), 1000, True),  # long: 10 rungs, not 100
])
def test_a_trial_evaluates_the_rungs_and_the_last_step_unless_asked(steps, every, pruner, at, grid, prunes) -> None:
    plan, pruning = _plan(steps, every, pruner)
    assert plan.at == at and plan.every == grid and plan.requested is (every is not None)
    assert (pruning.kind is not PrunerKind.NONE and bool(pruning.decision_steps)) is prunes
    if prunes:
        assert set(pruning.decision_steps) <= set(plan.at), "every step the pruner reads is evaluated"
    assert plan.at[-1] == steps


def test_the_plan_says_what_runs() -> None:
    assert "the last checkpoint only (step 200)" in _plan(200, None)[0].describe()
    assert "at steps 500, 600, 700, 800, 900, 1000 (the pruner's rungs" in _plan(1000, None)[0].describe()
    assert "every 50 steps (4 per trial, --eval-every 50)" in _plan(200, 50)[0].describe()
    assert _plan(200, None)[0].steps_text() == "the last checkpoint only (step 200)"
    # The pruning note speaks of the grid the user did not give as what it is, not as a flag.
    assert "with --steps 200, a reading at most every 100 steps and --prune-after 0.5" in _plan(200, None)[1].note


def test_an_interval_that_does_not_divide_the_steps_is_refused() -> None:
    with pytest.raises(TrialSpecError, match="not a multiple of --eval-every 30"):
        _plan(200, 30)


SPACE = "params:\n  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n    log: true\n"


def _run(settings, runner: FakeRunner) -> str:
    out = io.StringIO()
    runner_mod.run(resolve(settings, build_check=FakeBuild()), out=out, runner=runner)
    return out.getvalue()


@pytest.mark.usefixtures("no_anchor_analysis")
def test_a_study_without_pruning_evaluates_each_trial_once_and_says_so(tmp_path) -> None:
    settings = fake_study_settings(tmp_path, SPACE, steps=200, n_trials=2, pruner="auto")
    runner = FakeRunner(lambda spec: rising(0.5, spec.steps))
    text = _run(settings, runner)
    assert "evaluations: the last checkpoint only (step 200), in the trainer's process" in text
    assert "evaluated per trial: the last checkpoint only (step 200)" in text
    assert {run.spec.eval_steps for run in runner.runs} == {(200,)} and all(r.spec.final_only for r in runner.runs)
    info = json.loads((tmp_path / "run" / RUN_INFO_FILE).read_text())
    assert (info["eval_every"], info["eval_steps"]) == (200, [200])
    # Resumed with the same arguments: the same plan, nothing refused.
    assert "resumed" in _run(fake_study_settings(tmp_path, SPACE, steps=200, n_trials=3, pruner="auto"), runner)
    # Asked for another interval on the same run directory: refused, nothing trained.
    before = len(runner.runs)
    with pytest.raises(StudyInputError, match="different base config, data or budget"):
        prepare(fake_study_settings(tmp_path, SPACE, steps=200, eval_every=100, n_trials=3))
    assert len(runner.runs) == before


@pytest.mark.usefixtures("no_anchor_analysis")
def test_a_pruning_study_evaluates_the_rungs(tmp_path) -> None:
    settings = fake_study_settings(tmp_path, SPACE, steps=1000, n_trials=1, pruner="auto")
    runner = FakeRunner(lambda spec: rising(0.5, spec.steps))
    text = _run(settings, runner)
    assert runner.runs[0].spec.eval_steps == (500, 600, 700, 800, 900, 1000) and runner.runs[0].spec.eval_every == 100
    assert "evaluated per trial: 500, 600, 700, 800, 900, 1000" in text


@pytest.mark.usefixtures("no_anchor_analysis")
def test_a_run_directory_of_an_older_version_resumes_with_its_interval(tmp_path) -> None:
    """Before the evaluation plan, study.json held no eval_steps: every eval_every-th step was
    evaluated, and a resumed study without --eval-every goes on doing that."""
    runner = FakeRunner(lambda spec: rising(0.5, spec.steps))
    _run(fake_study_settings(tmp_path, SPACE, steps=200, eval_every=100, n_trials=1), runner)
    path = tmp_path / "run" / RUN_INFO_FILE
    info = json.loads(path.read_text())
    assert info["eval_steps"] == []  # asked for: recorded as "every eval_every-th", as older versions did
    info.pop("eval_steps")
    path.write_text(json.dumps(info))
    text = _run(fake_study_settings(tmp_path, SPACE, steps=200, n_trials=2), runner)
    assert "resumed" in text and runner.runs[-1].spec.evaluated_steps == (100, 200)
