"""Dotted paths: every path form, get/set/add/remove, and the error messages."""
from __future__ import annotations

import pytest
from configfixtures import AUG, COSINE, LR, RATIOS
from object_detection.protos import pipeline_pb2, preprocessor_pb2, region_similarity_calculator_pb2

from tuner.config import (ConfigValueError, PathError, add_value, check_path, check_value, get_value,
                          iter_set_fields, parse_path, remove_value, set_value)
from tuner.config.errors import OneofSwitchError
from tuner.config.paths import Segment

DESCRIPTOR = pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR


def test_parse_path_segments():
    assert parse_path("a.b[0].c[name].d[-1]") == (
        Segment("a"), Segment("b", 0), Segment("c", "name"), Segment("d", -1))


@pytest.mark.parametrize("bad", ["", "a..b", "a.b[", "a.b[1.5]", "a.1b", "a.b[x y]"])
def test_malformed_paths(bad):
    with pytest.raises(PathError, match="empty path|malformed segment"):
        parse_path(bad)


def test_get_nested_scalars_and_defaults(zoo):
    assert get_value(zoo, "train_config.num_steps") == 50000
    assert get_value(zoo, "train_config.sync_replicas") is True
    assert get_value(zoo, "model.ssd.feature_extractor.type") == "ssd_mobilenet_v2_keras"
    assert get_value(zoo, "model.ssd.feature_extractor.depth_multiplier") == 1.0
    # unset scalar: the schema default the trainer would use
    assert get_value(zoo, "train_config.gradient_clipping_by_norm") == 0.0


def test_get_message_returns_live_message(zoo):
    cosine = get_value(zoo, COSINE)
    cosine.total_steps = 7
    assert zoo.train_config.optimizer.momentum_optimizer.learning_rate \
        .cosine_decay_learning_rate.total_steps == 7


def test_enum_by_name(zoo):
    path = "model.ssd.feature_extractor.conv_hyperparams.activation"
    assert get_value(zoo, path) == "RELU_6"
    set_value(zoo, path, "SWISH")
    assert get_value(zoo, path) == "SWISH"
    set_value(zoo, path, "relu")  # case-insensitive fallback
    assert get_value(zoo, path) == "RELU"
    with pytest.raises(ConfigValueError, match="expects enum Activation, got 'RELU7'.*RELU_6"):
        set_value(zoo, path, "RELU7")


def test_oneof_selection(zoo):
    resizer = "model.ssd.image_resizer.image_resizer_oneof"
    assert get_value(zoo, resizer) == "fixed_shape_resizer"
    assert get_value(zoo, f"{LR}.learning_rate") == "cosine_decay_learning_rate"
    set_value(zoo, resizer, "keep_aspect_ratio_resizer")
    assert zoo.model.ssd.image_resizer.WhichOneof("image_resizer_oneof") == "keep_aspect_ratio_resizer"
    # a field below another member would switch the oneof: refused, nothing changed, unless switch=True
    with pytest.raises(OneofSwitchError, match="would switch model.ssd.image_resizer from keep_aspect_ratio_resizer "
                                               "to fixed_shape_resizer.*set --switch"):
        set_value(zoo, "model.ssd.image_resizer.fixed_shape_resizer.height", 300)
    assert get_value(zoo, resizer) == "keep_aspect_ratio_resizer"
    set_value(zoo, "model.ssd.image_resizer.fixed_shape_resizer.height", 300, switch=True)
    assert get_value(zoo, resizer) == "fixed_shape_resizer"
    assert get_value(zoo, "model.ssd.image_resizer.fixed_shape_resizer.height") == 300
    with pytest.raises(ConfigValueError, match="expects a member name.*did you mean 'fixed_shape_resizer'"):
        set_value(zoo, resizer, "fixed_shape_resizr")


def test_get_unselected_oneof_member_names_the_selected_one(zoo):
    with pytest.raises(PathError, match="'model.faster_rcnn' is not set.*oneof 'model' holds 'ssd'"):
        get_value(zoo, "model.faster_rcnn.num_classes")
    with pytest.raises(PathError, match="holds 'cosine_decay_learning_rate'"):
        get_value(zoo, f"{LR}.exponential_decay_learning_rate")


