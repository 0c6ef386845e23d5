"""tuner.anchors.generators and the modules it re-exports: config <-> params (:mod:`tuner.anchors.params`),
the numpy anchor shapes against the OD API's own generators, and the feature maps / anchors of really
built SSD models (:mod:`tuner.anchors.probe`)."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

from tuner import config as cfgmod
from tuner.anchors import AnchorError
from tuner.anchors import generators as gen
from tuner.anchors.generators import MultiscaleAnchorParams, SsdAnchorParams

REPO = Path(__file__).resolve().parents[2]
SHAPES = REPO / "pipelines" / "ssd_mobilenet_v2_shapes.config"
SSD_PATH = "model.ssd.anchor_generator.ssd_anchor_generator"
FM_128 = ((8, 8), (4, 4), (2, 2), (1, 1), (1, 1), (1, 1))        # measured below (test_feature_maps)
FM_96x160 = ((6, 10), (3, 5), (2, 3), (1, 2), (1, 1), (1, 1))   # measured below

# An SSD MobileNetV2 FPN-lite (as the TF2 zoo's ssd_mobilenet_v2_fpnlite_320x320), shrunk for 128 px:
# levels 3..5, depth multiplier 0.35, 32-channel FPN and a one-layer shared box predictor.
_HYPERPARAMS = """conv_hyperparams { activation: RELU_6 regularizer { l2_regularizer { weight: 0.00004 } }
      initializer { random_normal_initializer { stddev: 0.01 mean: 0.0 } }
      batch_norm { scale: true decay: 0.997 epsilon: 0.001 } }"""
FPN_SSD = f"""
  anchor_generator {{ multiscale_anchor_generator {{ min_level: 3 max_level: 5 anchor_scale: 4.0
      aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2 }} }}
  box_predictor {{ weight_shared_convolutional_box_predictor {{
      depth: 32 class_prediction_bias_init: -4.6 num_layers_before_predictor: 1
      share_prediction_tower: true use_depthwise: true kernel_size: 3 {_HYPERPARAMS} }} }}
  feature_extractor {{ type: "ssd_mobilenet_v2_fpn_keras" use_depthwise: true
      fpn {{ min_level: 3 max_level: 5 additional_layer_depth: 32 }}
      min_depth: 16 depth_multiplier: 0.35 override_base_feature_extractor_hyperparams: true
      {_HYPERPARAMS} }}
