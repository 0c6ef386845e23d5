"""The OD API's train and eval steps traced as plain Python, without autograph.

``model_lib_v2`` wraps its train step and its eval step in ``tf.function``, whose autograph
rewrites every Python function the step calls (the whole model, loss and target-assignment code)
before tracing it: in the first trial of a process that conversion is most of the trace, and the
converted code, which routes every call through autograph, traces slower in every later trial.
The OD API's models were written for TF1's graph mode, which had no autograph: they build their
control flow with ``tf.cond`` and ``tf.while_loop`` themselves. Measured on the demo model (one
warm trainer, three seeded 30-step trials with op determinism, 2 cores, 2026-12-07): the first
trial of the process 53.0 s -> 35.7 s, the next ones 26.9-28.2 s -> 21.6-21.8 s, with the same
losses to the bit.

:func:`trace_without_autograph` gives ``model_lib_v2`` a ``tf.function`` that traces without
autograph and, when a step cannot be traced so (a Python ``if`` or ``for`` on a tensor raises
while tracing, before anything runs: ``model_lib_v2``'s own loop of several steps per call is
one), traces that step again with autograph, as before, and says so once (a :data:`LOG_PREFIX`
line in the trial's log). Nothing else in the process is touched: other modules keep
TensorFlow's own ``tf.function``. The trainer (:func:`tuner.odapi.train.start_process`) and the
evaluator process apply it.

:func:`plain_input_pipelines` does the same for the input pipelines (``Dataset.map`` converts its
function with autograph unless told otherwise): the decoder, the augmentations and the model's
preprocessing are traced as plain Python, and a pipeline that cannot be (of the OD API's 40
preprocessing steps, ``random_square_crop_by_scale``, in CenterNet's zoo configs) is built again
with autograph, said in a :data:`LOG_PREFIX` line. Measured on the demo model (one warm trainer,
three seeded 30-step fine-tuning trials with op determinism, 2 cores, 2026-12-07): 32.4 / 20.9 /
20.2 s -> 25.0 / 17.3 / 17.5 s a trial, the same evaluation metrics to the bit.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from tuner.cli import first_line

#: The line a step that needed autograph prints (tests and users read it in the trial's log).
LOG_PREFIX = "TRACE:"
#: The marker of a function :func:`plain_input_pipelines` installed (idempotence).
_PLAIN = "tuner_plain"


def plain_function(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """``tf.function(fn, **options)`` traced without autograph, falling back to autograph for a
    function that cannot be traced without it. Usable as ``@plain_function``,
    ``@plain_function(...)`` and ``plain_function(fn, ...)``, as ``tf.function`` is.

    The fallback is taken when a call raises anything but a ``tf.errors.OpError`` (those are
    raised by running the graph, not by tracing it: an out-of-memory or a data error propagates
    as it is): the function is then traced with autograph, as ``tf.function`` does by default,
    for this call and every later one, and a :data:`LOG_PREFIX` line says so once. An error that
    autograph does not cure is raised by that second trace, as it was before."""
    if fn is None:
        return functools.partial(plain_function, **options)
    import tensorflow as tf

    plain = tf.function(fn, **{**options, "autograph": False})
    converted: list[Any] = []  # the autograph function, once ``plain`` has failed to trace

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not converted:
            try:
                return plain(*args, **kwargs)
            except tf.errors.OpError:
                raise
            except Exception as exc:  # noqa: BLE001 - traced again with autograph (docstring)
                name = getattr(fn, "__qualname__", repr(fn))
                print(f"{LOG_PREFIX} {name} traced with autograph (without it: {first_line(exc)})", flush=True)
                converted.append(tf.function(fn, **options))
        return converted[0](*args, **kwargs)

    return call


def trace_without_autograph() -> None:
    """Make ``object_detection.model_lib_v2`` trace its steps with :func:`plain_function` (its
    ``tf``, ``tensorflow.compat.v1``, is replaced by a view whose ``function`` is that one; the
    module ``tensorflow.compat.v1`` itself is not changed). Idempotent."""
    from object_detection import model_lib_v2

    from tuner.odapi.moduleview import ModuleView

    if not isinstance(model_lib_v2.tf, ModuleView):
        model_lib_v2.tf = ModuleView(model_lib_v2.tf, function=plain_function)


def _plain_build(build: Callable[..., Any]) -> Callable[..., Any]:
    """``build`` (``dataset_builder.build``) run with autograph's status disabled, so that every
    ``map`` and ``interleave`` function of the pipeline it makes is traced without autograph;
    where that raises anything but a ``tf.errors.OpError``, built again as before (with
    autograph), said in a :data:`LOG_PREFIX` line."""

    @functools.wraps(build)
    def plain_build(*args: Any, **kwargs: Any) -> Any:
        import tensorflow as tf
        from tensorflow.python.autograph.core import ag_ctx

        try:
            with ag_ctx.ControlStatusCtx(status=ag_ctx.Status.DISABLED):
                return build(*args, **kwargs)
        except tf.errors.OpError:
            raise
        except Exception as exc:  # noqa: BLE001 - built again with autograph (docstring)
            print(f"{LOG_PREFIX} the input pipeline traced with autograph (without it: {first_line(exc)})",
                  flush=True)
        return build(*args, **kwargs)

    setattr(plain_build, _PLAIN, True)
    return plain_build


def plain_input_pipelines() -> None:
    """Make the OD API's input pipelines (``inputs.train_input`` and ``eval_input`` build them
    with ``INPUT_BUILDER_UTIL_MAP['dataset_build']``) trace their functions without autograph,
    through :func:`_plain_build`. ``Dataset.map`` converts its function with autograph when
    nothing says otherwise: the decoder, the augmentation and the model's preprocessing, all
    written for TF1's graph mode, converted again for every trial. Idempotent."""
    from object_detection import inputs

    build = inputs.INPUT_BUILDER_UTIL_MAP["dataset_build"]
    if not getattr(build, _PLAIN, False):
        inputs.INPUT_BUILDER_UTIL_MAP["dataset_build"] = _plain_build(build)


def apply() -> None:
    """What the trainer and the evaluator process do once, after importing the OD API:
    :func:`trace_without_autograph`, :func:`plain_input_pipelines`,
    :func:`tuner.odapi.prebuild.build_eagerly` and :func:`tuner.odapi.definitions.read_without_nodes`."""
    from tuner.odapi.definitions import read_without_nodes
    from tuner.odapi.prebuild import build_eagerly

    trace_without_autograph()
    plain_input_pipelines()
    build_eagerly()
    read_without_nodes()
