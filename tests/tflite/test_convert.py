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
    assert (converted.out / "labels.txt").read_text().split() == ["circle", "square", "triangle", "bar"]


def test_every_variant_has_a_real_map(result) -> None:
    _, report, rows = result
    assert set(rows) == {"checkpoint", *VARIANTS}
    assert report["eval_images"] == 16
    for name, row in rows.items():
        for key in ("map", "map50"):
            assert math.isfinite(row[key]) and 0.0 <= row[key] <= 1.0, (name, key, row[key])
        assert row["map_drop"] == pytest.approx(rows["checkpoint"]["map"] - row["map"])


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
    converted, report, _ = result
    assert "quantization-aware" in report["notes"][-1] and "against fp32" in report["notes"][-1]
    assert "note: " in converted.proc.stdout


def _iou(a, b) -> float:
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_float_models_detect_what_the_checkpoint_detects(result, trained_trial) -> None:
    """Independent of how high the mAP of a tiny model is: float TFLite top detections are the TF model's.

    Proves the preprocessing (model's own) and the output mapping (by name and shape) are right.
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
    for variant, tolerance in (("fp32", 1e-3), ("fp16", 2e-2)):
        detector = TfliteDetector(converted.out / f"model_{variant}.tflite", 2, inputs)
        for example, x in zip(examples, inputs):
            boxes, scores, classes = detector(x)
            ref_boxes, ref_scores, ref_classes = model.detect(example.image)
            top = int(np.argmax(scores))
            assert any(abs(scores[top] - s) <= tolerance and int(round(classes[top])) == int(round(c))
                       and _iou(boxes[top], b) > 0.9 for b, s, c in zip(ref_boxes, ref_scores, ref_classes)), variant
