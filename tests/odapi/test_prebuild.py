"""tuner.odapi.prebuild: the model's variables and the optimizer's slots made before the first
step, so that the OD API's train step is traced once (twice without), on the real OD API."""
from __future__ import annotations

from typing import Any



def _traces_of_one_step(model: Any, dataset: Any, optimizer: Any, step: Any, train_config: Any) -> int:
    import tensorflow as tf
    from object_detection import model_lib_v2

    @tf.function
    def train_step(features: Any, labels: Any) -> Any:
        return model_lib_v2.eager_train_step(model, features, labels, train_config.unpad_groundtruth_tensors,
                                             optimizer, training_step=step)

    features, labels = next(iter(dataset))
    train_step(features, labels)
    return train_step.experimental_get_tracing_count()


def _variables(model: Any, optimizer: Any, step: Any) -> set[Any]:
    """The model's and the optimizer's variables, but the global step (the model keeps a
    reference to the step it was last given)."""
    return {v.ref() for v in [*model.variables, *optimizer.variables()]} - {step.ref()}


def test_made_variables_leave_the_train_step_one_trace(parts, capsys) -> None:
    model, dataset, optimizer, step, train_config, probe = parts()
    assert probe.model is model and probe.dataset is dataset  # what train_input was given and made
    assert probe.build(optimizer)
    made = _variables(model, optimizer, step)
    assert len(model.variables) > 100 and any("momentum" in v.deref().name for v in made)
    assert "PREBUILT: " in capsys.readouterr().out
    assert _traces_of_one_step(model, dataset, optimizer, step, train_config) == 1
    assert _variables(model, optimizer, step) == made  # none made in the step


def test_without_them_the_train_step_is_traced_twice(parts) -> None:
    """The control: what the made variables save (TensorFlow traces a function again once its
    first call has made variables)."""
    model, dataset, optimizer, step, train_config, _probe = parts()
    assert _traces_of_one_step(model, dataset, optimizer, step, train_config) == 2


def test_a_probe_that_saw_no_train_input_builds_nothing() -> None:
    from tuner.odapi.prebuild import TrainInputProbe

    assert TrainInputProbe().build(optimizer=object()) is False


def test_what_cannot_be_built_ahead_is_left_to_the_first_step(odapi, capsys) -> None:
    """No error of the shortcut fails a trial: it is said in one line, and the step meets it where
    it always did."""
    import tuner.odapi  # noqa: F401  (compat shims)
    from tuner.odapi.prebuild import TrainInputProbe, build_variables

    class BrokenInput:
        def __iter__(self) -> Any:
            raise ValueError("cannot read this input\nsecond line")

    assert build_variables(object(), BrokenInput(), unpad_groundtruth_tensors=False) == \
        "ValueError: cannot read this input"
    assert build_variables(object(), [], unpad_groundtruth_tensors=False) == "StopIteration"

    probe = TrainInputProbe()
    probe.model, probe.dataset = object(), BrokenInput()
    assert probe.build(optimizer=object()) is False
    assert "PREBUILT: skipped (ValueError: cannot read this input); the first step makes the variables" \
        in capsys.readouterr().out


def test_the_od_api_builds_a_fine_tuned_model_eagerly(parts, monkeypatch, capsys) -> None:
    """build_eagerly: the OD API's _ensure_model_is_built (run before a fine-tune checkpoint is
    restored) makes the variables without its tf.function; the probe then leaves them as they are
    and the train step is still traced once."""
    from object_detection import model_lib_v2

    from tuner.odapi.prebuild import build_eagerly

    traced_calls: list[object] = []
    monkeypatch.setattr(model_lib_v2, "_ensure_model_is_built", lambda *a: traced_calls.append(a))
    build_eagerly()
    build_eagerly()  # idempotent: one wrapper
    model, dataset, optimizer, step, train_config, probe = parts()
    model_lib_v2._ensure_model_is_built(model, dataset, train_config.unpad_groundtruth_tensors)
    assert traced_calls == [] and len(model.variables) > 100
    made = {v.ref() for v in model.variables}
    assert probe.build(optimizer)
    assert {v.ref() for v in model.variables} == made  # not made again
    assert "skipped" not in capsys.readouterr().out
    assert _traces_of_one_step(model, dataset, optimizer, step, train_config) == 1


def test_what_the_eager_build_cannot_do_the_od_api_does_as_before(odapi, monkeypatch, capsys) -> None:
    from object_detection import model_lib_v2

    from tuner.odapi.prebuild import build_eagerly

    traced_calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(model_lib_v2, "_ensure_model_is_built", lambda *a: traced_calls.append(a))
    build_eagerly()
    model_lib_v2._ensure_model_is_built("model", [], True)  # no batch to build from
    assert traced_calls == [("model", [], True)]
    assert "PREBUILT: skipped (StopIteration); the OD API's traced computation makes the variables" \
        in capsys.readouterr().out
