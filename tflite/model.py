"""The trial's detection model: its config, what the TFLite exporter accepts, and the checkpoint itself.

:class:`CheckpointModel` restores one specific checkpoint (not the latest of its directory)
into the OD API model built from the trial's config. It provides

* :meth:`CheckpointModel.preprocess`: the model's own ``preprocess`` (fixed-shape resize,
  then the feature extractor's normalisation; ``(2/255) * x - 1`` for SSD MobileNet), which
  is exactly the input the exported TFLite graph expects, since the exporter's graph starts
  at ``model.predict`` (see ``SSDModule.inference_fn`` in ``export_tflite_graph_lib_tf2``);
* :meth:`CheckpointModel.detect`: the full TF model (predict + postprocess with the config's
  NMS), the reference the TFLite variants are compared with.

Import :mod:`tuner.odapi` before this module.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from tflite.errors import ModelError

EXPORTABLE_META_ARCH = "ssd"
EXPORTABLE_RESIZER = "fixed_shape_resizer"


def load_config(path: str | Path) -> Any:
    """The trial's ``TrainEvalPipelineConfig``.

    Raises:
        ModelError: the config cannot be read or parsed.
    """
    from tuner.config import ConfigError, load

    try:
        return load(path)
    except ConfigError as exc:
        raise ModelError("the trial's config cannot be read", str(path),
                         f"fix or restore it ({str(exc).splitlines()[0]})") from exc


def check_exportable(cfg: Any, where: str) -> None:
    """Check the OD API TFLite exporter supports the model: SSD with a fixed_shape_resizer.

    Raises:
        ModelError: another meta-architecture or another image resizer.
    """
    arch = cfg.model.WhichOneof("model")
    if arch != EXPORTABLE_META_ARCH:
        raise ModelError(f"model.{arch} is not supported by the OD API TFLite exporter (SSD only)", where,
                         "convert an SSD trial (model.ssd), or export this one with exporter_main_v2.py instead")
    resizer = cfg.model.ssd.image_resizer.WhichOneof("image_resizer_oneof")
    if resizer != EXPORTABLE_RESIZER:
        raise ModelError(f"image_resizer {resizer} is not supported by the OD API TFLite exporter", where,
                         "train with model.ssd.image_resizer.fixed_shape_resizer (fixed input size) to get a TFLite model")


def build_model(cfg: Any, is_training: bool, where: str) -> Any:
    """The OD API detection model of ``cfg`` (``model_builder.build``), untrained.

    Args:
        cfg: the trial's ``TrainEvalPipelineConfig``.
        is_training: build the training graph (batch norm updates, dropout).
        where: the config's path, for the error message.

    Raises:
        ModelError: the OD API cannot build the model (an unknown feature extractor, an
            invalid option...).
    """
    from object_detection.builders import model_builder

    try:
        return model_builder.build(cfg.model, is_training=is_training)
    except Exception as exc:
        text = " ".join(str(exc).split())[:200]
        raise ModelError(f"the OD API cannot build the trial's model ({type(exc).__name__}: {text})", where,
                         "fix the model section of the trial's config (e.g. model.ssd.feature_extractor.type) "
                         "or choose another --trial") from exc


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The TFLite model's input: ``[1, height, width, channels]`` float32."""

    height: int
    width: int
    channels: int

    @classmethod
    def of(cls, cfg: Any) -> InputSpec:
        resizer = cfg.model.ssd.image_resizer.fixed_shape_resizer
        return cls(int(resizer.height), int(resizer.width), 1 if resizer.convert_to_grayscale else 3)


class CheckpointModel:
    """The OD API model of a config with one checkpoint restored.

    Args:
        cfg: the trial's ``TrainEvalPipelineConfig``.
        checkpoint_prefix: the checkpoint to restore (``.../ckpt-N``).
        where: the config's path, for error messages.

    Raises (constructor):
        ModelError: the OD API cannot build the model, or the checkpoint does not fit it.
    """

    def __init__(self, cfg: Any, checkpoint_prefix: str | Path, where: str = "the trial's pipeline.config") -> None:
        import tensorflow as tf

        self.cfg = cfg
        self.input = InputSpec.of(cfg)
        self.model = build_model(cfg, is_training=False, where=where)
        ckpt = tf.train.Checkpoint(model=self.model)
        self._preprocess = tf.function(lambda images: self.model.preprocess(images))

        @tf.function
        def detect(images: Any) -> Any:
            prepared, shapes = self.model.preprocess(images)
            return self.model.postprocess(self.model.predict(prepared, shapes), shapes)

        self._detect = detect
        try:
            status = ckpt.restore(str(checkpoint_prefix)).expect_partial()
            self._detect(tf.zeros([1, self.input.height, self.input.width, 3], tf.float32))
            status.assert_existing_objects_matched()
        except (AssertionError, tf.errors.OpError, ValueError) as exc:
            raise ModelError(f"the checkpoint cannot be restored into the trial's model ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]})", str(checkpoint_prefix),
                             "restore the checkpoint files, or convert it with the config it was trained with") from exc

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """One decoded uint8 image ``[h, w, 3]`` -> the TFLite input ``[1, H, W, C]`` float32."""
        prepared, _ = self._preprocess(image[None].astype(np.float32))
        return prepared.numpy().astype(np.float32)

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the full TF model on one decoded image.

        Returns:
            boxes ``[n, 4]`` normalized, scores ``[n]``, classes ``[n]`` (0-based, as TFLite's).
        """
        out = self._detect(image[None].astype(np.float32))
        n = int(out["num_detections"][0])
        return (out["detection_boxes"][0, :n].numpy(), out["detection_scores"][0, :n].numpy(),
                out["detection_classes"][0, :n].numpy())


def max_detections(cfg: Any) -> int:
    """The config's ``max_total_detections`` (the TFLite model returns as many)."""
    nms = cfg.model.ssd.post_processing.batch_non_max_suppression
    return int(nms.max_total_detections or 100)
