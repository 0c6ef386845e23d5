"""Validating a space against a real base config, sampling with Optuna, applying values."""
from __future__ import annotations

import optuna
import pytest

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.paths import PIPELINES_DIR

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
ZOO = PIPELINES_DIR / "ssd_mobilenet_v2.config"
DEFAULT = PIPELINES_DIR / "spaces" / "ssd.yaml"


@pytest.mark.parametrize("base", [SHAPES, ZOO])
def test_default_space_fits_the_bundled_ssd_configs(base) -> None:
    spacemod.validate(spacemod.load_space(DEFAULT), cfgmod.load(base))


def test_validation_catches_what_only_the_base_config_can_tell() -> None:
    base = cfgmod.load(SHAPES)
    cases = {
        "unknown path": ({"x": {"path": "model.ssd.anchor_generator.ssd_anchor_generator.min_scal",
                                "float": [0.1, 0.2]}}, "did you mean 'min_scale'"),
        "out of the field's range": ({"x": {"path": "model.ssd.post_processing.batch_non_max_suppression.iou_threshold",
                                            "float": [0.5, 1.5]}}, "value 1.5 does not fit"),
        "wrong type": ({"x": {"path": "train_config.batch_size", "choices": ["big"]}}, "value 'big' does not fit"),
        "knob not applicable": ({"x": {"knob": "warmup_fraction", "float": [0.0, 0.1]},
                                 "s": {"knob": "schedule_type", "choices": ["constant"]}}, None),
    }
    for _label, (entries, message) in cases.items():
        space = spacemod.parse_space({"params": entries}, "s.yaml")
        if message is None:
            spacemod.validate(space, base)  # warmup first, on the cosine base: fine
            continue
        with pytest.raises(spacemod.SpaceError, match=message):
            spacemod.validate(space, base)
    adam_like = cfgmod.load(SHAPES)
    cfgmod.set_value(adam_like, "train_config.optimizer.adam_optimizer.epsilon", 1e-7, switch=True)
    space = spacemod.parse_space({"params": {"m": {"knob": "momentum", "float": [0.8, 0.9]}}}, "s.yaml")
    with pytest.raises(spacemod.SpaceError, match="knob 'momentum' needs a momentum or rms_prop optimizer"):
        spacemod.validate(space, adam_like)


def test_conditional_entries_are_sampled_only_when_their_parent_allows() -> None:
    space = spacemod.load_space(DEFAULT)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen_schedules = set()
    for _ in range(30):
        trial = study.ask()
        values = spacemod.sample(space, trial)
        seen_schedules.add(values["schedule"])
        assert ("warmup_fraction" in values) == (values["schedule"] == "cosine")
        assert ("decay_factor" in values) == (values["schedule"] == "exponential")
        assert ("brightness_max_delta" in values) == (values["brightness"] is True)
        study.tell(trial, 0.0)
    assert seen_schedules == {"cosine", "exponential", "constant"}


def test_applied_values_land_in_the_config_and_the_diff() -> None:
    space = spacemod.load_space(DEFAULT)
    base = cfgmod.load(SHAPES)
    cfg = cfgmod.load(SHAPES)
    values = {"anchor_aspect_ratios": (1.0, 2.0, 0.5), "schedule": "exponential", "learning_rate": 0.05,
              "decay_factor": 0.9, "l2_weight": 1e-5, "brightness": True, "brightness_max_delta": 0.3,
              "horizontal_flip": False, "batch_size": 32}
    spacemod.apply(space, cfg, values)
    ssd = cfg.model.ssd
    assert list(ssd.anchor_generator.ssd_anchor_generator.aspect_ratios) == pytest.approx([1.0, 2.0, 0.5])
    assert cfgmod.base_learning_rate(cfg) == pytest.approx(0.05)
    exp = cfg.train_config.optimizer.momentum_optimizer.learning_rate.exponential_decay_learning_rate
    assert exp.decay_factor == pytest.approx(0.9)
    assert ssd.feature_extractor.conv_hyperparams.regularizer.l2_regularizer.weight == pytest.approx(1e-5)
    augmentations = [a.WhichOneof("preprocessing_step") for a in cfg.train_config.data_augmentation_options]
    assert augmentations == ["random_adjust_brightness"]
    assert cfg.train_config.data_augmentation_options[0].random_adjust_brightness.max_delta == pytest.approx(0.3)
    assert cfg.train_config.batch_size == 32
    changed = {c.path for c in cfgmod.diff(base, cfg)}
    assert "train_config.batch_size" in changed
    assert any("exponential_decay_learning_rate" in p for p in changed)


def test_stored_optuna_params_map_back_to_space_values() -> None:
    space = spacemod.load_space(DEFAULT)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    values = spacemod.sample(space, trial)
    assert spacemod.from_optuna_params(space, trial.params) == values


