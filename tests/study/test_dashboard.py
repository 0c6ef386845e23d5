"""The study as optuna-dashboard shows it, read back through the dashboard's HTTP API: the study
note (pick, verdict, noise, commands), every trial's note (role, config changes), the pick's note,
each trial's pipeline.config artifact, and the baseline recorded with parameter values.
(A whole study on the fake runner and real SQLite storage; the dashboard is its WSGI app.)"""
from __future__ import annotations

import io
import json

import pytest
from dashboardhelpers import dashboard, http_get
from studyhelpers import fake_study_settings

from tuner import config as cfgmod
from tuner.runinfo import sqlite_url
from tuner.study import dashboard as dashmod
from tuner.study import runner as runner_mod
from tuner.study import plan as plan_mod
from tuner.study.plan import resolve
from tuner.study.anchors import AnchorPlan
from tuner.testing import FakeBuild, FakeRunner, learning_rate_curve

SPACE = "params:\n  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n    log: true\n"
LR = "train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"


@pytest.fixture(scope="module")
def shown(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    settings = fake_study_settings(tmp, SPACE, steps=20, eval_every=10, n_trials=3, confirm=1, repeats=1)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:  # the placeholder records hold no boxes: no anchor analysis
        patch.setattr(plan_mod, "plan_anchors", lambda prepared: AnchorPlan())
        runner_mod.run(resolve(settings, build_check=FakeBuild()), out=out, runner=FakeRunner(learning_rate_curve()))
    run_dir = tmp / "run"
    with dashboard(sqlite_url(run_dir), run_dir / dashmod.ARTIFACTS_DIR) as base:
        status, _, body = http_get(f"{base}/api/studies")
        assert status == 200
        study_id = json.loads(body)["study_summaries"][0]["study_id"]
        status, _, body = http_get(f"{base}/api/studies/{study_id}")
        assert status == 200
        detail = json.loads(body)
        files = {}
        for trial in detail["trials"]:
            for artifact in trial["artifacts"]:
                status, _, content = http_get(f"{base}/artifacts/{study_id}/{trial['trial_id']}/{artifact['artifact_id']}")
                assert status == 200
                files[(trial["number"], artifact["filename"])] = content.decode()
    return detail, files, out.getvalue(), run_dir


def test_the_study_note_tells_the_pick_its_verdict_and_what_to_run_next(shown) -> None:
    detail, _files, out, run_dir = shown
    note = detail["note"]["body"]
    assert note.startswith("# Study ssd_mobilenet_v2_shapes\n\n## The pick\n\n**Trial ")
    assert "pick: trial" in out
    verdict = out.split("pick: trial", 1)[1].split("; ", 1)[1].splitlines()[0]
    assert verdict in note
    assert "## Noise" in note and "## Summary" in note and "```" in note
    assert f"python -m tflite.convert --study {run_dir}" in note and f"python -m tuner.report --study {run_dir}" in note
    assert f"--artifact-dir '{run_dir / 'artifacts'}'" in note and f"--artifact-dir '{run_dir / 'artifacts'}'" in out


def test_every_trial_note_gives_its_role_and_its_changes(shown) -> None:
    detail, _files, _out, _run_dir = shown
    notes = {t["number"]: t["note"]["body"] for t in detail["trials"]}
    assert set(notes) == {t["number"] for t in detail["trials"]} and len(notes) == 5  # 3 search + 2 repeats
    assert notes[0].startswith("## Trial 0: baseline\n") and "none (the base config)" in notes[0]
    sampled = [n for n, body in notes.items() if "Role:** sampled" in body]
    assert sampled
    for number in sampled:
        assert f"- `{LR}.learning_rate_base`: 0.08 -> " in notes[number]
    repeats = [body for body in notes.values() if "repeat of trial" in body]
    assert len(repeats) == 2
    pick = [body for body in notes.values() if "**The pick.**" in body]
    assert len(pick) == 1 and "fresh mean" in pick[0]


def test_each_trial_has_its_config_as_an_artifact(shown) -> None:
    detail, files, _out, _run_dir = shown
    assert {number for number, name in files if name == "pipeline.config"} == {t["number"] for t in detail["trials"]}
    for (number, _name), text in files.items():
        cfg = cfgmod.loads(text)
        assert cfg.train_config.num_steps == 20, number


def test_the_baseline_carries_the_parameter_values_that_describe_it(shown) -> None:
    detail, _files, _out, _run_dir = shown
    baseline = next(t for t in detail["trials"] if t["number"] == 0)
    params = {p["name"]: float(p["param_external_value"]) for p in baseline["params"]}
    assert params == {"lr": pytest.approx(0.08)}  # the base's rate, in the space's range: in the plots and TPE


def test_a_finished_trials_changes_read_back_as_they_were_shown() -> None:
    from optuna.trial import create_trial

    from tuner.config.diff import Change, MessageText
    from tuner.runinfo import Attr

    trial = create_trial(value=0.1, user_attrs={Attr.DIFF: [["a.b", None, "{ x: 1 }"], ["a.c", 0.5, 0.25],
                                                            ["a.d", "old", "new"]]})
    changes = dashmod.changes_of(trial)
    assert changes == [Change("a.b", None, MessageText("{ x: 1 }")), Change("a.c", 0.5, 0.25), Change("a.d", "old", "new")]
    assert [str(c) for c in changes] == ["a.b: <unset> -> { x: 1 }", "a.c: 0.5 -> 0.25", "a.d: 'old' -> 'new'"]
