"""diff(base, variant) as typed records and as text."""
from __future__ import annotations

import pytest
from configfixtures import AUG, COSINE, RATIOS, TF1, TF1_ONELINE, ZOO

from tuner.config import (Change, add_value, diff, format_diff, load, loads, remove_value,
                          set_base_learning_rate, set_schedule_type, set_value)
from tuner.config.diff import MessageText, short_labels


def test_identical_configs_have_no_diff(zoo):
    assert diff(zoo, load(ZOO)) == []
    assert diff(load(TF1), load(TF1_ONELINE)) == []
    assert format_diff([]) == ""


def test_scalar_changes_are_typed_records(zoo):
    base = type(zoo)()
    base.CopyFrom(zoo)
    set_base_learning_rate(zoo, 0.4)
    set_value(zoo, "model.ssd.feature_extractor.conv_hyperparams.activation", "RELU")
    set_value(zoo, "train_config.sync_replicas", False)
    changes = diff(base, zoo)
    assert Change(f"{COSINE}.learning_rate_base", 0.8, 0.4) in changes
    assert Change(f"{COSINE}.warmup_learning_rate", 0.13333, 0.066665) in changes
    assert Change("model.ssd.feature_extractor.conv_hyperparams.activation", "RELU_6", "RELU") \
        in changes
    assert Change("train_config.sync_replicas", True, False) in changes
    assert len(changes) == 4


def test_set_unset_lists_and_messages(zoo):
    base = type(zoo)()
    base.CopyFrom(zoo)
    set_value(zoo, RATIOS, [1.0, 2.0])
    set_value(zoo, "train_config.gradient_clipping_by_norm", 10.0)
    remove_value(zoo, "train_config.fine_tune_checkpoint")
    set_schedule_type(zoo, "constant")
    changes = {c.path: c for c in diff(base, zoo)}
    assert changes[RATIOS] == Change(RATIOS, [1.0, 2.0, 0.5, 3.0, 0.3333], [1.0, 2.0])
    assert changes["train_config.gradient_clipping_by_norm"].old is None
    assert changes["train_config.fine_tune_checkpoint"].new is None
    removed = changes[COSINE]
    assert isinstance(removed.old, MessageText) and removed.new is None
    assert "learning_rate_base: 0.8" in removed.old
    added = changes["train_config.optimizer.momentum_optimizer.learning_rate.constant_learning_rate"]
    assert added.old is None and added.new == "{ learning_rate: 0.8 }"


def test_augmentations_are_aligned_by_name(zoo):
    base = type(zoo)()
    base.CopyFrom(zoo)
    remove_value(zoo, f"{AUG}[random_horizontal_flip]")
    add_value(zoo, f"{AUG}[random_adjust_brightness]", "{ max_delta: 0.2 }")
    set_value(zoo, f"{AUG}[ssd_random_crop]", "{ operations { min_object_covered: 0.5 } }")
    text = format_diff(diff(base, zoo))
    assert f"{AUG}[random_horizontal_flip]: {{ }} -> <unset>" in text
    assert f"{AUG}[random_adjust_brightness]: <unset> -> {{ max_delta: 0.2 }}" in text
    assert f"{AUG}[ssd_random_crop].operations[0]: <unset> -> {{ min_object_covered: 0.5 }}" in text


def test_reordered_augmentations_are_reported(zoo):
    base = type(zoo)()
    base.CopyFrom(zoo)
    zoo.train_config.data_augmentation_options[0].ssd_random_crop.SetInParent()
    zoo.train_config.data_augmentation_options[1].random_horizontal_flip.SetInParent()
    (change,) = diff(base, zoo)
    assert change == Change(AUG, ["random_horizontal_flip", "ssd_random_crop"],
                            ["ssd_random_crop", "random_horizontal_flip"])


def test_repeated_messages_without_names_align_by_index():
    a = loads("eval_input_reader { label_map_path: 'a' }")
    b = loads("eval_input_reader { label_map_path: 'b' } eval_input_reader { shuffle: false }")
    assert format_diff(diff(a, b)) == ("eval_input_reader[0].label_map_path: 'a' -> 'b'\n"
                                       "eval_input_reader[1]: <unset> -> { shuffle: false }")
    assert str(diff(b, a)[1]) == "eval_input_reader[1]: { shuffle: false } -> <unset>"


def test_diff_text_formats_values(zoo):
    base = type(zoo)()
    base.CopyFrom(zoo)
    set_value(zoo, "train_config.num_steps", 1000)
    set_value(zoo, "train_config.use_bfloat16", True)
    assert format_diff(diff(base, zoo)) == ("train_config.num_steps: 50000 -> 1000\n"
                                            "train_config.use_bfloat16: <unset> -> true")


def test_diff_of_different_types_is_a_type_error(zoo):
    with pytest.raises(TypeError, match="cannot diff"):
        diff(zoo, zoo.train_config)


L2_WEIGHT = "model.ssd.{}.conv_hyperparams.regularizer.l2_regularizer.weight"


def test_short_labels_are_the_shortest_unambiguous_tails():
    fe, bp = L2_WEIGHT.format("feature_extractor"), L2_WEIGHT.format("box_predictor.convolutional_box_predictor")
    brightness = "train_config.data_augmentation_options[random_adjust_brightness].max_delta"
    contrast = "train_config.data_augmentation_options[random_adjust_contrast].max_delta"
    scale = "model.ssd.anchor_generator.ssd_anchor_generator.min_scale"
    assert short_labels([fe, bp, brightness, contrast, scale, fe]) == {
        fe: "feature_extractor...weight", bp: "convolutional_box_predictor...weight",
        brightness: "random_adjust_brightness.max_delta", contrast: "random_adjust_contrast.max_delta",
        scale: "min_scale"}
    assert short_labels([fe]) == {fe: "weight"}  # alone: its name says it
    assert short_labels([]) == {}


def test_short_labels_handle_indexes_nested_tails_and_abbreviations_that_meet():
    assert short_labels(["a.x[0].c", "b.x[1].c"]) == {"a.x[0].c": "x[0].c", "b.x[1].c": "x[1].c"}
    assert short_labels(["a.b", "x.a.b"]) == {"a.b": "a.b", "x.a.b": "x...b"}  # a whole path inside another
    # m.b.c and m.x.a.c would both abbreviate to m...c: both are spelled out instead
    labels = short_labels(["m.x.a.c", "n.x.a.c", "m.b.c", "z.b.c"])
    assert labels == {"m.x.a.c": "m.x.a.c", "n.x.a.c": "n...c", "m.b.c": "m.b.c", "z.b.c": "z...c"}
    assert len(set(labels.values())) == len(labels)
