"""Shared paths and helpers for tuner.config tests (imported by conftest.py and the tests).

Named uniquely (not ``conftest``) so ``from configfixtures import ...`` cannot pick up another
directory's conftest module.
"""
from __future__ import annotations

from pathlib import Path

from tensorboard.summary.writer.record_writer import RecordWriter

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "pipelines" / "ssd_mobilenet_v2.config"
SHAPES = ROOT / "pipelines" / "ssd_mobilenet_v2_shapes.config"
TF1 = ROOT / "tests" / "data" / "ssd_mobilenet_v1_tf1.config"
TF1_ONELINE = ROOT / "tests" / "data" / "ssd_mobilenet_v1_tf1_oneline.config"
ALL_CONFIGS = (sorted((ROOT / "pipelines").glob("*.config"))
               + sorted((ROOT / "tests" / "data").glob("*.config")))
LR = "train_config.optimizer.momentum_optimizer.learning_rate"
COSINE = f"{LR}.cosine_decay_learning_rate"
AUG = "train_config.data_augmentation_options"
RATIOS = "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"


def write_records(path: Path, count: int, size: int = 10) -> Path:
    """Write ``count`` records of ``size`` bytes with real TFRecord framing (crc included)."""
    with open(path, "wb") as handle:
        writer = RecordWriter(handle)
        for i in range(count):
            writer.write(bytes([i % 256]) * size)
        writer.flush()
    return path


def write_label_map(path: Path, names: list[str]) -> Path:
    """Write a text-format label map with ids 1..len(names)."""
    items = "".join(f'item {{\n  id: {i}\n  name: "{n}"\n}}\n' for i, n in enumerate(names, 1))
    path.write_text(items, encoding="utf-8")
    return path