def test_repeated_messages_by_index(zoo):
    assert get_value(zoo, f"{AUG}[0]").WhichOneof("preprocessing_step") == "random_horizontal_flip"
    assert get_value(zoo, f"{AUG}[-1]").HasField("ssd_random_crop")
    set_value(zoo, f"{AUG}[0].random_horizontal_flip.probability", 0.3)
    assert get_value(zoo, f"{AUG}[0].random_horizontal_flip.probability") == 0.3
    assert len(get_value(zoo, AUG)) == 2
    with pytest.raises(PathError, match=r"index 5 out of range.*2 entries.*0\.\.1"):
        get_value(zoo, f"{AUG}[5].random_horizontal_flip")


def test_repeated_scalars(zoo):
    assert get_value(zoo, RATIOS) == [1.0, 2.0, 0.5, 3.0, 0.3333]
    set_value(zoo, RATIOS, "[1.0,2.0,0.5]")
    assert get_value(zoo, RATIOS) == [1.0, 2.0, 0.5]
    set_value(zoo, RATIOS, [1.0, 3.0])
    assert get_value(zoo, f"{RATIOS}[1]") == 3.0
    set_value(zoo, f"{RATIOS}[1]", "0.5")
    add_value(zoo, RATIOS, "2.0")
    add_value(zoo, RATIOS, [3.0, 0.25])
    assert get_value(zoo, RATIOS) == [1.0, 0.5, 2.0, 3.0, 0.25]
    remove_value(zoo, f"{RATIOS}[0]")
    assert get_value(zoo, RATIOS) == [0.5, 2.0, 3.0, 0.25]
    remove_value(zoo, RATIOS)
    assert get_value(zoo, RATIOS) == []


def test_repeated_scalar_type_errors(zoo):
    with pytest.raises(ConfigValueError, match="repeated float, got the single value '1.0'.*\\[1.0\\]"):
        set_value(zoo, RATIOS, "1.0")
    with pytest.raises(ConfigValueError, match="holds one float, got the list"):
        set_value(zoo, f"{RATIOS}[0]", "[1.0]")
    with pytest.raises(ConfigValueError, match="expects float, got 'x'"):
        set_value(zoo, RATIOS, "[1.0,x]")
    with pytest.raises(ConfigValueError, match="needs a value"):
        add_value(zoo, RATIOS)


def test_augmentation_by_name(zoo):
    path = f"{AUG}[random_adjust_brightness]"
    add_value(zoo, path)
    assert zoo.train_config.data_augmentation_options[-1].HasField("random_adjust_brightness")
    set_value(zoo, f"{path}.max_delta", "0.3")
    assert get_value(zoo, f"{path}.max_delta") == 0.3
    assert isinstance(get_value(zoo, path), preprocessor_pb2.RandomAdjustBrightness)
    remove_value(zoo, path)
    assert [a.WhichOneof("preprocessing_step") for a in zoo.train_config.data_augmentation_options] \
        == ["random_horizontal_flip", "ssd_random_crop"]


def test_add_augmentation_with_fields_and_set_whole_entry(zoo):
    add_value(zoo, f"{AUG}[random_adjust_contrast]", "{ min_delta: 0.5 max_delta: 1.5 }")
    assert get_value(zoo, f"{AUG}[random_adjust_contrast].max_delta") == 1.5
    set_value(zoo, f"{AUG}[random_adjust_contrast]", {"minDelta": 0.7})
    assert get_value(zoo, f"{AUG}[random_adjust_contrast].min_delta") == 0.7
    assert get_value(zoo, f"{AUG}[random_adjust_contrast].max_delta") == 1.25  # default again


def test_augmentation_by_name_errors(zoo):
    with pytest.raises(ConfigValueError, match="already has a random_horizontal_flip entry"):
        add_value(zoo, f"{AUG}[random_horizontal_flip]")
    with pytest.raises(PathError, match="no random_adjust_hue entry.*add it first"):
        set_value(zoo, f"{AUG}[random_adjust_hue].max_delta", 0.1)
    with pytest.raises(PathError, match="no random_adjust_hue entry.*to remove"):
        remove_value(zoo, f"{AUG}[random_adjust_hue]")
    with pytest.raises(PathError) as info:
        get_value(zoo, f"{AUG}[random_adjust_brightnes].max_delta")
    assert info.value.suggestion == "random_adjust_brightness"
    assert "random_adjust_hue" in info.value.valid
    zoo.train_config.data_augmentation_options.add().random_horizontal_flip.SetInParent()
    with pytest.raises(PathError, match=r"ambiguous.*entries \[0, 2\].*\[0\]"):
        get_value(zoo, f"{AUG}[random_horizontal_flip]")
    with pytest.raises(PathError, match="not a repeated message"):
        get_value(zoo, "train_config.optimizer[momentum_optimizer]")


