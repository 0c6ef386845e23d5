"""Variable-name patterns of the backbones of the OD API's SSD Keras feature extractors.

Used by the ``freeze`` knob to write ``train_config.freeze_variables``. Each pattern is a Python
regex that the trainer searches (``re.search``) in TF2 variable names, and it matches exactly
the trainable variables of the extractor's ``classification_backbone`` (the Keras application
network the SSD head sits on), never the extra feature-map / FPN / BiFPN layers nor the box
predictor.

Why a table and not one prefix: the backbone is a Keras *functional* model whose layers create
their weights when the model is assembled, outside any name scope, so their variables carry the
bare Keras-application layer names (``Conv1/kernel:0``, ``block_3_expand_BN/gamma:0``,
``conv4_block2_1_conv/kernel:0``, ``stack_2/block_0/expand_bn/beta:0``). The layers the OD API
adds are scoped (``ssd_mobile_net_v2_keras_feature_extractor/FeatureMaps/...``,
``ResNet50V1_FPN/...``, ``EfficientDet-D0/bifpn/...``, ``BoxPredictor/...``,
``WeightSharedConvolutionalBoxPredictor/...``). The names are the same whether the model is first
called eagerly or inside ``tf.function`` (as ``model_lib_v2`` does), and do not depend on
``depth_multiplier`` or the input size. ``tests/space/test_backbones.py`` checks each pattern
against a real model of every family.

TensorFlow-free: plain data.
"""
from __future__ import annotations

_MOBILENET_V1 = r"^(conv1|conv1_bn|conv_dw_\d+|conv_dw_\d+_bn|conv_pw_\d+|conv_pw_\d+_bn)/"
_MOBILENET_V2 = (r"^(Conv1|bn_Conv1|expanded_conv_(depthwise|project)(_BN)?"
                 r"|block_\d+_(expand|depthwise|project)(_BN)?|Conv_1|Conv_1_bn)/")
_RESNET_V1 = r"^conv\d_(block\d+_\d_)?(conv|bn)/"
_EFFICIENTNET = r"^(stem_conv2d|stem_bn|stack_\d+|top_conv2d|top_bn|logits)/"

#: ``model.ssd.feature_extractor.type`` -> regexes matching its backbone's variables.
BACKBONE_PATTERNS: dict[str, tuple[str, ...]] = {
    "ssd_mobilenet_v1_keras": (_MOBILENET_V1,),
    "ssd_mobilenet_v1_fpn_keras": (_MOBILENET_V1,),
    "ssd_mobilenet_v2_keras": (_MOBILENET_V2,),
    "ssd_mobilenet_v2_fpn_keras": (_MOBILENET_V2,),
    "ssd_resnet50_v1_fpn_keras": (_RESNET_V1,),
    "ssd_resnet101_v1_fpn_keras": (_RESNET_V1,),
    "ssd_resnet152_v1_fpn_keras": (_RESNET_V1,),
    **{f"ssd_efficientnet-b{i}_bifpn_keras": (_EFFICIENTNET,) for i in range(8)},
}


def backbone_patterns(feature_extractor_type: str) -> tuple[str, ...] | None:
    """The backbone regexes of an SSD Keras feature extractor, or None if it is not in the table."""
    return BACKBONE_PATTERNS.get(feature_extractor_type)
