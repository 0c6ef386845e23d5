"""A small pretrained detector for the demo: the stand-in for a model-zoo checkpoint.

Real users fine-tune from a zoo checkpoint (trained on COCO), and a detector trained from
scratch learns almost nothing in a demo's budget on a CPU (measured: mAP 0.003 after 300 steps
on the demo data). No checkpoint can be downloaded here, so the project makes its own: the demo
model (``pipelines/ssd_mobilenet_v2_shapes.config``) trained from scratch on a *different*
synthetic dataset (other seed, all six shape classes, more images), exported with its model
variables only (no optimizer slots). ``make demo`` fine-tunes from it (``fine_tune_checkpoint_type:
detection``: backbone and feature-pyramid layers are restored, the box predictor is new, so the
class count may differ).

The bundled checkpoint lives in ``pipelines/checkpoints/shapes_pretrained/`` with
``pretrain.json`` (how it was made, its own mAP, file hashes). ``make pretrain`` (this module)
makes it again; the result is not byte-identical (TensorFlow training on CPU is not
deterministic) but equivalent.

CLI::

    python -m tuner.data.pretrain [--out DIR] [--steps 2000] [--work DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ chatter stays out of our lines

from tuner import config as cfgmod
from tuner import events, paths
from tuner.data import shapes
from tuner.outcome import Status

#: Where the bundled checkpoint lives (prefix ``ckpt``).
CHECKPOINT_DIR = paths.PIPELINES_DIR / "checkpoints" / "shapes_pretrained"
MANIFEST = "pretrain.json"
#: The pretraining data: not the demo's (seed 0, four classes).
PRETRAIN_SPEC = shapes.DatasetSpec(train=1024, eval=64, seed=1000, classes=tuple(shapes.SHAPES))
BASE_CONFIG = paths.PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
#: From scratch, the zoo's focal alpha (0.75) learns ~10x slower here (measured: mAP 0.003 vs
#: 0.034 after 300 steps); pretraining uses the standard RetinaNet alpha.
PRETRAIN_FOCAL_ALPHA = 0.25


@dataclasses.dataclass(frozen=True)
class PretrainResult:
    """What :func:`pretrain` made."""

    prefix: Path
    steps: int
    metrics: dict[str, float]
    seconds: float


def pretrain_config(dataset: shapes.Dataset, steps: int) -> str:
    """The demo model's config on the pretraining data, trained from scratch for ``steps``."""
    cfg = cfgmod.load(BASE_CONFIG)
    cfgmod.point_to_dataset(cfg, dataset.train_record, dataset.eval_record, dataset.label_map)
    cfg.model.ssd.num_classes = len(dataset.spec.classes)
    cfg.model.ssd.loss.classification_loss.weighted_sigmoid_focal.alpha = PRETRAIN_FOCAL_ALPHA
    cfgmod.set_num_steps(cfg, steps)
    return cfgmod.dumps(cfg)


_EXPORT = """
import sys
import tuner.odapi  # compat shims
import tensorflow as tf
from object_detection.builders import model_builder
from object_detection.utils import config_util
config_path, source, target = sys.argv[1:4]
configs = config_util.get_configs_from_pipeline_file(config_path)
model = model_builder.build(configs["model"], is_training=False)
height = configs["model"].ssd.image_resizer.fixed_shape_resizer.height
width = configs["model"].ssd.image_resizer.fixed_shape_resizer.width
image, shapes = model.preprocess(tf.zeros([1, height, width, 3]))
model.predict(image, shapes)  # creates every variable
tf.train.Checkpoint(model=model).restore(source).expect_partial().assert_existing_objects_matched()
checkpoint = tf.train.Checkpoint(model=model)
checkpoint.save_counter  # created now, so it is written: the OD API's fine-tune restore asserts every object matched
checkpoint.write(target)
"""


def export_model_only(config_path: Path, source_prefix: str, target_prefix: Path, log: Path) -> None:
    """Write the model variables of ``source_prefix`` (a training checkpoint) to ``target_prefix``.

    Runs in a child process (TensorFlow stays out of this one); its output goes to ``log``.

    Raises:
        RuntimeError: the export failed (the log says why).
    """
    with log.open("ab") as fh:
        done = subprocess.run([sys.executable, "-c", _EXPORT, str(config_path), source_prefix, str(target_prefix)],
                              stdout=fh, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"exporting the checkpoint failed (exit {done.returncode}); see {log}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pretrain(out: Path, steps: int, work: Path, eval_every: int | None = None,
             spec: shapes.DatasetSpec = PRETRAIN_SPEC) -> PretrainResult:
    """Generate the pretraining data (``spec``), train, export; publish ``out`` atomically.

    Raises:
        RuntimeError: the training trial did not complete, or the export failed.
    """
    from tuner.trial import Trial, TrialSpec

    started = time.monotonic()
    dataset = shapes.generate(work / "data", spec)
    every = eval_every or steps // 4
    trial_dir = work / "trial"
    if trial_dir.exists():
        shutil.rmtree(trial_dir)
    trial = Trial(TrialSpec(pretrain_config(dataset, steps), trial_dir, steps, every))
    for evaluation in trial.evaluations():
        print(f"[pretrain] step {evaluation.step}/{steps}: mAP {evaluation.value(events.MAP):.4f} "
              f"({time.monotonic() - started:.0f} s)", flush=True)
    outcome = trial.outcome
    if outcome is None or outcome.last_checkpoint is None or outcome.status is not Status.COMPLETED:
        raise RuntimeError(f"pretraining did not complete: {outcome.reason if outcome else 'no outcome'}; "
                           f"see {trial.log_dir}")
    last = outcome.evaluations[-1]
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the published directory is not
    try:
        export_model_only(trial_dir / "pipeline.config", str(trial.model_dir / outcome.last_checkpoint),
                          staging / "ckpt", work / "export.log")
        files = sorted(p.name for p in staging.iterdir())
        manifest = {
            "made_by": "python -m tuner.data.pretrain (make pretrain)",
            "date": datetime.date.today().isoformat(),
            "base_config": BASE_CONFIG.name,
            "changes": {"num_classes": len(spec.classes),
                        "weighted_sigmoid_focal.alpha": PRETRAIN_FOCAL_ALPHA},
            "dataset": dataclasses.asdict(spec),
            "steps": steps,
            "metrics_at_last_step": {k: round(float(v), 4) for k, v in last.metrics.items()
                                     if k.startswith("DetectionBoxes")},
            "train_seconds": round(outcome.wall_seconds),
            "files": {name: _sha256(staging / name) for name in files},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return PretrainResult(out / "ckpt", steps, dict(last.metrics), time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuner.data.pretrain", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(CHECKPOINT_DIR), help="checkpoint directory (default %(default)s)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps (default %(default)s)")
    parser.add_argument("--eval-every", type=int, help="default: a quarter of --steps")
    parser.add_argument("--work", help="data and training directory (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.steps < 1 or (args.eval_every is not None and (args.eval_every < 1 or args.steps % args.eval_every)):
        print("error: --steps must be >= 1 and a multiple of --eval-every", file=sys.stderr)
        return 2
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="odapi-pretrain-"))
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = pretrain(out, args.steps, work, args.eval_every)
    except (RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"[pretrain] wrote {result.prefix} (mAP {result.metrics.get(events.MAP, float('nan')):.4f} after "
          f"{result.steps} steps, {result.seconds / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
