"""tuner.odapi.freeze: the variable filter, its seam in the OD API, and one real fine-tuning run."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHAPES = REPO / "pipelines" / "ssd_mobilenet_v2_shapes.config"


@pytest.fixture(scope="module")
def tf(odapi):  # type: ignore[no-untyped-def]
    import tuner.odapi  # noqa: F401  (compat shims)
    import tensorflow

    return tensorflow


def _variables(tf, *names: str) -> list:  # type: ignore[no-untyped-def]
    return [tf.Variable(0.0, name=name) for name in names]


# -- select / check_patterns: the TF1 model_lib rule ----------------------------------------
def test_include_then_exclude_with_search_semantics(tf) -> None:
    from tuner.odapi.freeze import select

    variables = _variables(tf, "Conv1/kernel", "block_1_expand/kernel", "fe/FeatureMaps/conv/kernel",
                           "BoxPredictor/ClassHead/bias")
    names = lambda vs: [v.name for v in vs]  # noqa: E731
    # freeze only: everything else trains, in model order
    assert names(select(variables, [], [r"^(Conv1|block_\d+_expand)/"])) == \
        ["fe/FeatureMaps/conv/kernel:0", "BoxPredictor/ClassHead/bias:0"]
    # include first, then exclude within it (update_trainable_variables, then freeze_variables)
    assert names(select(variables, ["kernel"], ["^Conv1/"])) == \
        ["block_1_expand/kernel:0", "fe/FeatureMaps/conv/kernel:0"]
    # searched, not anchored: a pattern matches anywhere in the name (":0" included)
    assert names(select(variables, ["FeatureMaps", "bias:0$"], [])) == \
        ["fe/FeatureMaps/conv/kernel:0", "BoxPredictor/ClassHead/bias:0"]


def test_a_pattern_matching_nothing_or_freezing_everything_is_a_config_error(tf) -> None:
    from tuner.odapi.freeze import FreezeError, check_patterns, select

    variables = _variables(tf, "Conv1/kernel", "BoxPredictor/bias")
    with pytest.raises(FreezeError, match=r"freeze_variables\[1\] '\^conv1/' matches none of the model's 2 trainable "
                                          r"variables \(e.g. 'Conv1/kernel:0', 'BoxPredictor/bias:0'\)") as info:
        select(variables, [], ["^Box", "^conv1/"])  # a typo (case) in the second pattern
    assert info.value.path == "train_config.freeze_variables[1]"
    with pytest.raises(FreezeError, match=r"update_trainable_variables\[0\] 'Head' matches none"):
        select(variables, ["Head"], [])
    with pytest.raises(FreezeError, match="leave none of the model's 2 trainable variables to train"):
        select(variables, ["Conv1"], ["kernel"])
    with pytest.raises(FreezeError, match=r"freeze_variables\[0\] '\(unclosed' is not a valid regex"):
        check_patterns([], ["(unclosed"])
    assert isinstance(FreezeError("x"), ValueError)  # one of protocol.CONFIG_ERRORS, like the builders' errors


# -- TrainableFilter: the seam in model_lib_v2 ------------------------------------------------
@pytest.fixture(scope="module")
def model(tf):  # type: ignore[no-untyped-def]
    """The demo SSD MobileNetV2, built and run once on a dummy batch so its variables exist."""
    from object_detection.builders import model_builder

    from tuner import config as cfgmod

    detection_model = model_builder.build(cfgmod.load(SHAPES).model, is_training=True)
    images, shapes = detection_model.preprocess(tf.zeros([1, 128, 128, 3]))
    detection_model.predict(images, shapes)
    return detection_model


def test_the_filter_narrows_what_the_train_step_reads_only_while_installed(model) -> None:
    """model_lib_v2.eager_train_step differentiates ``detection_model.trainable_variables``."""
    from object_detection.core.model import DetectionModel

    from tuner.odapi.freeze import TrainableFilter

    names = lambda vs: [v.name for v in vs]  # noqa: E731
    everything = names(model.trainable_variables)
    lines: list[str] = []
    with TrainableFilter([], ["^BoxPredictor/"], log=lines.append) as trainable:
        kept = names(model.trainable_variables)
        assert names(model.trainable_variables) == kept  # logged once, not on every read
    heads = [n for n in everything if n.startswith("BoxPredictor/")]
    assert kept == [n for n in everything if n not in heads] and heads
    assert lines == [f"FREEZE: training {len(kept)} of {len(everything)} trainable variables, {len(heads)} frozen "
                     "(update_trainable_variables: all; freeze_variables: ['^BoxPredictor/'])"]
    assert trainable.selection is not None and len(trainable.selection.frozen) == len(heads)
    assert "trainable_variables" not in DetectionModel.__dict__  # restored
    assert names(model.trainable_variables) == everything
    with TrainableFilter([], []):  # nothing set: nothing installed
        assert "trainable_variables" not in DetectionModel.__dict__


def test_an_error_found_while_tracing_comes_out_unwrapped(model, tf) -> None:
    """TF wraps exceptions raised while tracing (StagingError); the filter re-raises its own."""
    from tuner.odapi.freeze import FreezeError, TrainableFilter

    @tf.function
    def step() -> object:
        return len(model.trainable_variables)

    with pytest.raises(FreezeError, match=r"^train_config.freeze_variables\[0\] '\^nothing/' matches none"):
        with TrainableFilter([], ["^nothing/"], log=lambda _: None):
            step()


# -- integration: a real fine-tuning run with the backbone frozen ------------------------------
VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"
BACKBONE = "model/_feature_extractor/classification_backbone/"
FEATURE_MAPS = "model/_feature_extractor/feature_map_generator/"
HEADS = "model/_box_predictor/"


def test_frozen_backbone_keeps_the_fine_tune_checkpoint_bit_for_bit(tmp_path, make_config, trained_trial, tf) -> None:
    """``freeze: backbone`` through our trainer: the backbone stays exactly as restored, the rest trains.

    The source is the shared trained trial's last checkpoint, restored as a "detection"
    checkpoint (backbone and feature-map layers; the box predictor starts fresh). freeze_batchnorm
    is set so the backbone's batch-norm moving statistics (not trainable variables, so not covered
    by freeze_variables) stay put too, and *every* backbone variable can be compared.
    """
    from tuner import config as cfgmod
    from tuner import space as spacemod

    trial, _, outcome = trained_trial
    source = tf.train.latest_checkpoint(str(trial.model_dir))
    assert source, outcome.reason

    def fine_tune(cfg) -> None:  # type: ignore[no-untyped-def]
        cfg.train_config.fine_tune_checkpoint = source
        cfg.train_config.fine_tune_checkpoint_type = "detection"
        cfgmod.set_value(cfg, "train_config.fine_tune_checkpoint_version", "V2")  # model_lib_v2 refuses V1, the default
        cfg.model.ssd.freeze_batchnorm = True
        space = spacemod.parse_space({"params": {"freeze": {"knob": "freeze", "choices": ["none", "backbone"]}}})
        spacemod.validate(space, cfg)
        spacemod.apply(space, cfg, {"freeze": "backbone"})

    config = tmp_path / "pipeline.config"
    config.write_text(make_config(10, batch_size=2, edit=fine_tune))
    model_dir = tmp_path / "model"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "tuner.odapi.train", "--config", str(config), "--model-dir",
                           str(model_dir), "--steps", "10", "--checkpoint-every", "10"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    logged = re.search(r"FREEZE: training (\d+) of (\d+) trainable variables, (\d+) frozen", proc.stdout + proc.stderr)
    assert logged, (proc.stdout + proc.stderr)[-3000:]

    src, start, end = (tf.train.load_checkpoint(p) for p in (source, str(model_dir / "ckpt-1"),
                                                             tf.train.latest_checkpoint(str(model_dir))))
    assert end.get_tensor("step" + VALUE) == 10 and start.get_tensor("step" + VALUE) == 0
    keys = [k for k in end.get_variable_to_shape_map() if k.endswith(VALUE) and ".OPTIMIZER_SLOT" not in k]
    same = lambda a, b, k: a.get_tensor(k).tobytes() == b.get_tensor(k).tobytes()  # noqa: E731
    backbone = [k for k in keys if k.startswith(BACKBONE)]
    trainable_backbone = [k for k in backbone if "/moving_" not in k]
    # The regex froze exactly the backbone: as many variables as the checkpoint's backbone holds.
    assert int(logged.group(3)) == len(trainable_backbone) > 100
    assert [k for k in backbone if not same(src, end, k)] == []
    # The optimizer never touched a backbone variable: no slot (momentum) for any of them.
    slots = [k for k in end.get_variable_to_shape_map() if ".OPTIMIZER_SLOT" in k]
    assert not [k for k in slots if k.startswith(BACKBONE)] and [k for k in slots if k.startswith(HEADS)]
    # The feature-map layers were restored from the source too, and did train (every kernel moved;
    # a batch-norm gamma of the 1x1 top map can get a zero gradient in 10 steps).
    maps = [k for k in keys if k.startswith(FEATURE_MAPS)]
    assert maps and all(same(src, start, k) for k in maps)
    assert all(not same(src, end, k) for k in maps if "/kernel/" in k)
    # The box-predictor heads differ from the source and trained during these 10 steps (kernels: a
    # head whose anchors matched nothing yet keeps its zero-initialised bias).
    heads = [k for k in keys if k.startswith(HEADS) and "/kernel/" in k]
    assert heads and all(not same(src, end, k) and not same(start, end, k) for k in heads)
