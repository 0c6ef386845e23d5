"""Training entry point: ``python -m tuner.odapi.train`` (one process per trial).

Calls ``object_detection.model_lib_v2.train_loop`` with the compat shims applied and with
settings the tuner relies on:

* a checkpoint every ``--checkpoint-every`` steps, and none ever deleted during training
  (``checkpoint_max_to_keep`` above the number of checkpoints), so the evaluator can take
  every one of them in order; retention happens when the trial ends (:mod:`tuner.retention`);
* the inner training loop (``num_steps_per_iteration``, :func:`inner_steps`) divides the
  checkpoint interval, so checkpoints land exactly on multiples of it and losses are logged often
  enough to catch a diverging run early; a short trial (up to :data:`SHORT_TRIAL` steps) runs one
  step per call, because ``model_lib_v2`` traces the train step twice when the loop is longer;
* the model's variables and the optimizer's slots made before the first step
  (:mod:`tuner.odapi.prebuild`), so the train step is traced once instead of twice;
* ``train_config.update_trainable_variables`` / ``freeze_variables`` honoured as the TF1 trainer
  did (``model_lib_v2`` ignores them; :mod:`tuner.odapi.freeze`), with a ``FREEZE:`` log line;
* with ``--seed S``: Python, NumPy and TensorFlow seeded before anything is built, and with
  ``--deterministic`` TensorFlow's op determinism (:mod:`tuner.odapi.seeding`), with a
  ``SEED: S (op determinism on|off)`` log line;
* a ``DONE`` marker written atomically in ``model_dir/train`` when training returns normally;
* with ``--evaluate-final``: then the last checkpoint evaluated in this same process
  (:class:`tuner.odapi.evaluate.CheckpointEvaluator`: metrics in ``model_dir/eval``, a ledger
  line), so a trial that evaluates only its last checkpoint pays TensorFlow's start-up once and
  runs no evaluator beside the trainer.

The process ends at its last checkpoint (``os._exit``, once the summaries, ``DONE`` and the
evaluation are written): run it as ``python -m tuner.odapi.train``, never call :func:`main` in a
process that should live on.

Exit codes: 0 done; 3 the OD API rejected the config (or its freeze patterns match no variable
or freeze them all); 4 out of memory; other non-zero: crash
(see the log).
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from tuner import atomic
from tuner.odapi.evaluate import configure_threads
from tuner.protocol import CONFIG_ERRORS, EXIT_CONFIG_REJECTED, EXIT_OUT_OF_MEMORY, done_marker, phase


#: Trials of up to this many steps train one step per traced call (see :func:`inner_steps`).
SHORT_TRIAL = 5000


def inner_steps(checkpoint_every: int, steps: int, cap: int = 25) -> int:
    """Steps per traced call (``num_steps_per_iteration``).

    ``model_lib_v2`` traces the train step twice when this is above 1 (once inside its
    ``tf.range`` loop, once after it): measured on the demo model (2 cores, 2026-12-06), the first
    step came 26.6 s after the step-0 checkpoint with 1 and 44.5 s with 25, at the same 0.10 s
    per step (the host's per-call work, summaries included, stayed under 2 ms a step). So a short
    trial takes 1; a longer one (above :data:`SHORT_TRIAL` steps, where 2 ms a step would outweigh
    one trace) the largest divisor of ``checkpoint_every`` not above ``cap``.
    """
    if steps <= SHORT_TRIAL:
        return 1
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
    p.add_argument("--evaluate-final", action="store_true",
                   help="after training, evaluate the last checkpoint in this process")
    return p


def _check_seed(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The trial checks these first (TrialSpec); a direct caller gets argparse's usage error."""
    if args.seed is not None and not 0 <= args.seed < 2**31:
        parser.error(f"--seed must be in [0, 2**31) (got {args.seed})")
    if args.deterministic and args.seed is None:
        parser.error("--deterministic needs --seed")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_seed(parser, args)
    start_process(args.threads)
    return train(args)


def start_process(threads: int) -> None:
    """What a trainer process does once, before its first trial: the compat shims, TensorFlow's
    CPU threads, the imports, the steps traced without autograph (:mod:`tuner.odapi.tracing`),
    and training summaries flushed every 2 s (TF's default is 120 s:
    the trial watches the loss in them to stop a diverging run, and shows the step)."""
    import tuner.odapi  # noqa: F401  (applies the compat shims)

    configure_threads(threads)
    import tensorflow as tf
    from object_detection import model_lib_v2  # noqa: F401

    from tuner.odapi import tracing

    tracing.apply()  # the train and eval steps traced once each, as plain Python
    create_file_writer = tf.compat.v2.summary.create_file_writer
    tf.compat.v2.summary.create_file_writer = functools.partial(create_file_writer, flush_millis=2000)


class Ended(BaseException):
    """Raised from the last checkpoint's save in a process that lives on (:func:`train` with
    ``hosted``): training is over and :func:`_finish` has run; ``code`` is the trial's exit code.
    A ``BaseException``, so that no ``except Exception`` on the way out swallows it."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def train(args: argparse.Namespace, hosted: bool = False) -> int:
    """Train one trial (and with ``--evaluate-final`` evaluate its last checkpoint) in this
    process, prepared by :func:`start_process`; the exit code. Not ``hosted``: the process ends
    at the last checkpoint (``os._exit``); ``hosted`` (a warm trainer, :mod:`tuner.odapi.host`):
    the last checkpoint raises :class:`Ended` (its code: the trial's exit code) out of
    ``train_loop``, whose frames it holds; the next trial may follow in this process (its
    ``PHASE start`` line marks where this trial's time and CPU begin). Other endings return the
    code."""
    if hosted:
        phase("start")
    if args.seed is not None:  # before the model and the input pipeline exist
        from tuner.odapi.seeding import seed_training

        print(seed_training(args.seed, args.deterministic), flush=True)
    import tensorflow as tf
    from google.protobuf import text_format
    from object_detection import model_lib_v2
    from object_detection.utils import config_util

    from tuner.odapi.freeze import FreezeError, TrainableFilter
    from tuner.odapi.prebuild import TrainInputProbe

    phase("imported")
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_before = tf.train.latest_checkpoint(str(model_dir))
    probe = TrainInputProbe()
    restore_save = _patch_saves(args, model_dir, probe, hosted)
    try:
        train_config = config_util.get_configs_from_pipeline_file(args.config)["train_config"]
        with TrainableFilter.from_train_config(train_config), probe:
            model_lib_v2.train_loop(
                pipeline_config_path=args.config,
                model_dir=str(model_dir),
                train_steps=args.steps,
                checkpoint_every_n=args.checkpoint_every,
                checkpoint_max_to_keep=args.steps // args.checkpoint_every + 2,
                num_steps_per_iteration=inner_steps(args.checkpoint_every, args.steps),
                record_summaries=True,
            )
    except tf.errors.ResourceExhaustedError as exc:
        print(f"OUT_OF_MEMORY: {exc}", file=sys.stderr, flush=True)
        return EXIT_OUT_OF_MEMORY
    except FreezeError as exc:
        # Found when the variables are made (before the step-0 checkpoint) or traced: still the config.
        print(f"CONFIG_REJECTED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG_REJECTED
    except (text_format.ParseError, *CONFIG_ERRORS) as exc:
        # The OD API's builders raise these for configs they cannot build. Raised before the
        # step-0 checkpoint exists, they mean the config was rejected; later, a crash.
        if tf.train.latest_checkpoint(str(model_dir)) == checkpoint_before:
            print(f"CONFIG_REJECTED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return EXIT_CONFIG_REJECTED
        raise
    finally:
        restore_save()
    return _finish(args, model_dir)  # training returned without saving the last step (resumed past it)


def _finish(args: argparse.Namespace, model_dir: Path, checkpoint: str | None = None, model: Any = None) -> int:
    """Training is done: the ``DONE`` marker, then (``--evaluate-final``) the last checkpoint's
    evaluation (``checkpoint``: its path when the caller has just written it from ``model``, the
    trained model, which is then evaluated as it is); the exit code."""
    phase("trained")
    marker = done_marker(model_dir)
    marker.parent.mkdir(exist_ok=True)
    atomic.write_text(marker, f"{args.steps}\n")
    code = evaluate_final(args.config, model_dir, args.steps, checkpoint, model) if args.evaluate_final else 0
    phase("exit")
    return code


def _patch_saves(args: argparse.Namespace, model_dir: Path, probe: Any, hosted: bool = False) -> Callable[[], None]:
    """Patch ``CheckpointManager.save`` for the two moments the trainer acts at.

    * The step-0 save (a fresh run: ``train_loop`` saves once before its first step, with every
      part built): ``probe`` (:class:`tuner.odapi.prebuild.TrainInputProbe`) first makes the
      model's variables and the optimizer's slots, so the first step is traced once.
    * The save of the last step ends the training: once it is written, the training summaries are
      flushed, :func:`_finish` runs (with ``--evaluate-final`` it evaluates the trained model as it
      is: the checkpoint just written holds its variables) and the process exits at once
      (``os._exit``; ``hosted``: :class:`Ended` is raised out of ``train_loop`` instead).
      ``model_lib_v2.train_loop`` would
      otherwise tear down its input pipeline first, which took up to 35 s with two trials on two
      cores (bench/trial_overhead.py) while nothing was left to do.

    Returns the function that undoes the patch."""
    import tensorflow as tf

    from tuner.odapi.evaluate import checkpoint_step

    manager = tf.train.CheckpointManager
    original = manager.save

    def save(self: Any, *pos: Any, **kw: Any) -> Any:
        ckpt = self.checkpoint
        if int(ckpt.step) == 0:  # only the step-0 save of a fresh run: later saves are at step >= 1
            probe.build(ckpt.optimizer)
        path = original(self, *pos, **kw)
        if path and checkpoint_step(path) == args.steps:
            tf.summary.flush()  # the default writer is the trainer's while train_loop runs
            code = _finish(args, model_dir, path, getattr(ckpt, "model", None))
            sys.stdout.flush()
            sys.stderr.flush()
            if hosted:
                raise Ended(code)
            os._exit(code)
        return path

    manager.save = save

    def restore() -> None:
        manager.save = original

    return restore


def evaluate_final(config: str, model_dir: Path, steps: int, path: str | None = None, model: Any = None) -> int:
    """Evaluate the checkpoint of step ``steps`` (unless the ledger has it); the exit code.

    ``path``: that checkpoint, when the caller has just written it; otherwise the latest one is
    looked up (a run resumed past its last step). ``model``: the trained model whose variables
    ``path`` holds (the caller has just saved them), evaluated as it is: no second model is built
    and nothing restored (from the last step to the built evaluator 1.5-2.2 s instead of 3.8-4.8 s,
    warm 30-step trials of the demo model, 2026-12-07); without it, an evaluator model restores
    ``path``. A config the OD API cannot build an eval input from exits 3 (the config is at fault,
    as in the evaluator process).
    """
    import tensorflow as tf

    from tuner import protocol
    from tuner.odapi.evaluate import build_evaluator, checkpoint_step

    if path is None:
        path = tf.train.latest_checkpoint(str(model_dir))
        if path is None or checkpoint_step(path) != steps:
            print(f"no checkpoint of step {steps} in {model_dir} to evaluate", file=sys.stderr, flush=True)
            return 1
    if any(entry["step"] == steps for entry in protocol.read_ledger(model_dir)):
        return 0
    evaluator = build_evaluator(config, model_dir, model)
    if evaluator is None:
        return EXIT_CONFIG_REJECTED
    phase("eval_built")
    evaluator.evaluate(path, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
