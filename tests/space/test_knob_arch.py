"""The architecture knobs (input_size, depth_multiplier, use_depthwise, fpn) and the bundled
deployment space: what each writes, where validation refuses it, and (odapi) that the OD API
builds the edited model with the expected shapes and layers."""
from __future__ import annotations

import copy

import pytest

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.paths import PIPELINES_DIR
from tuner.space.knobs import (FPN_LITE_ASPECT_RATIOS, KnobError, set_depth_multiplier, set_fpn, set_input_size,
                               set_use_depthwise)

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
ZOO = PIPELINES_DIR / "ssd_mobilenet_v2.config"
DEPLOY = PIPELINES_DIR / "spaces" / "ssd_deploy.yaml"


def _shapes():  # type: ignore[no-untyped-def]
    return cfgmod.load(SHAPES)


def _space(knob: str, **dist) -> spacemod.SearchSpace:  # type: ignore[no-untyped-def]
    return spacemod.parse_space({"params": {knob: {"knob": knob, **dist}}}, "s.yaml")


# -- the bundled space ----------------------------------------------------------------------------

@pytest.mark.parametrize("base", [SHAPES, ZOO])
def test_deploy_space_fits_the_bundled_ssd_configs(base) -> None:
    space = spacemod.load_space(DEPLOY)
    assert {p.ref for p in space.params} >= {"fpn", "input_size", "depth_multiplier", "use_depthwise",
                                              "learning_rate"}
    spacemod.validate(space, cfgmod.load(base))


def test_deploy_space_applies_every_combination_of_its_architecture_choices() -> None:
    space = spacemod.load_space(DEPLOY)
    choices = {p.name: p.choices for p in space.params if p.choices}
    base = _shapes()
    known = spacemod.lint_errors(base)  # the placeholder data paths only
    for fpn in choices["fpn"]:
        for size in choices["input_size"]:
            for width in choices["depth_multiplier"]:
                for depthwise in choices["use_depthwise"]:
                    cfg = copy.deepcopy(base)
                    spacemod.apply(space, cfg, {"fpn": fpn, "input_size": size, "depth_multiplier": width,
                                                "use_depthwise": depthwise, "learning_rate": 0.05})
                    assert spacemod.lint_errors(cfg) == known


# -- what each knob writes ------------------------------------------------------------------------

def test_input_size_sets_height_and_width_together() -> None:
    cfg = _shapes()
    set_input_size(cfg, 256)
    resizer = cfg.model.ssd.image_resizer.fixed_shape_resizer
    assert (resizer.height, resizer.width) == (256, 256)


@pytest.mark.parametrize("value, message", [
    (100, r"multiple of 32 in \[64, 1024\] \(got 100\)"), (32, r"got 32"), (2048, r"got 2048"),
    (128.5, "an integer number of pixels"), (True, "an integer number of pixels"), ("big", "an integer"),
])
def test_input_size_refuses_what_the_models_cannot_take(value, message) -> None:
    with pytest.raises(KnobError, match=message):
        set_input_size(_shapes(), value)


def test_input_size_needs_a_fixed_shape_resizer() -> None:
    cfg = _shapes()
    cfg.model.ssd.image_resizer.keep_aspect_ratio_resizer.min_dimension = 128
    with pytest.raises(KnobError, match="sets a fixed_shape_resizer; the config uses keep_aspect_ratio_resizer") \
            as info:
        set_input_size(cfg, 128)
    assert info.value.path == "model.ssd.image_resizer"


def test_depth_multiplier_sets_the_extractor_width() -> None:
    cfg = _shapes()
    set_depth_multiplier(cfg, 0.75)
    assert cfg.model.ssd.feature_extractor.depth_multiplier == pytest.approx(0.75)
    with pytest.raises(KnobError, match=r"a number in \[0.1, 2.0\] \(got 0.0\)"):
        set_depth_multiplier(cfg, 0.0)
    cfg.model.ssd.feature_extractor.type = "ssd_efficientnet-b0_bifpn_keras"
    with pytest.raises(KnobError, match="MobileNet feature extractors only; the config has "
                                        "'ssd_efficientnet-b0_bifpn_keras'"):
        set_depth_multiplier(cfg, 0.5)


def test_use_depthwise_makes_a_1x1_predictor_3x3_and_off_leaves_the_kernel() -> None:
    cfg = _shapes()
    predictor = cfg.model.ssd.box_predictor.convolutional_box_predictor
    assert predictor.kernel_size == 1
    set_use_depthwise(cfg, True)
    assert predictor.use_depthwise and predictor.kernel_size == 3
    set_use_depthwise(cfg, "off")
    assert not predictor.use_depthwise and predictor.kernel_size == 3
    fresh = _shapes()
    set_use_depthwise(fresh, False)
    assert fresh.model.ssd.box_predictor.convolutional_box_predictor.kernel_size == 1
    with pytest.raises(KnobError, match=r"knob 'use_depthwise' is on or off \(got 'maybe'\)"):
        set_use_depthwise(fresh, "maybe")


