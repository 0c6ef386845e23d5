"""Small pieces: checkpoint staging, output mapping, input quantization, variants, notes, the report table."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tflite import report as reportmod
from tflite.errors import ConvertError, ModelError, StudyError
from tflite.quantize import Variant, parse_variants


def test_staged_checkpoint_is_the_latest_of_its_dir(odapi, tmp_path) -> None:
    """The exporter restores the *latest* checkpoint of a directory: staging makes it the chosen one."""
    import tuner.odapi  # noqa: F401
    import tensorflow as tf

    from tflite.export import stage_checkpoint

    model = tmp_path / "model"
    model.mkdir()
    for n in (2, 4):
        for suffix in (".index", ".data-00000-of-00001"):
            (model / f"ckpt-{n}{suffix}").write_bytes(b"x")
    (model / "checkpoint").write_text('model_checkpoint_path: "ckpt-4"\n')
    staged = stage_checkpoint(model / "ckpt-2", tmp_path / "work")
    assert tf.train.latest_checkpoint(str(staged)) == str(staged / "ckpt-2")
    assert sorted(p.name for p in staged.iterdir()) == ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    assert (model / "checkpoint").read_text() == 'model_checkpoint_path: "ckpt-4"\n'  # trial untouched
    with pytest.raises(StudyError, match="incomplete"):
        stage_checkpoint(model / "ckpt-9", tmp_path / "work2")


class FakeInterpreter:
    """A converted SSD as the interpreter shows it: outputs listed in a shuffled order, named
    ``StatefulPartitionedCall:N`` with N unrelated to their meaning, produced by the
    post-processing op whose outputs are boxes, classes, scores, num (tensors 1, 5, 3, 7)."""

    def __init__(self, op_outputs: tuple[int, ...] = (1, 5, 3, 7), post_op: str = "TFLite_Detection_PostProcess",
                 output_dtype: type = np.float32, detections: int = 3) -> None:
        self.op_outputs = op_outputs
        self.post_op = post_op
        self.output_dtype = output_dtype
        self.values = {7: np.array([float(detections)], np.float32),                     # num
                       3: np.array([[0.9, 0.4, 0.2, 0.0]], np.float32),                  # scores
                       5: np.array([[2.0, 0.0, 1.0, 0.0]], np.float32),                  # classes
                       1: np.tile(np.array([0.1, 0.1, 0.5, 0.5], np.float32), (1, 4, 1))}  # boxes
        self.fed: list[np.ndarray] = []

    def _get_ops_details(self) -> list[dict]:
        return [{"index": 0, "op_name": "CONV_2D", "inputs": np.array([0, 10, 11]), "outputs": np.array([12])},
                {"index": 1, "op_name": self.post_op, "inputs": np.array([12, 13, 14]),
                 "outputs": np.array(self.op_outputs)}]

    def get_output_details(self) -> list[dict]:
        shapes = {7: [1], 3: [1, 4], 5: [1, 4], 1: [1, 4, 4]}
        return [{"index": i, "name": f"StatefulPartitionedCall:{n}", "shape": np.array(shapes[i]),
                 "dtype": self.output_dtype, "quantization": (0.0, 0)} for n, i in enumerate((5, 1, 7, 3))]

    def get_input_details(self) -> list[dict]:
        return [{"index": 0, "name": "serving_default_input:0", "dtype": np.float32, "quantization": (0.0, 0)}]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self.fed.append(value)

    def invoke(self) -> None:
        pass

    def get_tensor(self, index: int) -> np.ndarray:
        return self.values[index]


def test_outputs_are_mapped_by_the_post_processing_op_not_by_position_or_name() -> None:
    from tflite.measure import OutputMap

    interpreter = FakeInterpreter()
    mapping = OutputMap.of(interpreter)
    assert (mapping.boxes, mapping.classes, mapping.scores, mapping.num) == (1, 5, 3, 7)
    assert mapping.names(interpreter) == {"boxes": "StatefulPartitionedCall:1", "classes": "StatefulPartitionedCall:0",
                                          "scores": "StatefulPartitionedCall:3", "num": "StatefulPartitionedCall:2"}


def test_a_model_that_detects_nothing_is_still_mapped_and_returns_no_detection() -> None:
    from tflite.measure import OutputMap, TfliteDetector

    assert OutputMap.of(FakeInterpreter(detections=0)) == OutputMap(1, 5, 3, 7)
    detector = _detector(FakeInterpreter(detections=0))
    boxes, scores, classes = detector(np.zeros((1, 8, 8, 3), np.float32))
    assert boxes.shape == (0, 4) and scores.shape == (0,) and classes.shape == (0,)
    boxes, scores, classes = _detector(FakeInterpreter())(np.zeros((1, 8, 8, 3), np.float32))
    assert scores.tolist() == pytest.approx([0.9, 0.4, 0.2]) and classes.tolist() == [2.0, 0.0, 1.0]
    assert isinstance(detector, TfliteDetector)


@pytest.mark.parametrize("interpreter, needle", [
    (FakeInterpreter(post_op="CUSTOM_NMS"), "0 TFLite_Detection_PostProcess ops"),
    (FakeInterpreter(op_outputs=(1, 5, 3)), "has 3 outputs, expected 4"),
    (FakeInterpreter(op_outputs=(1, 5, 3, 99)), "num (tensor 99) is not a model output"),
    (FakeInterpreter(op_outputs=(5, 1, 3, 7)), "boxes StatefulPartitionedCall:0 is float32 [1, 4]"),
    (FakeInterpreter(output_dtype=np.uint8), "is uint8"),
])
def test_outputs_that_are_not_the_post_processing_op_s_are_an_error(interpreter, needle) -> None:
    from tflite.measure import OutputMap

    with pytest.raises(ModelError) as info:
        OutputMap.of(interpreter, "m.tflite")
    message = str(info.value)
    assert needle in message and "m.tflite" in message and "\n" not in message, message


def _detector(interpreter: FakeInterpreter):
    """A TfliteDetector around a fake interpreter (the constructor would load a real file)."""
    from tflite.measure import OutputMap, TfliteDetector

    detector = object.__new__(TfliteDetector)
    detector.model, detector.interpreter, detector.num_threads = Path("m.tflite"), interpreter, 1
    detector.outputs = OutputMap.of(interpreter)
    detector.input_detail = interpreter.get_input_details()[0]
    return detector


def test_a_uint8_input_is_fed_the_quantized_preprocessed_image() -> None:
    from tflite.measure import quantize_input

    detail = {"dtype": np.uint8, "quantization": (2 / 255, 127), "name": "in"}
    x = np.array([-1.0, 0.0, 0.5, 5.0], np.float32)  # x = (q - 127) * 2/255; 5.0 is out of range: clipped
    assert quantize_input(x, detail).tolist() == [0, 127, 191, 255]
    assert quantize_input(x, detail).dtype == np.uint8
    assert quantize_input(x, {"dtype": np.float32, "quantization": (0.0, 0)}).tolist() == x.tolist()
    with pytest.raises(ModelError, match="no quantization scale"):
        quantize_input(x, {"dtype": np.uint8, "quantization": (0.0, 0), "name": "in"})


def test_interpreter_failures_are_one_line_model_errors() -> None:
    class Failing(FakeInterpreter):
        def invoke(self) -> None:
            raise RuntimeError("tensorflow/lite/kernels/conv.cc:351 Node number 3 (CONV_2D) failed to invoke.\nmore")

    detector = _detector(Failing())
    for call in (lambda: detector(np.zeros((1, 8, 8, 3), np.float32)),
                 lambda: detector.latency(np.zeros((1, 8, 8, 3), np.float32), runs=2)):
        with pytest.raises(ModelError) as info:
            call()
        message = str(info.value)
        assert "the TFLite interpreter failed to run the model (RuntimeError: " in message
        assert "m.tflite" in message and "--variants" in message and "\n" not in message


def test_a_detector_that_finds_nothing_scores_map_zero(odapi) -> None:
    import tuner.odapi  # noqa: F401

    from tflite.measure import coco_accuracy
    from tflite.records import Example

    image = np.zeros((64, 64, 3), np.uint8)
    examples = [Example(image, np.array([[0.1, 0.1, 0.6, 0.6]], np.float32), np.array([1])) for _ in range(2)]
    cats = [{"id": 1, "name": "circle"}, {"id": 2, "name": "square"}]
    empty = (np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.float32))
    nothing = coco_accuracy(lambda e: empty, examples, cats)
    assert nothing.map == 0.0 and nothing.map50 == 0.0 and nothing.images == 2
    perfect = coco_accuracy(lambda e: (e.boxes, np.array([0.9], np.float32), np.array([0.0])), examples, cats)
    assert perfect.map == pytest.approx(1.0)


def test_variants_are_parsed_in_canonical_order() -> None:
    assert parse_variants("int8, fp32,int8") == (Variant.FP32, Variant.INT8)
    assert Variant.FP16.filename == "model_fp16.tflite"
    with pytest.raises(ConvertError, match="unknown variant 'bf16'"):
        parse_variants("fp32,bf16")


def test_report_round_trip_and_table(tmp_path: Path) -> None:
    rows = (reportmod.Row("checkpoint", None, 0.5, 0.8, 0.0),
            reportmod.Row("int8", "model_int8.tflite", 0.45, 0.75, 0.05, 900_000, 1.25, 2.5, 2,
                          input_dtype="uint8", input_scale=2 / 255, input_zero_point=127,
                          output_dtypes={r: "float32" for r in ("boxes", "classes", "scores", "num")},
                          output_names={"boxes": "StatefulPartitionedCall:3"}))
    report = reportmod.Report("s", 3, "ckpt-2", 16, 2, 5, rows, notes=("a note",))
    report.write(tmp_path)
    back = reportmod.load(tmp_path)
    assert back == report and back.row("int8").map_drop == 0.05
    assert back.row("int8").input_zero_point == 127 and back.row("checkpoint").input_dtype is None
    md = (tmp_path / "report.md").read_text()
    assert "| int8 | 0.4500 | 0.7500 | +0.0500 | 879 KiB | 1.25 ms | 2.50 ms | 2 | uint8 -> float32 |" in md
    assert "| checkpoint | 0.5000 | 0.8000 | +0.0000 | - | - | - | - | - |" in md
    assert "- a note" in md
    assert "+0.0500" in report.to_text()
    assert math.isclose(json.loads((tmp_path / "report.json").read_text())["rows"][1]["latency_p90_ms"], 2.5)


def test_quantization_aware_training_cannot_wrap_the_od_api_ssd(odapi, make_config) -> None:
    """tfmot on the real Keras SSD: the note carries the exact error (update tflite.qat if this changes)."""
    import tuner.odapi  # noqa: F401

    from tflite.qat import attempt
    from tuner import config as cfgmod

    outcome = attempt(cfgmod.loads(make_config(30)))
    assert not outcome.applied
    assert "tensorflow-model-optimization" in outcome.note
    assert "`to_quantize` can only be a `tf.keras.Model` instance" in outcome.note and "SSDMetaArch" in outcome.note
    assert "FreezableBatchNorm" in outcome.note


def test_a_model_tfmot_wraps_is_not_claimed_as_quantization_aware_trained(odapi, make_config, monkeypatch) -> None:
    """If tfmot ever wraps the SSD, the note says so, but no QAT happened: applied stays False."""
    import tuner.odapi  # noqa: F401
    import tensorflow_model_optimization as tfmot

    from tflite.qat import attempt
    from tuner import config as cfgmod

    monkeypatch.setattr(tfmot.quantization.keras, "quantize_model", lambda model: model)
    outcome = attempt(cfgmod.loads(make_config(30)))
    assert not outcome.applied
    assert "wrapped the whole SSD model" in outcome.note and "not implemented" in outcome.note


def test_a_model_the_od_api_cannot_build_is_a_one_line_model_error(odapi, make_config) -> None:
    import tuner.odapi  # noqa: F401

    from tflite.model import CheckpointModel, build_model
    from tflite.qat import attempt
    from tuner import config as cfgmod

    cfg = cfgmod.loads(make_config(30))
    cfg.model.ssd.feature_extractor.type = "ssd_no_such_extractor"
    for call in (lambda: build_model(cfg, False, "trial/pipeline.config"),
                 lambda: CheckpointModel(cfg, "trial/model/ckpt-1", "trial/pipeline.config"),
                 lambda: attempt(cfg, "trial/pipeline.config")):
        with pytest.raises(ModelError) as info:
            call()
        message = str(info.value)
        assert "the OD API cannot build the trial's model (ValueError: ssd_no_such_extractor " in message
        assert "trial/pipeline.config; fix the model section" in message and "\n" not in message


def test_notes_measure_int8_against_fp32_and_always_carry_the_qat_finding(make_config) -> None:
    from tflite.pipeline import Options, _notes
    from tflite.qat import QatOutcome
    from tuner import config as cfgmod

    cfg = cfgmod.loads(make_config(30))
    finding = QatOutcome(False, "quantization-aware fine-tuning cannot serve this model: ValueError: the exact error")
    ck = reportmod.Row("checkpoint", None, 0.134, 0.34, 0.0)
    fp32 = reportmod.Row("fp32", "f", 0.108, 0.28, 0.026)
    int8 = reportmod.Row("int8", "i", 0.1083, 0.28, 0.0257)
    notes = _notes(Options(study="s"), [ck, fp32, int8], cfg, finding)
    assert "TFLite_Detection_PostProcess" in notes[0] and "+0.0260" in notes[0]
    assert "against fp32" in notes[1] and "within the quantization-aware fine-tuning threshold 0.02" in notes[1]
    assert notes[1].endswith("ValueError: the exact error")  # the finding even when int8 loses nothing
    worse = reportmod.Row("int8", "i", 0.05, 0.2, 0.084)
    notes = _notes(Options(study="s"), [ck, fp32, worse], cfg, finding)
    assert "+0.0580" in notes[-1] and "above the" in notes[-1] and notes[-1].endswith("the exact error")
    notes = _notes(Options(study="s", variants=(Variant.FP32,)), [ck, fp32], cfg, None)
    assert notes[-1] == "int8 not requested: quantization-aware fine-tuning not considered"
    notes = _notes(Options(study="s"), [ck, worse], cfg, finding)
    assert "against checkpoint" in notes[-1]


def test_publish_restores_the_previous_output_when_the_rename_fails(tmp_path, monkeypatch) -> None:
    from tflite import pipeline
    from tflite.errors import OutputError

    out, tmp = tmp_path / "out", tmp_path / ".out.tmp-1"
    out.mkdir()
    (out / "old").write_text("previous")
    tmp.mkdir()
    (tmp / "new").write_text("result")
    real_replace = pipeline.os.replace

    def failing(src, dst) -> None:
        if Path(src) == tmp:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(pipeline.os, "replace", failing)
    with pytest.raises(OutputError) as info:
        pipeline._publish(tmp, out)
    assert "No space left on device" in str(info.value) and "previous output was left in place" in str(info.value)
    assert (out / "old").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.tmp-1", "out"]  # nothing moved aside is left
    monkeypatch.setattr(pipeline.os, "replace", real_replace)
    pipeline._publish(tmp, out)
    assert (out / "new").read_text() == "result" and not (out / "old").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_reservoir_is_seeded_uniform_and_spread_over_the_sequence() -> None:
    from tflite.records import reservoir

    sample = reservoir(iter(range(1000)), 10)
    positions = [p for p, _ in sample]
    assert sample == reservoir(range(1000), 10)  # deterministic
    assert positions == sorted(positions) and len(set(positions)) == 10
    assert positions != list(range(10)) and max(positions) > 500  # not the first records
    assert reservoir(range(1000), 10, seed=1) != sample
    assert reservoir("abc", 10) == [(0, "a"), (1, "b"), (2, "c")]
    counts = np.zeros(20)
    for seed in range(2000):
        for position, _ in reservoir(range(20), 5, seed):
            counts[position] += 1
    assert np.all(np.abs(counts / 2000 - 0.25) < 0.05)  # every position equally likely


def test_calibration_sample_is_deterministic_and_not_the_first_records(odapi, shapes_dataset) -> None:
    import tuner.odapi  # noqa: F401

    from tflite.records import load_examples, sample_examples

    paths = [str(shapes_dataset.train_record)]
    first = load_examples(paths, 0, "train")
    sample = sample_examples(paths, 8)
    again = sample_examples(paths, 8)
    assert len(sample) == 8 and [e.image.tobytes() for e in sample] == [e.image.tobytes() for e in again]
    index = {e.image.tobytes(): i for i, e in enumerate(first)}
    positions = [index[e.image.tobytes()] for e in sample]
    assert positions == sorted(positions) and positions != list(range(8)) and max(positions) >= len(first) // 2
    assert len(sample_examples(paths, 10_000)) == len(first)
