"""Measure detectors: COCO mAP on the eval images (the OD API's protocol) and TFLite latency.

COCO metrics come from ``object_detection.metrics.coco_evaluation.CocoDetectionEvaluator``,
the class the OD API evaluation uses: ground truth and detections in absolute pixel
coordinates of the decoded image, class ids shifted by the label-id offset 1. A model that
detects nothing on every image scores mAP 0; that is a measurement, not an error.

Output mapping (:class:`OutputMap`): the converted models' outputs are named
``StatefulPartitionedCall:N`` and their order differs between TF versions, so they are never
taken by position or by name. They are taken from the model's one ``TFLite_Detection_PostProcess``
op, whose four outputs are, in this order, boxes ``[1, N, 4]``, classes ``[1, N]``, scores
``[1, N]`` and the number of detections ``[1]`` (``kOutputTensorDetectionBoxes = 0`` ...
``kOutputTensorNumDetections = 3`` in TF's ``tensorflow/lite/kernels/detection_postprocess.cc``;
checked on a converted model of this project: output 1 holds integral class ids, output 2
scores in [0, 1]). Each of those tensors must be a model output of the expected shape and
float32; the shapes cross-check the op's order (boxes and num differ from the ``[1, N]``
pair). No inference is needed, so a variant that detects nothing is still mapped.

An integer input (``uint8`` with ``--uint8-io``) is fed the preprocessed image quantized with
the input tensor's own scale and zero point, ``round(x / scale) + zero_point``: that is the
contract of a quantized input (``x = (q - zero_point) * scale``). For SSD MobileNet
(``x = 2/255 * pixel - 1``, calibrated scale 2/255, zero point 127) it is within one step of
the raw resized pixel, but only the quantized preprocessed image is exact.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from tflite.errors import ModelError
from tflite.records import Example

#: A detector: preprocessed-or-raw example -> (normalized boxes [n, 4], scores [n], 0-based classes [n]).
Detections = tuple[np.ndarray, np.ndarray, np.ndarray]
MAP = "DetectionBoxes_Precision/mAP"
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
POSTPROCESS_OP = "TFLite_Detection_PostProcess"
#: The post-processing op's outputs, in its output order.
ROLES = ("boxes", "classes", "scores", "num")


@dataclasses.dataclass(frozen=True)
class OutputMap:
    """Output tensor indices of a TFLite detection model, by meaning (see the module docstring)."""

    boxes: int
    classes: int
    scores: int
    num: int

    @classmethod
    def of(cls, interpreter: Any, where: str = "the TFLite model") -> OutputMap:
        """Map the outputs through the model's ``TFLite_Detection_PostProcess`` op.

        Args:
            interpreter: a ``tf.lite.Interpreter`` (tensors allocated).
            where: the model file, for error messages.

        Raises:
            ModelError: no (or several) post-processing ops; its outputs are not the model's
                outputs, not float32, or not of the SSD detection shapes.
        """
        list_ops = getattr(interpreter, "_get_ops_details", None)
        if list_ops is None:
            raise ModelError("this TensorFlow's TFLite interpreter cannot list the model's ops", where,
                             "use the pinned TensorFlow 2.15 (make setup)")
        ops = [op for op in list_ops() if op["op_name"] == POSTPROCESS_OP]
        fix = "export it with the OD API TFLite exporter (SSD), which ends the model in that op"
        if len(ops) != 1:
            raise ModelError(f"the model has {len(ops)} {POSTPROCESS_OP} ops, expected exactly one", where, fix)
        indices = [int(i) for i in ops[0]["outputs"]]
        if len(indices) != len(ROLES):
            raise ModelError(f"{POSTPROCESS_OP} has {len(indices)} outputs, expected {len(ROLES)} "
                             f"({', '.join(ROLES)})", where, fix)
        details = {d["index"]: d for d in interpreter.get_output_details()}
        problems = []
        for role, index in zip(ROLES, indices):
            detail = details.get(index)
            if detail is None:
                problems.append(f"{role} (tensor {index}) is not a model output")
                continue
            shape = [int(s) for s in detail["shape"]]
            ok = {"boxes": len(shape) == 3 and shape[0] == 1 and shape[2] == 4,
                  "classes": len(shape) == 2 and shape[0] == 1, "scores": len(shape) == 2 and shape[0] == 1,
                  "num": int(np.prod(shape)) == 1}[role]
            if not ok or detail["dtype"] != np.float32:
                problems.append(f"{role} {detail['name']} is {np.dtype(detail['dtype']).name} {shape}")
        if not problems:
            n = {int(details[i]["shape"][1]) for i in indices[:3]}
            if len(n) != 1:
                problems.append(f"boxes, classes and scores disagree on the number of detections {sorted(n)}")
        if problems:
            raise ModelError(f"the {POSTPROCESS_OP} outputs are not SSD detections ({'; '.join(problems)})", where,
                             "convert with float32 outputs (boxes [1,N,4], classes [1,N], scores [1,N], num [1])")
        return cls(*indices)

    def names(self, interpreter: Any) -> dict[str, str]:
        """Role -> the output tensor's name in the ``.tflite`` file (for the report)."""
        by_index = {d["index"]: d["name"] for d in interpreter.get_output_details()}
        return {role: by_index[getattr(self, role)] for role in ROLES}


def _output(interpreter: Any, index: int) -> np.ndarray:
    return np.asarray(interpreter.get_tensor(index), np.float32)


