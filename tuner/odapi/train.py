"""Training entry point: ``python -m tuner.odapi.train`` (one process per trial).

Calls ``object_detection.model_lib_v2.train_loop`` with the compat shims applied and with
settings the tuner relies on:

* a checkpoint every ``--checkpoint-every`` steps, and none ever deleted during training
  (``checkpoint_max_to_keep`` above the number of checkpoints), so the evaluator can take
  every one of them in order; retention happens when the trial ends (:mod:`tuner.retention`);
* the inner training loop (``num_steps_per_iteration``) divides the checkpoint interval, so
  checkpoints land exactly on multiples of it and losses are logged often enough to catch
  a diverging run early;
* ``train_config.update_trainable_variables`` / ``freeze_variables`` honoured as the TF1 trainer
  did (``model_lib_v2`` ignores them; :mod:`tuner.odapi.freeze`), with a ``FREEZE:`` log line;
* with ``--seed S``: Python, NumPy and TensorFlow seeded before anything is built, and with
  ``--deterministic`` TensorFlow's op determinism (:mod:`tuner.odapi.seeding`), with a
  ``SEED: S (op determinism on|off)`` log line;
* a ``DONE`` marker written atomically in ``model_dir/train`` when training returns normally.

Exit codes: 0 done; 3 the OD API rejected the config (or its freeze patterns match no variable
or freeze them all); 4 out of memory; other non-zero: crash
(see the log).
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Sequence

from tuner import atomic
from tuner.protocol import CONFIG_ERRORS, EXIT_CONFIG_REJECTED, EXIT_OUT_OF_MEMORY, done_marker


def inner_steps(checkpoint_every: int, cap: int = 25) -> int:
    """Largest divisor of ``checkpoint_every`` not above ``cap``: steps per traced call."""
    return max(d for d in range(1, min(cap, checkpoint_every) + 1) if checkpoint_every % d == 0)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tuner.odapi.train")
    p.add_argument("--config", required=True, help="pipeline.config to train")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--checkpoint-every", type=int, required=True)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for TF ops (0: TF decides)")
    p.add_argument("--seed", type=int, default=None, help="training seed in [0, 2**31) (default: unseeded)")
    p.add_argument("--deterministic", action="store_true", help="TensorFlow op determinism (needs --seed)")
    return p


def _check_seed(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The trial checks these first (TrialSpec); a direct caller gets argparse's usage error."""
    if args.seed is not None and not 0 <= args.seed < 2**31:
        parser.error(f"--seed must be in [0, 2**31) (got {args.seed})")
    if args.deterministic and args.seed is None:
        parser.error("--deterministic needs --seed")


def configure_threads(threads: int) -> None:
    """Give TensorFlow a CPU thread budget (must run before any op executes)."""
    if threads > 0:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_seed(parser, args)
    import tuner.odapi  # noqa: F401  (applies the compat shims)

    configure_threads(args.threads)
    if args.seed is not None:  # before the model and the input pipeline exist
        from tuner.odapi.seeding import seed_training

        print(seed_training(args.seed, args.deterministic), flush=True)
    import tensorflow as tf
    from google.protobuf import text_format
    from object_detection import model_lib_v2
    from object_detection.utils import config_util

    from tuner.odapi.freeze import FreezeError, TrainableFilter

    # Flush training summaries every 2 s (TF's default is 120 s): the trial watches the loss in
    # them to stop a diverging run, and shows the step, so they must reach the disk promptly.
    create_file_writer = tf.compat.v2.summary.create_file_writer
    tf.compat.v2.summary.create_file_writer = functools.partial(create_file_writer, flush_millis=2000)
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_before = tf.train.latest_checkpoint(str(model_dir))
    try:
        train_config = config_util.get_configs_from_pipeline_file(args.config)["train_config"]
        with TrainableFilter.from_train_config(train_config):
            model_lib_v2.train_loop(
                pipeline_config_path=args.config,
                model_dir=str(model_dir),
                train_steps=args.steps,
                checkpoint_every_n=args.checkpoint_every,
                checkpoint_max_to_keep=args.steps // args.checkpoint_every + 2,
                num_steps_per_iteration=inner_steps(args.checkpoint_every),
                record_summaries=True,
            )
    except tf.errors.ResourceExhaustedError as exc:
        print(f"OUT_OF_MEMORY: {exc}", file=sys.stderr, flush=True)
        return EXIT_OUT_OF_MEMORY
    except FreezeError as exc:
        # Found when the first train step is traced, after the step-0 checkpoint: still the config.
        print(f"CONFIG_REJECTED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG_REJECTED
    except (text_format.ParseError, *CONFIG_ERRORS) as exc:
        # The OD API's builders raise these for configs they cannot build. Raised before the
        # step-0 checkpoint exists, they mean the config was rejected; later, a crash.
        if tf.train.latest_checkpoint(str(model_dir)) == checkpoint_before:
            print(f"CONFIG_REJECTED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return EXIT_CONFIG_REJECTED
        raise
    marker = done_marker(model_dir)
    marker.parent.mkdir(exist_ok=True)
    atomic.write_text(marker, f"{args.steps}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
