"""tuner.odapi.tracing: the OD API's steps traced without autograph, with autograph as the
fallback; the demo SSD's losses the same either way (real OD API)."""
from __future__ import annotations

from typing import Any

import pytest

tf = pytest.importorskip("tensorflow")


def _autograph_on() -> bool:
    from tensorflow.python.autograph.core import ag_ctx

    return ag_ctx.control_status_ctx().status == ag_ctx.Status.ENABLED


def test_a_plain_function_is_traced_without_autograph(capsys) -> None:
    from tuner.odapi.tracing import plain_function

    seen: list[bool] = []

    @plain_function
    def double(x: Any) -> Any:
        seen.append(_autograph_on())
        return 2 * x

    assert float(double(tf.constant(3.0))) == 6.0
    assert seen == [False]
    assert "TRACE:" not in capsys.readouterr().out
    seen_tf: list[bool] = []

    @tf.function
    def control(x: Any) -> Any:  # the control: tf.function converts it
        seen_tf.append(_autograph_on())
        return x

    control(tf.constant(1.0))
    assert seen_tf == [True]


def test_a_step_that_needs_autograph_is_traced_with_it_once(capsys) -> None:
    from tuner.odapi.tracing import plain_function

    @plain_function(reduce_retracing=True)
    def relu(x: Any) -> Any:
        if x > 0:  # a Python if on a tensor: only autograph makes it a tf.cond
            return x
        return tf.zeros_like(x)

    assert float(relu(tf.constant(2.0))) == 2.0
    assert float(relu(tf.constant(-2.0))) == 0.0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("TRACE:")]
    assert len(lines) == 1 and "relu traced with autograph" in lines[0] and "Error" in lines[0]


def test_the_od_api_loop_of_several_steps_per_call_falls_back(capsys) -> None:
    """model_lib_v2's ``for _ in tf.range(n - 1)`` (num_steps_per_iteration > 1)."""
    from tuner.odapi.tracing import plain_function

    total = tf.Variable(0.0)

    @plain_function
    def steps(n: int) -> Any:
        for _ in tf.range(n - 1):
            total.assign_add(1.0)
        return total.assign_add(1.0)

    assert float(steps(4)) == 4.0
    assert "TRACE: " in capsys.readouterr().out


def test_an_error_of_running_the_graph_is_not_retraced(capsys) -> None:
    from tuner.odapi.tracing import plain_function

    calls: list[int] = []

    @plain_function
    def checked(x: Any) -> Any:
        calls.append(1)
        return tf.debugging.check_numerics(x, "not a number")

    with pytest.raises(tf.errors.InvalidArgumentError):
        checked(tf.constant(float("nan")))
    assert len(calls) == 1 and "TRACE:" not in capsys.readouterr().out


def test_only_model_lib_v2_sees_the_plain_function(odapi) -> None:
    import tensorflow.compat.v1 as tf_v1
    from object_detection import model_lib_v2

    from tuner.odapi.tracing import plain_function, trace_without_autograph

    real_function = tf_v1.function
    trace_without_autograph()
    view = model_lib_v2.tf
    trace_without_autograph()  # idempotent
    assert model_lib_v2.tf is view
    assert view.function is plain_function and tf_v1.function is real_function
    assert view.compat is tf_v1.compat and view.train is tf_v1.train and view.__name__ == tf_v1.__name__


def test_the_demo_ssd_losses_are_the_same_without_autograph(parts, capsys) -> None:
    """The OD API's loss computation of the demo SSD traced both ways on one model and one batch:
    the same losses to the bit, and no fallback (the SSD needs no autograph)."""
    from object_detection import model_lib, model_lib_v2

    from tuner.odapi.tracing import plain_function

    model, dataset, optimizer, _step, train_config, probe = parts()
    assert probe.build(optimizer)
    features, labels = next(iter(dataset))

    def losses(features: Any, labels: Any) -> Any:
        labels = model_lib.unstack_batch(labels, unpad_groundtruth_tensors=train_config.unpad_groundtruth_tensors)
        return model_lib_v2._compute_losses_and_predictions_dicts(model, features, labels)[0]

    plain = {k: v.numpy() for k, v in plain_function(losses)(features, labels).items()}
    converted = {k: v.numpy() for k, v in tf.function(losses)(features, labels).items()}
    assert "TRACE:" not in capsys.readouterr().out
    assert set(plain) == set(converted) and "Loss/total_loss" in plain
    assert all(plain[k] == converted[k] for k in plain), (plain, converted)
    assert plain["Loss/total_loss"] > 0


