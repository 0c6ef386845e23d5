"""Semantic knobs: search-space entries that make coupled config edits via :mod:`tuner.config`.

A knob is a name a search space can use instead of a raw config path, for edits where one
number changes several fields (the learning rate rescales a whole schedule, the L2 weight is
set in every regularizer, momentum lives in whichever optimizer the config uses).

Architecture knobs (``input_size``, ``depth_multiplier``, ``use_depthwise``, ``fpn``) change
what the deployed model costs (:mod:`tuner.deploy`); each distinct architecture is measured
once, so prefer ``choices`` to float ranges for them.

Each knob is ``apply(cfg, value)``; it raises :class:`tuner.config.ConfigError` (or
:class:`KnobError`) when it cannot apply to the given config.
"""
from __future__ import annotations

from typing import Any, Callable

from google.protobuf import text_format

from tuner import config as cfgmod
from tuner.config.errors import ConfigValueError
from tuner.space._knob_error import KnobError
from tuner.space.anchor_knobs import (ANCHOR_FACTOR_RANGE, KEEP_RATIOS, SCALES_PER_OCTAVE_RANGE,  # noqa: F401
                                      anchor_generator, set_anchor_aspect_ratios, set_anchors,
                                      set_scales_per_octave)  # (re-exported: the knobs of tuner.space.knobs)
from tuner.space.backbones import BACKBONE_PATTERNS, backbone_patterns

Apply = Callable[[Any, Any], None]


def _optimizer(cfg: Any) -> tuple[str, Any]:
    kind = cfg.train_config.optimizer.WhichOneof("optimizer")
    if kind is None:
        raise KnobError("train_config.optimizer has no optimizer set", path="train_config.optimizer",
                        fix="set one, e.g. momentum_optimizer")
    return kind, getattr(cfg.train_config.optimizer, kind)


def set_momentum(cfg: Any, value: Any) -> None:
    """Momentum of a momentum or RMSProp optimizer (``momentum_optimizer_value``)."""
    kind, optimizer = _optimizer(cfg)
    if kind == "momentum_optimizer":
        optimizer.momentum_optimizer_value = float(value)
    elif kind == "rms_prop_optimizer":
        optimizer.momentum_optimizer_value = float(value)
    else:
        raise KnobError(f"knob 'momentum' needs a momentum or rms_prop optimizer; the config uses {kind}",
                        path=f"train_config.optimizer.{kind}", fix="remove the momentum entry from the space")


def set_warmup_fraction(cfg: Any, value: Any) -> None:
    """Warmup length of a cosine schedule as a fraction of its ``total_steps``
    (:func:`tuner.config.set_warmup_fraction`)."""
    lr = cfgmod.learning_rate_message(cfg)
    if lr.WhichOneof("learning_rate") != "cosine_decay_learning_rate":
        raise KnobError("knob 'warmup_fraction' applies to cosine_decay_learning_rate only; the schedule is "
                        f"{lr.WhichOneof('learning_rate')}", path=cfgmod.schedule_path(cfg),
                        fix="make it conditional: when: {schedule: cosine}")
    try:
        cfgmod.set_warmup_fraction(cfg, float(value))
    except ConfigValueError as exc:
        raise KnobError(exc.message, path=exc.path, fix=exc.fix) from None


def set_matcher_iou(cfg: Any, value: Any) -> None:
    """IoU threshold of the SSD argmax matcher: ``matched_threshold`` = ``unmatched_threshold``
    = value (the SSD convention; the OD API rejects unmatched > matched)."""
    if cfg.model.WhichOneof("model") != "ssd" or cfg.model.ssd.matcher.WhichOneof("matcher_oneof") != "argmax_matcher":
        raise KnobError("knob 'matcher_iou' needs an SSD model with an argmax_matcher", path="model.ssd.matcher",
                        fix="remove the matcher_iou entry from the space")
    cfgmod.set_value(cfg, "model.ssd.matcher.argmax_matcher.matched_threshold", float(value))
    cfgmod.set_value(cfg, "model.ssd.matcher.argmax_matcher.unmatched_threshold", float(value))


