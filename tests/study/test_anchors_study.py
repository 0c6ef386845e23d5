"""A real study on thin-bar data: the base anchors' coverage at start, the fitted anchors as
trial 1, a space's ``anchors`` knob centred on the fit, coverage recorded on every trial; and
invalid boxes stopping the study before anything is written."""
from __future__ import annotations

import os
import subprocess

import optuna
import pytest
import tensorflow as tf

from studyhelpers import run_study, study_cmd
from tuner.runinfo import Attr, sqlite_url

GEN = "model.ssd.anchor_generator.ssd_anchor_generator"
KNOB_SPACE = "params:\n  anchor_size:\n    knob: anchors\n    float: [0.8, 1.25]\n"


@pytest.fixture(scope="module")
def bars_data(tmp_path_factory, odapi):
    from tuner.data import shapes

    return shapes.generate(tmp_path_factory.mktemp("bars"), shapes.DatasetSpec(
        train=64, eval=8, seed=5, classes=("rod", "stick", "circle"), min_object=0.1, max_object=0.4, clutter=0))


@pytest.fixture(scope="module")
def anchors_study(tmp_path_factory, small_base, bars_data):
    root = tmp_path_factory.mktemp("anchors")
    (root / "space.yaml").write_text(KNOB_SPACE)
    run_dir = root / "run"
    done = run_study("--base", str(small_base), "--space", str(root / "space.yaml"), "--train-data",
                     str(bars_data.train_record), "--eval-data", str(bars_data.eval_record), "--label-map",
                     str(bars_data.label_map), "--steps", "10", "--eval-every", "10", "--n-trials", "3",
                     "--pruner", "none", "--seed", "0", "--study-name", "anchors", "--run-dir", str(run_dir))
    return done, optuna.load_study(study_name="anchors", storage=sqlite_url(run_dir))


def _diff(trial) -> dict[str, object]:
    return {path: new for path, _old, new in trial.user_attrs[Attr.DIFF]}


def test_the_fitted_anchors_run_as_trial_1(anchors_study) -> None:
    done, study = anchors_study
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "anchors of the base config (" in done.stdout and "run as trial 1" in done.stdout
    base, fitted, sampled = study.trials
    assert base.user_attrs[Attr.BASELINE] and not base.params and not _diff(base)
    # the fit is where the sampled trials start: the fitted trial is the knob at 1.0 (the baseline is not on it)
    assert fitted.user_attrs[Attr.FITTED_ANCHORS] and fitted.params == {"anchor_size": 1.0}
    changed = _diff(fitted)
    assert changed and all(path.startswith(GEN) for path in changed), changed
    base_cov, fit_cov = base.user_attrs[Attr.ANCHOR_COVERAGE], fitted.user_attrs[Attr.ANCHOR_COVERAGE]
    # the default fit maximises shape and grid coverage (and their IoUs) together; grown x1.25 for training
    # (fit.TRAINING_GROWTH) it still covers more than the base here (0.70 + 0.29 against 0.56 + 0.12)
    assert fit_cov["shape_coverage"] + fit_cov["grid_coverage"] > base_cov["shape_coverage"] + base_cov["grid_coverage"]
    assert all(0 <= v <= 1 for v in (*base_cov.values(), *fit_cov.values()))


def test_the_anchors_knob_scales_the_fit_not_the_base(anchors_study) -> None:
    _done, study = anchors_study
    _base, fitted, sampled = study.trials
    factor = sampled.params["anchor_size"]
    fit_min = _diff(fitted)[f"{GEN}.min_scale"]
    assert _diff(sampled)[f"{GEN}.min_scale"] == pytest.approx(round(fit_min * factor, 4))
    fit_ratios = _diff(fitted).get(f"{GEN}.aspect_ratios")
    assert fit_ratios is not None and _diff(sampled)[f"{GEN}.aspect_ratios"] == fit_ratios
    assert Attr.ANCHOR_COVERAGE in sampled.user_attrs


def test_a_box_outside_the_image_stops_the_study_before_anything_is_written(tmp_path, small_base, bars_data) -> None:
    record = tmp_path / "bad.record"
    with tf.io.TFRecordWriter(str(record)) as writer:
        for xmax in [0.5] * 9 + [1.6]:  # 10 records: more than the batch of 8
            feature = {"image/height": tf.train.Feature(int64_list=tf.train.Int64List(value=[128])),
                       "image/width": tf.train.Feature(int64_list=tf.train.Int64List(value=[128]))}
            for key, value in (("ymin", 0.1), ("xmin", 0.1), ("ymax", 0.4), ("xmax", xmax)):
                feature[f"image/object/bbox/{key}"] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
            feature["image/object/class/label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    run_dir = tmp_path / "run"
    # as a user runs it: no TF_CPP_MIN_LOG_LEVEL, so TensorFlow's start-up lines would show if not kept off
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(study_cmd("--base", str(small_base), "--train-data", str(record), "--eval-data",
                                      str(bars_data.eval_record), "--label-map", str(bars_data.label_map), "--steps",
                                      "10", "--eval-every", "10", "--n-trials", "1", "--run-dir", str(run_dir)),
                            capture_output=True, text=True, timeout=300, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert str(record) in lines[0] and "record 9" in lines[0]
    assert not run_dir.exists()
