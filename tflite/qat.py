"""What quantization-aware fine-tuning with tensorflow-model-optimization (tfmot) can do for the model.

Measured on this stack (TF 2.15.1, tf.keras 2.15, tfmot 0.7.5, OD API 2.8, model
``ssd_mobilenet_v2_keras``), tfmot cannot wrap the OD API's Keras SSD model:

1. ``quantize_model(SSDMetaArch)``: ``ValueError: `to_quantize` can only be a `tf.keras.Model`
   instance. Use the `quantize_annotate_layer` API to handle individual layers.You passed an
   instance of type: SSDMetaArch.`` (the detection model is a Keras *Layer*, not a Model).
2. ``quantize_model(feature extractor)``: ``ValueError: `to_quantize` can only either be a
   tf.keras Sequential or Functional model.`` (it is a subclassed Model).
3. ``quantize_model(feature_extractor.classification_backbone)`` (the functional MobileNetV2):
   ``ValueError: Unable to clone model. ... [Layer FreezableBatchNorm supplied to wrapper is not
   a supported layer type. ...]``; annotating FreezableBatchNorm with a no-op QuantizeConfig
   under ``quantize_scope`` then fails with ``ValueError: Requested the deserialization of a
   Lambda layer with a Python `lambda` inside it ...`` (the backbone's Lambda layers).

Even past those, the box predictor and feature-map layers are subclassed Keras layers tfmot
does not rewrite, and the OD API's train loop and TFLite exporter would have to run on the
wrapped model. So int8 here is post-training quantization only. :func:`attempt` re-runs the
three ``quantize_model`` calls of steps 1-3 on the trial's own model whenever int8 is converted
(it only builds the model and calls ``quantize_model``: a few seconds), so the report states
the exact error seen on *this* model rather than a remembered one; the follow-up of step 3
(annotating FreezableBatchNorm under ``quantize_scope``) was measured once, as quoted above,
and is not re-run. Should tfmot one day wrap a model, that is reported as such,
still with ``applied=False``: no quantization-aware fine-tuning is implemented here, so no
QAT model and no report row is produced.

Import :mod:`tuner.odapi` before this module.
"""
from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class QatOutcome:
    """What quantization-aware training could do for a model.

    Attributes:
        applied: whether a QAT model was produced; always ``False``, since fine-tuning a
            wrapped model is not implemented (see the module docstring).
        note: the finding for the report's notes: the exact tfmot error of each entry point,
            or that wrapping succeeded but fine-tuning is not implemented.
    """

    applied: bool
    note: str


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:400]}"


def attempt(cfg: Any, where: str = "the trial's pipeline.config") -> QatOutcome:
    """Try to wrap the trial's model for quantization-aware training with tfmot.

    The model is built from ``cfg`` (weights do not matter for whether tfmot accepts it). Each
    of the three entry points documented in this module is tried; the outcome lists what each
    one did (the exact error, or that it wrapped).

    Args:
        cfg: the trial's ``TrainEvalPipelineConfig``.
        where: the config's path, for error messages.

    Raises:
        ModelError: the OD API cannot build the model.
    """
    import tensorflow as tf

    try:
        import tensorflow_model_optimization as tfmot
    except ImportError as exc:  # an optional finding, never a reason to fail the conversion
        return QatOutcome(False, f"tensorflow-model-optimization is not importable ({_first_line(exc)}); "
                                 "int8 is post-training quantization only (make setup installs it)")

    from tflite.model import build_model

    model = build_model(cfg, is_training=True, where=where)
    shape = cfg.model.ssd.image_resizer.fixed_shape_resizer
    model.predict(tf.zeros([1, shape.height, shape.width, 3]), None)
    extractor = getattr(model, "_feature_extractor", None)
    targets = [("the SSD model", model), ("its feature extractor", extractor),
               ("its backbone", getattr(extractor, "classification_backbone", None))]
    findings = []
    for name, target in targets:
        if target is None:
            continue
        try:
            tfmot.quantization.keras.quantize_model(target)
        except Exception as exc:  # noqa: BLE001 - the error text is the finding
            findings.append(f"{name} ({type(target).__name__}): {_first_line(exc)}")
            continue
        if target is model:
            return QatOutcome(False, f"tensorflow-model-optimization {tfmot.__version__} wrapped the whole SSD model "
                                     "(quantize_model succeeded), but quantization-aware fine-tuning of the wrapped "
                                     "model is not implemented here: int8 is post-training quantization only")
        findings.append(f"{name} ({type(target).__name__}) wraps, but the OD API train loop and TFLite "
                        "exporter cannot run on a partially wrapped SSD")
    return QatOutcome(False, "quantization-aware fine-tuning (tensorflow-model-optimization "
                             f"{tfmot.__version__}) cannot serve this model: " + "; ".join(findings))
