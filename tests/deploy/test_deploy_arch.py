"""The architecture hash: equal for edits that do not change the deployed graph, different for
edits that do, stable across processes; the rule table names real fields. TensorFlow-free."""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable

import pytest

from tuner import config as cfgmod
from tuner.config.io import dumps, loads
from tuner.deploy.arch import RULES, Treat, arch_hash, cost_fields
from tuner.paths import PIPELINES_DIR
from tuner.space.knobs import KNOBS, set_augmentation

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
NMS = "model.ssd.post_processing.batch_non_max_suppression"
GEN = "model.ssd.anchor_generator.ssd_anchor_generator"


def _edited(edit: Callable[[Any], None]) -> Any:
    cfg = cfgmod.load(SHAPES)
    edit(cfg)
    return cfg


def _set(path: str, value: Any) -> Callable[[Any], None]:
    return lambda cfg: cfgmod.set_value(cfg, path, value)


IRRELEVANT = {
    "learning rate and steps": lambda cfg: (KNOBS["learning_rate"](cfg, 0.01), cfgmod.set_num_steps(cfg, 50)),
    "l2 weight": lambda cfg: KNOBS["l2_weight"](cfg, 1e-3),
    "focal loss": _set("model.ssd.loss.classification_loss.weighted_sigmoid_focal.alpha", 0.25),
    "matcher": lambda cfg: KNOBS["matcher_iou"](cfg, 0.6),
    "nms thresholds": lambda cfg: (cfgmod.set_value(cfg, f"{NMS}.iou_threshold", 0.4),
                                   cfgmod.set_value(cfg, f"{NMS}.score_threshold", 0.3)),
    "per-class nms limit": _set(f"{NMS}.max_detections_per_class", 5),
    "anchor sizes (the anchors knob, a fit)": lambda cfg: (KNOBS["anchors"](cfg, 1.3),
                                                           cfgmod.set_value(cfg, f"{GEN}.aspect_ratios",
                                                                            [1.0, 1.5, 0.6, 2.5, 0.4])),
    "box coder scales": _set("model.ssd.box_coder.faster_rcnn_box_coder.y_scale", 5.0),
    "batch-norm decay and epsilon": lambda cfg: (
        cfgmod.set_value(cfg, "model.ssd.feature_extractor.conv_hyperparams.batch_norm.decay", 0.9),
        cfgmod.set_value(cfg, "model.ssd.feature_extractor.conv_hyperparams.batch_norm.epsilon", 0.01)),
    "initializer": _set("model.ssd.feature_extractor.conv_hyperparams.initializer.truncated_normal_initializer"
                        ".stddev", 0.1),
    "dropout and bias init": lambda cfg: (
        cfgmod.set_value(cfg, "model.ssd.box_predictor.convolutional_box_predictor.use_dropout", True),
        cfgmod.set_value(cfg, "model.ssd.box_predictor.convolutional_box_predictor.class_prediction_bias_init",
                         -2.0)),
    "an explicit default": _set("model.ssd.feature_extractor.pad_to_multiple", 1),
    "data paths and batch": lambda cfg: (
        cfgmod.set_value(cfg, "train_input_reader.tf_record_input_reader.input_path", ["/d/train.record"]),
        KNOBS["batch_size"](cfg, 8)),
    "warmup": lambda cfg: KNOBS["warmup_fraction"](cfg, 0.2),
    "augmentation": lambda cfg: set_augmentation(cfg, "random_adjust_hue", True),
}

