"""The architecture of a config: the parts of ``model`` that decide what the deployed model costs.

Two configs with the same :func:`arch_hash` give the same TFLite graph (same ops, same tensor
shapes, same number of weights), so the same size and latency: a cost measured once for a hash
(:mod:`tuner.deploy.cost`) holds for every trial that shares it. The hash covers the ``model``
section only; ``train_config``, the input readers and ``eval_config`` never change the graph.

What is left out is a typed table, :data:`RULES`: one row per proto field that does not change
the cost, or changes it only through how many values it holds. Everything else counts, so the
table errs on the safe side: a field wrongly counted only costs one extra measurement, a field
wrongly left out would give a wrong cost. The reasoning, field by field:

* Training only (the exported graph is ``model.predict`` with ``is_training=False``, see
  ``SSDModule.inference_fn`` in the OD API's ``export_tflite_graph_lib_tf2``): the loss, the
  matcher and similarity (target assignment), the loss normalisations, negative/example
  weights, ``freeze_batchnorm`` and ``inplace_batchnorm_update``, regularizers, initializers
  (initial values only), batch-norm ``decay``/``train``, dropout (identity at inference),
  ``class_prediction_bias_init`` (an initial value).
* Values baked into the graph without changing its shape: batch-norm ``epsilon`` (folded into
  the convolution), the box coder's four scales and ``logit_scale`` (constants / op
  attributes), the anchors' sizes and offsets (``min_scale``, ``max_scale``, base sizes,
  strides, offsets, ``anchor_scale``): the anchors are one float32 constant ``[num_anchors, 4]``
  whatever their values. So the study's anchor fit and the ``anchors`` knob keep the hash.
* Anchor *counts* do count: ``aspect_ratios`` and explicit ``scales`` are reduced to how many
  there are (one predictor output per anchor per location, and the anchors constant grows),
  ``interpolated_scale_aspect_ratio`` to whether it is > 0 (one extra anchor per location).
  ``num_layers``, ``reduce_boxes_in_lowest_layer``, ``min_level``/``max_level`` and
  ``scales_per_octave`` stay whole.
* Non-max suppression: the TFLite model ends in ``TFLite_Detection_PostProcess`` (fast NMS, one
  class per box), configured from ``max_total_detections`` (the output size; kept), and the
  score and IoU thresholds (op attributes: the same bytes and ops; how much NMS work they
  cause depends on the trained scores, which an untrained model cannot show, so they are left
  out). The exporter reads no other ``batch_non_max_suppression`` field (per-class limits,
  static shapes, soft/partitioned/combined/class-agnostic NMS...): all left out.

:data:`HASH_VERSION` is part of the hash: change it when the rules change, so older cached
costs stop matching. TensorFlow-free: plain protobuf.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from typing import Any

#: Bump when :data:`RULES` or the canonical form change (invalidates every cached cost).
HASH_VERSION = 1
#: Hex digits of the hash (64 bits: no collision among the architectures one machine measures).
HASH_LENGTH = 16


class Treat(str, enum.Enum):
    """How a field enters the hash."""

    DROP = "drop"          #: not at all
    COUNT = "count"        #: a repeated field: only how many values it holds
    POSITIVE = "positive"  #: a number: only whether it is > 0


@dataclasses.dataclass(frozen=True)
class Rule:
    """One field of an OD API proto message that is not (wholly) part of the cost.

    Attributes:
        message: the proto message's name (``Ssd``, ``Hyperparams``...), wherever it occurs.
        field: the field's name in that message.
        treat: how it enters the hash.
        why: the reason, for readers of the table and the docs.
    """

    message: str
    field: str
    treat: Treat
    why: str


_TRAINING = "training only: not in the exported predict graph"
_VALUE = "a value baked into the graph: same ops, same shapes, same bytes"
_ANCHOR_VALUE = "anchor sizes/positions: the anchors constant has the same shape whatever the values"
_NMS = "not read by the TFLite exporter (TFLite_Detection_PostProcess: fast NMS, one class per box)"
_THRESHOLD = ("an attribute of the NMS op: same bytes and ops; its effect on NMS time depends on trained "
              "scores, which an untrained model cannot show")

RULES: tuple[Rule, ...] = (
    Rule("Ssd", "matcher", Treat.DROP, _TRAINING),
    Rule("Ssd", "similarity_calculator", Treat.DROP, _TRAINING),
    Rule("Ssd", "loss", Treat.DROP, _TRAINING),
    Rule("Ssd", "negative_class_weight", Treat.DROP, _TRAINING),
    Rule("Ssd", "normalize_loss_by_num_matches", Treat.DROP, _TRAINING),
    Rule("Ssd", "normalize_loc_loss_by_codesize", Treat.DROP, _TRAINING),
    Rule("Ssd", "freeze_batchnorm", Treat.DROP, _TRAINING),
    Rule("Ssd", "inplace_batchnorm_update", Treat.DROP, _TRAINING),
    Rule("Ssd", "use_confidences_as_targets", Treat.DROP, _TRAINING),
    Rule("Ssd", "implicit_example_weight", Treat.DROP, _TRAINING),
    Rule("Hyperparams", "regularizer", Treat.DROP, _TRAINING),
    Rule("Hyperparams", "regularize_depthwise", Treat.DROP, _TRAINING),
    Rule("Hyperparams", "initializer", Treat.DROP, "initial values only"),
    Rule("BatchNorm", "decay", Treat.DROP, _TRAINING),
    Rule("BatchNorm", "train", Treat.DROP, _TRAINING),
    Rule("BatchNorm", "epsilon", Treat.DROP, "folded into the convolution's weights"),
    Rule("ConvolutionalBoxPredictor", "use_dropout", Treat.DROP, "dropout is the identity at inference"),
    Rule("ConvolutionalBoxPredictor", "dropout_keep_probability", Treat.DROP, "dropout is the identity at inference"),
    Rule("ConvolutionalBoxPredictor", "class_prediction_bias_init", Treat.DROP, "an initial value"),
    Rule("WeightSharedConvolutionalBoxPredictor", "use_dropout", Treat.DROP, "dropout is the identity at inference"),
    Rule("WeightSharedConvolutionalBoxPredictor", "dropout_keep_probability", Treat.DROP,
         "dropout is the identity at inference"),
    Rule("WeightSharedConvolutionalBoxPredictor", "class_prediction_bias_init", Treat.DROP, "an initial value"),
    Rule("FasterRcnnBoxCoder", "y_scale", Treat.DROP, _VALUE),
    Rule("FasterRcnnBoxCoder", "x_scale", Treat.DROP, _VALUE),
    Rule("FasterRcnnBoxCoder", "height_scale", Treat.DROP, _VALUE),
    Rule("FasterRcnnBoxCoder", "width_scale", Treat.DROP, _VALUE),
    Rule("PostProcessing", "logit_scale", Treat.DROP, _VALUE + " (always one multiplication)"),
    Rule("SsdAnchorGenerator", "min_scale", Treat.DROP, _ANCHOR_VALUE),
    Rule("SsdAnchorGenerator", "max_scale", Treat.DROP, _ANCHOR_VALUE),
    Rule("SsdAnchorGenerator", "scales", Treat.COUNT, "one scale per layer: only the count shapes the graph"),
    Rule("SsdAnchorGenerator", "aspect_ratios", Treat.COUNT, "one anchor per ratio and location"),
    Rule("SsdAnchorGenerator", "interpolated_scale_aspect_ratio", Treat.POSITIVE,
         "> 0 adds one anchor per location"),
    Rule("SsdAnchorGenerator", "base_anchor_height", Treat.DROP, _ANCHOR_VALUE),
    Rule("SsdAnchorGenerator", "base_anchor_width", Treat.DROP, _ANCHOR_VALUE),
    Rule("SsdAnchorGenerator", "height_stride", Treat.DROP, _ANCHOR_VALUE),
    Rule("SsdAnchorGenerator", "width_stride", Treat.DROP, _ANCHOR_VALUE),
    Rule("SsdAnchorGenerator", "height_offset", Treat.DROP, _ANCHOR_VALUE),
    Rule("SsdAnchorGenerator", "width_offset", Treat.DROP, _ANCHOR_VALUE),
    Rule("MultiscaleAnchorGenerator", "anchor_scale", Treat.DROP, _ANCHOR_VALUE),
    Rule("MultiscaleAnchorGenerator", "aspect_ratios", Treat.COUNT, "one anchor per ratio, octave scale and location"),
    Rule("MultiscaleAnchorGenerator", "normalize_coordinates", Treat.DROP, _ANCHOR_VALUE),
    Rule("BatchNonMaxSuppression", "score_threshold", Treat.DROP, _THRESHOLD),
    Rule("BatchNonMaxSuppression", "iou_threshold", Treat.DROP, _THRESHOLD),
    *(Rule("BatchNonMaxSuppression", name, Treat.DROP, _NMS) for name in (
        "max_detections_per_class", "use_static_shapes", "use_class_agnostic_nms", "max_classes_per_detection",
        "soft_nms_sigma", "use_partitioned_nms", "use_combined_nms", "change_coordinate_frame", "use_hard_nms",
        "use_cpu_nms")),
)

_BY_MESSAGE: dict[str, dict[str, Rule]] = {}
for _rule in RULES:
    _BY_MESSAGE.setdefault(_rule.message, {})[_rule.field] = _rule


def cost_fields(cfg: Any) -> dict[str, Any]:
    """The canonical form of ``cfg.model`` the hash is taken of (for reading and debugging).

    Every field counts with its effective value (an unset scalar counts as its default, so
    writing a default explicitly changes nothing), except what :data:`RULES` leaves out or
    reduces; a submessage counts when it is set; an unset member of a ``oneof`` does not.

    Args:
        cfg: a ``TrainEvalPipelineConfig`` (or its ``model`` message, a ``DetectionModel``).
    """
    model = cfg.model if cfg.DESCRIPTOR.name == "TrainEvalPipelineConfig" else cfg
    return _canonical(model)


def arch_hash(cfg: Any) -> str:
    """A short hex digest of :func:`cost_fields` (and :data:`HASH_VERSION`).

    Stable across processes, protobuf text formatting and field order; equal for configs that
    differ only in fields :data:`RULES` leaves out.
    """
    text = json.dumps({"version": HASH_VERSION, "model": cost_fields(cfg)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def _canonical(message: Any) -> dict[str, Any]:
    rules = _BY_MESSAGE.get(message.DESCRIPTOR.name, {})
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        rule = rules.get(field.name)
        if rule is not None and rule.treat is Treat.DROP:
            continue
        repeated = field.label == field.LABEL_REPEATED
        if field.containing_oneof is not None and not repeated:
            if message.WhichOneof(field.containing_oneof.name) != field.name:
                continue
        elif field.message_type is not None and not repeated and not message.HasField(field.name):
            continue
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {str(key): _value(value_field, value[key]) for key in sorted(value)}
            continue
        if rule is not None and rule.treat is Treat.COUNT:
            out[field.name] = {"count": len(value)}
        elif rule is not None and rule.treat is Treat.POSITIVE:
            out[field.name] = {"positive": float(value) > 0}
        elif repeated:
            out[field.name] = [_value(field, v) for v in value]
        else:
            out[field.name] = _value(field, value)
    return out


def _value(field: Any, value: Any) -> Any:
    if field.message_type is not None:
        return _canonical(value)
    if field.enum_type is not None:
        return field.enum_type.values_by_number[value].name if value in field.enum_type.values_by_number else value
    if isinstance(value, float):
        return repr(value)  # exact and stable (float32 fields read back as the same double)
    return value
