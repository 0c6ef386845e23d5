"""Fixtures of the anchor tests: a config on generated data its anchors cover badly."""
from __future__ import annotations

from pathlib import Path

import pytest

from tuner import config as cfgmod
from tuner.data import shapes
from tuner.paths import PIPELINES_DIR

SHAPES_CONFIG = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"


@pytest.fixture(scope="session")
def bars(tmp_path_factory) -> Path:
    """A config on generated data the base anchors cover badly: small objects and thin 1:6 bars."""
    root = tmp_path_factory.mktemp("bars")
    data = shapes.generate(root / "data", shapes.DatasetSpec(train=96, eval=8, seed=11, min_object=0.06,
                                                             max_object=0.4, classes=("rod", "stick", "circle")))
    cfg = cfgmod.load(SHAPES_CONFIG)
    cfgmod.point_to_dataset(cfg, data.train_record, data.eval_record, data.label_map)
    cfgmod.save(cfg, root / "bars.config")
    return root / "bars.config"


