"""The report's CLI errors, its choice of models and outputs, and the verdict's JSON and table (fast, no TensorFlow)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from verdicthelpers import REPO, cli_env, synthetic_images

from tflite.errors import StudyError
from tflite.report import Report, Row
from tuner.report import judge
from tuner.report.__main__ import main
from tuner.report.detections import Category, ImageResult
from tuner.report.operating import Rule
from tuner.report.pipeline import Options, default_report_dir, plan
from tuner.report.verdict import CHECKPOINT, Verdict

CATEGORIES = (Category(1, "circle"), Category(2, "square"), Category(3, "triangle"))


def _error(capfd: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    err = capfd.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_bad_options_are_one_line_errors(fake_run, capfd: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    run = str(fake_run.run_dir)
    assert "--target-precision must be in (0, 1]: got 1.5" in _error(capfd, "--study", run, "--target-precision", "1.5")
    assert "--images and --eval-count must be >= 0" in _error(capfd, "--study", run, "--images", "-1")
    assert "argument --images: invalid int value" in _error(capfd, "--study", run, "--images", "many")
    assert "no trial 7" in _error(capfd, "--study", run, "--trial", "7")
    assert "no TFRecords match --records" in _error(capfd, "--study", run, "--records", str(fake_run.run_dir / "x*.rec"))
    err = _error(capfd, "--study", run, "--tflite-dir", str(fake_run.run_dir))
    assert "no readable TFLite conversion report" in err and "python -m tflite.convert" in err
    (fake_run.run_dir / "report-trial-0000").mkdir()
    err = _error(capfd, "--study", run)
    assert "the output directory already exists" in err and "--overwrite" in err


def test_bad_input_is_found_before_tensorflow_starts(fake_run) -> None:  # type: ignore[no-untyped-def]
    code = ("import sys; from tuner.report.__main__ import main; "
            f"code = main(['--study', {str(fake_run.run_dir)!r}, '--tflite-dir', {str(fake_run.trial_dir)!r}]); "
            "print(code, 'tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cli_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.stdout.split() == ["2", "False"], proc.stderr[-2000:]
    assert proc.stderr.startswith("error: no readable TFLite conversion report")


def test_a_study_without_run_dir_needs_an_artifact_dir(fake_run, capfd: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from tuner.runinfo import sqlite_url

    args = ("--study", "fake", "--storage", sqlite_url(fake_run.run_dir), "--out", str(fake_run.run_dir / "r"))
    err = _error(capfd, *args)
    assert "no run directory to keep the artifacts in" in err and "--artifact-dir" in err
    checked = plan(Options(study="fake", storage=sqlite_url(fake_run.run_dir), out=fake_run.run_dir / "r", upload=False))
    assert checked.artifact_dir is None


def test_default_outputs_and_models(fake_run) -> None:  # type: ignore[no-untyped-def]
    checked = plan(Options(study=str(fake_run.run_dir)))
    assert checked.out == fake_run.run_dir / "report-trial-0000"
    assert default_report_dir(checked.selection) == checked.out
    assert checked.artifact_dir == fake_run.run_dir / "artifacts"
    assert [s.name for s in checked.sources] == [CHECKPOINT] and checked.tflite_dir is None
    assert "no TFLite conversion of trial 0" in checked.notes[0]


def _conversion(directory: Path, trial: int, checkpoint: str, files: bool = True) -> Path:
    directory.mkdir()
    rows = [Row(CHECKPOINT, None, 0.2, 0.4, 0.0)]
    for variant in ("fp32", "int8"):
        rows.append(Row(variant, f"model_{variant}.tflite", 0.19, 0.39, 0.01, 1000, 1.0, 1.2, 2))
        if files:
            (directory / f"model_{variant}.tflite").write_bytes(b"x")
    Report("fake", trial, checkpoint, 16, 2, 5, tuple(rows)).write(directory)
    return directory


def test_the_conversion_in_the_run_dir_is_found_and_checked(fake_run, capfd: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    converted = _conversion(fake_run.run_dir / "tflite-trial-0000", 0, "ckpt-1")
    checked = plan(Options(study=str(fake_run.run_dir)))
    assert [(s.name, s.path) for s in checked.sources] == [
        (CHECKPOINT, None), ("fp32", converted / "model_fp32.tflite"), ("int8", converted / "model_int8.tflite")]
    assert checked.tflite_dir == converted and not checked.notes
    (converted / "model_int8.tflite").unlink()
    assert "the TFLite file of variant int8 is missing" in _error(capfd, "--study", str(fake_run.run_dir))
    other = _conversion(fake_run.run_dir / "elsewhere", 3, "ckpt-9")
    with pytest.raises(StudyError, match="the TFLite files are of trial 3 ckpt-9, the verdict is for trial 0 ckpt-1"):
        plan(Options(study=str(fake_run.run_dir), tflite_dir=other))


def _verdict() -> Verdict:
    images = synthetic_images(1)
    worse = [ImageResult(i.width, i.height, i.gt_boxes, i.gt_classes, i.boxes + 3.0, i.scores, i.classes)
             for i in images]
    ref = judge.judge(CHECKPOINT, None, images, CATEGORIES, 0.6).verdict
    variant = judge.judge("int8", "model_int8.tflite", worse, CATEGORIES, 0.6).verdict.against(ref)
    return Verdict("s", 1, "ckpt-3", len(images), ("eval.record",), Rule.TARGET_PRECISION, 0.6, (ref, variant),
                   notes=("a note",))


def test_verdict_json_holds_drops_against_the_checkpoint() -> None:
    verdict = _verdict()
    data = json.loads(json.dumps(verdict.to_json(), allow_nan=False))
    ref, int8 = data["models"]
    assert ref["map_drop"] is None and all(c["ap_drop"] is None for c in ref["classes"])
    assert int8["map_drop"] == pytest.approx(ref["metrics"]["map"] - int8["metrics"]["map"])
    for r, v in zip(ref["classes"], int8["classes"]):
        assert v["ap_drop"] == pytest.approx(r["ap"] - v["ap"])
        assert v["ap50_drop"] == pytest.approx(r["ap50"] - v["ap50"])
        assert set(v) >= {"name", "images", "boxes", "ap", "ap50", "operating_point"}
    assert int8["map_drop"] > 0  # shifted boxes lose accuracy
    assert data["rule"] == "target_precision" and data["target_precision"] == 0.6


def test_printed_table_per_model() -> None:
    text = _verdict().to_text()
    lines = text.splitlines()
    assert "lowest threshold with precision >= 0.6" in lines[0]
    ck = lines.index(next(line for line in lines if line.startswith("checkpoint (TF): mAP")))
    assert lines[ck + 1].split() == ["class", "images", "boxes", "AP", "AP@.50", "threshold", "precision", "recall"]
    i8 = lines.index(next(line for line in lines if line.startswith("int8 (model_int8.tflite): mAP")))
    assert "(mAP drop +" in lines[i8]
    assert lines[i8 + 1].split() == ["class", "images", "boxes", "AP", "AP@.50", "AP", "drop", "threshold",
                                     "precision", "recall"]
    assert lines[i8 + 3].split()[0] == "circle" and lines[i8 + 3].split()[5].startswith("+")
    assert lines[-1] == "note: a note"


def test_image_result_checks_its_arrays() -> None:
    with pytest.raises(ValueError, match="2 ground-truth boxes but 1 classes"):
        ImageResult(10, 10, np.zeros((2, 4)), [1], np.zeros((0, 4)), [], [])
    with pytest.raises(ValueError, match="detections disagree: 1 boxes, 2 scores"):
        ImageResult(10, 10, np.zeros((0, 4)), [], np.zeros((1, 4)), [0.1, 0.2], [1])
    r = ImageResult.from_normalized(200, 100, [[0.1, 0.2, 0.5, 0.6]], [2], [[0, 0, 1, 1]], [0.5], [0.0])
    assert r.gt_boxes.tolist() == [[10.0, 40.0, 50.0, 120.0]] and r.boxes.tolist() == [[0, 0, 100, 200]]
    assert r.classes.tolist() == [1]  # 0-based detector classes -> label-map ids


def test_a_resample_scores_as_pycocotools_scores_those_images() -> None:
    """coco.Resampled: one COCOeval.evaluate, then accumulate per resample, equals a full evaluation
    of the resampled images (an image drawn twice counts twice)."""
    import numpy as np

    from tuner.report import coco
    from tuner.report.detections import Category, ImageResult

    rng = np.random.default_rng(4)

    def image() -> ImageResult:
        gt = rng.uniform(0, 80, (2, 2))
        gt = np.concatenate([gt, gt + rng.uniform(10, 40, (2, 2))], 1)
        noise = np.concatenate([gt + rng.normal(0, 4, gt.shape), rng.uniform(0, 90, (5, 4))])
        noise[:, 2:] = np.maximum(noise[:, 2:], noise[:, :2] + 2)
        return ImageResult(128, 128, gt, rng.integers(1, 3, 2), noise, rng.uniform(0, 1, len(noise)),
                           rng.integers(1, 3, len(noise)))

    images, categories = [image() for _ in range(30)], [Category(1, "a"), Category(2, "b")]
    resampled = coco.Resampled(images, categories)
    assert resampled.map() == pytest.approx(coco.evaluate(images, categories).metrics.map)
    for _ in range(3):
        drawn = rng.integers(0, 30, 30)
        assert resampled.map(drawn) == pytest.approx(coco.evaluate([images[i] for i in drawn], categories).metrics.map)
