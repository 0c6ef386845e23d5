"""Value parsing, type coercion and the range-rule table."""
from __future__ import annotations

import pytest
from configfixtures import COSINE, RATIOS
from object_detection.protos import pipeline_pb2

from tuner.config import (ConfigValueError, add_value, check_path, coerce_value, dumps, loads,
                          parse_value, set_value)
from tuner.config.ranges import range_violations
from tuner.config.values import range_rule_for, to_python

D = pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR


def field(path: str):
    return check_path(D, path).field


@pytest.mark.parametrize("text, expected", [
    ("12", 12), ("-3", -3), ("1e-4", 1e-4), (".8", 0.8), ("2.5", 2.5), ("true", True),
    ("False", False), ("'quoted text'", "quoted text"), ('"x"', "x"), ("bare", "bare"),
    ("RELU_6", "RELU_6"), ("[1.0, 2, 'a,b']", [1.0, 2, "a,b"]), ("[]", []),
])
def test_parse_value_guesses_python_literals(text, expected):
    assert parse_value(text) == expected


def test_parse_value_for_a_field():
    assert parse_value("50000", field("train_config.num_steps")) == 50000
    assert parse_value("5e4", field("train_config.num_steps")) == 50000
    assert parse_value("123", field("train_config.fine_tune_checkpoint")) == "123"
    assert parse_value("'a b'", field("train_config.fine_tune_checkpoint")) == "a b"
    assert parse_value("true", field("train_config.sync_replicas")) is True
    assert parse_value("[a.record, 'b.record']",
                       field("train_input_reader.tf_record_input_reader.input_path")) == \
        ["a.record", "b.record"]
    msg = parse_value("{ learning_rate: 0.1 }",
                      field("train_config.optimizer.adam_optimizer.learning_rate.constant_learning_rate"))
    assert msg.learning_rate == pytest.approx(0.1)


@pytest.mark.parametrize("path, value, message", [
    ("train_config.num_steps", "abc", "expects uint32, got 'abc'.*whole number"),
    ("train_config.num_steps", 2.5, "expects uint32, got 2.5"),
    ("train_config.num_steps", True, "expects uint32, got True"),
    ("train_config.num_steps", -3, "a step count and must be >= 0, got -3"),
    ("model.ssd.num_classes", -2**40, r"must be >= 1"),
    ("model.ssd.num_classes", 2**40, "must be in"),
    ("train_config.sync_replicas", "yes", "expects bool, got 'yes'.*true or false"),
    ("train_config.gradient_clipping_by_norm", "fast", "expects float, got 'fast'.*0.004"),
    ("train_config.gradient_clipping_by_norm", float("nan"), "finite number"),
    ("train_config.fine_tune_checkpoint", 5, "expects string, got 5.*quote numbers"),
    ("model.ssd.feature_extractor.conv_hyperparams.activation", 99, "expects enum Activation"),
    ("train_config.batch_size", "[1,2]", "is a single uint32, got the list"),
])
def test_type_errors_say_expected_received_and_fix(path, value, message):
    with pytest.raises(ConfigValueError, match=message) as info:
        coerce_value(field(path), parse_value(value, field(path), path=path)
                     if isinstance(value, str) else value, path=path)
    assert "(fix: " in str(info.value)
    assert info.value.path == path


@pytest.mark.parametrize("path, value, what", [
    (f"{COSINE}.learning_rate_base", -0.1, "a learning rate and must be >= 0"),
    (f"{COSINE}.warmup_learning_rate", -1, "a learning rate"),
    ("model.ssd.post_processing.batch_non_max_suppression.iou_threshold", 1.5,
     r"a probability/threshold and must be in \[0, 1\]"),
    ("model.ssd.post_processing.batch_non_max_suppression.score_threshold", -0.01, "probability"),
    ("model.ssd.loss.classification_loss.weighted_sigmoid_focal.alpha", 2.0, "probability"),
    ("model.ssd.matcher.argmax_matcher.matched_threshold", 1.01, "probability"),
    ("model.ssd.box_predictor.convolutional_box_predictor.dropout_keep_probability", 1.2,
     "probability"),
    ("train_config.optimizer.momentum_optimizer.momentum_optimizer_value", 1.5, "probability"),
    ("model.ssd.feature_extractor.conv_hyperparams.regularizer.l2_regularizer.weight", -1e-4,
     "a regularizer weight"),
    ("train_config.batch_size", 0, "a size or count and must be >= 1"),
    ("model.ssd.num_classes", 0, "a size or count"),
    ("model.ssd.loss.classification_loss.weighted_sigmoid_focal.gamma", -1.0, "non-negative"),
    ("train_config.startup_delay_steps", -5.0, "a step count and must be >= 0"),
])
def test_range_rules(zoo, path, value, what):
    with pytest.raises(ConfigValueError, match=what):
        set_value(zoo, path, value)


def test_range_rules_do_not_touch_unrelated_fields(zoo):
    # center_net's focal-loss alpha is an exponent (2.0 by default), not a probability
    assert range_rule_for(field("model.center_net.object_center_params.classification_loss"
                                ".penalty_reduced_logistic_focal_loss.alpha")) is None
    set_value(zoo, "model.ssd.box_predictor.convolutional_box_predictor.class_prediction_bias_init",
              -4.6)
    set_value(zoo, "model.ssd.post_processing.batch_non_max_suppression.iou_threshold", 1.0)


def test_to_python_uses_shortest_float_and_enum_names(zoo):
    lr = zoo.train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate
    assert lr.learning_rate_base != 0.8  # float32 storage
    assert to_python(lr.DESCRIPTOR.fields_by_name["learning_rate_base"], lr.learning_rate_base) == 0.8
    act = field("model.ssd.feature_extractor.conv_hyperparams.activation")
    assert to_python(act, 2) == "RELU_6"


