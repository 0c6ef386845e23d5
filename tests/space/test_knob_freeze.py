"""The ``freeze`` knob: what it writes, and where space validation refuses it."""
from __future__ import annotations

import pytest

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.paths import PIPELINES_DIR
from tuner.space.backbones import BACKBONE_PATTERNS

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
SPACE = {"params": {"freeze": {"knob": "freeze", "choices": ["none", "backbone"]}}}


def _fine_tuning():  # type: ignore[no-untyped-def]
    cfg = cfgmod.load(SHAPES)
    cfgmod.set_value(cfg, "train_config.fine_tune_checkpoint", "/ckpt/ckpt-3")
    cfgmod.set_value(cfg, "train_config.fine_tune_checkpoint_type", "detection")
    return cfg


@pytest.fixture
def fine_tuning():  # type: ignore[no-untyped-def]
    return _fine_tuning()


def test_backbone_sets_the_extractors_patterns_and_none_clears_them(fine_tuning) -> None:
    space = spacemod.parse_space(SPACE, "s.yaml")
    spacemod.validate(space, fine_tuning)
    fine_tuning.train_config.freeze_variables.append("^BoxPredictor/")  # replaced, not appended to
    spacemod.apply(space, fine_tuning, {"freeze": "backbone"})
    assert list(fine_tuning.train_config.freeze_variables) == list(BACKBONE_PATTERNS["ssd_mobilenet_v2_keras"])
    assert "freeze_variables" in cfgmod.dumps(fine_tuning)
    spacemod.apply(space, fine_tuning, {"freeze": "none"})
    assert list(fine_tuning.train_config.freeze_variables) == []


def test_without_a_fine_tune_checkpoint_the_space_is_rejected_with_the_fix() -> None:
    space = spacemod.parse_space(SPACE, "s.yaml")
    with pytest.raises(spacemod.SpaceError, match=r"s.yaml: params.freeze: value 'none' does not fit the base config: "
                                                  r"knob 'freeze' needs a fine-tune checkpoint, and "
                                                  r"train_config.fine_tune_checkpoint is not set.*\(fix: set "
                                                  r"train_config.fine_tune_checkpoint \(and "
                                                  r"fine_tune_checkpoint_type\) in the base config, or remove the "
                                                  r"freeze entry from the space\)"):
        spacemod.validate(space, cfgmod.load(SHAPES))
    with pytest.raises(spacemod.KnobError) as info:
        spacemod.KNOBS["freeze"](cfgmod.load(SHAPES), "backbone")
    assert info.value.path == "train_config.fine_tune_checkpoint"


def test_other_extractors_and_values_are_refused(fine_tuning) -> None:
    fine_tuning.model.ssd.feature_extractor.type = "ssd_mobilenet_v2"  # the TF1 (slim) extractor
    with pytest.raises(spacemod.KnobError, match="knows the backbones of the SSD Keras feature extractors only; "
                                                 "the config has an SSD with feature extractor 'ssd_mobilenet_v2'") \
            as info:
        spacemod.KNOBS["freeze"](fine_tuning, "backbone")
    assert info.value.path == "model.ssd.feature_extractor.type"
    assert "ssd_resnet50_v1_fpn_keras" in str(info.value) and "set train_config.freeze_variables" in str(info.value)
    bad = spacemod.parse_space({"params": {"freeze": {"knob": "freeze", "choices": ["none", "heads"]}}}, "s.yaml")
    with pytest.raises(spacemod.SpaceError, match=r"value 'heads' .*knob 'freeze' takes none or backbone"):
        spacemod.validate(bad, _fine_tuning())