FREEZE_CHOICES = ("none", "backbone")


def set_freeze(cfg: Any, value: Any) -> None:
    """What a fine-tuning run freezes: ``none`` clears ``train_config.freeze_variables``;
    ``backbone`` sets it to the regexes of the SSD Keras extractor's backbone
    (:mod:`tuner.space.backbones`), so only the feature-map/FPN layers and the box predictor train.

    Usable only when the base config sets ``train_config.fine_tune_checkpoint``: freezing randomly
    initialised weights trains nothing useful. odapi-tuner's trainer honours the field
    (:mod:`tuner.odapi.freeze`); the OD API's own TF2 trainer ignores it.
    """
    choice = str(value).strip().lower()
    if choice not in FREEZE_CHOICES:
        raise KnobError(f"knob 'freeze' takes none or backbone (got {value!r})", path="freeze",
                        fix="use choices: [none, backbone]")
    if not cfg.train_config.fine_tune_checkpoint:
        raise KnobError("knob 'freeze' needs a fine-tune checkpoint, and train_config.fine_tune_checkpoint is not "
                        "set: it would freeze randomly initialised weights",
                        path="train_config.fine_tune_checkpoint",
                        fix="set train_config.fine_tune_checkpoint (and fine_tune_checkpoint_type) in the base "
                            "config, or remove the freeze entry from the space")
    kind = cfg.model.WhichOneof("model")
    extractor = cfg.model.ssd.feature_extractor.type if kind == "ssd" else ""
    patterns = backbone_patterns(extractor)
    if patterns is None:
        model = f"an SSD with feature extractor {extractor!r}" if kind == "ssd" else f"a {kind} model"
        raise KnobError(f"knob 'freeze' knows the backbones of the SSD Keras feature extractors only; the config "
                        f"has {model}", path="model.ssd.feature_extractor.type" if kind == "ssd" else "model",
                        fix=f"use one of {', '.join(BACKBONE_PATTERNS)}, or set train_config.freeze_variables "
                            "in the base config instead")
    cfg.train_config.ClearField("freeze_variables")
    if choice == "backbone":
        cfg.train_config.freeze_variables.extend(patterns)


def set_decay_factor(cfg: Any, value: Any) -> None:
    """``decay_factor`` of an exponential-decay schedule, in whichever optimizer the config uses."""
    lr = cfgmod.learning_rate_message(cfg)
    if lr.WhichOneof("learning_rate") != "exponential_decay_learning_rate":
        raise KnobError("knob 'decay_factor' applies to exponential_decay_learning_rate only; the schedule is "
                        f"{lr.WhichOneof('learning_rate')}", path=cfgmod.schedule_path(cfg),
                        fix="make it conditional: when: {schedule: exponential}")
    factor = float(value)
    if not 0 < factor < 1:
        raise KnobError(f"knob 'decay_factor' is in (0, 1) (got {value!r})", path="decay_factor",
                        fix="use e.g. float: [0.5, 0.98]")
    lr.exponential_decay_learning_rate.decay_factor = factor


def set_batch_size(cfg: Any, value: Any) -> None:
    cfgmod.set_value(cfg, "train_config.batch_size", int(value))


def set_learning_rate(cfg: Any, value: Any) -> None:
    cfgmod.set_base_learning_rate(cfg, float(value))


def set_schedule(cfg: Any, value: Any) -> None:
    cfgmod.set_schedule_type(cfg, str(value))


def set_l2(cfg: Any, value: Any) -> None:
    cfgmod.set_l2_weight(cfg, float(value))


# -- architecture knobs: what the deployed model costs (tuner.deploy measures each architecture once)

