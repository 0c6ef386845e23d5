"""The preflight (tuner.study.preflight) with the fake build check: the variants a dry run shows are
the ones the study trains, and a study whose base or first sampled variant does not build stops
before it writes anything. The real OD API build: tests/study/test_preflight_study.py."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from studyhelpers import fake_study_settings

from tuner.config import base_learning_rate
from tuner.study import preflight
from tuner.study import runner as runner_mod
from tuner.study.inputs import StudyInputError, prepare
from tuner.study.plan import preflight_variants, resolve
from tuner.testing import FakeBuild, FakeRunner, learning_rate_curve

pytestmark = pytest.mark.usefixtures("no_anchor_analysis")

SPACE = ("params:\n  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n    log: true\n"
         "  ratios:\n    knob: anchor_aspect_ratios\n    choices: [keep, [1.0, 2.0, 0.5]]\n")
ZOO_DIR = Path(__file__).parents[1] / "config" / "zoo"


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_dry_run_draws_what_the_study_then_trains(tmp_path, sampler) -> None:
    settings = fake_study_settings(tmp_path, SPACE, steps=20, eval_every=10, n_trials=4, sampler=sampler, seed=3)
    plan = resolve(settings, build_check=FakeBuild())
    variants = preflight_variants(plan, 3)
    assert [(v.number, v.role) for v in variants] == [(0, preflight.Role.BASELINE), (1, preflight.Role.SAMPLED),
                                                     (2, preflight.Role.SAMPLED), (3, preflight.Role.SAMPLED)]
    # the baseline changes nothing; it is recorded with the values that describe it in the space's terms
    assert variants[0].changes == () and variants[0].values == {"lr": pytest.approx(0.08), "ratios": "keep"}
    study = runner_mod.run(plan, out=io.StringIO(), runner=FakeRunner(learning_rate_curve()))
    # TPE draws at random until 3 trials have finished (the baseline counts): trials 1 and 2 there
    same = 4 if sampler == "random" else 3
    trained = {t.number: t.params for t in study.get_trials() if 0 < t.number < same}
    drawn = {v.number: {"lr": v.values["lr"], "ratios": repr(list(v.values["ratios"]))
                        if isinstance(v.values["ratios"], tuple) else v.values["ratios"]} for v in variants[1:same]}
    assert len(trained) == same - 1 and trained == drawn


def test_the_table_and_summary_say_what_builds(tmp_path) -> None:
    plan = resolve(fake_study_settings(tmp_path, SPACE, n_trials=4), preflight_check=False)
    variants = preflight_variants(plan, 2)
    base_rate = base_learning_rate(plan.base_cfg)
    build = FakeBuild(refuse=lambda cfg: base_learning_rate(cfg) > base_rate, reason="too fast for the fake")
    checks = preflight.run_checks(variants, build)
    assert len(build.checked) == 3
    lines = preflight.table(checks)
    assert lines[0].split() == ["trial", "role", "built", "s", "reason", "changes"]
    assert lines[2].split()[:3] == ["0", "baseline", "yes"] and "(the base config)" in lines[2]
    for check, line in zip(checks[1:], lines[3:]):
        assert ("too fast for the fake" in line) == (not check.built)
        assert f"lr={check.variant.values['lr']:.4g}" in line
    assert preflight.summary(checks).startswith(f"preflight: {sum(c.built for c in checks[1:])} of 2 sampled variants "
                                                "build; baseline builds")


def test_a_study_whose_first_variant_does_not_build_stops_before_writing(tmp_path) -> None:
    settings = fake_study_settings(tmp_path, SPACE, n_trials=4)
    base_rate = base_learning_rate(prepare(settings).base_cfg)
    refuse_sampled = FakeBuild(refuse=lambda cfg: base_learning_rate(cfg) != base_rate, reason="no such layer")
    with pytest.raises(StudyInputError, match=r"the first variant the space samples \(trial 1: lr=.*\) does not build: "
                                              "no such layer; narrow the space .*--dry-run 8"):
        resolve(settings, build_check=refuse_sampled)
    assert not Path(settings.run_dir).exists()
    with pytest.raises(StudyInputError, match="the base config does not build: broken"):
        resolve(settings, build_check=FakeBuild(refuse=lambda cfg: True, reason="broken"))
    assert not Path(settings.run_dir).exists()


@pytest.mark.parametrize("name, kind", [("faster_rcnn_resnet50_v1_640x640.config", "faster_rcnn"),
                                        ("centernet_hourglass104_512x512_kpts.config", "center_net")])
def test_the_default_space_is_refused_on_a_model_it_was_not_made_for(tmp_path, name, kind) -> None:
    settings = dataclasses.replace(fake_study_settings(tmp_path, SPACE, base=str(ZOO_DIR / name)), space=None)
    with pytest.raises(StudyInputError, match=f"the default search space .* is for SSD models and the base config is "
                                              f"a {kind} config: give a space for it with --space FILE"):
        prepare(settings)
