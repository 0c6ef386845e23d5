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
"""
from __future__ import annotations

import functools
import types
from typing import Any, Callable

#: The line a step that needed autograph prints (tests and users read it in the trial's log).
LOG_PREFIX = "TRACE:"


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
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                print(f"{LOG_PREFIX} {name} traced with autograph (without it: {reason})", flush=True)
                converted.append(tf.function(fn, **options))
        return converted[0](*args, **kwargs)

    return call


class _CompatV1(types.ModuleType):
    """``tensorflow.compat.v1`` as one module sees it: every name is the real module's, except
    ``function``."""

    def __init__(self, real: types.ModuleType, function: Callable[..., Any]) -> None:
        super().__init__(real.__name__, real.__doc__)
        self._real = real
        self.function = function

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def trace_without_autograph() -> None:
    """Make ``object_detection.model_lib_v2`` trace its steps with :func:`plain_function` (its
    ``tf``, ``tensorflow.compat.v1``, is replaced by a view whose ``function`` is that one; the
    module ``tensorflow.compat.v1`` itself is not changed). Idempotent."""
    from object_detection import model_lib_v2

    if not isinstance(model_lib_v2.tf, _CompatV1):
        model_lib_v2.tf = _CompatV1(model_lib_v2.tf, plain_function)


def apply() -> None:
    """What the trainer and the evaluator process do once, after importing the OD API:
    :func:`trace_without_autograph` and :func:`tuner.odapi.prebuild.build_eagerly`."""
    from tuner.odapi.prebuild import build_eagerly

    trace_without_autograph()
    build_eagerly()