def test_use_depthwise_sets_a_weight_shared_predictor_too() -> None:
    cfg = _shapes()
    set_fpn(cfg, True)
    set_use_depthwise(cfg, False)
    assert not cfg.model.ssd.box_predictor.weight_shared_convolutional_box_predictor.use_depthwise


def test_fpn_switches_to_the_fpn_lite_variant_keeping_width_ratios_and_hyperparams() -> None:
    cfg = _shapes()
    before = cfgmod.dumps(cfg.model.ssd.box_predictor.convolutional_box_predictor.conv_hyperparams)
    set_fpn(cfg, True)
    ssd = cfg.model.ssd
    assert ssd.feature_extractor.type == "ssd_mobilenet_v2_fpn_keras"
    assert ssd.feature_extractor.use_depthwise
    assert (ssd.feature_extractor.fpn.min_level, ssd.feature_extractor.fpn.max_level,
            ssd.feature_extractor.fpn.additional_layer_depth) == (3, 7, 128)
    assert ssd.feature_extractor.depth_multiplier == pytest.approx(0.35)  # the base's width stays
    gen = ssd.anchor_generator.multiscale_anchor_generator
    assert (gen.min_level, gen.max_level, gen.anchor_scale, gen.scales_per_octave) == (3, 7, 4.0, 2)
    assert list(gen.aspect_ratios) == pytest.approx([1.0, 2.0, 0.5, 3.0, 0.3333])  # the base's ratios
    predictor = ssd.box_predictor.weight_shared_convolutional_box_predictor
    assert (predictor.depth, predictor.num_layers_before_predictor, predictor.kernel_size) == (128, 4, 3)
    assert predictor.use_depthwise and predictor.share_prediction_tower
    assert predictor.class_prediction_bias_init == pytest.approx(-4.6)
    assert cfgmod.dumps(predictor.conv_hyperparams) == before
    assert spacemod.lint_errors(cfg) == spacemod.lint_errors(_shapes())


def test_fpn_off_leaves_a_non_fpn_base_and_on_keeps_an_fpn_base() -> None:
    cfg = _shapes()
    set_fpn(cfg, False)
    assert cfgmod.dumps(cfg) == cfgmod.dumps(_shapes())
    set_fpn(cfg, True)
    fpn = cfgmod.dumps(cfg)
    set_fpn(cfg, True)
    assert cfgmod.dumps(cfg) == fpn
    with pytest.raises(KnobError, match="cannot turn the FPN off: the base config already uses "
                                        "ssd_mobilenet_v2_fpn_keras"):
        set_fpn(cfg, False)


def test_fpn_without_base_ratios_uses_the_zoo_ratios_and_then_anchors_scales_it() -> None:
    cfg = _shapes()
    cfg.model.ssd.anchor_generator.ssd_anchor_generator.ClearField("aspect_ratios")
    space = spacemod.parse_space({"params": {"fpn": {"knob": "fpn", "choices": [True]},
                                             "anchors": {"knob": "anchors", "float": [0.8, 1.25]}}}, "s.yaml")
    spacemod.apply(space, cfg, {"fpn": True, "anchors": 1.25})
    gen = cfg.model.ssd.anchor_generator.multiscale_anchor_generator
    assert list(gen.aspect_ratios) == list(FPN_LITE_ASPECT_RATIOS)
    assert gen.anchor_scale == pytest.approx(5.0)


def test_fpn_refuses_other_extractors_and_sizes_that_do_not_halve() -> None:
    cfg = _shapes()
    cfg.model.ssd.feature_extractor.type = "ssd_mobilenet_v1_keras"
    with pytest.raises(KnobError, match="switches ssd_mobilenet_v2_keras to its FPN-lite variant; the config has "
                                        "'ssd_mobilenet_v1_keras'"):
        set_fpn(cfg, True)
    cfg = _shapes()
    cfg.model.ssd.image_resizer.fixed_shape_resizer.height = 300
    cfg.model.ssd.image_resizer.fixed_shape_resizer.width = 300
    with pytest.raises(KnobError, match="multiple of 32 .* the config has 300x300") as info:
        set_fpn(cfg, True)
    assert "add an input_size entry before the fpn entry" in str(info.value)
    set_fpn(cfg, False)  # off changes nothing, so it fits


