"""Anchor knobs that read the config's generator, and the default space on every SSD family of the zoo."""
from __future__ import annotations

from pathlib import Path

import pytest

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.paths import PIPELINES_DIR
from tuner.space.knobs import KnobError, set_anchor_aspect_ratios, set_decay_factor, set_scales_per_octave

ZOO_DIR = Path(__file__).parents[1] / "config" / "zoo"
SSD_FAMILIES = sorted(ZOO_DIR.glob("ssd_*.config"))
DEFAULT = PIPELINES_DIR / "spaces" / "ssd.yaml"
SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
FPN = ZOO_DIR / "ssd_resnet50_v1_fpn_640x640.config"


def test_aspect_ratios_land_in_whichever_generator_the_config_has() -> None:
    single = cfgmod.load(SHAPES)
    set_anchor_aspect_ratios(single, (1.0, 4.0, 0.25))
    assert list(single.model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios) == [1.0, 4.0, 0.25]
    multi = cfgmod.load(FPN)
    set_anchor_aspect_ratios(multi, (1.0, 3.0))
    assert multi.model.ssd.anchor_generator.WhichOneof("anchor_generator_oneof") == "multiscale_anchor_generator"
    assert list(multi.model.ssd.anchor_generator.multiscale_anchor_generator.aspect_ratios) == [1.0, 3.0]
    kept = cfgmod.load(FPN)
    set_anchor_aspect_ratios(kept, "keep")
    assert kept == cfgmod.load(FPN)
    with pytest.raises(KnobError, match="a list of ratios > 0"):
        set_anchor_aspect_ratios(kept, (1.0, -2.0))
    faster = cfgmod.load(ZOO_DIR / "faster_rcnn_resnet50_v1_640x640.config")
    with pytest.raises(KnobError, match=r"needs an SSD .* \(the config has faster_rcnn\)"):
        set_anchor_aspect_ratios(faster, "keep")


def test_scales_per_octave_is_for_the_multiscale_generator_only() -> None:
    multi = cfgmod.load(FPN)
    set_scales_per_octave(multi, 3)
    assert multi.model.ssd.anchor_generator.multiscale_anchor_generator.scales_per_octave == 3
    with pytest.raises(KnobError, match="applies to multiscale_anchor_generator"):
        set_scales_per_octave(cfgmod.load(SHAPES), 2)
    with pytest.raises(KnobError, match=r"integer in \[1, 4\]"):
        set_scales_per_octave(multi, 7)


def test_decay_factor_follows_the_optimizer() -> None:
    cfg = cfgmod.load(SHAPES)
    with pytest.raises(KnobError, match="exponential_decay_learning_rate only"):
        set_decay_factor(cfg, 0.9)
    cfgmod.set_schedule_type(cfg, "exponential")
    set_decay_factor(cfg, 0.9)
    assert cfgmod.learning_rate_message(cfg).exponential_decay_learning_rate.decay_factor == pytest.approx(0.9)


@pytest.mark.parametrize("path", SSD_FAMILIES, ids=lambda p: p.stem)
def test_the_default_space_fits_every_ssd_family_of_the_zoo(path: Path) -> None:
    spacemod.validate(spacemod.load_space(DEFAULT), cfgmod.load(path))


@pytest.mark.parametrize("path", SSD_FAMILIES, ids=lambda p: p.stem)
def test_sampled_variants_keep_the_generator_and_the_model_type(path: Path) -> None:
    import optuna

    space, base = spacemod.load_space(DEFAULT), cfgmod.load(path)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    kind = base.model.ssd.anchor_generator.WhichOneof("anchor_generator_oneof")
    for _ in range(20):
        trial = study.ask()
        cfg = cfgmod.load(path)
        spacemod.apply(space, cfg, spacemod.sample(space, trial))
        assert cfg.model.ssd.anchor_generator.WhichOneof("anchor_generator_oneof") == kind
        assert cfg.model.ssd.feature_extractor.type == base.model.ssd.feature_extractor.type
        study.tell(trial, 0.0)


def test_a_space_that_would_switch_the_generator_is_refused_before_anything_runs() -> None:
    old_style = {"params": {"anchor_min_scale": {"path": "model.ssd.anchor_generator.ssd_anchor_generator.min_scale",
                                                 "float": [0.05, 0.3]}}}
    space = spacemod.parse_space(old_style, "old.yaml")
    spacemod.validate(space, cfgmod.load(SHAPES))  # its own generator: fine
    with pytest.raises(spacemod.SpaceError, match="params.anchor_min_scale: .* would switch model.ssd.anchor_generator "
                                                  "from multiscale_anchor_generator to ssd_anchor_generator"):
        spacemod.validate(space, cfgmod.load(FPN))
