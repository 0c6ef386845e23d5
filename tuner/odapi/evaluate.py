"""Evaluation entry point: ``python -m tuner.odapi.evaluate`` (one process per trial).

The OD API's own loop (``model_lib_v2.eval_continuously``) waits at least 300 s between
checkpoints and evaluates only the newest one, so it cannot drive pruning. This loop builds
the model and the eval input once (paying TensorFlow's start-up once per trial), then
evaluates the checkpoints of the training run it is asked for (by default every multiple of
``--eval-every``), each exactly once, in step order, as soon as the trainer has recorded it in the
``checkpoint`` state file. Metrics go to ``model_dir/eval`` as TF summaries (through the OD
API's ``eager_eval_loop``, COCO metrics via pycocotools); each finished evaluation is also
appended to ``model_dir/eval/checkpoints.jsonl`` (step -> checkpoint name), the ledger used
for checkpoint retention.

With ``--eval-steps 100,150,200`` only those steps are evaluated (the rungs a pruner reads and
the last one); by default every multiple of ``--eval-every``. When only the last checkpoint is
evaluated the trial runs no evaluator process at all: the trainer evaluates it in its own process
once training ends (``python -m tuner.odapi.train --evaluate-final``), with the same
:class:`CheckpointEvaluator`.

It ends after evaluating the checkpoint at ``--final-step``, or when the trainer's ``DONE``
marker is present and nothing is left to evaluate. Checkpoints already in the ledger are not
evaluated again (a restarted evaluator resumes).

Exit codes as the trainer's: 0 done; 3 the OD API could not build the model or eval input from
the config (whichever process meets a bad config first reports it as a config failure).

An iterator over the eval input that has run out is never deleted (:class:`SpentIterators`):
deleting one waits for tf.data's threads to stop, which took 0 to 5 s after a 64-image
evaluation with two trials on two cores (about half of the final evaluations paid 3.5-5 s;
bench/trial_overhead.py, 2026-12-07). The processes that evaluate end by ``os._exit``, so these
iterators are never torn down.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"


class SpentIterators:
    """An iterable over ``dataset`` for one pass (``eager_eval_loop`` takes it as its dataset)
    whose iterators are kept in :data:`KEPT` once made, never deleted in this process (see the
    module docstring: deleting one waits for tf.data's threads). One small iterator per
    evaluation; a warm trainer evaluates once per trial and is recycled after a few."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __iter__(self) -> Any:
        iterator = iter(self.dataset)
        KEPT.append(iterator)
        return iterator


#: Every iterator :class:`SpentIterators` made in this process.
KEPT: list[Any] = []


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tuner.odapi.evaluate")
    p.add_argument("--config", required=True)
    p.add_argument("--model-dir", required=True, help="the training run's model_dir")
    p.add_argument("--eval-every", type=int, required=True)
    p.add_argument("--eval-steps", default="", help="comma-separated steps to evaluate (default: every --eval-every)")
    p.add_argument("--final-step", type=int, required=True)
    p.add_argument("--poll", type=float, default=0.5, help="seconds between looks for checkpoints")
    p.add_argument("--threads", type=int, default=0)
    return p


def configure_threads(threads: int) -> None:
    """Give TensorFlow a CPU thread budget (must run before any op executes; the trainer's too)."""
    if threads > 0:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))


def _checkpoint_number(path: str) -> int:
    return int(path.rsplit("-", 1)[-1])