@pytest.mark.parametrize("knob, dist, message", [
    ("input_size", {"choices": [128, 200]}, r"^s.yaml: params.input_size: value 200 does not fit the base config: "
                                            r"knob 'input_size' takes a multiple of 32 in \[64, 1024\] \(got 200\) "
                                            r"\(fix: use multiples of 32, e.g. choices: \[128, 192, 256\]\)$"),
    ("depth_multiplier", {"float": [0.05, 1.0]}, r"^s.yaml: params.depth_multiplier: value 0.05 does not fit"),
    ("use_depthwise", {"choices": [False, "maybe"]}, r"^s.yaml: params.use_depthwise: value 'maybe' does not fit"),
    ("fpn", {"choices": [False, 1.5]}, r"^s.yaml: params.fpn: value 1.5 does not fit the base config: knob 'fpn' "
                                       r"is on or off"),
])
def test_space_validation_names_the_entry_value_and_fix_on_one_line(knob, dist, message) -> None:
    with pytest.raises(spacemod.SpaceError, match=message) as info:
        spacemod.validate(_space(knob, **dist), _shapes())
    assert "\n" not in str(info.value)


def test_unknown_architecture_knob_suggests_the_right_one() -> None:
    with pytest.raises(spacemod.SpaceError, match="unknown knob 'input_sise' \\(did you mean 'input_size'\\?\\)"):
        _space("input_sise", choices=[128])


# -- the OD API builds what the knobs wrote (no training) -----------------------------------------

def _build(cfg):  # type: ignore[no-untyped-def]
    """The OD API model of ``cfg``, its variables created; (model, predictions)."""
    import tuner.odapi  # noqa: F401  (compat shims)
    import tensorflow as tf
    from object_detection.builders import model_builder

    model = model_builder.build(cfg.model, is_training=False)
    resizer = cfg.model.ssd.image_resizer.fixed_shape_resizer
    images, shapes = model.preprocess(tf.zeros([1, resizer.height, resizer.width, 3]))
    return model, model.predict(images, shapes)


def _params(model) -> int:  # type: ignore[no-untyped-def]
    return sum(int(v.shape.num_elements()) for v in model.variables)


def _anchors(predictions) -> int:  # type: ignore[no-untyped-def]
    return int(predictions["anchors"].shape[0])


def test_input_size_changes_the_feature_maps_and_anchors_but_not_the_weights(odapi) -> None:
    small, large = _shapes(), _shapes()
    set_input_size(large, 256)
    model_s, pred_s = _build(small)
    model_l, pred_l = _build(large)
    maps_s = [tuple(f.shape[1:3]) for f in pred_s["feature_maps"]]
    maps_l = [tuple(f.shape[1:3]) for f in pred_l["feature_maps"]]
    assert maps_s[0] == (8, 8) and maps_l[0] == (16, 16)  # stride 16 at the first SSD MobileNet V2 map
    assert _anchors(pred_l) > _anchors(pred_s)
    assert pred_l["box_encodings"].shape[1] == _anchors(pred_l)
    assert _params(model_l) == _params(model_s)


def test_depth_multiplier_changes_the_width_of_the_model(odapi) -> None:
    narrow, wide = _shapes(), _shapes()
    set_depth_multiplier(wide, 1.0)
    model_n, pred_n = _build(narrow)
    model_w, pred_w = _build(wide)
    assert pred_w["feature_maps"][0].shape[-1] > pred_n["feature_maps"][0].shape[-1]
    assert _params(model_w) > 2 * _params(model_n)
    assert _anchors(pred_w) == _anchors(pred_n)


def test_use_depthwise_builds_a_depthwise_separable_box_predictor(odapi) -> None:
    import tensorflow as tf

    cfg = _shapes()
    set_use_depthwise(cfg, True)
    model, predictions = _build(cfg)
    plain, plain_predictions = _build(_shapes())

    def depthwise(m) -> int:  # type: ignore[no-untyped-def]
        return sum(isinstance(layer, tf.keras.layers.DepthwiseConv2D)
                   for layer in m._box_predictor.submodules)

    assert depthwise(model) > 0 and depthwise(plain) == 0
    assert predictions["box_encodings"].shape == plain_predictions["box_encodings"].shape


def test_fpn_builds_the_fpn_lite_model_with_multiscale_anchors(odapi) -> None:
    from object_detection.models.ssd_mobilenet_v2_fpn_keras_feature_extractor import (
        SSDMobileNetV2FpnKerasFeatureExtractor)

    cfg = _shapes()
    set_fpn(cfg, True)
    set_input_size(cfg, 256)
    model, predictions = _build(cfg)
    assert isinstance(model.feature_extractor, SSDMobileNetV2FpnKerasFeatureExtractor)
    maps = [tuple(f.shape[1:3]) for f in predictions["feature_maps"]]
    assert maps == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]  # levels 3 to 7 of a 256 input
    per_location = len(cfg.model.ssd.anchor_generator.multiscale_anchor_generator.aspect_ratios) * 2
    assert _anchors(predictions) == per_location * sum(h * w for h, w in maps)
    assert predictions["box_encodings"].shape[1] == _anchors(predictions)
