"""The model's input frame: the size SSD's image resizer gives, and the boxes re-expressed in it.

:func:`to_input_frame` re-expresses ground-truth boxes (:class:`~tuner.anchors.truth.GroundTruth`,
normalised to their source image) the way the OD API does before its anchors see them:
unchanged for ``fixed_shape_resizer`` (the image is stretched), shrunk towards the top-left
corner for ``keep_aspect_ratio_resizer`` with ``pad_to_max_dimension`` (the image is resized
keeping its aspect ratio, then padded at the bottom and right). Pure numpy, no TensorFlow.

Every error is an :class:`~tuner.anchors.errors.AnchorError` with a one-line message naming
the config path (or the box and its record), and the fix.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from tuner.anchors.errors import AnchorError

if TYPE_CHECKING:  # pragma: no cover
    from tuner.anchors.truth import GroundTruth

__all__ = ["InputFrame", "input_frame", "to_input_frame"]


@dataclasses.dataclass(frozen=True)
class InputFrame:
    """The model's input image in pixels, after resizing and padding."""

    height: int
    width: int


def _resizer(model_cfg: Any) -> tuple[str, Any]:
    """(oneof name, message) of ``model.ssd.image_resizer``.

    Raises:
        AnchorError: not an SSD model, or an image resizer the analysis cannot map.
    """
    kind = model_cfg.WhichOneof("model")
    if kind != "ssd":
        raise AnchorError(f"model: {kind or 'no model'} is not supported; the anchor analysis covers SSD "
                          "anchors (model.ssd) (fix: analyse an SSD pipeline.config)")
    resizer = model_cfg.ssd.image_resizer
    which = resizer.WhichOneof("image_resizer_oneof")
    path = "model.ssd.image_resizer"
    fix = "use fixed_shape_resizer, or keep_aspect_ratio_resizer with pad_to_max_dimension: true"
    if which == "fixed_shape_resizer":
        msg = resizer.fixed_shape_resizer
        if msg.height < 1 or msg.width < 1:
            raise AnchorError(f"{path}.fixed_shape_resizer: height {msg.height} x width {msg.width} is not a "
                              "valid input size (fix: set height and width >= 1)")
        return which, msg
    if which == "keep_aspect_ratio_resizer":
        msg = resizer.keep_aspect_ratio_resizer
        if not msg.pad_to_max_dimension:
            raise AnchorError(f"{path}: keep_aspect_ratio_resizer without pad_to_max_dimension is not supported "
                              "(every image has its own input size, so anchors have no single frame) (fix: set "
                              "pad_to_max_dimension: true or use fixed_shape_resizer)")
        if not 1 <= msg.min_dimension <= msg.max_dimension:
            raise AnchorError(f"{path}.keep_aspect_ratio_resizer: min_dimension {msg.min_dimension} and "
                              f"max_dimension {msg.max_dimension} need 1 <= min_dimension <= max_dimension "
                              "(fix: correct them; the OD API refuses min_dimension > max_dimension too)")
        return which, msg
    if which is None:
        raise AnchorError(f"{path}: no image resizer is set (fix: {fix})")
    raise AnchorError(f"{path}: {which} is not supported by the anchor analysis (fix: {fix})")


def input_frame(model_cfg: Any) -> InputFrame:
    """The model's input size in pixels (``model_cfg``: the pipeline's ``model``, a DetectionModel).

    ``fixed_shape_resizer``: (height, width). ``keep_aspect_ratio_resizer`` with
    ``pad_to_max_dimension``: (max_dimension, max_dimension).

    Raises:
        AnchorError: not an SSD model (names ``model``), or another resizer or
            ``keep_aspect_ratio_resizer`` without ``pad_to_max_dimension`` (names
            ``model.ssd.image_resizer``).
    """
    which, msg = _resizer(model_cfg)
    if which == "fixed_shape_resizer":
        return InputFrame(int(msg.height), int(msg.width))
    return InputFrame(int(msg.max_dimension), int(msg.max_dimension))


def _resized_hw(image_hw: np.ndarray, min_dimension: int, max_dimension: int) -> np.ndarray:
    """Size of each image after ``keep_aspect_ratio_resizer``, before padding.

    As ``object_detection.core.preprocessor.resize_to_range`` (OD API 2.8) does it: a landscape
    image (height < width) is fitted into (min_dimension, max_dimension), any other into
    (max_dimension, min_dimension), by ``tf.image.resize_images(preserve_aspect_ratio=True)``,
    which computes the scale and rounds (half to even) in float32. So the short side becomes
    min_dimension unless the long side would exceed max_dimension, then the long side is
    max_dimension.
    """
    h = image_hw[:, 0].astype(np.float32)
    w = image_hw[:, 1].astype(np.float32)
    landscape = image_hw[:, 0] < image_hw[:, 1]
    target_h = np.where(landscape, np.float32(min_dimension), np.float32(max_dimension)).astype(np.float32)
    target_w = np.where(landscape, np.float32(max_dimension), np.float32(min_dimension)).astype(np.float32)
    scale = np.minimum(target_h / h, target_w / w).astype(np.float32)
    return np.stack([np.round(scale * h), np.round(scale * w)], axis=1).astype(np.int64)


def to_input_frame(gt: GroundTruth, model_cfg: Any) -> tuple[InputFrame, np.ndarray]:
    """Express the ground-truth boxes in the model's input frame, as the OD API does.

    ``fixed_shape_resizer`` stretches the image, so normalised boxes are unchanged.
    ``keep_aspect_ratio_resizer`` with ``pad_to_max_dimension`` resizes each image to (new_h,
    new_w) (see :func:`_resized_hw`) and pads it at the bottom and right to max_dimension
    squared; ``object_detection.inputs.transform_input_data`` then re-expresses the boxes in the
    padded image (``change_coordinate_frame``), so y scales by new_h / max_dimension and x by
    new_w / max_dimension. Data augmentation is not modelled.

    Returns:
        (frame, boxes): boxes (N, 4) float64 ymin, xmin, ymax, xmax normalised to ``frame``,
        in the order of ``gt.boxes``.

    Raises:
        AnchorError: as :func:`input_frame`; or ``gt.image_hw`` holds a size < 1.
    """
    which, msg = _resizer(model_cfg)
    frame = input_frame(model_cfg)
    boxes = np.asarray(gt.boxes, dtype=np.float64).reshape(-1, 4)
    if which == "fixed_shape_resizer":
        return frame, boxes.copy()
    image_hw = np.asarray(gt.image_hw, dtype=np.int64).reshape(-1, 2)
    if len(image_hw) and image_hw.min() < 1:
        j = int(np.argmin(image_hw.min(axis=1)))
        raise AnchorError(f"ground truth box {j} (record {int(gt.image_index[j])}): image size "
                          f"{image_hw[j, 0]}x{image_hw[j, 1]} is not valid (fix: write image/height and "
                          "image/width >= 1 into the records)")
    new_hw = _resized_hw(image_hw, int(msg.min_dimension), int(msg.max_dimension)).astype(np.float64)
    scale = new_hw / float(msg.max_dimension)
    return frame, boxes * np.concatenate([scale, scale], axis=1)
