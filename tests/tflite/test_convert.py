"""End to end: ``python -m tflite.convert`` on a real trained trial, all four variants measured."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

VARIANTS = ("fp32", "fp16", "dynamic", "int8")


@pytest.fixture(scope="module")
def result(converted):
    assert converted.proc.returncode == 0, converted.proc.stderr[-3000:]
    report = json.loads((converted.out / "report.json").read_text())
    return converted, report, {r["variant"]: r for r in report["rows"]}


def test_writes_every_artifact(result) -> None:
    converted, _, _ = result
    names = {p.name for p in converted.out.iterdir()}
    assert {f"model_{v}.tflite" for v in VARIANTS} <= names
    assert {"labels.txt", "report.json", "report.md", "params.json", "pipeline.config"} <= names
    assert "work" not in names  # the export scratch is not published
    assert not [p for p in converted.run_dir.iterdir() if ".tmp-" in p.name]
    assert (converted.out / "labels.txt").read_text().split() == ["circle", "square"]


def test_tensorflow_output_goes_to_the_log_not_the_terminal(result) -> None:
    converted, _, _ = result
    log = (converted.out / "tensorflow.log").read_text()
    assert "Summary on the non-converted ops" in log  # the converter's own chatter ...
    terminal = converted.proc.stdout + converted.proc.stderr
    assert "non-converted ops" not in terminal and "WARNING:tensorflow" not in terminal  # ... is not shown
    assert "[" in terminal and "s] fp32: mAP" in terminal  # the tool's progress lines are


def test_every_variant_has_a_real_map(result) -> None:
    _, report, rows = result
    assert set(rows) == {"checkpoint", *VARIANTS}
    assert report["eval_images"] == 16
    for name, row in rows.items():
        for key in ("map", "map50"):
            assert math.isfinite(row[key]) and 0.0 <= row[key] <= 1.0, (name, key, row[key])
        assert row["map_drop"] == pytest.approx(rows["checkpoint"]["map"] - row["map"])


def test_the_trained_checkpoint_detects_and_the_float_variants_keep_it(result) -> None:
    """A real signal: the checkpoint's mAP@.50 is above 0 and the float files keep it.

    The shared ``trained_trial`` (tests/conftest.py) trains only 60 steps, so its mAP is small
    (mAP@.50 about 0.01); int8 of so young a model may lose all of it, so int8 is held to its
    reported drop (``test_every_variant_has_a_real_map``) and to full-integer weights here,
    and to detection agreement with the float-input int8 in the uint8 test.
    """
    _, _, rows = result
    assert rows["checkpoint"]["map50"] > 0.0, rows["checkpoint"]
    for v in ("fp32", "fp16"):
        assert rows[v]["map50"] > 0.0, (v, rows[v])
        assert abs(rows[v]["map"] - rows["checkpoint"]["map"]) <= 0.02 + 0.2 * rows["checkpoint"]["map"], (v, rows[v])


def test_each_row_records_the_file_s_actual_io(result) -> None:
    """Float I/O for every variant by default; outputs named by the post-processing op, all four distinct."""
    _, report, rows = result
    assert rows["checkpoint"]["input_dtype"] is None
    for v in VARIANTS:
        row = rows[v]
        assert (row["input_dtype"], row["input_scale"], row["input_zero_point"]) == ("float32", None, None), v
        assert row["output_dtypes"] == {r: "float32" for r in ("boxes", "classes", "scores", "num")}, v
        names = row["output_names"]
        assert set(names) == {"boxes", "classes", "scores", "num"} and len(set(names.values())) == 4, v
        assert all(n.startswith("StatefulPartitionedCall:") for n in names.values()), names
    assert report["input"]["dtype"] == "float32" and "integer_input" not in report["input"]


def test_int8_is_full_integer(result) -> None:
    """Every CONV_2D / DEPTHWISE_CONV_2D of the int8 model has int8 weights and int8 activations."""
    import tensorflow as tf

    converted, _, _ = result
    found = {}
    for variant in ("int8", "fp32"):
        interpreter = tf.lite.Interpreter(
            model_path=str(converted.out / f"model_{variant}.tflite"),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
        tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
        convs = [op for op in interpreter._get_ops_details() if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
        assert len(convs) > 50, variant  # SSD MobileNetV2: the backbone, feature maps and box predictor
        found[variant] = [(op["op_name"], tensors[op["inputs"][0]]["dtype"], tensors[op["inputs"][1]]["dtype"],
                           tensors[op["inputs"][1]]["name"]) for op in convs]
    not_int8 = [c for c in found["int8"] if c[1] != np.int8 or c[2] != np.int8]
    assert not not_int8, not_int8[:5]
    assert all(c[2] == np.float32 for c in found["fp32"])  # the check can tell


def test_float32_matches_the_checkpoint(result) -> None:
    """Same preprocessing and weights: the float32 model scores like the TF checkpoint."""
    _, _, rows = result
    assert abs(rows["fp32"]["map_drop"]) <= 0.02 + 0.2 * rows["checkpoint"]["map"]


def test_int8_is_at_most_35_percent_of_float32(result) -> None:
    _, _, rows = result
    assert rows["int8"]["size_bytes"] <= 0.35 * rows["fp32"]["size_bytes"]
    assert rows["fp16"]["size_bytes"] < rows["fp32"]["size_bytes"]
    assert rows["dynamic"]["size_bytes"] < rows["fp16"]["size_bytes"]


def test_latency_and_threads_are_stated(result) -> None:
    _, report, rows = result
    assert report["threads"] == 2 and report["latency_runs"] == 5
    for v in VARIANTS:
        assert 0 < rows[v]["latency_median_ms"] <= rows[v]["latency_p90_ms"]
        assert rows[v]["threads"] == 2


def test_report_lists_the_drop_of_each_variant(result) -> None:
    converted, _, rows = result
    markdown = (converted.out / "report.md").read_text()
    assert "| variant | mAP | mAP@.50 | mAP drop |" in markdown
    assert "2 interpreter thread(s)" in markdown
    for v in VARIANTS:
        line = next(ln for ln in markdown.splitlines() if ln.startswith(f"| {v} |"))
        assert f"{rows[v]['map_drop']:+.4f}" in line
    printed = converted.proc.stdout
    assert all(f"\n{v} " in printed for v in VARIANTS) and "mAP drop" in printed


def test_best_trial_and_its_best_checkpoint_are_converted(result, trained_trial) -> None:
    converted, report, _ = result
    _, _, outcome = trained_trial
    params = json.loads((converted.out / "params.json").read_text())
    assert params["trial"] == 1 and report["trial"] == 1  # trial 1 beats the baseline trial 0
    assert params["params"] == {"lr": 0.03}
    assert params["checkpoint"] == outcome.best_checkpoint == report["checkpoint"]
    trial_config = trained_trial[0].trial_dir / "pipeline.config"
    assert (converted.out / "pipeline.config").read_text() == trial_config.read_text()


def test_closing_note_on_quantization_aware_training(result) -> None:
    """tfmot is always tried when int8 is converted: the note carries its exact error on this model."""
    converted, report, _ = result
    note = report["notes"][-1]
    assert "quantization-aware" in note and "against fp32" in note and "threshold 0.02" in note
    assert "tensorflow-model-optimization" in note and "SSDMetaArch" in note and "not attempted" not in note
    assert "note: " in converted.proc.stdout


def test_uint8_input_model_is_measured_like_the_float_input_one(converted_uint8, result, trained_trial) -> None:
    """--uint8-io: the file really has a uint8 input and float32 outputs, the report says so with the
    input's scale and zero point, and fed the quantized preprocessed image it detects what the
    float-input int8 model detects (same calibration sample, same eval images)."""
    import tuner.odapi  # noqa: F401

    from tflite import records
    from tflite.measure import TfliteDetector
    from tflite.model import CheckpointModel, load_config

    proc = converted_uint8.proc
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((converted_uint8.out / "report.json").read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    assert set(rows) == {"checkpoint", "int8"} and report["eval_images"] == 16
    row = rows["int8"]
    assert row["input_dtype"] == "uint8" and row["note"].startswith("uint8 input (outputs stay float32")
    assert row["input_scale"] == pytest.approx(2 / 255, rel=0.05) and 120 <= row["input_zero_point"] <= 135
    assert row["output_dtypes"] == {r: "float32" for r in ("boxes", "classes", "scores", "num")}
    assert math.isfinite(row["map"]) and 0.0 <= row["map"] <= 1.0 and row["latency_median_ms"] > 0
    assert "integer_input" in report["input"]
    assert "uint8 -> float32" in (converted_uint8.out / "report.md").read_text()
    float_int8 = result[2]["int8"]
    assert row["map"] == pytest.approx(float_int8["map"], abs=0.03)  # fed raw or unquantized floats it collapses
    assert row["size_bytes"] == pytest.approx(float_int8["size_bytes"], rel=0.01)

    trial_dir = trained_trial[0].trial_dir
    cfg = load_config(trial_dir / "pipeline.config")
    model = CheckpointModel(cfg, trial_dir / "model" / report["checkpoint"])
    examples = records.load_examples(records.reader_paths(cfg.eval_input_reader[0], "eval"), 4)
    uint8, float_in = (TfliteDetector(path / "model_int8.tflite", 2) for path in (converted_uint8.out, result[0].out))
    for example in examples:  # input rounding may differ by one step: compare the top detection, not all
        x = model.preprocess(example.image)
        (boxes, scores, classes), (ref_boxes, ref_scores, ref_classes) = uint8(x), float_in(x)
        if len(scores) == 0:
            assert len(ref_scores) == 0
            continue
        top = int(np.argmax(scores))
        assert any(abs(scores[top] - s) <= 0.05 and int(round(classes[top])) == int(round(c))
                   and _iou(boxes[top], b) > 0.8 for b, s, c in zip(ref_boxes, ref_scores, ref_classes))


def _iou(a, b) -> float:
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_every_variant_detects_what_the_checkpoint_detects(result, trained_trial) -> None:
    """Independent of how high the mAP of a tiny model is: each TFLite file's top detections are the TF model's.

    Proves the preprocessing (model's own) and the output mapping (by the post-processing op's
    outputs) are right: the classes match the TF model's, so classes and scores are not swapped.
    """
    import tuner.odapi  # noqa: F401

    from tflite import records
    from tflite.measure import TfliteDetector
    from tflite.model import CheckpointModel, load_config

    converted, report, _ = result
    trial_dir = trained_trial[0].trial_dir
    cfg = load_config(trial_dir / "pipeline.config")
    model = CheckpointModel(cfg, trial_dir / "model" / report["checkpoint"])
    examples = records.load_examples(records.reader_paths(cfg.eval_input_reader[0], "eval"), 4)
    inputs = [model.preprocess(e.image) for e in examples]
    # Quantized files too: measured on the demo study's model, int8's top detection is the
    # checkpoint's within 0.01 in score and IoU 0.97. The shared trained trial is 60 steps old and
    # not bit-reproducible across machines: here its int8 top detection was within 0.004 of a
    # checkpoint detection, on a CI machine's retraining of it more than 0.06 off (top score 0.27),
    # so int8 is held to 0.15 and IoU 0.5 (a swapped class, score or box order misses by far more).
    for variant, tolerance, min_iou in (("fp32", 1e-3, 0.9), ("fp16", 2e-2, 0.9), ("dynamic", 3e-2, 0.85),
                                        ("int8", 0.15, 0.5)):
        detector = TfliteDetector(converted.out / f"model_{variant}.tflite", 2)
        for example, x in zip(examples, inputs):
            boxes, scores, classes = detector(x)
            ref_boxes, ref_scores, ref_classes = model.detect(example.image)
            top = int(np.argmax(scores))
            same_class = [(round(float(abs(scores[top] - s)), 4), round(_iou(boxes[top], b), 3))
                          for b, s, c in zip(ref_boxes, ref_scores, ref_classes)
                          if int(round(classes[top])) == int(round(c))]
            assert any(d <= tolerance and iou > min_iou for d, iou in same_class), \
                (variant, float(scores[top]), "checkpoint's same-class (score diff, IoU):", sorted(same_class)[:5])