def test_validation_applies_the_cross_field_lint_rules() -> None:
    """The OD API rejects unmatched_threshold > matched_threshold at build time; so does validate."""
    base = cfgmod.load(SHAPES)
    raw = {"params": {"m": {"path": "model.ssd.matcher.argmax_matcher.matched_threshold", "float": [0.4, 0.7]}}}
    with pytest.raises(spacemod.SpaceError, match="value 0.4 makes the config invalid: .*unmatched_threshold 0.5 > "
                                                  "matched_threshold 0.4"):
        spacemod.validate(spacemod.parse_space(raw, "s.yaml"), base)
    knob = {"params": {"m": {"knob": "matcher_iou", "float": [0.4, 0.7]}}}
    spacemod.validate(spacemod.parse_space(knob, "s.yaml"), base)
    cfg = cfgmod.load(SHAPES)
    spacemod.apply(spacemod.parse_space(knob, "s.yaml"), cfg, {"m": 0.4})
    argmax = cfg.model.ssd.matcher.argmax_matcher
    assert argmax.matched_threshold == pytest.approx(0.4) and argmax.unmatched_threshold == pytest.approx(0.4)


def _exponential_base():
    base = cfgmod.load(SHAPES)
    cfgmod.set_schedule_type(base, "exponential")
    return base


def test_chained_conditions_set_up_every_ancestor() -> None:
    """c depends on w, which only applies under a cosine schedule: c is validated with s=cosine
    and w set, on a base whose own schedule is exponential."""
    raw = {"params": {
        "s": {"knob": "schedule_type", "choices": ["constant", "cosine"]},
        "w": {"knob": "warmup_fraction", "choices": [0.0, 0.1], "when": {"s": "cosine"}},
        "c": {"path": "model.ssd.anchor_generator.ssd_anchor_generator.min_scale", "float": [0.1, 0.2],
              "when": {"w": 0.1}},
    }}
    space = spacemod.parse_space(raw, "s.yaml")
    assert spacemod.condition_setups(space, space.params[2]) == [{"s": "cosine", "w": 0.1}]
    spacemod.validate(space, _exponential_base())


def test_every_allowed_value_of_a_parent_is_checked() -> None:
    """when: {s: [cosine, constant]}: the warmup knob fits under cosine but not under constant."""
    raw = {"params": {
        "s": {"knob": "schedule_type", "choices": ["cosine", "exponential", "constant"]},
        "w": {"knob": "warmup_fraction", "float": [0.0, 0.1], "when": {"s": ["cosine", "constant"]}},
    }}
    space = spacemod.parse_space(raw, "s.yaml")
    assert spacemod.condition_setups(space, space.params[1]) == [{"s": "cosine"}, {"s": "constant"}]
    with pytest.raises(spacemod.SpaceError, match=r"^s.yaml: params.w \(with s = 'constant'\): value 0.0 does not "
                                                  r"fit the base config: .*applies to cosine_decay_learning_rate only"):
        spacemod.validate(space, cfgmod.load(SHAPES))


def test_a_failing_chained_entry_names_its_whole_setup() -> None:
    raw = {"params": {
        "s": {"knob": "schedule_type", "choices": ["cosine", "exponential"]},
        "b": {"augmentation": "random_adjust_brightness", "choices": [True, False], "when": {"s": "exponential"}},
        "d": {"path": "train_config.data_augmentation_options[random_adjust_brightness].max_delta",
              "float": [0.1, 0.2], "when": {"b": True}},
        "w": {"knob": "warmup_fraction", "float": [0.0, 0.1], "when": {"b": [True, False]}},
    }}
    space = spacemod.parse_space(raw, "s.yaml")
    assert spacemod.condition_setups(space, space.params[2]) == [{"s": "exponential", "b": True}]
    with pytest.raises(spacemod.SpaceError, match=r"params.w \(with s = 'exponential', b = True\): value 0.0 does not "
                                                  "fit"):
        spacemod.validate(space, cfgmod.load(SHAPES))


def test_conditions_that_can_never_hold_together_are_an_error() -> None:
    raw = {"params": {
        "s": {"knob": "schedule_type", "choices": ["cosine", "exponential"]},
        "a": {"augmentation": "random_adjust_brightness", "choices": [True, False], "when": {"s": "cosine"}},
        "x": {"path": "model.ssd.anchor_generator.ssd_anchor_generator.min_scale", "float": [0.1, 0.2],
              "when": {"a": True, "s": "exponential"}},
    }}
    space = spacemod.parse_space(raw, "s.yaml")
    assert spacemod.condition_setups(space, space.params[2]) == []
    with pytest.raises(spacemod.SpaceError, match="params.x: its when conditions can never all hold"):
        spacemod.validate(space, cfgmod.load(SHAPES))