#: ``input_size``: bounds, and the step every size must be a multiple of (MobileNet's output stride:
#: the FPN's top-down sums need stride-32 feature maps that halve exactly).
INPUT_SIZE_RANGE = (64, 1024)
INPUT_SIZE_MULTIPLE = 32
DEPTH_MULTIPLIER_RANGE = (0.1, 2.0)
#: Extractors whose ``depth_multiplier`` scales the backbone's width (the EfficientNet extractors
#: accept 1.0 only; the ResNet ones apply it to the FPN layers only).
DEPTH_MULTIPLIER_EXTRACTORS = ("ssd_mobilenet_v1_keras", "ssd_mobilenet_v1_fpn_keras", "ssd_mobilenet_v2_keras",
                               "ssd_mobilenet_v2_fpn_keras")
#: ``fpn``: extractor -> its FPN variant.
FPN_VARIANTS = {"ssd_mobilenet_v2_keras": "ssd_mobilenet_v2_fpn_keras"}
#: The FPN-lite parts of the OD API's zoo config ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8
#: (research/object_detection/configs/tf2/ in tensorflow/models; the pip package ships no configs).
FPN_LITE_EXTRACTOR = "use_depthwise: true fpn { min_level: 3 max_level: 7 additional_layer_depth: 128 }"
FPN_LITE_ANCHORS = "min_level: 3 max_level: 7 anchor_scale: 4.0 scales_per_octave: 2"
FPN_LITE_ASPECT_RATIOS = (1.0, 2.0, 0.5)
FPN_LITE_PREDICTOR = """depth: 128 num_layers_before_predictor: 4 kernel_size: 3 share_prediction_tower: true
use_depthwise: true class_prediction_bias_init: -4.6"""
FPN_LITE_PREDICTOR_HYPERPARAMS = """activation: RELU_6 regularizer { l2_regularizer { weight: 0.00004 } }
initializer { random_normal_initializer { stddev: 0.01 mean: 0.0 } }
batch_norm { scale: true decay: 0.997 epsilon: 0.001 }"""


