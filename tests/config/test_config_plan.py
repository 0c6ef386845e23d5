"""The edit CLI's library side: the warmup edit, dataset directories and an ordered edit plan."""
from __future__ import annotations

from pathlib import Path

import pytest
from configfixtures import COSINE, write_label_map, write_records

from tuner.config import (ConfigFileError, ConfigValueError, Dataset, EditPlan, apply_plan, dataset_files,
                          get_value, loads, set_num_steps, set_warmup_fraction)
from tuner.config import edits
from tuner.data import shapes as shapes_data

EXPONENTIAL = "train_config.optimizer.momentum_optimizer.learning_rate.exponential_decay_learning_rate"


def test_set_warmup_fraction(zoo):
    set_warmup_fraction(zoo, 0.1)
    assert get_value(zoo, f"{COSINE}.warmup_steps") == 5000
    set_warmup_fraction(zoo, 0)
    assert get_value(zoo, f"{COSINE}.warmup_steps") == 0


def test_set_warmup_fraction_lowers_a_warmup_rate_above_the_base():
    cfg = loads("train_config { optimizer { momentum_optimizer { learning_rate { cosine_decay_learning_rate { "
                "learning_rate_base: 0.3 total_steps: 100 warmup_learning_rate: 0.6 } } } } }")
    set_warmup_fraction(cfg, 0.2)
    assert get_value(cfg, "train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
                          ".warmup_learning_rate") == pytest.approx(0.1)


def test_set_warmup_fraction_errors(zoo, tf1):
    for bad in (-0.1, 1.0, "0.1", True):
        with pytest.raises(ConfigValueError, match=r"warmup_fraction must be in \[0, 1\)"):
            set_warmup_fraction(zoo, bad)
    with pytest.raises(ConfigValueError, match="applies to cosine_decay_learning_rate only") as info:
        set_warmup_fraction(tf1, 0.1)
    assert "python -m tuner.config edit CONFIG --schedule cosine" in str(info.value)


def test_set_num_steps_from_the_schedule_length(zoo):
    set_num_steps(zoo, 1000, schedule_length=50000)  # num_steps is already 50000: same as without it
    assert get_value(zoo, f"{COSINE}.warmup_steps") == 40
    zoo.train_config.num_steps = 1000  # total_steps 1000, warmup 40 were made for 1000 steps ...
    set_num_steps(zoo, 2000, schedule_length=500)  # ... but say they were made for 500: warmup x4
    assert (get_value(zoo, f"{COSINE}.total_steps"), get_value(zoo, f"{COSINE}.warmup_steps")) == (2000, 160)


def test_dataset_layout_matches_the_shapes_generator():
    assert (edits.TRAIN_RECORD, edits.EVAL_RECORD, edits.LABEL_MAP) == \
        (shapes_data.TRAIN_RECORD, shapes_data.EVAL_RECORD, shapes_data.LABEL_MAP)


def test_dataset_files(tmp_path: Path, monkeypatch):
    write_records(tmp_path / "train.record", 2)
    write_records(tmp_path / "eval.record", 1)
    write_label_map(tmp_path / "label_map.pbtxt", ["a"])
    expected = (str(tmp_path / "train.record"), str(tmp_path / "eval.record"), str(tmp_path / "label_map.pbtxt"))
    assert dataset_files(tmp_path) == expected
    monkeypatch.chdir(tmp_path.parent)
    assert dataset_files(tmp_path.name) == expected  # absolute paths


def test_dataset_files_with_shards(tmp_path: Path):
    for i in range(2):
        write_records(tmp_path / f"train.record-{i:05d}-of-00002", 1)
    write_records(tmp_path / "eval.record", 1)
    write_label_map(tmp_path / "label_map.pbtxt", ["a"])
    assert dataset_files(tmp_path)[0] == str(tmp_path / "train.record-*")


def test_dataset_files_errors(tmp_path: Path):
    write_records(tmp_path / "eval.record", 1)
    with pytest.raises(ConfigFileError, match=r"has no train.record, label_map.pbtxt \(fix: "):
        dataset_files(tmp_path)
    with pytest.raises(ConfigFileError, match="dataset directory not found"):
        dataset_files(tmp_path / "nowhere")
    with pytest.raises(ConfigFileError, match=r"dataset directory gs://bucket/data is remote \(gs://\)"):
        dataset_files("gs://bucket/data")


def test_plan_applies_in_its_own_order(zoo, dataset):
    plan = EditPlan(learning_rate=0.4, schedule="exponential", num_steps=1000, l2_weight=1e-5, batch_size=8,
                    dataset=Dataset(str(dataset.train), str(dataset.eval), str(dataset.label_map)))
    apply_plan(zoo, plan)
    # num_steps first (the cosine warmup 2000/50000 -> 40), then the switch carries it as burn-in, then the rate
    assert zoo.train_config.num_steps == 1000
    assert get_value(zoo, f"{EXPONENTIAL}.burnin_steps") == 40
    assert get_value(zoo, f"{EXPONENTIAL}.decay_steps") == 200
    assert get_value(zoo, f"{EXPONENTIAL}.initial_learning_rate") == pytest.approx(0.4)
    assert zoo.train_config.batch_size == 8 and zoo.model.ssd.num_classes == 3
    assert zoo.model.ssd.feature_extractor.conv_hyperparams.regularizer.l2_regularizer.weight == pytest.approx(1e-5)


def test_plan_manual_and_errors(zoo):
    apply_plan(zoo, EditPlan(schedule="manual"))
    assert zoo.train_config.optimizer.momentum_optimizer.learning_rate.WhichOneof("learning_rate") == \
        "manual_step_learning_rate"
    assert EditPlan().is_empty() and not EditPlan(batch_size=1).is_empty()
    with pytest.raises(ConfigValueError, match="edits nothing"):
        apply_plan(zoo, EditPlan())
    with pytest.raises(ConfigValueError, match="batch_size is a size or count"):
        apply_plan(zoo, EditPlan(batch_size=0))