class CheckpointEvaluator:
    """The eval model, eval input and summary writer of one training run, built once; then
    :meth:`evaluate` any of its checkpoints.

    Without ``trained_model`` the evaluator builds its own model (its variables made at once: its
    eval step is traced once) and restores each checkpoint into it. With it (the trainer's own
    model, at the save of its last checkpoint: :func:`tuner.odapi.train.evaluate_final`) that
    model is evaluated as it is, no second model built and nothing restored: its variables must
    be the checkpoint's (the caller's contract). A config with ``use_moving_averages`` builds its
    own model either way (the averages live in the checkpoint's optimizer slots).

    Call after ``import tuner.odapi`` (the compat shims) and after the thread settings.

    Raises (from the constructor):
        one of :data:`tuner.protocol.CONFIG_ERRORS`: the OD API cannot build the model or the eval
            input from the config.
    """

    def __init__(self, config: str, model_dir: Path, trained_model: Any = None) -> None:
        import tensorflow as tf
        from object_detection import inputs, model_lib_v2
        from object_detection.builders import optimizer_builder
        from object_detection.utils import config_util

        from tuner.odapi.prebuild import build_variables, say_skipped

        self.model_dir = model_dir
        configs = config_util.get_configs_from_pipeline_file(config)
        self.configs = config_util.merge_external_params_with_configs(configs, None,
                                                                      kwargs_dict={"eval_num_epochs": 1})
        self.eval_config = self.configs["eval_config"]
        self.restores = trained_model is None or self.eval_config.use_moving_averages
        strategy = tf.compat.v2.distribute.get_strategy()
        with strategy.scope():
            self.model = (model_lib_v2.MODEL_BUILD_UTIL_MAP["detection_model_fn_base"](
                model_config=self.configs["model"], is_training=True) if self.restores else trained_model)
            self.eval_input = strategy.experimental_distribute_dataset(
                inputs.eval_input(eval_config=self.eval_config, eval_input_config=self.configs["eval_input_configs"][0],
                                  model_config=self.configs["model"], model=self.model))
            # The variables made now, so the eval step is traced once (tuner.odapi.prebuild);
            # eager_eval_loop unpads the groundtruth too.
            failed = build_variables(self.model, self.eval_input, unpad_groundtruth_tensors=True) \
                if self.restores else None
        if failed is not None:
            say_skipped(failed, "the first evaluation")
        self.global_step = tf.compat.v2.Variable(0, trainable=False, dtype=tf.compat.v2.dtypes.int64)
        self.optimizer: Any = None
        if self.restores:
            self.optimizer, _ = optimizer_builder.build(self.configs["train_config"].optimizer,
                                                        global_step=self.global_step)
        # Always model_dir/eval, whatever the eval input's name (the OD API appends the name; the
        # trial reads this one directory).
        self.writer = tf.compat.v2.summary.create_file_writer(str(model_dir / "eval"))

    def evaluate(self, path: str, step: int) -> None:
        """Evaluate checkpoint ``path`` (at ``step``; with a trained model: that model, whose
        variables are ``path``'s): its metrics to ``model_dir/eval``, then a ledger line (after the
        summaries are flushed: the trial relies on that order)."""
        import tensorflow as tf
        from object_detection import model_lib_v2

        from tuner import protocol

        started = time.time()
        if self.restores:
            ckpt = tf.compat.v2.train.Checkpoint(step=self.global_step, model=self.model, optimizer=self.optimizer)
            if self.eval_config.use_moving_averages:
                model_lib_v2._ensure_model_is_built(  # noqa: SLF001 (same as eval_continuously)
                    self.model, self.eval_input, self.eval_config.batch_size == 1)
                self.optimizer.shadow_copy(self.model)
            ckpt.restore(path).expect_partial()
            if self.eval_config.use_moving_averages:
                self.optimizer.swap_weights()
        else:
            self.global_step.assign(step)  # the summaries' step, as a restore would set it
        with self.writer.as_default():
            model_lib_v2.eager_eval_loop(self.model, self.configs, SpentIterators(self.eval_input),
                                         global_step=self.global_step)
        self.writer.flush()
        name = os.path.basename(path)
        protocol.append_ledger(self.model_dir, {"step": step, "checkpoint": name,
                                                "seconds": round(time.time() - started, 2)})
        source = "restored" if self.restores else "trained"
        print(f"EVALUATED step={step} checkpoint={name} model={source}", flush=True)


def build_evaluator(config: str, model_dir: Path, trained_model: Any = None) -> CheckpointEvaluator | None:
    """The evaluator of ``config`` (``trained_model``: see :class:`CheckpointEvaluator`), or
    ``None`` when the OD API's builders reject the config (said on stderr as ``CONFIG_REJECTED``:
    the caller exits ``EXIT_CONFIG_REJECTED``, the trainer's contract for a config at fault, before
    any evaluation)."""
    from tuner import protocol

    try:
        return CheckpointEvaluator(config, model_dir, trained_model)
    except protocol.CONFIG_ERRORS as exc:
        print(f"CONFIG_REJECTED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return None


def checkpoint_step(path: str) -> int:
    """The global step stored in checkpoint ``path``."""
    import tensorflow as tf

    return int(tf.train.load_checkpoint(path).get_tensor(STEP_KEY))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import tuner.odapi  # noqa: F401  (applies the compat shims)
    from tuner import protocol
    from tuner.trial.spec import every_multiple

    configure_threads(args.threads)
    import tensorflow as tf
    from object_detection import model_lib_v2  # noqa: F401  (imported here: the "imported" phase)

    from tuner.odapi import tracing

    tracing.apply()  # the eval step traced as plain Python, as in the trainer

    protocol.phase("imported")

    model_dir = Path(args.model_dir)
    wanted = ({int(s) for s in args.eval_steps.split(",") if s.strip()}
              or set(every_multiple(args.final_step, args.eval_every)))
    evaluator = build_evaluator(args.config, model_dir)
    if evaluator is None:
        return protocol.EXIT_CONFIG_REJECTED
    seen = {entry["checkpoint"] for entry in protocol.read_ledger(model_dir)}
    # Start-up done (TensorFlow imported, model and eval input built): bench/trial_overhead.py
    # reads this line to measure the evaluator's fixed cost.
    print(f"{protocol.READY_LINE} {time.time():.3f}", flush=True)

    while True:
        # Look for DONE before reading the state file: a checkpoint recorded before DONE
        # was written is then certain to be seen.
        trainer_done = protocol.done_marker(model_dir).exists()
        state = tf.train.get_checkpoint_state(str(model_dir))
        paths = sorted(state.all_model_checkpoint_paths if state else [], key=_checkpoint_number)
        pending = [p for p in paths if os.path.basename(p) not in seen]
        for path in pending:
            seen.add(os.path.basename(path))
            step = checkpoint_step(path)
            if step not in wanted:
                continue
            evaluator.evaluate(path, step)
            if step >= args.final_step:
                protocol.phase("exit")
                return 0
        if not pending and trainer_done:
            protocol.phase("exit")
            return 0
        time.sleep(args.poll)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no teardown of the kept iterators (SpentIterators) or of TensorFlow's state
