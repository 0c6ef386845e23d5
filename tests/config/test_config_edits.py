"""L2 weights, dataset pointing, label maps and record counting."""
from __future__ import annotations

from pathlib import Path

import pytest
from configfixtures import write_label_map, write_records

from tuner.config import (ConfigFileError, ConfigSyntaxError, ConfigValueError, count_records,
                          expand_input_paths, get_value, hyperparams_paths, label_map_num_classes,
                          load_label_map, loads, loads_label_map, point_to_dataset, set_l2_weight)

FE_L2 = "model.ssd.feature_extractor.conv_hyperparams.regularizer.l2_regularizer.weight"
BP_L2 = ("model.ssd.box_predictor.convolutional_box_predictor.conv_hyperparams.regularizer"
         ".l2_regularizer.weight")


def test_set_l2_weight_sets_feature_extractor_and_box_predictor(zoo):
    assert set(set_l2_weight(zoo, 1e-3)) == {FE_L2, BP_L2}
    assert get_value(zoo, FE_L2) == 1e-3 and get_value(zoo, BP_L2) == 1e-3
    assert len(hyperparams_paths(zoo)) == 2


def test_set_l2_weight_leaves_l1_alone_and_validates():
    cfg = loads("model { ssd { feature_extractor { conv_hyperparams { regularizer { "
                "l1_regularizer { weight: 0.1 } } } } } }")
    with pytest.raises(ConfigValueError, match="no l2_regularizer to set"):
        set_l2_weight(cfg, 1e-4)
    assert cfg.model.ssd.feature_extractor.conv_hyperparams.regularizer.l1_regularizer.weight \
        == pytest.approx(0.1)
    for bad in (-1e-4, float("nan"), "1e-4", None):
        with pytest.raises(ConfigValueError, match="L2 weight must be a finite number >= 0"):
            set_l2_weight(cfg, bad)


def test_point_to_dataset(shapes, dataset):
    assert point_to_dataset(shapes, dataset.train, dataset.eval, dataset.label_map) == 3
    assert shapes.model.ssd.num_classes == 3
    assert list(shapes.train_input_reader.tf_record_input_reader.input_path) == [str(dataset.train)]
    assert list(shapes.eval_input_reader[0].tf_record_input_reader.input_path) == [str(dataset.eval)]
    assert shapes.train_input_reader.label_map_path == str(dataset.label_map)
    assert shapes.eval_input_reader[0].label_map_path == str(dataset.label_map)
    assert shapes.eval_input_reader[0].shuffle is False  # other reader settings kept


def test_point_to_dataset_with_shard_lists_and_missing_eval_reader(dataset):
    cfg = loads("model { faster_rcnn { num_classes: 1 } }")
    point_to_dataset(cfg, [dataset.train, "more-*.record"], str(dataset.eval), dataset.label_map)
    assert cfg.model.faster_rcnn.num_classes == 3
    assert list(cfg.train_input_reader.tf_record_input_reader.input_path)[1] == "more-*.record"
    assert len(cfg.eval_input_reader) == 1


def test_point_to_dataset_errors(zoo, dataset, tmp_path: Path):
    with pytest.raises(ConfigFileError, match="label map file not found"):
        point_to_dataset(zoo, dataset.train, dataset.eval, tmp_path / "nope.pbtxt")
    with pytest.raises(ConfigValueError, match="record paths must be non-empty"):
        point_to_dataset(zoo, [], dataset.eval, dataset.label_map)
    with pytest.raises(ConfigValueError, match="model \\(none\\) has no num_classes"):
        point_to_dataset(loads(""), dataset.train, dataset.eval, dataset.label_map)


def test_label_maps(tmp_path: Path):
    path = write_label_map(tmp_path / "lm.pbtxt", ["a", "b"])
    assert label_map_num_classes(load_label_map(path)) == 2
    gaps = loads_label_map("item { id: 1 name: 'a' } item { id: 5 name: 'e' }")
    assert label_map_num_classes(gaps) == 5
    with pytest.raises(ConfigValueError, match="has no items"):
        label_map_num_classes(loads_label_map(""))
    with pytest.raises(ConfigValueError, match="uses id 0; ids must be >= 1"):
        label_map_num_classes(loads_label_map("item { id: 0 name: 'bg' }"))
    with pytest.raises(ConfigValueError, match="repeats id 2"):
        label_map_num_classes(loads_label_map("item { id: 2 } item { id: 2 }"))
    bad = tmp_path / "bad.pbtxt"
    bad.write_text("item {\n  idd: 1\n}\n")
    with pytest.raises(ConfigSyntaxError, match=r"bad.pbtxt:2:3: .*idd.*did you mean 'id'"):
        load_label_map(bad)


def test_count_records(tmp_path: Path):
    assert count_records(write_records(tmp_path / "a.record", 7)) == 7
    assert count_records(write_records(tmp_path / "empty.record", 0)) == 0
    truncated = tmp_path / "cut.record"
    truncated.write_bytes((tmp_path / "a.record").read_bytes()[:-3])
    with pytest.raises(ConfigFileError, match="not a valid TFRecord file: record 6 .* claims"):
        count_records(truncated)
    (tmp_path / "tiny.record").write_bytes(b"\x01\x02")
    with pytest.raises(ConfigFileError, match="truncated record header at byte 0"):
        count_records(tmp_path / "tiny.record")
    with pytest.raises(ConfigFileError, match="cannot read TFRecord file"):
        count_records(tmp_path / "missing.record")


def test_expand_input_paths(tmp_path: Path):
    for i in range(3):
        write_records(tmp_path / f"train-{i:05d}-of-00003.record", 1)
    assert len(expand_input_paths("train-?????-of-00003.record", base_dir=tmp_path)) == 3
    assert expand_input_paths(str(tmp_path / "train-00000-of-00003.record")) == \
        [str(tmp_path / "train-00000-of-00003.record")]
    assert expand_input_paths("nothing-*.record", base_dir=tmp_path) == []
