"""A traced function's attributes and argument check read from its definition without its nodes.

Every traced ``tf.function`` is an ``AtomicFunction`` in TensorFlow 2.15, and three of its uses
fetch the function's whole ``FunctionDef`` from the runtime and parse it in Python, for a handful
of fields: ``ConcreteFunction`` reads ``AtomicFunction.attributes`` (the definition's ``attr``
map) twice when the function is made, and the first eager call checks the number of arguments
against ``cached_definition.signature``. With protobuf's pure-Python implementation each parse of
a train step (its forward and backward graph, every node) is pure Python, and a warm trainer
traces a new train step and a new eval step in every trial. Written when the stack ran protobuf
3.20.3 (no compiled module for Python 3.11); since commit c491c75 a trial's processes run protobuf
4's compiled implementation (:mod:`tuner.protoregen`), where these parses are cheap and this patch
gains little; our other processes still run the pure-Python one.

:func:`read_without_nodes` makes both read :func:`definition_without_nodes` instead: the same
``FunctionDef`` bytes from the runtime, parsed with the ``node_def`` entries (field 3) skipped
unparsed, so signature, attributes, argument attributes and return maps are the runtime's own.
The argument check is then TensorFlow's own code and error; the function's cached definition
stays unset, so whoever needs the whole definition (a call inside a graph being traced, saving,
gradients of a function called under a tape) parses it as before.
"""
from __future__ import annotations

import functools
import weakref
from typing import Any, Callable

#: The ``FunctionDef`` field that holds the nodes (``repeated NodeDef node_def = 3``).
NODE_DEF_FIELD = 3
#: The marker :func:`read_without_nodes` sets on what it installs (idempotence).
_MARK = "tuner_without_nodes"
#: Per function (weakly held), its definition without nodes, for the argument check.
_CHECKED: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def strip_field(data: bytes, field: int) -> bytes:
    """A serialized message's bytes without the top-level entries of ``field`` (wire format:
    each entry a tag and its payload; the others kept as they are, in their order)."""
    kept: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        start = pos
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:  # groups (3, 4): no field of FunctionDef
            raise ValueError(f"wire type {wire} at byte {start}: not a FunctionDef")
        if tag >> 3 != field:
            kept.append(data[start:pos])
    if pos != end:
        raise ValueError("truncated message")
    return b"".join(kept)


def definition_without_nodes(atomic: Any) -> Any:
    """The ``FunctionDef`` of ``atomic`` (an ``AtomicFunction``) as the runtime holds it now,
    without its nodes."""
    from tensorflow.core.framework import function_pb2
    from tensorflow.python import pywrap_tfe
    from tensorflow.python.client import pywrap_tf_session
    from tensorflow.python.framework import c_api_util

    context = atomic._bound_context  # noqa: SLF001 - as AtomicFunction.definition reads it
    context.ensure_initialized()
    with c_api_util.tf_buffer() as buffer:
        pywrap_tfe.TFE_ContextGetFunctionDef(context._handle, atomic.name, buffer)  # noqa: SLF001
        data = pywrap_tf_session.TF_GetBuffer(buffer)
    return function_pb2.FunctionDef.FromString(strip_field(data, NODE_DEF_FIELD))


def _attributes(self: Any) -> Any:
    """``AtomicFunction.attributes`` (TF 2.15), read from :func:`definition_without_nodes`."""
    from tensorflow.python.eager.polymorphic_function import attributes as attributes_lib

    attrs = definition_without_nodes(self).attr
    attrs.pop(attributes_lib.EAGER_RUNTIME_CONSTRUCTION_CONTEXT, None)
    return attrs


def _checked_without_nodes(call_flat: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call_flat)
    def checked(self: Any, *args: Any) -> Any:
        if self._cached_definition is not None or not self._bound_context.executing_eagerly():
            return call_flat(self, *args)
        stub = _CHECKED.get(self)
        if stub is None:
            stub = _CHECKED[self] = definition_without_nodes(self)
        self._cached_definition = stub  # read by call_flat's argument check only (eager)
        try:
            return call_flat(self, *args)
        finally:
            self._cached_definition = None  # as it was: nobody else sees the stub

    return checked


def read_without_nodes() -> None:
    """Make ``AtomicFunction.attributes``, and the argument check of an eager ``call_flat`` on a
    function whose definition is not cached, read :func:`definition_without_nodes` (module
    docstring). Idempotent; affects every traced function of this process, in the same way."""
    from tensorflow.python.eager.polymorphic_function import atomic_function

    cls = atomic_function.AtomicFunction
    if getattr(cls, _MARK, False):
        return
    cls.attributes = property(_attributes, doc=cls.attributes.__doc__)
    cls.call_flat = _checked_without_nodes(cls.call_flat)
    setattr(cls, _MARK, True)