"""


def shapes_cfg(height: int = 128, width: int = 128):  # type: ignore[no-untyped-def]
    cfg = cfgmod.load(SHAPES)
    cfg.model.ssd.image_resizer.fixed_shape_resizer.height = height
    cfg.model.ssd.image_resizer.fixed_shape_resizer.width = width
    return cfg


def fpn_cfg(height: int = 128, width: int = 128):  # type: ignore[no-untyped-def]
    cfg = shapes_cfg(height, width)
    for field in ("anchor_generator", "box_predictor", "feature_extractor"):
        cfg.model.ssd.ClearField(field)
    text_format.Merge(FPN_SSD, cfg.model.ssd)
    return cfg


def test_generators_re_exports_the_params_and_probe_names() -> None:
    from tuner.anchors import params, probe

    for module in (params, probe):
        for name in module.__all__:
            assert getattr(gen, name) is getattr(module, name), name
    assert set(gen.__all__) == (set(params.__all__) | set(probe.__all__) | {
        "anchor_shapes", "grid_anchors", "grid_anchors_by_layer"}) - {"RESIZER_PATH"}


# -- params_from_config / apply_params / describe (no TensorFlow) ------------------------------
def test_params_of_the_shapes_config() -> None:
    params = gen.params_from_config(cfgmod.load(SHAPES))
    assert isinstance(params, SsdAnchorParams)
    assert params.num_layers == 6 and params.scales == () and params.reduce_boxes_in_lowest_layer
    assert params.min_scale == pytest.approx(0.1) and params.max_scale == pytest.approx(0.95)
    assert params.aspect_ratios == pytest.approx((1.0, 2.0, 0.5, 3.0, 0.3333), rel=1e-6)
    assert params.anchors_per_location == (3, 6, 6, 6, 6, 6)
    assert gen.describe(params) == "min_scale 0.10, max_scale 0.95, ratios 1, 2, 0.5, 3, 0.33"
    hash(params)  # usable as a cache key


def test_params_of_a_multiscale_config() -> None:
    params = gen.params_from_config(fpn_cfg())
    assert params == MultiscaleAnchorParams(3, 5, 4.0, (1.0, 2.0, 0.5), 2)
    assert params.num_layers == 3 and params.anchors_per_location == (6, 6, 6)
    assert gen.describe(params) == "levels 3-5, anchor_scale 4, 2 scales/octave, ratios 1, 2, 0.5"


def test_apply_round_trip_and_minimal_edits() -> None:
    cfg = cfgmod.load(SHAPES)
    before = cfgmod.dumps(cfg)
    gen.apply_params(cfg, gen.params_from_config(cfg))
    assert cfgmod.dumps(cfg) == before  # nothing re-written, no defaults made explicit

    cfgmod.set_value(cfg, f"{SSD_PATH}.height_stride", [16, 32, 64, 128, 128, 128])
    new = SsdAnchorParams(6, 0.15, 0.8, (1.0, 2.5, 0.4), scales=(0.1, 0.2, 0.3, 0.5, 0.7, 0.9),
                          interpolated_scale_aspect_ratio=0.0, reduce_boxes_in_lowest_layer=False,
                          base_anchor_height=1.0, base_anchor_width=1.25)
    gen.apply_params(cfg, new)
    back = gen.params_from_config(cfgmod.loads(cfgmod.dumps(cfg)))
    for field in dataclasses.fields(new):
        assert getattr(back, field.name) == pytest.approx(getattr(new, field.name), rel=1e-6), field.name
    assert list(cfgmod.get_value(cfg, f"{SSD_PATH}.height_stride")) == [16, 32, 64, 128, 128, 128]
    assert gen.describe(back) == ("scales 0.10, 0.20, 0.30, 0.50, 0.70, 0.90, ratios 1, 2.5, 0.4, "
                                  "no interpolated box, full lowest layer, base 1x1.25")

    gen.apply_params(cfg, dataclasses.replace(new, scales=()))  # back to min/max: scales cleared
    assert not cfg.model.ssd.anchor_generator.ssd_anchor_generator.scales

    fpn = fpn_cfg()
    gen.apply_params(fpn, MultiscaleAnchorParams(3, 5, 3.0, (1.0, 1.5), 3))
    assert gen.params_from_config(cfgmod.loads(cfgmod.dumps(fpn))) == MultiscaleAnchorParams(3, 5, 3.0, (1.0, 1.5), 3)


def _error(match: str, func, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(AnchorError, match=match) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unsupported_models_and_generators() -> None:
    rcnn = cfgmod.loads("model { faster_rcnn { num_classes: 1 } }")
    message = _error("faster_rcnn", gen.params_from_config, rcnn)
    assert "model.ssd.anchor_generator" in message and "ssd_anchor_generator" in message

    cfg = cfgmod.load(SHAPES)
    text_format.Merge("anchor_generator { grid_anchor_generator { scales: [0.5, 1.0] } }", cfg.model.ssd)
    message = _error("grid_anchor_generator is not supported", gen.params_from_config, cfg)
    assert "model.ssd.anchor_generator.grid_anchor_generator" in message and "multiscale_anchor_generator" in message
    _error("grid_anchor_generator", gen.apply_params, cfg, gen.params_from_config(cfgmod.load(SHAPES)))

    text_format.Merge("anchor_generator { flexible_grid_anchor_generator { anchor_grid { base_sizes: 32 } } }",
                      cfg.model.ssd)
    _error("flexible_grid_anchor_generator is not supported", gen.params_from_config, cfg)
    cfg.model.ssd.ClearField("anchor_generator")
    _error("no anchor generator", gen.params_from_config, cfg)

    # params of the other kind: no silent switch of generator
    _error("cannot write multiscale_anchor_generator parameters into a ssd_anchor_generator",
           gen.apply_params, cfgmod.load(SHAPES), MultiscaleAnchorParams(3, 5, 4.0, (1.0,), 2))


def test_invalid_params() -> None:
    _error("num_layers 1 needs explicit scales", SsdAnchorParams, 1, 0.2, 0.9, (1.0,))
    _error("3 scales for 6 layers", SsdAnchorParams, 6, 0.2, 0.9, (1.0,), (0.1, 0.2, 0.3))
    _error("every aspect ratio must be positive", SsdAnchorParams, 6, 0.2, 0.9, (1.0, 0.0))
    _error("min_scale must be positive", SsdAnchorParams, 6, -0.1, 0.9, (1.0,))
    _error("no anchors per cell", SsdAnchorParams, 6, 0.2, 0.9, (), interpolated_scale_aspect_ratio=0.0)
    _error("not 0 <= min_level <= max_level", MultiscaleAnchorParams, 5, 3, 4.0, (1.0,), 2)
    _error("scales_per_octave must be >= 1", MultiscaleAnchorParams, 3, 5, 4.0, (1.0,), 0)
    cfg = cfgmod.load(SHAPES)
    cfgmod.set_value(cfg, f"{SSD_PATH}.num_layers", 1)
    assert f"{SSD_PATH}.num_layers" in _error("num_layers 1", gen.params_from_config, cfg)


def test_input_size() -> None:
    assert gen.input_size(shapes_cfg(96, 160)) == (96, 160)
    cfg = cfgmod.load(SHAPES)
    text_format.Merge("image_resizer { keep_aspect_ratio_resizer { min_dimension: 200 max_dimension: 300 "
                      "pad_to_max_dimension: true } }", cfg.model.ssd)
    assert gen.input_size(cfg) == (300, 300)
    cfg.model.ssd.image_resizer.keep_aspect_ratio_resizer.pad_to_max_dimension = False
    assert "model.ssd.image_resizer" in _error("without pad_to_max_dimension", gen.input_size, cfg)
    text_format.Merge("image_resizer { identity_resizer { } }", cfg.model.ssd)
    _error("identity_resizer gives no fixed input size", gen.input_size, cfg)


def test_anchor_shapes_by_hand_and_fast() -> None:
    params = gen.params_from_config(cfgmod.load(SHAPES))
    layers = gen.anchor_shapes(params, FM_128, (128, 128))
    assert [layer.shape for layer in layers] == [(3, 2)] + [(6, 2)] * 5
    s0, s1 = 0.1, 0.1 + 0.85 / 5
    r2 = np.sqrt(2.0)
    np.testing.assert_allclose(layers[0], 128 * np.array([[0.1, 0.1], [s0 / r2, s0 * r2], [s0 * r2, s0 / r2]]),
                               rtol=1e-6)
    np.testing.assert_allclose(layers[1][0], [128 * s1] * 2, rtol=1e-6)
    np.testing.assert_allclose(layers[5][-1], [128 * np.sqrt(0.95 * 1.0)] * 2, rtol=1e-6)  # last: next scale 1.0
    # non-square: sizes relative to min(H, W), so a ratio-1 box stays square in pixels
    wide = gen.anchor_shapes(params, FM_96x160, (96, 160))
    np.testing.assert_allclose(wide[1][0], [96 * s1] * 2, rtol=1e-6)
    multi = gen.anchor_shapes(MultiscaleAnchorParams(3, 5, 4.0, (1.0, 2.0), 2), FM_128[:3], (128, 128))
    np.testing.assert_allclose(multi[0], [[32, 32], [32 * 2 ** 0.5] * 2, [32 / r2, 32 * r2], [32, 64]], rtol=1e-6)
    _error("6 anchor layers for 5 feature maps", gen.anchor_shapes, params, FM_128[:5], (128, 128))

    start, calls = time.perf_counter(), 2000
    for _ in range(calls):
        gen.anchor_shapes(params, FM_128, (128, 128))
    per_call = (time.perf_counter() - start) / calls
    assert per_call < 500e-6, f"anchor_shapes takes {per_call * 1e6:.0f} us per call"


# -- anchor_shapes == the OD API generator's own anchors ----------------------------------------
CASES = {
    "shapes-config": (None, FM_128, (128, 128)),
    "custom-min-max-ratios": (SsdAnchorParams(6, 0.2, 0.9, (1.0, 1.5, 0.66, 4.0, 0.25)), FM_128, (128, 128)),
    "explicit-scales": (SsdAnchorParams(6, 0.2, 0.95, (1.0, 2.0, 0.5), scales=(0.05, 0.1, 0.2, 0.4, 0.6, 0.8)),
                        FM_128, (128, 128)),
    "more-scales-than-layers": (SsdAnchorParams(5, 0.2, 0.95, (1.0, 3.0), scales=(0.1, 0.2, 0.3, 0.4, 0.5, 0.7)),
                                FM_128[:5], (128, 128)),
    "full-lowest-layer-base-interp": (SsdAnchorParams(6, 0.1, 0.95, (1.0, 2.0, 0.5), interpolated_scale_aspect_ratio=2.0,
                                                      reduce_boxes_in_lowest_layer=False, base_anchor_height=0.8,
                                                      base_anchor_width=1.2), FM_128, (128, 128)),
    "no-interpolated-box": (SsdAnchorParams(6, 0.1, 0.95, (1.0, 2.0), interpolated_scale_aspect_ratio=0.0),
                            FM_128, (128, 128)),
    "non-square-96x160": (None, FM_96x160, (96, 160)),
    "non-square-full-lowest": (SsdAnchorParams(6, 0.15, 0.9, (1.0, 2.0, 0.5), reduce_boxes_in_lowest_layer=False,
                                               base_anchor_width=2.0), FM_96x160, (96, 160)),
    "multiscale-3-5": (MultiscaleAnchorParams(3, 5, 4.0, (1.0, 2.0, 0.5), 2), ((16, 16), (8, 8), (4, 4)), (128, 128)),
    "multiscale-pixels-non-square": (MultiscaleAnchorParams(3, 5, 3.0, (1.0, 2.5, 0.4), 3, normalize_coordinates=False),
                                     ((12, 20), (6, 10), (3, 5)), (96, 160)),
    "multiscale-odd-frame": (MultiscaleAnchorParams(2, 4, 2.0, (1.0, 0.5), 1), ((25, 38), (13, 19), (7, 10)), (100, 150)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_anchor_shapes_equal_the_od_api_generator(odapi: None, case: str) -> None:
    params, feature_maps, (height, width) = CASES[case]
    if params is None:
        params = gen.params_from_config(cfgmod.load(SHAPES))
    layers = gen.grid_anchors_by_layer(params, feature_maps, (height, width))
    shapes = gen.anchor_shapes(params, feature_maps, (height, width))
    assert len(layers) == len(shapes) == len(feature_maps)
    for index, ((fh, fw), boxes, expected, k) in enumerate(zip(feature_maps, layers, shapes,
                                                                params.anchors_per_location)):
        assert boxes.dtype == np.float64 and boxes.shape == (fh * fw * k, 4), index
        cells = boxes.reshape(fh * fw, k, 4)
        pixels = np.stack([(cells[..., 2] - cells[..., 0]) * height, (cells[..., 3] - cells[..., 1]) * width], axis=-1)
        # every cell holds the same k shapes, in the order anchor_shapes gives
        np.testing.assert_allclose(pixels, np.broadcast_to(expected, pixels.shape), rtol=1e-5, err_msg=f"layer {index}")
        # normalised positions: the first centre half a stride in for the default (even) grids
        if isinstance(params, SsdAnchorParams):
            centre = ((cells[0, 0, 0] + cells[0, 0, 2]) / 2, (cells[0, 0, 1] + cells[0, 0, 3]) / 2)
            np.testing.assert_allclose(centre, (0.5 / fh, 0.5 / fw), rtol=1e-5)
    np.testing.assert_array_equal(gen.grid_anchors(params, feature_maps, (height, width)), np.concatenate(layers))


def test_grid_anchors_keep_the_configs_positions(odapi: None) -> None:
    cfg = cfgmod.load(SHAPES)
    for field, values in (("height_stride", [16, 32, 64, 128, 128, 128]), ("width_stride", [16, 32, 64, 128, 128, 128]),
                          ("height_offset", [4, 8, 16, 32, 64, 64]), ("width_offset", [4, 8, 16, 32, 64, 64])):
        cfgmod.set_value(cfg, f"{SSD_PATH}.{field}", values)
    params = SsdAnchorParams(6, 0.2, 0.9, (1.0, 2.0))
    placed = gen.grid_anchors_by_layer(params, FM_128, (128, 128), cfg=cfg)
    default = gen.grid_anchors_by_layer(params, FM_128, (128, 128))
    first = placed[0][0]
    np.testing.assert_allclose(((first[0] + first[2]) / 2, (first[1] + first[3]) / 2), (4 / 128, 4 / 128), rtol=1e-5)
    for mine, theirs in zip(placed, default):  # same shapes, other positions
        np.testing.assert_allclose(mine[:, 2:] - mine[:, :2], theirs[:, 2:] - theirs[:, :2], rtol=1e-5, atol=1e-7)
    assert not np.allclose(placed[0], default[0])


# -- real models: feature maps and SSDMetaArch's anchors ----------------------------------------
MODELS = {
    "ssd-128": (lambda: shapes_cfg(), FM_128),
    "ssd-96x160": (lambda: shapes_cfg(96, 160), FM_96x160),
    "fpn-128": (lambda: fpn_cfg(), ((16, 16), (8, 8), (4, 4))),
}


@pytest.mark.parametrize("model", list(MODELS))
def test_feature_maps_and_the_models_own_anchors(odapi: None, model: str) -> None:
    make, expected = MODELS[model]
    cfg = make()
    shapes = gen.feature_map_shapes(cfg)
    print(f"{model}: feature maps {shapes}")
    assert shapes == expected
    params = gen.params_from_config(cfg)
    frame = gen.input_size(cfg)
    ours = gen.grid_anchors(params, shapes, frame)
    theirs = gen.model_anchors(cfg)
    assert ours.shape == theirs.shape == (sum(h * w * k for (h, w), k in zip(shapes, params.anchors_per_location)), 4)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)

    start = time.perf_counter()
    assert gen.feature_map_shapes(make()) is shapes  # cached by the model text
    assert time.perf_counter() - start < 0.5


def test_a_model_the_od_api_cannot_run_is_an_anchor_error(odapi: None) -> None:
    cfg = shapes_cfg()
    cfgmod.set_value(cfg, f"{SSD_PATH}.num_layers", 5)  # 5 anchor layers for 6 feature maps
    message = _error("cannot build and run this SSD at 128x128", gen.feature_map_shapes, cfg)
    assert "model.ssd.anchor_generator" in message
