"""The backbone patterns of tuner.space.backbones, checked against real OD API models."""
from __future__ import annotations

import re

import pytest
from google.protobuf import text_format

from tuner import config as cfgmod
from tuner.paths import PIPELINES_DIR
from tuner.space.backbones import BACKBONE_PATTERNS

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
FPN_HEAD = """
anchor_generator { multiscale_anchor_generator { min_level: 3 max_level: 7 anchor_scale: 4.0
                                                 aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2 } }
box_predictor { weight_shared_convolutional_box_predictor {
  depth: 32 num_layers_before_predictor: 1 kernel_size: 3
  conv_hyperparams { regularizer { l2_regularizer { weight: 4e-05 } }
                     initializer { random_normal_initializer { stddev: 0.01 } } batch_norm { } } } }
"""


def test_the_table_covers_exactly_the_ssd_keras_extractors(odapi) -> None:
    from object_detection.builders import model_builder

    assert set(BACKBONE_PATTERNS) == set(model_builder.SSD_KERAS_FEATURE_EXTRACTOR_CLASS_MAP)


# One extractor per naming family (b1-b7 and ResNet101/152 share their family's names; all 15 were
# checked the same way when the table was written).
@pytest.mark.parametrize("extractor, size", [
    ("ssd_mobilenet_v1_keras", 128), ("ssd_mobilenet_v1_fpn_keras", 128), ("ssd_mobilenet_v2_keras", 128),
    ("ssd_mobilenet_v2_fpn_keras", 128), ("ssd_resnet50_v1_fpn_keras", 256), ("ssd_efficientnet-b0_bifpn_keras", 256),
])
def test_patterns_match_exactly_the_backbone_variables(odapi, extractor: str, size: int) -> None:
    """Neither the feature-map/FPN/BiFPN layers nor the box predictor: the backbone, all of it."""
    import tuner.odapi  # noqa: F401  (compat shims)
    import tensorflow as tf
    from object_detection.builders import model_builder

    cfg = cfgmod.load(SHAPES)
    ssd = cfg.model.ssd
    ssd.feature_extractor.type = extractor
    ssd.image_resizer.fixed_shape_resizer.height = ssd.image_resizer.fixed_shape_resizer.width = size
    if "fpn" in extractor:
        pyramid = "bifpn { min_level: 3 max_level: 7 num_iterations: 1 num_filters: 16 }" if "bifpn" in extractor \
            else "fpn { min_level: 3 max_level: 7 }"
        text_format.Merge(pyramid, ssd.feature_extractor)
        ssd.ClearField("anchor_generator")
        ssd.ClearField("box_predictor")
        text_format.Merge(FPN_HEAD, ssd)
    if "efficientnet" in extractor:
        ssd.feature_extractor.depth_multiplier = 1.0  # the only one it accepts
    model = model_builder.build(cfg.model, is_training=True)
    images, shapes = model.preprocess(tf.zeros([1, 64, 64, 3]))
    model.predict(images, shapes)  # creates the variables

    patterns = BACKBONE_PATTERNS[extractor]
    matched = {v.name for v in model.trainable_variables if any(re.search(p, v.name) for p in patterns)}
    backbone = {v.name for v in model._feature_extractor.classification_backbone.trainable_variables}
    assert matched == backbone
    assert len(backbone) < len(model.trainable_variables)  # something is left to train
