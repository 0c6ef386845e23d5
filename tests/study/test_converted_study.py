"""Data in, end to end on the real OD API: shapes images written as a COCO dataset, converted by
``python -m tuner.data convert`` into sharded TFRecords with a test split, then a one-trial study
trains and evaluates on the shard globs and measures the held-out split once."""
from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from studyhelpers import run_study
from tuner.data.export import export, shapes_images
from tuner.data.formats import Format
from tuner.data.render import DatasetSpec
from tuner.runinfo import Attr, StudyAttr

SPEC = DatasetSpec(train=40, eval=1, size=128, seed=3, classes=("circle", "square"), min_object=0.3,
                   max_object=0.6, max_objects=1, clutter=0)


@pytest.fixture(scope="module")
def converted_study(tmp_path_factory, odapi, make_config):
    root = tmp_path_factory.mktemp("converted")
    src = export(Format.COCO, list(shapes_images(SPEC)), SPEC.classes, root / "coco")
    out = root / "data"
    convert = subprocess.run([sys.executable, "-m", "tuner.data", "convert", "--format", "coco", str(src.src),
                              "--images", str(src.images or src.image_dir), "--out", str(out), "--shards", "2",
                              "--split", "train=0.6,eval=0.2,test=0.2", "--seed", "1"],
                             capture_output=True, text=True, timeout=600)
    assert convert.returncode == 0, convert.stderr[-2000:]
    base = root / "base.config"
    base.write_text(make_config(10))
    run_dir = root / "run"
    done = run_study("--base", str(base), "--train-data", str(out / "train.record-?????-of-00002"),
                     "--eval-data", str(out / "eval.record-?????-of-00002"), "--label-map",
                     str(out / "label_map.pbtxt"), "--test-data", str(out / "test.record-*"), "--steps", "10",
                     "--eval-every", "10", "--n-trials", "1", "--no-fit-anchors", "--study-name", "conv",
                     "--run-dir", str(run_dir), timeout=1200)
    study = optuna.load_study(study_name="conv", storage=f"sqlite:///{run_dir / 'study.db'}")
    return done, study


def test_a_trial_trains_and_evaluates_on_converted_shards_and_the_test_split_once(converted_study) -> None:
    done, study = converted_study
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (trial,) = study.get_trials()
    assert trial.state is TrialState.COMPLETE and trial.user_attrs[Attr.STEPS] == 10
    assert "train.record-?????-of-00002" in (study.get_trials()[0].user_attrs[Attr.TRIAL_DIR] and
                                             open(f"{trial.user_attrs[Attr.TRIAL_DIR]}/pipeline.config").read())
    test = study.user_attrs[StudyAttr.TEST_METRICS]["0"]
    assert test["metrics"]["images"] == 8 and len(test["records"]) == 2
    assert "trial 0 (pick): eval " in done.stdout
