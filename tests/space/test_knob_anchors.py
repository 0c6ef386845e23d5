"""The ``anchors`` knob: a size factor on the config's anchors (the study centres it on the fit)."""
from __future__ import annotations

import pytest

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.paths import PIPELINES_DIR
from tuner.space.knobs import KnobError, set_anchors

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
GEN = "model.ssd.anchor_generator.ssd_anchor_generator"


def test_factor_scales_min_and_max_scale_and_keeps_the_ratios() -> None:
    cfg = cfgmod.load(SHAPES)
    ratios = list(cfgmod.get_value(cfg, f"{GEN}.aspect_ratios"))
    set_anchors(cfg, 0.5)
    assert cfgmod.get_value(cfg, f"{GEN}.min_scale") == pytest.approx(0.05)
    assert cfgmod.get_value(cfg, f"{GEN}.max_scale") == pytest.approx(0.475)
    assert list(cfgmod.get_value(cfg, f"{GEN}.aspect_ratios")) == ratios
    set_anchors(cfg, 4.0)  # 0.475 * 4 is capped at 1.0
    assert cfgmod.get_value(cfg, f"{GEN}.max_scale") == pytest.approx(1.0)


def test_multiscale_generator_scales_anchor_scale() -> None:
    cfg = cfgmod.load(SHAPES)
    cfg.model.ssd.anchor_generator.multiscale_anchor_generator.anchor_scale = 4.0
    set_anchors(cfg, 1.25)
    assert cfg.model.ssd.anchor_generator.multiscale_anchor_generator.anchor_scale == pytest.approx(5.0)


def test_space_validation_refuses_it_where_it_cannot_apply() -> None:
    space = spacemod.parse_space({"params": {"anchors": {"knob": "anchors", "float": [0.7, 1.4]}}}, "s.yaml")
    spacemod.validate(space, cfgmod.load(SHAPES))
    cfg = cfgmod.load(SHAPES)
    cfg.model.ssd.anchor_generator.grid_anchor_generator.SetInParent()
    with pytest.raises(spacemod.SpaceError, match="anchors"):
        spacemod.validate(space, cfg)
    too_wide = spacemod.parse_space({"params": {"anchors": {"knob": "anchors", "float": [0.1, 1.4]}}}, "s.yaml")
    with pytest.raises(spacemod.SpaceError, match="size factor"):
        spacemod.validate(too_wide, cfgmod.load(SHAPES))


def test_explicit_scales_are_refused() -> None:
    cfg = cfgmod.load(SHAPES)
    cfg.model.ssd.anchor_generator.ssd_anchor_generator.scales.extend([0.1, 0.2, 0.4, 0.6, 0.8, 0.95])
    with pytest.raises(KnobError, match="explicit"):
        set_anchors(cfg, 1.1)
