"""tuner.odapi.definitions: a traced function's attributes and argument check read from its
definition without nodes (real TensorFlow; the demo SSD with the OD API)."""
from __future__ import annotations

from typing import Any

import pytest

tf = pytest.importorskip("tensorflow")


@pytest.fixture()
def whole_parses(monkeypatch):  # type: ignore[no-untyped-def]
    """The names of the functions whose whole definition was parsed (Context.get_function_def)."""
    from tensorflow.python.eager import context

    from tuner.odapi.definitions import read_without_nodes

    read_without_nodes()
    parsed: list[bytes] = []
    real = context.Context.get_function_def

    def counting(self: Any, name: Any) -> Any:
        parsed.append(name)
        return real(self, name)

    monkeypatch.setattr(context.Context, "get_function_def", counting)
    return parsed


def _scaled() -> tuple[Any, Any]:
    weight = tf.Variable(3.0)

    @tf.function(jit_compile=False)  # an attribute in the definition's attr map
    def scaled(x: Any) -> Any:
        return weight * x + tf.reduce_sum(tf.range(5, dtype=tf.float32))

    return scaled, weight


def _atomic(function: Any) -> Any:
    return function.get_concrete_function(tf.constant(1.0))._inference_function


def test_strip_field_keeps_every_other_field_in_order() -> None:
    from tensorflow.core.framework import function_pb2

    from tuner.odapi.definitions import NODE_DEF_FIELD, strip_field

    fdef = function_pb2.FunctionDef()
    fdef.signature.name = "f"
    fdef.signature.input_arg.add(name="x", type=1)
    fdef.node_def.add(name="n1", op="Identity", input=["x"])
    fdef.node_def.add(name="n2", op="Mul")
    fdef.ret["y"] = "n1:output:0"
    fdef.attr["_noinline"].b = True
    stripped = function_pb2.FunctionDef.FromString(strip_field(fdef.SerializeToString(), NODE_DEF_FIELD))
    expected = function_pb2.FunctionDef()
    expected.CopyFrom(fdef)
    del expected.node_def[:]
    assert stripped == expected and fdef.node_def
    with pytest.raises(ValueError, match="truncated"):
        strip_field(fdef.SerializeToString()[:-1], NODE_DEF_FIELD)


def test_a_traced_function_is_made_and_called_without_a_whole_parse(whole_parses) -> None:
    from tuner.odapi.definitions import definition_without_nodes

    scaled, _weight = _scaled()
    assert float(scaled(tf.constant(2.0))) == 16.0
    assert float(scaled(tf.constant(1.0))) == 13.0
    assert whole_parses == []
    atomic = _atomic(scaled)
    assert atomic._cached_definition is None  # nobody else saw the stub
    whole = atomic.cached_definition  # parsed now, as TensorFlow always did
    assert len(whole_parses) == 1 and whole.node_def
    nodeless = definition_without_nodes(atomic)
    assert not nodeless.node_def and len(nodeless.signature.input_arg) == 2
    assert nodeless.signature == whole.signature and nodeless.attr == whole.attr and nodeless.ret == whole.ret
    assert "_XlaMustCompile" in atomic.attributes and "_construction_context" not in atomic.attributes
    assert float(scaled(tf.constant(1.0))) == 13.0  # the whole definition cached: TensorFlow's own path


def test_a_wrong_number_of_arguments_is_refused_as_before(whole_parses) -> None:
    scaled, weight = _scaled()
    atomic = _atomic(scaled)
    with pytest.raises(ValueError, match="Signature specifies 2 arguments, got: 1"):
        atomic.call_flat(tf.constant(1.0))
    assert float(atomic.call_flat(tf.constant(1.0), weight.handle)[0]) == 13.0


def test_a_call_inside_a_traced_graph_and_a_gradient_still_work(whole_parses) -> None:
    scaled, weight = _scaled()
    scaled(tf.constant(1.0))

    @tf.function
    def outer(x: Any) -> Any:
        return scaled(x) + 1.0

    assert float(outer(tf.constant(2.0))) == 17.0
    with tf.GradientTape() as tape:
        y = scaled(tf.constant(2.0))
    assert float(tape.gradient(y, weight)) == 2.0


def test_idempotent() -> None:
    from tensorflow.python.eager.polymorphic_function import atomic_function

    from tuner.odapi.definitions import read_without_nodes

    read_without_nodes()
    installed = (atomic_function.AtomicFunction.call_flat, atomic_function.AtomicFunction.attributes)
    read_without_nodes()
    assert (atomic_function.AtomicFunction.call_flat, atomic_function.AtomicFunction.attributes) == installed


def test_the_demo_ssd_is_traced_and_run_without_a_whole_parse(parts, whole_parses) -> None:
    """The OD API's model traced and called eagerly, as the trainer's steps are: the same
    detections as the untraced model, and no definition parsed whole."""
    model, dataset, _optimizer, _step, _train_config, _probe = parts()
    features, _labels = next(iter(dataset))
    shapes = features["true_image_shape"]

    def detect(images: Any) -> Any:
        return model.postprocess(model.predict(images, shapes), shapes)["detection_scores"]

    eager = detect(features["image"]).numpy()
    traced = tf.function(detect, autograph=False)(features["image"]).numpy()
    assert whole_parses == []
    assert traced.shape == eager.shape and abs(traced - eager).max() < 1e-5