#: Augmentations the TF2 zoo's configs and our spaces use, and others of the OD API's preprocessor,
#: each with its defaults. Of the preprocessor's 40 steps, every one that builds with its defaults
#: builds without autograph too, except random_square_crop_by_scale (CenterNet's configs): checked
#: one by one on 2026-12-07.
AUGMENTATIONS = ("random_horizontal_flip", "ssd_random_crop", "random_crop_image", "random_scale_crop_and_pad_to_square",
                 "random_adjust_hue", "random_adjust_contrast", "random_adjust_saturation", "random_adjust_brightness",
                 "random_absolute_pad_image", "random_image_scale", "random_distort_color", "random_black_patches",
                 "random_pad_image", "random_jitter_boxes", "random_rgb_to_gray", "random_jpeg_quality")
#: The one that needs autograph (a Python ``if`` on a tensor).
NEEDS_AUTOGRAPH = "random_square_crop_by_scale"


def _first_batches(make_config: Any, tmp_path: Any, autograph: bool, n: int = 2,
                   augmentations: tuple[str, ...] = AUGMENTATIONS) -> list[Any]:
    """The first ``n`` batches of the tiny dataset's train input with ``augmentations``, seeded,
    built with autograph (as the OD API does) or through :func:`plain_input_pipelines`."""
    import tuner.odapi  # noqa: F401  (compat shims)
    from object_detection import inputs, model_lib_v2
    from object_detection.utils import config_util

    from tuner.odapi.seeding import seed_legacy_functions, seed_random_crops
    from tuner.odapi.tracing import _plain_build

    def augment(cfg: Any) -> None:
        del cfg.train_config.data_augmentation_options[:]
        for name in augmentations:
            getattr(cfg.train_config.data_augmentation_options.add(), name).SetInParent()
        reader = cfg.train_input_reader  # one element at a time, in file order: one order of the draws
        reader.shuffle, reader.num_readers, reader.num_parallel_batches = False, 1, 1

    path = tmp_path / f"augmented-{autograph}.config"
    path.write_text(make_config(10, batch_size=1, edit=augment))
    configs = config_util.get_configs_from_pipeline_file(str(path))
    build = inputs.INPUT_BUILDER_UTIL_MAP["dataset_build"]
    real_build = getattr(build, "__wrapped__", build)
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(5)
    seed_legacy_functions()  # as the trainer's --seed does
    seed_random_crops()
    model = model_lib_v2.MODEL_BUILD_UTIL_MAP["detection_model_fn_base"](model_config=configs["model"], is_training=True)
    inputs.INPUT_BUILDER_UTIL_MAP["dataset_build"] = real_build if autograph else _plain_build(real_build)
    try:
        dataset = inputs.train_input(train_config=configs["train_config"], train_input_config=configs["train_input_config"],
                                     model_config=configs["model"], model=model)
    finally:
        inputs.INPUT_BUILDER_UTIL_MAP["dataset_build"] = build
    batches = []
    for features, labels in dataset.take(n):
        batches.append({k: v.numpy() for k, v in {**features, **labels}.items()})
    return batches


def test_input_pipelines_are_the_same_without_autograph(make_config, tmp_path, capsys) -> None:
    """The train input with every augmentation of :data:`AUGMENTATIONS` built plain: no fallback,
    and the same batches (images, boxes, classes) as autograph's, to the bit, under one seed."""
    plain = _first_batches(make_config, tmp_path, autograph=False, n=3)
    assert "TRACE:" not in capsys.readouterr().out
    converted = _first_batches(make_config, tmp_path, autograph=True, n=3)
    for one, other in zip(plain, converted):
        assert set(one) == set(other)
        for key in one:
            assert one[key].shape == other[key].shape and (one[key] == other[key]).all(), key


def test_an_input_pipeline_that_needs_autograph_is_built_with_it(capsys) -> None:
    from tuner.odapi.tracing import _plain_build

    def build() -> Any:
        def keep_positive(x: Any) -> Any:
            if x > 0:  # a Python if on a tensor: only autograph makes it a tf.cond
                return x
            return -x

        return tf.data.Dataset.from_tensor_slices([1.0, -2.0]).map(keep_positive)

    assert [float(x) for x in _plain_build(build)()] == [1.0, 2.0]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("TRACE:")]
    assert len(lines) == 1 and "input pipeline traced with autograph" in lines[0]


def test_the_od_api_augmentation_that_needs_autograph_falls_back(make_config, tmp_path, capsys) -> None:
    plain = _first_batches(make_config, tmp_path, autograph=False, n=1, augmentations=(NEEDS_AUTOGRAPH,))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("TRACE:")]
    assert len(lines) == 1 and "OperatorNotAllowedInGraphError" in lines[0]
    assert plain[0]["image"].shape[0] == 1


def test_plain_input_pipelines_is_idempotent(odapi) -> None:
    from object_detection import inputs

    from tuner.odapi.tracing import plain_input_pipelines

    plain_input_pipelines()
    installed = inputs.INPUT_BUILDER_UTIL_MAP["dataset_build"]
    plain_input_pipelines()
    assert inputs.INPUT_BUILDER_UTIL_MAP["dataset_build"] is installed and installed.__wrapped__
