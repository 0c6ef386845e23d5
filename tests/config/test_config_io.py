"""Loading, syntax errors, deterministic write-back and round trips."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from configfixtures import ALL_CONFIGS, SHAPES, TF1, TF1_ONELINE, ZOO
from object_detection.protos import pipeline_pb2

from tuner.config import (ConfigFileError, ConfigSyntaxError, dumps, get_value, load, loads, save,
                          set_value)


def test_loads_tf2_zoo_config(zoo):
    assert isinstance(zoo, pipeline_pb2.TrainEvalPipelineConfig)
    assert zoo.model.ssd.feature_extractor.type == "ssd_mobilenet_v2_keras"
    assert zoo.model.ssd.num_classes == 90
    assert get_value(zoo, "model.ssd.image_resizer.fixed_shape_resizer.height") == 320
    cosine = zoo.train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate
    assert (get_value(zoo, "train_config.optimizer.momentum_optimizer.learning_rate."
                           "cosine_decay_learning_rate.learning_rate_base"), cosine.total_steps,
            cosine.warmup_steps) == (0.8, 50000, 2000)
    assert zoo.train_config.batch_size == 512
    assert zoo.train_config.fine_tune_checkpoint_type == "classification"
    assert [a.WhichOneof("preprocessing_step") for a in zoo.train_config.data_augmentation_options] \
        == ["random_horizontal_flip", "ssd_random_crop"]
    focal = zoo.model.ssd.loss.classification_loss.weighted_sigmoid_focal
    assert (focal.gamma, focal.alpha) == (2.0, 0.75)


def test_loads_tf1_config(tf1):
    rms = tf1.train_config.optimizer.rms_prop_optimizer
    assert rms.learning_rate.WhichOneof("learning_rate") == "exponential_decay_learning_rate"
    assert rms.learning_rate.exponential_decay_learning_rate.decay_steps == 800720
    assert tf1.model.ssd.loss.hard_example_miner.num_hard_examples == 3000
    assert tf1.train_config.from_detection_checkpoint is True


def test_one_line_config_equals_multi_line():
    assert TF1_ONELINE.read_text().count("\n") == 1
    assert load(TF1_ONELINE) == load(TF1)


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.name)
def test_round_trip_load_save_load_is_identical(path: Path, tmp_path: Path):
    cfg = load(path)
    out = tmp_path / "out.config"
    save(cfg, out)
    again = load(out)
    assert again == cfg
    assert dumps(again) == dumps(cfg) == out.read_text()


def test_pipelines_holds_both_zoo_and_demo_configs():
    names = {p.name for p in ALL_CONFIGS}
    assert {ZOO.name, SHAPES.name, TF1.name, TF1_ONELINE.name} <= names


def test_unknown_field_reports_file_line_column_token_and_suggestion(tmp_path: Path):
    bad = tmp_path / "bad.config"
    bad.write_text("train_config {\n  batch_size: 4\n  num_step: 5\n}\n")
    with pytest.raises(ConfigSyntaxError) as info:
        load(bad)
    err = info.value
    assert (err.source, err.line, err.column, err.token) == (str(bad), 3, 3, "num_step")
    text = str(err)
    assert text.startswith(f"{bad}:3:3: ")
    assert "'num_step'" in text and "did you mean 'num_steps'" in text


def test_bad_value_points_at_the_value_token():
    with pytest.raises(ConfigSyntaxError) as info:
        loads("train_config {\n  num_steps: 5 batch_size: abc\n}\n", source="x.config")
    assert (info.value.line, info.value.column, info.value.token) == (2, 28, "abc")
    assert str(info.value).startswith("x.config:2:28: ")
    assert "'abc'" in str(info.value)


def test_bad_enum_suggests_valid_values():
    text = "model { ssd { feature_extractor { conv_hyperparams { activation: RELU7 } } } }"
    with pytest.raises(ConfigSyntaxError) as info:
        loads(text)
    assert info.value.token == "RELU7"
    assert "RELU_6" in str(info.value)


def test_unexpected_end_of_input():
    with pytest.raises(ConfigSyntaxError) as info:
        loads("train_config {\n  num_steps: 5\n")
    assert info.value.token == ""
    assert "(at end of input)" in str(info.value)
    assert "Expected" in info.value.detail


def test_error_column_on_one_line_config():
    text = TF1_ONELINE.read_text().replace("num_steps: 200000", "num_steps: many")
    with pytest.raises(ConfigSyntaxError) as info:
        loads(text, source="one.config")
    assert info.value.line == 1
    assert text[info.value.column - 1:].startswith("many")
    assert info.value.token == "many"


def test_missing_file_is_a_config_file_error(tmp_path: Path):
    with pytest.raises(ConfigFileError, match="not found: .*nope.config"):
        load(tmp_path / "nope.config")


def test_unreadable_file_is_a_config_file_error(tmp_path: Path):
    binary = tmp_path / "binary.config"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigFileError, match="cannot read config file .*binary.config"):
        load(binary)
    with pytest.raises(ConfigFileError, match="cannot read config file"):
        load(tmp_path)  # a directory


def test_dumps_is_deterministic_and_canonical(zoo):
    assert dumps(zoo) == dumps(load(ZOO))
    assert "learning_rate_base: 0.8\n" in dumps(zoo)  # float32 written as shortest decimal


def test_save_is_atomic_and_leaves_no_temp_files(zoo, tmp_path: Path):
    target = tmp_path / "variant.config"
    target.write_text("old content")
    set_value(zoo, "train_config.batch_size", 8)
    save(zoo, target)
    assert load(target).train_config.batch_size == 8
    assert os.listdir(tmp_path) == ["variant.config"]


def test_save_into_missing_directory_fails_cleanly(zoo, tmp_path: Path):
    with pytest.raises(ConfigFileError, match="cannot write"):
        save(zoo, tmp_path / "missing" / "x.config")
