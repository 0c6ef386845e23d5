"""The planner (tuner.study.planner): what each study trial trains, decided without training."""
from __future__ import annotations

import optuna
import pytest

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.paths import PIPELINES_DIR
from tuner.runinfo import Attr
from tuner.study.planner import Planner, Role

BASE = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
SPACE = {"params": {"lr": {"knob": "learning_rate", "float": [0.001, 0.3], "log": True}}}


def test_roles_and_configs_of_a_study_s_first_trials() -> None:
    base = cfgmod.load(BASE)
    planner = Planner(base, spacemod.parse_space(SPACE, "s.yaml"), steps=20, trial0_is_baseline=True)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"lr": 0.08}, user_attrs={Attr.BASELINE: True})
    study.enqueue_trial({}, user_attrs={Attr.FITTED_ANCHORS: True})
    decided = []
    for _ in range(3):
        trial = study.ask()
        baseline = planner.is_baseline(trial)
        cfg, values = planner.variant(trial, baseline)
        decided.append((trial.number, planner.role(trial, baseline), values, cfg))
        study.tell(trial, 0.0)
    (n0, role0, values0, cfg0), (n1, role1, values1, cfg1), (n2, role2, values2, cfg2) = decided
    assert (n0, role0, n1, role1, n2, role2) == (0, Role.BASELINE, 1, Role.FITTED_ANCHORS, 2, Role.SAMPLED)
    assert values0 == {"lr": 0.08} and study.trials[0].params == {"lr": 0.08}  # recorded, not sampled
    # the baseline is the base sized to the study's steps: its rate and everything else as they were
    assert cfg0.train_config.num_steps == 20 and cfgmod.base_learning_rate(cfg0) == cfgmod.base_learning_rate(base)
    assert all(c.path.startswith(("train_config.num_steps", "train_config.optimizer.momentum_optimizer.learning_rate"))
               and not c.path.endswith("learning_rate_base") for c in cfgmod.diff(base, cfg0))
    assert values1 == {} and cfg1.train_config.num_steps == 20  # no fit in this plan: the base anchors
    assert set(values2) == {"lr"} and cfgmod.base_learning_rate(cfg2) == pytest.approx(values2["lr"], rel=1e-6)


def test_a_baseline_enqueued_too_late_is_sampled() -> None:
    planner = Planner(cfgmod.load(BASE), spacemod.parse_space(SPACE, "s.yaml"), steps=20, trial0_is_baseline=True)
    study = optuna.create_study()
    first = study.ask()  # another worker's trial took number 0
    assert planner.is_baseline(first)
    study.enqueue_trial({}, user_attrs={Attr.BASELINE: True})
    late = study.ask()
    assert not planner.is_baseline(late) and late.user_attrs[Attr.BASELINE] is False
    assert planner.role(late, False) is Role.SAMPLED
