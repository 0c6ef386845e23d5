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
