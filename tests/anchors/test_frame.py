"""tuner.anchors.frame: the model's input frame and the boxes in it, checked against the OD API's
own input pipeline, and every unsupported model or resizer named by its config path."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tuner import config as cfgmod
from tuner.anchors import AnchorError
from tuner.anchors.boxes import GroundTruth
from tuner.anchors.frame import InputFrame, input_frame, to_input_frame

SHAPES_CONFIG = Path(__file__).resolve().parents[2] / "pipelines" / "ssd_mobilenet_v2_shapes.config"


def _model(resizer: str = "keep", min_dim: int = 64, max_dim: int = 128, pad: bool = True):
    cfg = cfgmod.load(SHAPES_CONFIG)
    if resizer == "keep":
        keep = cfg.model.ssd.image_resizer.keep_aspect_ratio_resizer
        keep.min_dimension, keep.max_dimension, keep.pad_to_max_dimension = min_dim, max_dim, pad
    return cfg.model


def _gt(image_hw: list[tuple[int, int]], boxes: list[tuple[float, ...]]) -> GroundTruth:
    return GroundTruth(boxes=np.array(boxes, np.float64), classes=np.ones(len(boxes), np.int64),
                       image_index=np.arange(len(boxes), dtype=np.int64), image_hw=np.array(image_hw, np.int64),
                       class_names={}, images=len(boxes), files=("x",))


def test_fixed_shape_frame_leaves_boxes_alone() -> None:
    model = _model("fixed")
    model.ssd.image_resizer.fixed_shape_resizer.height = 96
    gt = _gt([(200, 100)], [(0.1, 0.2, 0.5, 0.6)])
    frame, boxes = to_input_frame(gt, model)
    assert frame == input_frame(model) == InputFrame(96, 128)
    np.testing.assert_array_equal(boxes, gt.boxes)


def test_keep_aspect_ratio_padded_by_hand() -> None:
    # 200x100 (portrait): short side 100 -> 64, long side 128 <= 128: resized 128x64, padded to 128x128.
    # 100x300 (landscape): short side to 64 would make the long side 192 > 128, so long side 300 -> 128,
    # short side 100 * 128/300 = 42.67 -> 43: resized 43x128.
    gt = _gt([(200, 100), (100, 300)], [(0.1, 0.2, 0.5, 0.6), (0.0, 0.5, 1.0, 1.0)])
    frame, boxes = to_input_frame(gt, _model(min_dim=64, max_dim=128))
    assert frame == InputFrame(128, 128)
    np.testing.assert_allclose(boxes, [(0.1, 0.1, 0.5, 0.3), (0.0, 0.5, 43 / 128, 1.0)], rtol=0, atol=1e-12)


def test_keep_aspect_ratio_agrees_with_the_od_api_input_pipeline() -> None:
    from tuner import compat
    compat.apply()
    from object_detection import inputs
    from object_detection.builders import image_resizer_builder
    from object_detection.core import standard_fields as fields
    from object_detection.utils import shape_utils

    model = _model(min_dim=64, max_dim=128)
    resizer_fn = image_resizer_builder.build(model.ssd.image_resizer)
    # square, beyond max_dimension, a scaled side of exactly 2.5 (rounds half to even: 2), and
    # 896x1211, where float32 scaling gives 87 but float64 would give 86
    sizes = [(200, 100), (100, 300), (99, 100), (100, 99), (77, 77), (128, 256), (50, 333), (1000, 641), (3, 5),
             (5, 256), (896, 1211), (1211, 896)]
    box = (0.1, 0.2, 0.9, 0.7)
    gt = _gt(sizes, [box] * len(sizes))
    frame, boxes = to_input_frame(gt, model)
    for (h, w), mine in zip(sizes, boxes):
        out = inputs.transform_input_data(
            {fields.InputDataFields.image: tf.zeros([h, w, 3], tf.uint8),
             fields.InputDataFields.groundtruth_boxes: tf.constant([box], tf.float32),
             fields.InputDataFields.groundtruth_classes: tf.constant([1], tf.int32)},
            model_preprocess_fn=lambda images: shape_utils.resize_images_and_return_shapes(images, resizer_fn),
            image_resizer_fn=resizer_fn, num_classes=3)
        assert tuple(out[fields.InputDataFields.image].shape[:2]) == (frame.height, frame.width)
        np.testing.assert_allclose(mine, out[fields.InputDataFields.groundtruth_boxes].numpy()[0], atol=1e-6,
                                   err_msg=f"{h}x{w}")


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.ssd.image_resizer.keep_aspect_ratio_resizer.SetInParent(),
     "model.ssd.image_resizer: keep_aspect_ratio_resizer without pad_to_max_dimension is not supported.*"
     "set pad_to_max_dimension: true or use fixed_shape_resizer"),
    (lambda m: m.ssd.image_resizer.identity_resizer.SetInParent(),
     "model.ssd.image_resizer: identity_resizer is not supported"),
    (lambda m: m.ssd.image_resizer.Clear(), "model.ssd.image_resizer: no image resizer"),
    (lambda m: m.faster_rcnn.SetInParent(), "model: faster_rcnn is not supported.*SSD"),
])
def test_unsupported_models_and_resizers(edit, message) -> None:
    model = _model("fixed")
    edit(model)
    gt = _gt([(10, 10)], [(0.1, 0.1, 0.2, 0.2)])
    for call in (lambda: input_frame(model), lambda: to_input_frame(gt, model)):
        with pytest.raises(AnchorError, match=message):
            call()


def test_keep_aspect_ratio_min_above_max() -> None:
    with pytest.raises(AnchorError, match="keep_aspect_ratio_resizer: min_dimension 200 and max_dimension 128"):
        input_frame(_model(min_dim=200, max_dim=128))


def test_boxes_re_exports_the_frame_names() -> None:
    from tuner.anchors import boxes, frame

    for name in frame.__all__:
        assert getattr(boxes, name) is getattr(frame, name), name