def test_coerce_value_for_repeated_fields():
    ratios = field("model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios")
    assert coerce_value(ratios, "[1, 2]") == [1.0, 2.0]
    assert coerce_value(ratios, (0.5,)) == [0.5]
    assert coerce_value(ratios, "0.5", single=True) == 0.5
    with pytest.raises(ConfigValueError, match="is a repeated float, got 1.0.*give a list"):
        coerce_value(ratios, 1.0)
    with pytest.raises(ConfigValueError, match="expects float, got 'x'"):
        coerce_value(ratios, ["x"])


NMS = "model.ssd.post_processing.batch_non_max_suppression"


@pytest.mark.parametrize("op, path, value, message", [
    ("add", "train_config.data_augmentation_options[random_adjust_brightness]", "{ max_delta: -1 }",
     r"^train_config\.data_augmentation_options\[random_adjust_brightness\]\.max_delta is a "
     r"non-negative parameter and must be >= 0, got -1\.0 \(fix: give a value >= 0\)$"),
    ("set", NMS, "{iou_threshold: 5 score_threshold: -3}",
     rf"^{NMS}\.score_threshold is a probability/threshold and must be in \[0, 1\], got -3\.0; "
     rf"also out of range: {NMS}\.iou_threshold \(fix: give a value in \[0, 1\]\)$"),
    ("set", "model.ssd.image_resizer", "{fixed_shape_resizer{height:-1}}",
     r"^model\.ssd\.image_resizer\.fixed_shape_resizer\.height is a size or count and must be >= 1, "
     r"got -1 \(fix: give a value >= 1\)$"),
    ("set", NMS, "{iou_threshold: 0.5 score_threshold: 0.01}", None),  # in range: fine
    ("set", "train_config.optimizer.momentum_optimizer.learning_rate",
     "{ cosine_decay_learning_rate { learning_rate_base: 1e40 } }",
     r"cosine_decay_learning_rate\.learning_rate_base expects float, got inf \(fix: give a finite "
     r"number \(a 32-bit float holds at most \+-3\.403e\+38\)\)$"),
    ("set", "model.ssd.anchor_generator", "{ ssd_anchor_generator { aspect_ratios: [1.0, -2.0] } }",
     r"ssd_anchor_generator\.aspect_ratios\[1\] is an anchor aspect ratio or scale and must be > 0, "
     r"got -2\.0"),
])
def test_range_rules_apply_inside_whole_message_values(zoo, op, path, value, message):
    edit = {"set": set_value, "add": add_value}[op]
    if message is None:
        edit(zoo, path, value)
        return
    before = dumps(zoo)
    with pytest.raises(ConfigValueError, match=message):
        edit(zoo, path, value)
    assert dumps(zoo) == before, "a rejected edit changes nothing"


def test_range_rules_apply_to_dict_and_message_values(zoo):
    nms = field(NMS)
    with pytest.raises(ConfigValueError, match=r"iou_threshold is a probability.*got 5\.0"):
        coerce_value(nms, {"iouThreshold": 5})
    msg = coerce_value(nms, "{ iou_threshold: 0.5 }")
    msg.iou_threshold = 5
    with pytest.raises(ConfigValueError, match=rf"^{NMS}\.iou_threshold is a probability"):
        coerce_value(nms, msg, path=NMS)


def test_float32_overflow_is_rejected_not_stored_as_inf(zoo):
    path = f"{COSINE}.learning_rate_base"
    with pytest.raises(ConfigValueError, match=rf"^{path} is a 32-bit float and must be within "
                                               r"\+-3\.403e\+38, got 1e\+40 \(it would be stored as inf\)"):
        set_value(zoo, path, "1e40")
    with pytest.raises(ConfigValueError, match="32-bit float"):
        set_value(zoo, path, -1e39)
    with pytest.raises(ConfigValueError, match="expects float, got inf"):
        set_value(zoo, path, 10**400)
    set_value(zoo, "train_config.gradient_clipping_by_norm", 3.0e38)  # representable: fine
    assert zoo.train_config.gradient_clipping_by_norm == pytest.approx(3.0e38)


@pytest.mark.parametrize("path, value", [
    (f"{RATIOS}", "[1,-2,0]"), (f"{RATIOS}", "[1, 0]"), ("model.ssd.anchor_generator."
                                                         "ssd_anchor_generator.scales", "[0.1, -0.2]"),
])
def test_anchor_aspect_ratios_and_scales_must_be_positive(zoo, path, value):
    with pytest.raises(ConfigValueError, match=rf"^{path} is an anchor aspect ratio or scale and must be "
                                               r"> 0, got (-2\.0|0\.0|-0\.2) \(fix: give a value > 0\)$"):
        set_value(zoo, path, value)
    with pytest.raises(ConfigValueError, match="must be > 0"):
        add_value(zoo, RATIOS, "0")
    set_value(zoo, RATIOS, "[1, 0.25, 4]")


def test_range_violations_walks_every_set_number():
    cfg = loads("model { ssd { post_processing { batch_non_max_suppression { iou_threshold: 5 } } "
                "anchor_generator { ssd_anchor_generator { aspect_ratios: [1.0, 0.0] } } } } "
                "train_config { data_augmentation_options { random_adjust_brightness { max_delta: -1 } } }")
    assert [(e.path, e.message.split(" is ")[1].split(" and")[0]) for e in range_violations(cfg)] == [
        ("model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios[1]",
         "an anchor aspect ratio or scale"),
        (f"{NMS}.iou_threshold", "a probability/threshold"),
        ("train_config.data_augmentation_options[0].random_adjust_brightness.max_delta",
         "a non-negative parameter"),
    ]
