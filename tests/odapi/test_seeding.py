"""tuner.odapi.seeding: what the OD API's input pipeline needs beyond the global seed, and that the
trainer's --seed/--deterministic give the same weights for the same seed (one real training test).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

#: Builds the OD API's own training input (inputs.train_input: decoding, random_horizontal_flip,
#: shuffle, batching) twice with the same seed and once with another, under op determinism, and
#: prints one digest per build. argv: config path, "no-shim", "shim" (legacy functions seeded) or
#: "shim+crops" (and the crops).
PIPELINE = r'''
import hashlib, sys
import tuner.odapi  # compat shims
import tensorflow as tf
from object_detection import inputs
from object_detection.utils import config_util
from tuner.odapi import seeding

configs = config_util.get_configs_from_pipeline_file(sys.argv[1])
tf.config.experimental.enable_op_determinism()
if sys.argv[2] != "no-shim":
    seeding.seed_legacy_functions()
if sys.argv[2] == "shim+crops":
    seeding.seed_random_crops()

def digest(seed):
    tf.keras.utils.set_random_seed(seed)  # also resets the operation-seed counter
    try:
        dataset = inputs.train_input(configs["train_config"], configs["train_input_config"], configs["model"])
    except (RuntimeError, ValueError) as exc:
        return "error: " + str(exc).strip().splitlines()[-1]
    h = hashlib.sha256()
    for features, labels in dataset.take(3):
        h.update(features["image"].numpy().tobytes())
        h.update(labels["groundtruth_boxes"].numpy().tobytes())
    return h.hexdigest()[:16]

for seed in (5, 5, 6):
    print("DIGEST", digest(seed), flush=True)
'''


def _pipeline_digests(config: Path, mode: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PIPELINE, str(config), mode], capture_output=True, text=True,
                            timeout=300)
    digests = [line.split(" ", 1)[1] for line in result.stdout.splitlines() if line.startswith("DIGEST ")]
    assert result.returncode == 0 and len(digests) == 3, result.stdout[-2000:] + result.stderr[-3000:]
    return digests


@pytest.fixture(scope="module")
def pipeline_config(tmp_path_factory, make_config) -> Path:
    path = tmp_path_factory.mktemp("seeding") / "tiny.config"
    path.write_text(make_config(10))  # random_horizontal_flip, shuffled training records
    return path


@pytest.fixture(scope="module")
def crop_config(tmp_path_factory, make_config) -> Path:
    """The tiny config with the OD API's two crops (sample_distorted_bounding_box) as augmentations."""

    def crops(cfg) -> None:  # type: ignore[no-untyped-def]
        for name in ("ssd_random_crop", "random_crop_image"):
            getattr(cfg.train_config.data_augmentation_options.add(), name).SetInParent()

    path = tmp_path_factory.mktemp("seeding") / "crops.config"
    path.write_text(make_config(10, edit=crops))
    return path


@pytest.mark.parametrize("config, shims, refusal", [
    # its maps are legacy (Defun) functions, whose graphs never get the global seed
    ("pipeline_config", "no-shim", "Random ops require a seed"),
    # sample_distorted_bounding_box (v1) never reads the global seed
    ("crop_config", "shim", 'requires "seed" or "seed2"'),
])
def test_without_its_shim_the_od_api_augmentation_is_unseeded(request, config, shims, refusal) -> None:
    """Under op determinism its random ops refuse to run."""
    digests = _pipeline_digests(request.getfixturevalue(config), shims)
    assert all(d.startswith("error: ") and refusal in d for d in digests), digests


@pytest.mark.parametrize("config, shims", [("pipeline_config", "shim"), ("crop_config", "shim+crops")])
def test_with_the_shims_the_same_seed_gives_the_same_batches_and_another_seed_others(request, config, shims) -> None:
    same, again, other = _pipeline_digests(request.getfixturevalue(config), shims)
    assert not same.startswith("error"), same
    assert same == again
    assert other != same


