"""Measure detectors: COCO mAP on the eval images (the OD API's protocol) and TFLite latency.

COCO metrics come from ``object_detection.metrics.coco_evaluation.CocoDetectionEvaluator``,
the class the OD API evaluation uses: ground truth and detections in absolute pixel
coordinates of the decoded image, class ids shifted by the label-id offset 1.

The converted models' outputs are named ``StatefulPartitionedCall:N`` and their order
differs between TF versions, so :class:`OutputMap` identifies them by shape and content,
never by position: boxes ``[1, N, 4]``, number of detections ``[1]``, and of the two
``[1, N]`` tensors the classes are integer-valued while the scores are not.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from tflite.errors import ModelError
from tflite.records import Example

#: A detector: preprocessed-or-raw example -> (normalized boxes [n, 4], scores [n], 0-based classes [n]).
Detections = tuple[np.ndarray, np.ndarray, np.ndarray]
MAP = "DetectionBoxes_Precision/mAP"
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"


@dataclasses.dataclass(frozen=True)
class OutputMap:
    """Output tensor indices of a TFLite detection model, by meaning."""

    boxes: int
    classes: int
    scores: int
    num: int

    @staticmethod
    def _shape_roles(details: Sequence[dict[str, Any]]) -> tuple[int, int, list[int]]:
        boxes = [d["index"] for d in details if len(d["shape"]) == 3 and d["shape"][-1] == 4]
        nums = [d["index"] for d in details if int(np.prod(d["shape"])) == 1]
        pairs = [d["index"] for d in details if len(d["shape"]) == 2 and d["shape"][-1] > 1]
        if len(boxes) != 1 or len(nums) != 1 or len(pairs) != 2:
            shapes = {d["name"]: list(d["shape"]) for d in details}
            raise ModelError("the TFLite model's outputs are not SSD detections (boxes [1,N,4], two [1,N], num [1])",
                             f"outputs {shapes}", "export with the OD API TFLite exporter (SSD)")
        return boxes[0], nums[0], pairs

    @classmethod
    def identify(cls, interpreter: Any, probes: Iterable[np.ndarray]) -> OutputMap:
        """Run ``interpreter`` on ``probes`` until classes and scores can be told apart.

        Raises:
            ModelError: the outputs do not have the SSD shapes, or no probe disambiguates them.
        """
        details = interpreter.get_output_details()
        boxes, num, (a, b) = cls._shape_roles(details)
        for probe in probes:
            _invoke(interpreter, probe)
            n = int(round(float(_output(interpreter, num).reshape(-1)[0])))
            va, vb = (_output(interpreter, i).reshape(-1)[:n] for i in (a, b))
            if n == 0:
                continue
            int_a, int_b = (bool(np.all(v == np.round(v))) for v in (va, vb))
            if int_a != int_b:
                classes, scores = (a, b) if int_a else (b, a)
                score_values = _output(interpreter, scores).reshape(-1)[:n]
                if np.all((score_values >= 0) & (score_values <= 1)):
                    return cls(boxes=boxes, classes=classes, scores=scores, num=num)
        raise ModelError("cannot tell the classes output from the scores output", "the TFLite model's [1,N] outputs",
                         "evaluate on images the model detects something in (more --eval-count)")


def _output(interpreter: Any, index: int) -> np.ndarray:
    detail = next(d for d in interpreter.get_output_details() if d["index"] == index)
    value = interpreter.get_tensor(index)
    scale, zero = detail["quantization"]
    if np.issubdtype(value.dtype, np.integer) and scale:
        return (value.astype(np.float32) - zero) * scale
    return value.astype(np.float32)


def _invoke(interpreter: Any, x: np.ndarray) -> None:
    detail = interpreter.get_input_details()[0]
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        x = np.clip(np.round(x / scale + zero), info.min, info.max)
    interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))
    interpreter.invoke()


class TfliteDetector:
    """A TFLite detection model behind the interpreter, outputs mapped by :class:`OutputMap`.

    Args:
        model: path to the ``.tflite`` file.
        num_threads: interpreter threads (stated in the report).
        probes: preprocessed inputs used to identify the outputs.

    Raises:
        ModelError: the model cannot be loaded or its outputs identified.
    """

    def __init__(self, model: str | Path, num_threads: int, probes: Iterable[np.ndarray]) -> None:
        import tensorflow as tf

        try:
            self.interpreter = tf.lite.Interpreter(model_path=str(model), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"the TFLite interpreter cannot load the model ({exc})", str(model),
                             "re-run the conversion") from exc
        self.num_threads = num_threads
        self.outputs = OutputMap.identify(self.interpreter, probes)

    def __call__(self, x: np.ndarray) -> Detections:
        _invoke(self.interpreter, x)
        o = self.outputs
        n = int(round(float(_output(self.interpreter, o.num).reshape(-1)[0])))
        boxes = _output(self.interpreter, o.boxes).reshape(-1, 4)[:n]
        scores = _output(self.interpreter, o.scores).reshape(-1)[:n]
        classes = _output(self.interpreter, o.classes).reshape(-1)[:n]
        return boxes, scores, classes

    def latency(self, x: np.ndarray, runs: int, warmup: int = 2) -> tuple[float, float]:
        """Median and 90th-percentile wall time of one ``invoke`` in milliseconds."""
        for _ in range(max(1, warmup)):  # also leaves ``x`` in the input tensor
            _invoke(self.interpreter, x)
        times = []
        for _ in range(max(1, runs)):
            start = time.perf_counter()
            self.interpreter.invoke()
            times.append((time.perf_counter() - start) * 1000.0)
        return float(np.median(times)), float(np.percentile(times, 90))


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """COCO metrics of one detector on the eval images."""

    map: float
    map50: float
    images: int
    metrics: dict[str, float]


def coco_accuracy(detect: Callable[[Example], Detections], examples: Sequence[Example],
                  categories: list[dict[str, Any]], label_id_offset: int = 1) -> Accuracy:
    """COCO detection metrics of ``detect`` over ``examples`` (the OD API evaluator, pycocotools)."""
    from object_detection.core import standard_fields as fields
    from object_detection.metrics import coco_evaluation

    evaluator = coco_evaluation.CocoDetectionEvaluator(categories)
    gt_key, det_key = fields.InputDataFields, fields.DetectionResultFields
    for image_id, example in enumerate(examples):
        scale = np.array([example.height, example.width, example.height, example.width], np.float32)
        evaluator.add_single_ground_truth_image_info(image_id, {
            gt_key.groundtruth_boxes: example.boxes * scale,
            gt_key.groundtruth_classes: example.classes})
        boxes, scores, classes = detect(example)
        evaluator.add_single_detected_image_info(image_id, {
            det_key.detection_boxes: np.asarray(boxes, np.float32).reshape(-1, 4) * scale,
            det_key.detection_scores: np.asarray(scores, np.float32).reshape(-1),
            det_key.detection_classes: np.round(np.asarray(classes).reshape(-1)).astype(np.int64) + label_id_offset})
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its summary
        metrics = {k: float(v) for k, v in evaluator.evaluate().items()}
    return Accuracy(map=metrics[MAP], map50=metrics[MAP50], images=len(examples), metrics=metrics)
