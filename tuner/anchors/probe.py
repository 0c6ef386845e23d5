"""The feature maps an SSD config really has: the model built by the OD API and run once.

:func:`feature_map_shapes` and :func:`model_anchors` build the configured SSD with the OD API's
``model_builder``, run ``preprocess`` + ``predict`` on one zero image at :func:`input_size`, and
read what ``SSDMetaArch`` produced. One probe per distinct ``cfg.model`` text per process
(cached, thread-safe); the first takes seconds.

TensorFlow and the OD API's model code are imported lazily, through :mod:`tuner.odapi` (which
applies :mod:`tuner.compat` first); importing this module is cheap.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from tuner.anchors.errors import AnchorError
from tuner.anchors.params import GENERATOR_PATH, _generator_kind, _ssd_generator

__all__ = ["RESIZER_PATH", "feature_map_shapes", "input_size", "model_anchors"]

#: Config path of the image resizer (the input frame).
RESIZER_PATH = "model.ssd.image_resizer"


def input_size(cfg: Any) -> tuple[int, int]:
    """The (height, width) of the model input: ``fixed_shape_resizer`` height/width, or
    ``keep_aspect_ratio_resizer`` with ``pad_to_max_dimension``: max_dimension square.
    AnchorError for other resizers (their input size varies per image)."""
    _ssd_generator(cfg)
    resizer = cfg.model.ssd.image_resizer
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind == "fixed_shape_resizer":
        return int(resizer.fixed_shape_resizer.height), int(resizer.fixed_shape_resizer.width)
    if kind == "keep_aspect_ratio_resizer" and resizer.keep_aspect_ratio_resizer.pad_to_max_dimension:
        side = int(resizer.keep_aspect_ratio_resizer.max_dimension)
        return side, side
    what = (f"{kind} without pad_to_max_dimension" if kind == "keep_aspect_ratio_resizer"
            else (kind or "no image resizer"))
    raise AnchorError(f"{what} gives no fixed input size: {RESIZER_PATH}{'.' + kind if kind else ''}; "
                      "use fixed_shape_resizer (or keep_aspect_ratio_resizer with pad_to_max_dimension: true)")


_PROBES: dict[str, tuple[tuple[tuple[int, int], ...], np.ndarray]] = {}
_PROBE_LOCK = threading.Lock()


def _probe(cfg: Any) -> tuple[tuple[tuple[int, int], ...], np.ndarray]:
    """Build the model, run preprocess + predict on one zero image; (feature-map shapes, anchors).
    Cached by the text of ``cfg.model``."""
    from google.protobuf import text_format

    _generator_kind(_ssd_generator(cfg))
    height, width = input_size(cfg)
    from tuner.config.findings import LintContext
    from tuner.config.lint_tf2 import extractors

    for finding in extractors(cfg, LintContext(None, False)):  # the right fix, not "make them agree"
        raise AnchorError(f"{finding.path}: {finding.message} (fix: {finding.fix})")
    key = text_format.MessageToString(cfg.model)
    with _PROBE_LOCK:
        if key in _PROBES:
            return _PROBES[key]
        import tuner.odapi  # noqa: F401  (applies the compat shims before the OD API loads)
        import tensorflow as tf
        from object_detection.builders import model_builder

        try:
            model = model_builder.build(model_config=cfg.model, is_training=False)
            preprocessed, true_shapes = model.preprocess(tf.zeros([1, height, width, 3], tf.float32))
            prediction = model.predict(preprocessed, true_shapes)
        except (ValueError, TypeError, KeyError, tf.errors.InvalidArgumentError) as exc:
            detail = " ".join(str(exc).split())[:300]
            raise AnchorError(f"the OD API cannot build and run this SSD at {height}x{width} "
                              f"({type(exc).__name__}: {detail}): model.ssd; make the feature extractor, "
                              f"{GENERATOR_PATH} and {RESIZER_PATH} agree") from exc
        shapes = tuple((int(fm.shape[1]), int(fm.shape[2])) for fm in prediction["feature_maps"])
        anchors = np.asarray(prediction["anchors"], dtype=np.float64)
        anchors.setflags(write=False)
        _PROBES[key] = (shapes, anchors)
        return shapes, anchors


def feature_map_shapes(cfg: Any) -> tuple[tuple[int, int], ...]:
    """The (height, width) of each feature map the configured SSD really produces at its input
    size (:func:`input_size`), in the order the anchor generator receives them.

    Builds the model with the OD API's ``model_builder`` (``is_training=False``) and runs
    ``preprocess`` + ``predict`` on one zero image; reads ``prediction_dict['feature_maps']``.
    Takes seconds the first time; cached in-process by the text of ``cfg.model``.
    AnchorError for unsupported models, generators and resizers, or a model the OD API cannot build.
    """
    return _probe(cfg)[0]


def model_anchors(cfg: Any) -> np.ndarray:
    """The (A, 4) anchors ``SSDMetaArch.predict`` itself generated for ``cfg`` (normalised
    ymin, xmin, ymax, xmax as the model uses them; read-only float64). Same probe and cache as
    :func:`feature_map_shapes`."""
    return _probe(cfg)[1]