def _switch(knob: str, value: Any) -> bool:
    """A knob's on/off value: a YAML bool, or true/false/on/off/yes/no."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "on", "yes"):
        return True
    if text in ("false", "off", "no"):
        return False
    raise KnobError(f"knob {knob!r} is on or off (got {value!r})", path=knob, fix="use choices: [false, true]")


def _ssd(cfg: Any, knob: str) -> Any:
    if cfg.model.WhichOneof("model") != "ssd":
        raise KnobError(f"knob {knob!r} needs an SSD model (the config has {cfg.model.WhichOneof('model')})",
                        path="model", fix=f"remove the {knob} entry from the space")
    return cfg.model.ssd


def set_input_size(cfg: Any, value: Any) -> None:
    """Input resolution: ``fixed_shape_resizer`` height and width, both set to ``value``.

    The feature maps and the anchor grids follow in the OD API (they are computed from the
    feature-map shapes), so nothing else changes. A multiple of 32 in [64, 1024].
    """
    low, high = INPUT_SIZE_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise KnobError(f"knob 'input_size' is an integer number of pixels (got {value!r})", path="input_size",
                        fix=f"use e.g. choices: [{low * 2}, {low * 3}, {low * 4}]")
    size = int(value)
    if not low <= size <= high or size % INPUT_SIZE_MULTIPLE:
        raise KnobError(f"knob 'input_size' takes a multiple of {INPUT_SIZE_MULTIPLE} in [{low}, {high}] "
                        f"(got {size})", path="input_size",
                        fix=f"use multiples of {INPUT_SIZE_MULTIPLE}, e.g. choices: [128, 192, 256]")
    resizer = _ssd(cfg, "input_size").image_resizer
    if resizer.WhichOneof("image_resizer_oneof") != "fixed_shape_resizer":
        raise KnobError(f"knob 'input_size' sets a fixed_shape_resizer; the config uses "
                        f"{resizer.WhichOneof('image_resizer_oneof')}", path="model.ssd.image_resizer",
                        fix="use fixed_shape_resizer in the base config (the TFLite exporter needs it), or remove "
                            "the input_size entry from the space")
    resizer.fixed_shape_resizer.height = size
    resizer.fixed_shape_resizer.width = size


def set_depth_multiplier(cfg: Any, value: Any) -> None:
    """Width of the feature extractor: ``feature_extractor.depth_multiplier`` (MobileNet extractors)."""
    low, high = DEPTH_MULTIPLIER_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise KnobError(f"knob 'depth_multiplier' is a number in [{low}, {high}] (got {value!r})",
                        path="depth_multiplier", fix="use e.g. choices: [0.35, 0.5, 0.75, 1.0]")
    extractor = _ssd(cfg, "depth_multiplier").feature_extractor
    if extractor.type not in DEPTH_MULTIPLIER_EXTRACTORS:
        raise KnobError(f"knob 'depth_multiplier' scales the MobileNet feature extractors only; the config has "
                        f"{extractor.type!r}", path="model.ssd.feature_extractor.type",
                        fix=f"use one of {', '.join(DEPTH_MULTIPLIER_EXTRACTORS)}, or remove the depth_multiplier "
                            "entry from the space")
    extractor.depth_multiplier = float(value)


def _box_predictor(cfg: Any, knob: str) -> Any:
    predictor = _ssd(cfg, knob).box_predictor
    kind = predictor.WhichOneof("box_predictor_oneof")
    if kind not in ("convolutional_box_predictor", "weight_shared_convolutional_box_predictor"):
        raise KnobError(f"knob {knob!r} needs a convolutional or weight-shared box predictor; the config has "
                        f"{kind}", path="model.ssd.box_predictor", fix=f"remove the {knob} entry from the space")
    return getattr(predictor, kind)


def set_use_depthwise(cfg: Any, value: Any) -> None:
    """Depthwise-separable box predictor (SSDLite's): ``use_depthwise`` of the box predictor.

    On, a ``kernel_size`` of 1 becomes 3: the OD API refuses a 1x1 depthwise convolution
    ("Should not use 1x1 kernel when using depthwise conv"), and SSDLite's predictor is a 3x3
    depthwise plus a 1x1 pointwise convolution. Off leaves the kernel size as it is.
    """
    on = _switch("use_depthwise", value)
    predictor = _box_predictor(cfg, "use_depthwise")
    predictor.use_depthwise = on
    if on and predictor.kernel_size == 1:
        predictor.kernel_size = 3


def set_fpn(cfg: Any, value: Any) -> None:
    """Switch an SSD MobileNet V2 to its FPN-lite variant, as the OD API's zoo config
    ``ssd_mobilenet_v2_fpnlite_320x320`` builds it.

    On: the extractor becomes ``ssd_mobilenet_v2_fpn_keras`` with ``fpn { min_level: 3
    max_level: 7 additional_layer_depth: 128 }`` and depthwise FPN layers (its
    ``depth_multiplier``, ``min_depth`` and ``conv_hyperparams`` stay); the anchors a
    ``multiscale_anchor_generator`` (levels 3-7, ``anchor_scale`` 4, 2 scales per octave) with the
    base's aspect ratios (the zoo's 1, 2, 0.5 when the base has none); the box predictor the zoo's
    weight-shared depthwise tower (depth 128, 4 layers, 3x3), with the base predictor's
    ``conv_hyperparams`` and ``class_prediction_bias_init`` when it has them. The input size must
    be a multiple of 32. Put an ``anchors`` entry after this one: it then scales the new
    ``anchor_scale``.

    Off leaves a non-FPN base as it is. An FPN base is kept with on, and refused with off (its
    non-FPN head is not in the config).
    """
    on = _switch("fpn", value)
    ssd = _ssd(cfg, "fpn")
    extractor = ssd.feature_extractor
    if extractor.type in FPN_VARIANTS.values():
        if not on:
            raise KnobError(f"knob 'fpn' cannot turn the FPN off: the base config already uses {extractor.type}, "
                            "and a non-FPN head is not in it", path="model.ssd.feature_extractor.type",
                            fix="start from a non-FPN base (e.g. ssd_mobilenet_v2_keras) or use choices: [true]")
        return
    if extractor.type not in FPN_VARIANTS:
        raise KnobError(f"knob 'fpn' switches {', '.join(FPN_VARIANTS)} to its FPN-lite variant; the config has "
                        f"{extractor.type!r}", path="model.ssd.feature_extractor.type",
                        fix="remove the fpn entry from the space")
    if not on:
        return
    resizer = ssd.image_resizer.fixed_shape_resizer
    if ssd.image_resizer.WhichOneof("image_resizer_oneof") == "fixed_shape_resizer" and (
            resizer.height % INPUT_SIZE_MULTIPLE or resizer.width % INPUT_SIZE_MULTIPLE):
        raise KnobError(f"knob 'fpn' needs an input size that is a multiple of {INPUT_SIZE_MULTIPLE} (the FPN adds "
                        f"feature maps that halve exactly); the config has {resizer.height}x{resizer.width}",
                        path="model.ssd.image_resizer.fixed_shape_resizer",
                        fix=f"set the base's height and width to multiples of {INPUT_SIZE_MULTIPLE}, or add an "
                            "input_size entry before the fpn entry")
    ratios = list(ssd.anchor_generator.ssd_anchor_generator.aspect_ratios
                  or ssd.anchor_generator.multiscale_anchor_generator.aspect_ratios or FPN_LITE_ASPECT_RATIOS)
    old = _box_predictor(cfg, "fpn")
    hyperparams = type(old.conv_hyperparams)()
    if old.HasField("conv_hyperparams"):
        hyperparams.CopyFrom(old.conv_hyperparams)
    else:
        text_format.Merge(FPN_LITE_PREDICTOR_HYPERPARAMS, hyperparams)
    bias = old.class_prediction_bias_init if old.HasField("class_prediction_bias_init") else None

    extractor.type = FPN_VARIANTS[extractor.type]
    text_format.Merge(FPN_LITE_EXTRACTOR, extractor)
    ssd.ClearField("anchor_generator")
    anchors = ssd.anchor_generator.multiscale_anchor_generator
    text_format.Merge(FPN_LITE_ANCHORS, anchors)
    anchors.aspect_ratios.extend(ratios)
    ssd.ClearField("box_predictor")
    predictor = ssd.box_predictor.weight_shared_convolutional_box_predictor
    text_format.Merge(FPN_LITE_PREDICTOR, predictor)
    predictor.conv_hyperparams.CopyFrom(hyperparams)
    if bias is not None:
        predictor.class_prediction_bias_init = bias


KNOBS: dict[str, Apply] = {
    "learning_rate": set_learning_rate,
    "schedule_type": set_schedule,
    "warmup_fraction": set_warmup_fraction,
    "l2_weight": set_l2,
    "momentum": set_momentum,
    "batch_size": set_batch_size,
    "matcher_iou": set_matcher_iou,
    "freeze": set_freeze,
    "anchors": set_anchors,
    "anchor_aspect_ratios": set_anchor_aspect_ratios,
    "scales_per_octave": set_scales_per_octave,
    "decay_factor": set_decay_factor,
    "input_size": set_input_size,
    "depth_multiplier": set_depth_multiplier,
    "use_depthwise": set_use_depthwise,
    "fpn": set_fpn,
}

AUGMENTATION_FIELD = "train_config.data_augmentation_options"


def set_augmentation(cfg: Any, name: str, enabled: Any) -> None:
    """Switch the augmentation ``name`` on (an entry with defaults if absent) or off (removed)."""
    path = f"{AUGMENTATION_FIELD}[{name}]"
    present = any(entry.WhichOneof("preprocessing_step") == name
                  for entry in cfg.train_config.data_augmentation_options)
    if _truthy(enabled) and not present:
        cfgmod.add_value(cfg, path)
    elif not _truthy(enabled) and present:
        cfgmod.remove_value(cfg, path)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "on", "yes", "1")
    return bool(value)