def test_unknown_segment_names_segment_valid_names_and_closest(zoo):
    with pytest.raises(PathError) as info:
        set_value(zoo, "train_config.num_step", 5)
    err = info.value
    assert (err.path, err.segment, err.suggestion) == ("train_config.num_step", "num_step", "num_steps")
    assert "batch_size" in err.valid and "num_steps" in err.valid
    assert "unknown field 'num_step' in train_config (TrainConfig)" in str(err)
    assert "did you mean 'num_steps'" in str(err)
    with pytest.raises(PathError, match="unknown field 'modle' in <root>") as info:
        get_value(zoo, "modle.ssd")
    assert info.value.suggestion == "model"
    with pytest.raises(PathError, match="unknown field 'zzz'.*valid names here") as info:
        get_value(zoo, "train_config.zzz")
    assert info.value.suggestion is None


def test_structural_path_errors(zoo):
    with pytest.raises(PathError, match="is uint32, not a message"):
        get_value(zoo, "train_config.num_steps.x")
    with pytest.raises(PathError, match="is repeated; choose an entry"):
        get_value(zoo, f"{AUG}.random_horizontal_flip")
    with pytest.raises(PathError, match="is not repeated; it takes no \\[0\\]"):
        get_value(zoo, "train_config[0].num_steps")
    with pytest.raises(PathError, match="is not repeated; it takes no \\[0\\]"):
        get_value(zoo, "train_config.num_steps[0]")
    with pytest.raises(PathError, match="is a oneof and has no fields"):
        get_value(zoo, "model.model.ssd")
    with pytest.raises(PathError, match="is a oneof; it takes no"):
        get_value(zoo, "model.model[0]")
    with pytest.raises(PathError, match="not a repeated field; add only appends"):
        add_value(zoo, "train_config.num_steps", 5)
    with pytest.raises(PathError, match="add appends and takes no index"):
        add_value(zoo, f"{AUG}[0]")


def test_set_creates_intermediate_messages():
    cfg = pipeline_pb2.TrainEvalPipelineConfig()
    set_value(cfg, "train_config.optimizer.adam_optimizer.learning_rate.constant_learning_rate"
                   ".learning_rate", "0.001")
    assert get_value(cfg, "train_config.optimizer.optimizer") == "adam_optimizer"
    set_value(cfg, "eval_input_reader", ["label_map_path: 'a'", {"labelMapPath": "b"}])
    assert [r.label_map_path for r in cfg.eval_input_reader] == ["a", "b"]
    set_value(cfg, "eval_input_reader[1]", "{ shuffle: false }")
    assert cfg.eval_input_reader[1].label_map_path == ""
    add_value(cfg, "eval_input_reader", "label_map_path: 'c'")
    add_value(cfg, "eval_input_reader")
    assert len(cfg.eval_input_reader) == 4
    remove_value(cfg, "eval_input_reader[-1]")
    assert len(cfg.eval_input_reader) == 3


def test_set_whole_message_and_remove(zoo):
    set_value(zoo, "model.ssd.image_resizer", "fixed_shape_resizer { height: 300 width: 300 }")
    assert get_value(zoo, "model.ssd.image_resizer.fixed_shape_resizer.width") == 300
    set_value(zoo, "model.ssd.similarity_calculator.iou_similarity",
              region_similarity_calculator_pb2.IouSimilarity())
    with pytest.raises(ConfigValueError, match="expects message ImageResizer"):
        set_value(zoo, "model.ssd.image_resizer", "heigth: 3")
    with pytest.raises(ConfigValueError, match="give a ImageResizer"):
        set_value(zoo, "model.ssd.image_resizer", zoo.train_config)
    remove_value(zoo, "train_config.fine_tune_checkpoint")
    assert not zoo.train_config.HasField("fine_tune_checkpoint")
    remove_value(zoo, f"{LR}.learning_rate")
    assert get_value(zoo, f"{LR}.learning_rate") is None
    with pytest.raises(PathError, match="is not set"):
        remove_value(zoo, "model.faster_rcnn.num_classes")


