"""Fixtures of the tests of tuner.odapi (the real OD API)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture()
def parts(odapi, make_config, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory of fresh (model, dataset, optimizer, global step, train config, probe) of the demo
    SSD on the tiny dataset, the dataset recorded by a TrainInputProbe as train_loop's is."""
    import tuner.odapi  # noqa: F401  (compat shims)
    import tensorflow as tf
    from object_detection import inputs, model_lib_v2
    from object_detection.builders import optimizer_builder
    from object_detection.utils import config_util

    from tuner.odapi.prebuild import TrainInputProbe

    path = tmp_path / "pipeline.config"
    path.write_text(make_config(10, batch_size=2))
    configs = config_util.get_configs_from_pipeline_file(str(path))

    def make() -> tuple[Any, ...]:
        tf.keras.backend.clear_session()
        model = model_lib_v2.MODEL_BUILD_UTIL_MAP["detection_model_fn_base"](model_config=configs["model"],
                                                                             is_training=True)
        with TrainInputProbe() as probe:
            dataset = inputs.train_input(train_config=configs["train_config"],
                                         train_input_config=configs["train_input_config"],
                                         model_config=configs["model"], model=model)
        step = tf.Variable(0, trainable=False, dtype=tf.int64)
        optimizer, _ = optimizer_builder.build(configs["train_config"].optimizer, global_step=step)
        return model, dataset, optimizer, step, configs["train_config"], probe

    return make