def test_the_crop_shim_is_idempotent_and_seeds_only_under_a_global_seed(odapi) -> None:
    code = r'''
import tensorflow as tf
import tuner.odapi
from object_detection.core import preprocessor
from tuner.odapi import seeding
first, second = seeding.seed_random_crops(), seeding.seed_random_crops()
view = preprocessor.tf.image.sample_distorted_bounding_box
real = tf.compat.v1.image.sample_distorted_bounding_box
seeds = []
def spy(*args, seed=None, seed2=None, **kwargs):
    seeds.append((seed, seed2))
seeded = seeding._seeded(spy)
seeded(1, 2)
tf.random.set_seed(42)
seeded(1, 2)
seeded(1, 2, seed=7)
print(first, second, view.__wrapped__ is real, real is not view, seeds[0], seeds[1][0], seeds[2])
'''
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "True False True True (None, None) 42 (7, None)"


def test_the_shim_is_idempotent_and_changes_nothing_without_a_global_seed(odapi) -> None:
    code = r'''
import tensorflow as tf
import tensorflow.compat.v1 as tf1
from tuner.odapi import seeding
first, second = seeding.seed_legacy_functions(), seeding.seed_legacy_functions()
seen = []
def fn(x):
    seen.append(tf1.get_default_graph().seed)
    return x
tf1.data.Dataset.range(2).map_with_legacy_function(fn)
tf.random.set_seed(42)
tf1.data.Dataset.range(2).map_with_legacy_function(fn)
print(first, second, seen)
'''
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "True False [None, 42]"


# -- the trainer's flags ------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed must be in [0, 2**31) (got -1)"),
    (["--seed", str(2**31)], "--seed must be in [0, 2**31) (got 2147483648)"),
    (["--deterministic"], "--deterministic needs --seed"),
])
def test_the_trainer_refuses_a_bad_seed_before_it_starts(tmp_path, capsys, args, message) -> None:
    from tuner.odapi import train

    with pytest.raises(SystemExit) as exit_info:
        train.main(["--config", str(tmp_path / "x.config"), "--model-dir", str(tmp_path / "m"), "--steps", "10",
                    "--checkpoint-every", "10", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


# -- one real training test -----------------------------------------------------------------------
def _train(config: Path, model_dir: Path, *seeding: str) -> dict:
    """Train 10 steps in a trainer process; return the final checkpoint's tensors by name."""
    import tensorflow as tf

    result = subprocess.run([sys.executable, "-m", "tuner.odapi.train", "--config", str(config), "--model-dir",
                             str(model_dir), "--steps", "10", "--checkpoint-every", "10", *seeding],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    if seeding:
        mode = "on" if "--deterministic" in seeding else "off"
        assert f"SEED: {seeding[1]} (op determinism {mode})" in result.stdout.splitlines()
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir)))
    return {name: np.asarray(reader.get_tensor(name)) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}  # the variables, not the object graph's description


def test_the_same_seed_with_determinism_gives_identical_weights(tmp_path, make_config) -> None:
    config = tmp_path / "tiny.config"
    config.write_text(make_config(10))  # from scratch: initialisers, flips, shuffles all seeded
    first = _train(config, tmp_path / "a", "--seed", "5", "--deterministic")
    second = _train(config, tmp_path / "b", "--seed", "5", "--deterministic")
    other = _train(config, tmp_path / "c", "--seed", "6", "--deterministic")
    assert sorted(first) == sorted(second) == sorted(other)
    weights = [name for name in first if "/.OPTIMIZER_SLOT/" not in name and first[name].dtype.kind == "f"]
    assert len(weights) > 100, sorted(first)[:20]
    differing = [name for name in first if not np.array_equal(first[name], second[name])]
    assert differing == [], f"{len(differing)} tensors differ between two runs with seed 5, e.g. {differing[:3]}"
    assert sum(not np.array_equal(first[name], other[name]) for name in weights) > len(weights) // 2, \
        "seeds 5 and 6 trained (nearly) the same weights"