def test_check_path_validates_against_schema_only():
    info = check_path(DESCRIPTOR, "model.faster_rcnn.num_classes")
    assert (info.field.name, info.type_name, info.element) == ("num_classes", "int32", False)
    assert check_path(DESCRIPTOR, RATIOS).type_name == "list of float"
    assert check_path(DESCRIPTOR, f"{AUG}[random_adjust_brightness]").type_name \
        == "message RandomAdjustBrightness"
    assert check_path(DESCRIPTOR, f"{AUG}[3].random_horizontal_flip").field.name == \
        "random_horizontal_flip"
    assert check_path(pipeline_pb2.TrainEvalPipelineConfig(), f"{LR}.learning_rate").oneof.name \
        == "learning_rate"
    with pytest.raises(PathError, match="did you mean 'max_delta'"):
        check_path(DESCRIPTOR, f"{AUG}[random_adjust_brightness].max_detla")


def test_check_value_validates_type_and_range_without_a_config():
    assert check_value(DESCRIPTOR, "train_config.num_steps", "2000") == 2000
    assert check_value(DESCRIPTOR, RATIOS, "[1, 2]") == [1.0, 2.0]
    assert check_value(DESCRIPTOR, f"{RATIOS}[0]", 0.5) == 0.5
    assert check_value(DESCRIPTOR, f"{LR}.learning_rate", "constant_learning_rate") == \
        "constant_learning_rate"
    assert check_value(DESCRIPTOR, f"{AUG}[random_adjust_hue]", {"maxDelta": 0.1}).max_delta \
        == pytest.approx(0.1)
    with pytest.raises(ConfigValueError, match="must be >= 0"):
        check_value(DESCRIPTOR, f"{COSINE}.learning_rate_base", -0.1)
    with pytest.raises(ConfigValueError, match="expects a member name, got 'use_moving_average'"):
        check_value(DESCRIPTOR, "train_config.optimizer.optimizer", "use_moving_average")
    initializer = "model.ssd.feature_extractor.conv_hyperparams.initializer.initializer_oneof"
    with pytest.raises(ConfigValueError, match="member 'keras_initializer_by_name' is string, not a "
                                               "message.*initializer.keras_initializer_by_name=VALUE"):
        check_value(DESCRIPTOR, initializer, "keras_initializer_by_name")


def test_iter_set_fields_lists_every_set_field(zoo):
    paths = {path: value for path, _, value in iter_set_fields(zoo)}
    assert paths["train_config.num_steps"] == 50000
    assert paths[RATIOS] == [1.0, 2.0, 0.5, 3.0, 0.3333]
    assert f"{AUG}[1].ssd_random_crop" in paths
    assert "train_config.gradient_clipping_by_norm" not in paths


def test_named_entry_errors_on_get_and_whole_entry_set(zoo):
    with pytest.raises(PathError, match="no random_adjust_hue entry in data_augmentation_options"):
        get_value(zoo, f"{AUG}[random_adjust_hue]")
    with pytest.raises(PathError, match="add it first"):
        set_value(zoo, f"{AUG}[random_adjust_hue]", "{ max_delta: 0.1 }")
    schedule = "train_config.optimizer.momentum_optimizer.learning_rate.manual_step_learning_rate" \
               ".schedule[first]"
    with pytest.raises(PathError, match="have no single oneof to select by name.*schedule\\[0\\]"):
        check_path(DESCRIPTOR, schedule)


def test_message_values_of_the_wrong_kind(zoo):
    with pytest.raises(ConfigValueError, match="expects message ImageResizer, got 5.*as text"):
        set_value(zoo, "model.ssd.image_resizer", 5)
    with pytest.raises(ConfigValueError, match="is a repeated message PreprocessingStep"):
        set_value(zoo, AUG, "random_horizontal_flip {}")
