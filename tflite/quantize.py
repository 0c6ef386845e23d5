"""TFLite conversion of the exported SavedModel: float32, float16, dynamic-range and full-integer int8.

* ``fp32``: plain conversion.
* ``fp16``: float16 weights (``target_spec.supported_types = [tf.float16]``); runs in float32 on CPU.
* ``dynamic``: ``Optimize.DEFAULT`` without data: int8 weights, float activations.
* ``int8``: ``Optimize.DEFAULT`` with a representative dataset and
  ``TFLITE_BUILTINS_INT8``: int8 weights and activations. The SSD post-processing op
  (``TFLite_Detection_PostProcess``) stays float, so the ``TFLITE_BUILTINS`` set is allowed
  next to it. Input and outputs are float32; ``uint8_io`` makes the input uint8.

``uint8_io``: uint8 input; the outputs stay float32, because the post-processing op emits float.
Asking the converter for uint8 outputs as well (``inference_output_type = tf.uint8``) does
not keep them float on TF 2.15.1: it appends QUANTIZE ops after the post-processing op with
ranges calibrated on the representative images. Measured on a tiny SSD of this project: the
scores were given a range of [0, 0.019] (every higher score saturates) and the classes a
range of [0, 2] (only the classes seen in calibration), so detections would be corrupted.
The report records each model's actual input/output dtypes and input scale/zero point
(:meth:`tflite.measure.TfliteDetector.io`).

The representative images are a seeded sample of the *training* images
(:func:`tflite.records.sample_examples`), decoded by the OD API decoder and passed through the
model's own ``preprocess`` (see :class:`tflite.model.CheckpointModel`).

Import :mod:`tuner.odapi` before this module.
"""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from tflite.errors import ConvertError, DataError, ModelError
from tuner.cli import first_line


class Variant(str, enum.Enum):
    """A TFLite flavour of the model."""

    FP32 = "fp32"
    FP16 = "fp16"
    DYNAMIC = "dynamic"
    INT8 = "int8"

    @property
    def filename(self) -> str:
        return f"model_{self.value}.tflite"


ALL_VARIANTS: tuple[Variant, ...] = tuple(Variant)


def parse_variants(text: str) -> tuple[Variant, ...]:
    """``"fp32,int8"`` -> variants in the canonical order, duplicates removed.

    Raises:
        ConvertError: an unknown variant name, or none at all.
    """
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    known = {v.value for v in Variant}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConvertError(f"unknown variant {unknown[0]!r}" if unknown else "no variant given",
                           f"--variants {text}", f"use a comma-separated subset of {','.join(sorted(known))}")
    return tuple(v for v in Variant if v.value in names)


RepresentativeData = Callable[[], Iterator[list[np.ndarray]]]


def representative_dataset(inputs: Iterable[np.ndarray]) -> RepresentativeData:
    """A converter ``representative_dataset`` over preprocessed inputs (``[1, H, W, C]`` float32).

    Raises:
        DataError: no input at all.
    """
    samples = [np.asarray(x, np.float32) for x in inputs]
    if not samples:
        raise DataError("no representative image for int8 calibration", "the training TFRecords",
                        "point train_input_reader at non-empty records or raise --representative-count")

    def generate() -> Iterator[list[np.ndarray]]:
        for sample in samples:
            yield [sample]

    return generate


class Converter:
    """Converts one exported SavedModel to any variant.

    Loading the SavedModel is the slow part of a conversion (about 30 s on 2 cores for a small
    SSD), so it is loaded once and the converter's settings are reset for each variant.

    Raises (constructor):
        ModelError: the SavedModel cannot be loaded.
    """

    def __init__(self, saved_model: str | Path) -> None:
        import tensorflow as tf

        self.saved_model = Path(saved_model)
        try:
            self._converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        except Exception as exc:
            raise ModelError(f"the exported SavedModel cannot be loaded ({first_line(exc, limit=200)})", str(saved_model),
                             "re-run the conversion; the export may be incomplete") from exc

    def convert(self, variant: Variant, representative: RepresentativeData | None = None,
                uint8_io: bool = False) -> bytes:
        """Convert to one TFLite variant.

        Args:
            variant: which flavour.
            representative: calibration data, required for :attr:`Variant.INT8`.
            uint8_io: int8 only: a uint8 input tensor instead of float32 (outputs stay float32,
                see the module docstring).

        Returns:
            The ``.tflite`` flatbuffer.

        Raises:
            DataError: int8 without representative data.
            ModelError: the TFLite converter failed.
        """
        import tensorflow as tf

        c = self._converter
        c.optimizations = []
        c.representative_dataset = None
        c.target_spec.supported_types = []
        c.target_spec.supported_ops = {tf.lite.OpsSet.TFLITE_BUILTINS}
        c.inference_input_type = tf.float32
        c.inference_output_type = tf.float32
        if variant is Variant.FP16:
            c.optimizations = [tf.lite.Optimize.DEFAULT]
            c.target_spec.supported_types = [tf.float16]
        elif variant is Variant.DYNAMIC:
            c.optimizations = [tf.lite.Optimize.DEFAULT]
        elif variant is Variant.INT8:
            if representative is None:
                raise DataError("int8 needs representative data", "--variants int8",
                                "give training TFRecords in the trial's config")
            c.optimizations = [tf.lite.Optimize.DEFAULT]
            c.representative_dataset = representative
            c.target_spec.supported_ops = {tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS}
            if uint8_io:
                c.inference_input_type = tf.uint8  # outputs stay float32: see the module docstring
        try:
            return bytes(c.convert())
        except Exception as exc:
            raise ModelError(f"the TFLite converter failed for {variant.value} ({first_line(exc, limit=200)})",
                             str(self.saved_model), "leave this variant out (--variants) and report the error") from exc
