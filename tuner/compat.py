"""Shims that make the OD API (tf-models-research-object-detection 2.8) run on the pinned stack.

Contract:
    * :func:`apply` is idempotent and cheap after the first call.
    * Each shim patches an attribute only when it is really missing; it never replaces
      an attribute the installed library still provides. :func:`apply` reports which
      shims were applied (``True``), not needed (``False``), and why.
    * It is called by :mod:`tuner.odapi` (the only door through which our processes import
      OD API model/training code) and nowhere else. The generated ``*_pb2`` protos need no shim.

Shims:
    ``tf_slim_control_flow``: tf-slim 1.1.0 calls ``control_flow_ops.case``/``cond``/``while_loop``
        from ``tensorflow.python.ops.control_flow_ops``; TF 2.15 moved them away (they live on as
        ``tf.case``/``tf.cond``/``tf.while_loop``). Without it: AttributeError inside the
        tf.Example decoder on the first training step (tensorflow/models#11113, #13494).
    ``pillow_getsize``: Pillow >= 10 removed ``getsize`` from its font classes; the OD API's
        evaluation draws labelled boxes with it. Without it: AttributeError at the end of the
        first evaluation.
"""
from __future__ import annotations

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class ShimResult:
    """What one shim did: ``applied`` is True when it had to patch something."""

    name: str
    applied: bool
    detail: str


_RESULTS: dict[str, ShimResult] = {}


def _shim_tf_slim_control_flow() -> ShimResult:
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_ops

    patched = []
    for name, replacement in (("case", tf.case), ("cond", tf.cond), ("while_loop", tf.while_loop)):
        if not hasattr(control_flow_ops, name):
            setattr(control_flow_ops, name, replacement)
            patched.append(name)
    if patched:
        return ShimResult("tf_slim_control_flow", True,
                          "added control_flow_ops." + ", .".join(patched) + " for tf-slim")
    return ShimResult("tf_slim_control_flow", False, "control_flow_ops already has case/cond/while_loop")


def _getsize(self, text, *args, **kwargs):  # type: ignore[no-untyped-def]
    left, top, right, bottom = self.getbbox(text, *args, **kwargs)
    return right - left, bottom - top


def _shim_pillow_getsize() -> ShimResult:
    from PIL import ImageFont

    patched = []
    for cls_name in ("ImageFont", "FreeTypeFont", "TransposedFont"):
        cls = getattr(ImageFont, cls_name, None)
        if cls is not None and not hasattr(cls, "getsize") and hasattr(cls, "getbbox"):
            cls.getsize = _getsize
            patched.append(cls_name)
    if patched:
        return ShimResult("pillow_getsize", True, "added getsize() to PIL.ImageFont." + ", ".join(patched))
    return ShimResult("pillow_getsize", False, "Pillow fonts still have getsize()")


_SHIMS: tuple[Callable[[], ShimResult], ...] = (_shim_tf_slim_control_flow, _shim_pillow_getsize)


def apply() -> dict[str, ShimResult]:
    """Apply every shim whose target attribute is missing; return what each did.

    Returns:
        Shim name -> :class:`ShimResult`, in application order.
    """
    if not _RESULTS:
        for shim in _SHIMS:
            result = shim()
            _RESULTS[result.name] = result
    return dict(_RESULTS)


def results() -> dict[str, ShimResult]:
    """What :func:`apply` did in this process (empty if it has not run)."""
    return dict(_RESULTS)
