"""Fixtures for tuner.config tests: real configs, a small label map and TFRecords."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from configfixtures import SHAPES, TF1, ZOO, write_label_map, write_records

from tuner.config import load


@dataclasses.dataclass(frozen=True)
class Dataset:
    train: Path
    eval: Path
    label_map: Path


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    """10 train records, 3 eval records and a 3-class label map in tmp_path."""
    return Dataset(write_records(tmp_path / "train.record", 10),
                   write_records(tmp_path / "eval.record", 3),
                   write_label_map(tmp_path / "label_map.pbtxt", ["circle", "square", "triangle"]))


@pytest.fixture
def zoo():
    return load(ZOO)


@pytest.fixture
def tf1():
    return load(TF1)


@pytest.fixture
def shapes():
    return load(SHAPES)


@pytest.fixture
def ready(shapes, dataset):
    """The demo config pointed at a small real dataset: lints clean apart from deprecations."""
    from tuner.config import point_to_dataset, set_value

    point_to_dataset(shapes, dataset.train, dataset.eval, dataset.label_map)
    set_value(shapes, "train_config.batch_size", 4)
    shapes.train_config.ClearField("max_number_of_boxes")
    return shapes
