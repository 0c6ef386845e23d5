"""Small pieces: checkpoint staging, output mapping by name and shape, variants, the report table."""
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
    """Outputs in a shuffled order with TFLite-style names, as the real converter produces."""

    def __init__(self, classes_int: bool = True) -> None:
        self.values = {7: np.array([3.0], np.float32),                                  # num
                       3: np.array([[0.9, 0.4, 0.2, 0.0]], np.float32),                  # scores
                       5: np.array([[2.0, 0.0, 1.0, 0.0]] if classes_int else [[0.5, 0.5, 0.5, 0.0]], np.float32),
                       1: np.tile(np.array([0.1, 0.1, 0.5, 0.5], np.float32), (1, 4, 1))}  # boxes

    def get_output_details(self) -> list[dict]:
        shapes = {7: [1], 3: [1, 4], 5: [1, 4], 1: [1, 4, 4]}
        return [{"index": i, "name": f"StatefulPartitionedCall:{n}", "shape": np.array(shapes[i]),
                 "quantization": (0.0, 0)} for n, i in enumerate((5, 1, 7, 3))]

    def get_input_details(self) -> list[dict]:
        return [{"index": 0, "dtype": np.float32, "quantization": (0.0, 0)}]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        pass

    def invoke(self) -> None:
        pass

    def get_tensor(self, index: int) -> np.ndarray:
        return self.values[index]


def test_outputs_are_mapped_by_shape_and_content_not_position() -> None:
    from tflite.measure import OutputMap

    mapping = OutputMap.identify(FakeInterpreter(), [np.zeros((1, 8, 8, 3), np.float32)])
    assert (mapping.boxes, mapping.classes, mapping.scores, mapping.num) == (1, 5, 3, 7)


def test_ambiguous_outputs_are_an_error() -> None:
    from tflite.measure import OutputMap

    with pytest.raises(ModelError, match="cannot tell the classes output from the scores"):
        OutputMap.identify(FakeInterpreter(classes_int=False), [np.zeros((1, 8, 8, 3), np.float32)])


def test_variants_are_parsed_in_canonical_order() -> None:
    assert parse_variants("int8, fp32,int8") == (Variant.FP32, Variant.INT8)
    assert Variant.FP16.filename == "model_fp16.tflite"
    with pytest.raises(ConvertError, match="unknown variant 'bf16'"):
        parse_variants("fp32,bf16")


def test_report_round_trip_and_table(tmp_path: Path) -> None:
    rows = (reportmod.Row("checkpoint", None, 0.5, 0.8, 0.0),
            reportmod.Row("int8", "model_int8.tflite", 0.45, 0.75, 0.05, 900_000, 1.25, 2.5, 2))
    report = reportmod.Report("s", 3, "ckpt-2", 16, 2, 5, rows, notes=("a note",))
    report.write(tmp_path)
    back = reportmod.load(tmp_path)
    assert back == report and back.row("int8").map_drop == 0.05
    md = (tmp_path / "report.md").read_text()
    assert "| int8 | 0.4500 | 0.7500 | +0.0500 | 879 KiB | 1.25 ms | 2.50 ms | 2 |" in md
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


def test_notes_measure_int8_against_fp32_and_explain_the_post_processing_gap(make_config) -> None:
    from tflite.pipeline import Options, _notes
    from tflite.qat import QatOutcome
    from tuner import config as cfgmod

    class Probe:
        calls = 0

        def attempt(self, cfg) -> QatOutcome:
            Probe.calls += 1
            return QatOutcome(False, "tfmot: the exact error")

    cfg = cfgmod.loads(make_config(30))
    ck = reportmod.Row("checkpoint", None, 0.134, 0.34, 0.0)
    fp32 = reportmod.Row("fp32", "f", 0.108, 0.28, 0.026)
    int8 = reportmod.Row("int8", "i", 0.1083, 0.28, 0.0257)
    notes = _notes(Options(study="s"), [ck, fp32, int8], cfg, Probe())
    assert "TFLite_Detection_PostProcess" in notes[0] and "+0.0260" in notes[0]
    assert "against fp32" in notes[1] and "not attempted" in notes[1] and Probe.calls == 0
    worse = reportmod.Row("int8", "i", 0.05, 0.2, 0.084)
    notes = _notes(Options(study="s"), [ck, fp32, worse], cfg, Probe())
    assert Probe.calls == 1 and notes[-1].endswith("tfmot: the exact error") and "+0.0580" in notes[-1]