def quantize_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """The preprocessed float image ``x`` as the model's input tensor ``detail`` takes it.

    A float input takes ``x`` as is; an integer input takes ``round(x / scale) + zero_point``
    (halves away from zero, in float32, as TFLite's own QUANTIZE kernel computes it), clipped to
    the integer range: the inverse of ``x = (q - zero_point) * scale``.

    Raises:
        ModelError: an integer input without quantization parameters.
    """
    dtype = np.dtype(detail["dtype"])
    if not np.issubdtype(dtype, np.integer):
        return np.asarray(x, dtype)
    scale, zero = detail["quantization"]
    if not scale:
        raise ModelError(f"the model's {dtype.name} input has no quantization scale", detail.get("name", "input"),
                         "re-run the conversion")
    info = np.iinfo(dtype)
    scaled = np.asarray(x, np.float32) / np.float32(scale)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    return np.clip(rounded.astype(np.int64) + int(zero), info.min, info.max).astype(dtype)


class TfliteDetector:
    """A TFLite detection model behind the interpreter, outputs mapped by :class:`OutputMap`.

    Args:
        model: path to the ``.tflite`` file.
        num_threads: interpreter threads (stated in the report).

    Attributes:
        outputs: the output mapping.
        input_detail: the interpreter's input tensor details (dtype, quantization).

    Raises:
        ModelError: the model cannot be loaded or its outputs identified; the interpreter
            fails on an input (from :meth:`__call__` and :meth:`latency`).
    """

    def __init__(self, model: str | Path, num_threads: int) -> None:
        import tensorflow as tf

        self.model = Path(model)
        try:
            self.interpreter = tf.lite.Interpreter(model_path=str(model), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"the TFLite interpreter cannot load the model ({_first_line(exc)})", str(model),
                             "re-run the conversion") from exc
        self.num_threads = num_threads
        self.outputs = OutputMap.of(self.interpreter, str(model))
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise ModelError(f"the model has {len(inputs)} inputs, expected one image", str(model),
                             "export it with the OD API TFLite exporter (SSD)")
        self.input_detail = inputs[0]

    def io(self) -> dict[str, Any]:
        """The model's actual input and output types, as the report records them."""
        scale, zero = self.input_detail["quantization"]
        quantized = np.issubdtype(np.dtype(self.input_detail["dtype"]), np.integer)
        by_index = {d["index"]: d for d in self.interpreter.get_output_details()}
        return {"input_dtype": np.dtype(self.input_detail["dtype"]).name,
                "input_scale": float(scale) if quantized else None,
                "input_zero_point": int(zero) if quantized else None,
                "output_dtypes": {r: np.dtype(by_index[getattr(self.outputs, r)]["dtype"]).name for r in ROLES},
                "output_names": self.outputs.names(self.interpreter)}

    def _set_input(self, x: np.ndarray) -> None:
        try:
            self.interpreter.set_tensor(self.input_detail["index"], quantize_input(x, self.input_detail))
        except ValueError as exc:
            raise ModelError(f"the TFLite model does not take the preprocessed image ({_first_line(exc)})",
                             str(self.model), "convert the trial with its own config (fixed_shape_resizer size)"
                             ) from exc

    def _invoke(self) -> None:
        try:
            self.interpreter.invoke()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"the TFLite interpreter failed to run the model ({_first_line(exc)})", str(self.model),
                             "leave this variant out (--variants) and report the error") from exc

    def __call__(self, x: np.ndarray) -> Detections:
        """Detections for one preprocessed image, boxes clipped to the image.

        The TFLite post-processing op (``TFLite_Detection_PostProcess``) leaves decoded boxes
        unclipped (ymin -0.2 seen), whereas the OD API's own ``postprocess`` clips them to the
        image window ([0, 1] for ``fixed_shape_resizer``); unclipped, a box that matches the
        checkpoint's scores a lower IoU against the ground truth. So boxes are clipped here, as
        an application using the file must do too.
        """
        self._set_input(x)
        self._invoke()
        o = self.outputs
        n = int(round(float(_output(self.interpreter, o.num).reshape(-1)[0])))
        boxes = np.clip(_output(self.interpreter, o.boxes).reshape(-1, 4)[:n], 0.0, 1.0)
        scores = _output(self.interpreter, o.scores).reshape(-1)[:n]
        classes = _output(self.interpreter, o.classes).reshape(-1)[:n]
        return boxes, scores, classes

    def latency(self, x: np.ndarray, runs: int, warmup: int = 2) -> tuple[float, float]:
        """Median and 90th-percentile wall time of one ``invoke`` in milliseconds.

        Raises:
            ModelError: the interpreter fails.
        """
        self._set_input(x)
        for _ in range(max(1, warmup)):
            self._invoke()
        times = []
        for _ in range(max(1, runs)):
            start = time.perf_counter()
            self._invoke()
            times.append((time.perf_counter() - start) * 1000.0)
        return float(np.median(times)), float(np.percentile(times, 90))


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """COCO metrics of one detector on the eval images."""

    map: float
    map50: float
    images: int
    metrics: dict[str, float]


def coco_accuracy(detect: Callable[[Example], Detections], examples: Sequence[Example],
                  categories: list[dict[str, Any]], label_id_offset: int = 1) -> Accuracy:
    """COCO detection metrics of ``detect`` over ``examples`` (the OD API evaluator, pycocotools).

    A detector that finds nothing on any image scores mAP 0 (a measurement, not an error).
    """
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
