"""End to end on the real OD API: the shared trained trial in a study, converted to TFLite (fp32, dynamic),
then ``python -m tuner.report`` (one subprocess run, the ``reported`` fixture)."""
from __future__ import annotations

import json

import pytest
from verdicthelpers import dashboard, dashboard_trial_artifacts, http_get

from tflite import report as tflite_report
from tuner.report import artifacts
from tuner.report.operating import load_thresholds
from tuner.runinfo import sqlite_url

MODELS = ("checkpoint", "fp32", "dynamic")


def test_cli_writes_the_verdict_for_the_checkpoint_and_each_variant(reported) -> None:  # type: ignore[no-untyped-def]
    assert reported.proc.returncode == 0, reported.proc.stderr[-3000:]
    out = reported.out
    names = {p.name for p in out.iterdir()}
    for model in MODELS:
        assert {f"{model}_operating_points.json", f"{model}_pr_curves.png", f"{model}_images.png"} <= names
    assert {"verdict.json", "verdict.txt", "artifacts.json", "tensorflow.log"} <= names
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["trial"] == 1 and [m["model"] for m in verdict["models"]] == list(MODELS)
    assert verdict["images"] == 16 and verdict["tflite_dir"] == str(reported.tflite_dir)
    stdout = reported.proc.stdout
    assert "checkpoint (TF): mAP" in stdout and "fp32 (model_fp32.tflite): mAP" in stdout and "AP drop" in stdout
    assert "optuna-dashboard 'sqlite:///" in stdout and "--artifact-dir '" in stdout
    print(f"\nconvert {reported.convert_seconds:.0f} s, report {reported.seconds:.0f} s\n{stdout}")


def test_map_agrees_with_the_od_api_evaluator_of_the_conversion(reported) -> None:  # type: ignore[no-untyped-def]
    """The report's own pycocotools evaluation and tflite.convert's (the OD API's CocoDetectionEvaluator)
    agree on the same 16 images, for the checkpoint and for each variant."""
    converted = tflite_report.load(reported.tflite_dir)
    verdict = json.loads((reported.out / "verdict.json").read_text())
    for model in verdict["models"]:
        row = converted.row(model["model"])
        assert model["metrics"]["map"] == pytest.approx(row.map, abs=1e-6), model["model"]
        assert model["metrics"]["map50"] == pytest.approx(row.map50, abs=1e-6), model["model"]
        aps = [c["ap"] for c in model["classes"] if c["ap"] is not None]
        assert model["metrics"]["map"] == pytest.approx(sum(aps) / len(aps), abs=1e-9)
    assert verdict["models"][0]["metrics"]["map50"] > 0  # the trained trial detects something


def test_operating_points_load_and_are_the_max_f1_points(reported) -> None:  # type: ignore[no-untyped-def]
    verdict = json.loads((reported.out / "verdict.json").read_text())
    for model in verdict["models"]:
        path = reported.out / model["files"]["operating_points"]
        thresholds = load_thresholds(path)
        points = json.loads(path.read_text())
        assert set(thresholds) == {"circle", "square"}
        for c in model["classes"]:
            entry = points[c["name"]]
            assert entry == c["operating_point"] and entry["rule"] == "max_f1"
            if c["ap50"]:  # a true positive at IoU .5 exists, so a max-F1 point does
                assert thresholds[c["name"]] == entry["threshold"] and entry["f1"] > 0
                assert entry["f1"] == pytest.approx(2 * entry["precision"] * entry["recall"]
                                                    / (entry["precision"] + entry["recall"]))


def test_artifacts_are_listed_on_the_chosen_trial(reported) -> None:  # type: ignore[no-untyped-def]
    url = sqlite_url(reported.run_dir)
    manifest = artifacts.Manifest.load(reported.out)
    assert manifest is not None and manifest.trial == 1
    expected = {"verdict.json", "verdict.txt"} | {f"{m}_{role}" for m in MODELS
                                                  for role in ("operating_points.json", "pr_curves.png", "images.png")}
    assert {a.filename for a in artifacts.trial_artifacts(url, "tiny", 1)} == expected
    assert artifacts.trial_artifacts(url, "tiny", 0) == []
    with dashboard(url, reported.run_dir / "artifacts") as base:
        study_id, trial_id, listed = dashboard_trial_artifacts(base, "tiny", 1)
        assert {a["filename"] for a in listed} == expected
        png = next(a for a in listed if a["filename"] == "fp32_pr_curves.png")
        status, content_type, body = http_get(f"{base}/artifacts/{study_id}/{trial_id}/{png['artifact_id']}")
        assert (status, content_type) == (200, "image/png")
        assert body == (reported.out / "fp32_pr_curves.png").read_bytes()
