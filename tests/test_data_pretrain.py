"""The demo's pretrained checkpoint: the bundled files are the ones the manifest describes, and
``tuner.data.pretrain`` makes a checkpoint that a trial of another class count fine-tunes from."""
from __future__ import annotations

import hashlib
import json

from tuner import config as cfgmod
from tuner.data import pretrain, shapes
from tuner.trial import Trial, TrialSpec


def test_the_bundled_checkpoint_is_what_its_manifest_says() -> None:
    manifest = json.loads((pretrain.CHECKPOINT_DIR / pretrain.MANIFEST).read_text())
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in pretrain.CHECKPOINT_DIR.glob("ckpt.*")}
    assert files == manifest["files"] and set(files) == {"ckpt.index", "ckpt.data-00000-of-00001"}
    assert manifest["dataset"]["seed"] != shapes.DatasetSpec().seed, "pretrained on data other than the demo's"
    assert manifest["steps"] == 2000 and manifest["metrics_at_last_step"]["DetectionBoxes_Precision/mAP"] > 0.2


def test_pretrain_writes_a_model_only_checkpoint_that_a_trial_fine_tunes_from(tmp_path, odapi, make_config) -> None:
    spec = shapes.DatasetSpec(train=16, eval=4, seed=5, classes=("circle", "square", "bar"), clutter=0)
    out = tmp_path / "ckpt-dir"
    result = pretrain.pretrain(out, steps=10, work=tmp_path / "work", eval_every=10, spec=spec)
    assert result.prefix == out / "ckpt"
    manifest = json.loads((out / pretrain.MANIFEST).read_text())
    assert manifest["steps"] == 10 and manifest["changes"]["num_classes"] == 3
    assert sorted(manifest["files"]) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    assert not list(tmp_path.glob(".ckpt-dir-*")), "the staging directory is gone"
    import tensorflow as tf

    names = [name for name, _ in tf.train.list_variables(str(result.prefix))]
    assert any("_feature_extractor" in n for n in names)
    assert not any("optimizer" in n for n in names), "model variables only"

    def fine_tune(cfg) -> None:  # a two-class model (make_config's data) from the three-class checkpoint
        cfg.train_config.fine_tune_checkpoint = str(result.prefix)
        cfg.train_config.fine_tune_checkpoint_type = "detection"
        cfgmod.set_value(cfg, "train_config.fine_tune_checkpoint_version", "V2")

    trial = Trial(TrialSpec(make_config(10, batch_size=4, edit=fine_tune), tmp_path / "ft", steps=10, eval_every=10))
    list(trial.evaluations())
    assert trial.outcome.status.value == "completed", (trial.outcome.reason, trial.outcome.log_tail)