RELEVANT = {
    "input size": lambda cfg: KNOBS["input_size"](cfg, 192),
    "depth multiplier": lambda cfg: KNOBS["depth_multiplier"](cfg, 0.5),
    "depthwise predictor": lambda cfg: KNOBS["use_depthwise"](cfg, True),
    "fpn": lambda cfg: KNOBS["fpn"](cfg, True),
    "number of classes": _set("model.ssd.num_classes", 3),
    "number of aspect ratios": _set(f"{GEN}.aspect_ratios", [1.0, 2.0, 0.5]),
    "interpolated anchor off": _set(f"{GEN}.interpolated_scale_aspect_ratio", 0.0),
    "anchor layers": _set(f"{GEN}.reduce_boxes_in_lowest_layer", False),
    "detections returned": _set(f"{NMS}.max_total_detections", 50),
    "score converter": _set("model.ssd.post_processing.score_converter", "SOFTMAX"),
    "activation": _set("model.ssd.feature_extractor.conv_hyperparams.activation", "RELU"),
    "predictor layers": _set("model.ssd.box_predictor.convolutional_box_predictor.num_layers_before_predictor", 1),
    "feature extractor": _set("model.ssd.feature_extractor.type", "ssd_mobilenet_v1_keras"),
    "min depth": _set("model.ssd.feature_extractor.min_depth", 32),
}


@pytest.mark.parametrize("name", sorted(IRRELEVANT))
def test_hash_ignores_edits_that_do_not_change_the_deployed_graph(name: str) -> None:
    edited = _edited(IRRELEVANT[name])
    assert cfgmod.dumps(edited) != cfgmod.dumps(cfgmod.load(SHAPES))  # the edit did change the config
    assert arch_hash(edited) == arch_hash(cfgmod.load(SHAPES))


@pytest.mark.parametrize("name", sorted(RELEVANT))
def test_hash_changes_with_edits_that_change_the_deployed_graph(name: str) -> None:
    assert arch_hash(_edited(RELEVANT[name])) != arch_hash(cfgmod.load(SHAPES))


def test_relevant_edits_give_distinct_hashes() -> None:
    hashes = {arch_hash(_edited(edit)) for edit in RELEVANT.values()}
    assert len(hashes) == len(RELEVANT)


def test_hash_is_stable_across_text_formatting_and_processes() -> None:
    cfg = cfgmod.load(SHAPES)
    reformatted = loads(" ".join(dumps(cfg).split()))  # one line, same content
    assert arch_hash(reformatted) == arch_hash(cfg) == arch_hash(cfg.model)
    code = ("from tuner import config; from tuner.deploy.arch import arch_hash; "
            f"print(arch_hash(config.load({str(SHAPES)!r})))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert other.stdout.strip() == arch_hash(cfg)
    assert len(arch_hash(cfg)) == 16 and set(arch_hash(cfg)) <= set("0123456789abcdef")


def test_cost_fields_show_counts_and_leave_the_training_parts_out() -> None:
    fields = cost_fields(cfgmod.load(SHAPES))["ssd"]
    assert "loss" not in fields and "matcher" not in fields
    assert fields["anchor_generator"]["ssd_anchor_generator"]["aspect_ratios"] == {"count": 5}
    assert "min_scale" not in fields["anchor_generator"]["ssd_anchor_generator"]
    assert fields["post_processing"]["batch_non_max_suppression"] == {"max_total_detections": 20}
    assert "regularizer" not in fields["feature_extractor"]["conv_hyperparams"]


def _messages() -> dict[str, Any]:
    """Every message type reachable from the DetectionModel proto, by name."""
    from object_detection.protos import model_pb2

    seen: dict[str, Any] = {}
    todo = [model_pb2.DetectionModel.DESCRIPTOR]
    while todo:
        descriptor = todo.pop()
        if descriptor.name in seen:
            continue
        seen[descriptor.name] = descriptor
        todo.extend(f.message_type for f in descriptor.fields if f.message_type is not None)
    return seen


def test_every_rule_names_a_real_field_of_the_right_kind() -> None:
    messages = _messages()
    assert len({(r.message, r.field) for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.message in messages, rule
        field = messages[rule.message].fields_by_name.get(rule.field)
        assert field is not None, rule
        if rule.treat is Treat.COUNT:
            assert field.label == field.LABEL_REPEATED, rule
        if rule.treat is Treat.POSITIVE:
            assert field.label != field.LABEL_REPEATED and field.message_type is None, rule
        assert rule.why
