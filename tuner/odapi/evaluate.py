"""Evaluation entry point: ``python -m tuner.odapi.evaluate`` (one process per trial).

The OD API's own loop (``model_lib_v2.eval_continuously``) waits at least 300 s between
checkpoints and evaluates only the newest one, so it cannot drive pruning. This loop builds
the model and the eval input once (paying TensorFlow's start-up once per trial), then
evaluates **every** checkpoint of the training run whose step is a multiple of
``--eval-every``, exactly once, in step order, as soon as the trainer has recorded it in the
``checkpoint`` state file. Metrics go to ``model_dir/eval`` as TF summaries (through the OD
API's ``eager_eval_loop``, COCO metrics via pycocotools); each finished evaluation is also
appended to ``model_dir/eval/checkpoints.jsonl`` (step -> checkpoint name), the ledger used
for checkpoint retention.

It ends after evaluating the checkpoint at ``--final-step``, or when the trainer's ``DONE``
marker is present and nothing is left to evaluate. Checkpoints already in the ledger are not
evaluated again (a restarted evaluator resumes).

Exit codes as the trainer's: 0 done; 3 the OD API could not build the model or eval input from
the config (whichever process meets a bad config first reports it as a config failure).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tuner.odapi.evaluate")
    p.add_argument("--config", required=True)
    p.add_argument("--model-dir", required=True, help="the training run's model_dir")
    p.add_argument("--eval-every", type=int, required=True)
    p.add_argument("--final-step", type=int, required=True)
    p.add_argument("--poll", type=float, default=0.5, help="seconds between looks for checkpoints")
    p.add_argument("--threads", type=int, default=0)
    return p


def _checkpoint_number(path: str) -> int:
    return int(path.rsplit("-", 1)[-1])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import tuner.odapi  # noqa: F401  (applies the compat shims)
    from tuner import protocol
    from tuner.odapi.train import configure_threads

    configure_threads(args.threads)
    import tensorflow as tf
    from object_detection import inputs, model_lib_v2
    from object_detection.builders import optimizer_builder
    from object_detection.utils import config_util

    model_dir = Path(args.model_dir)
    configs = config_util.get_configs_from_pipeline_file(args.config)
    configs = config_util.merge_external_params_with_configs(
        configs, None, kwargs_dict={"eval_num_epochs": 1})
    model_config = configs["model"]
    eval_config = configs["eval_config"]
    eval_input_config = configs["eval_input_configs"][0]

    strategy = tf.compat.v2.distribute.get_strategy()
    try:
        with strategy.scope():
            detection_model = model_lib_v2.MODEL_BUILD_UTIL_MAP["detection_model_fn_base"](
                model_config=model_config, is_training=True)
        eval_input = strategy.experimental_distribute_dataset(
            inputs.eval_input(eval_config=eval_config, eval_input_config=eval_input_config,
                              model_config=model_config, model=detection_model))
    except protocol.CONFIG_ERRORS as exc:
        # Same contract as the trainer: the builders reject the config before any work.
        print(f"CONFIG_REJECTED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return protocol.EXIT_CONFIG_REJECTED
    global_step = tf.compat.v2.Variable(0, trainable=False, dtype=tf.compat.v2.dtypes.int64)
    optimizer, _ = optimizer_builder.build(configs["train_config"].optimizer, global_step=global_step)
    # Always model_dir/eval, whatever the eval input's name (the OD API appends the name; the
    # trial reads this one directory).
    summary_writer = tf.compat.v2.summary.create_file_writer(str(model_dir / "eval"))
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
            name = os.path.basename(path)
            seen.add(name)
            step = int(tf.train.load_checkpoint(path).get_tensor(STEP_KEY))
            if step == 0 or step % args.eval_every != 0:
                continue
            started = time.time()
            ckpt = tf.compat.v2.train.Checkpoint(step=global_step, model=detection_model,
                                                 optimizer=optimizer)
            if eval_config.use_moving_averages:
                model_lib_v2._ensure_model_is_built(  # noqa: SLF001 (same as eval_continuously)
                    detection_model, eval_input, eval_config.batch_size == 1)
                optimizer.shadow_copy(detection_model)
            ckpt.restore(path).expect_partial()
            if eval_config.use_moving_averages:
                optimizer.swap_weights()
            with summary_writer.as_default():
                model_lib_v2.eager_eval_loop(detection_model, configs, eval_input,
                                             global_step=global_step)
            summary_writer.flush()
            protocol.append_ledger(model_dir, {"step": step, "checkpoint": name,
                                               "seconds": round(time.time() - started, 2)})
            print(f"EVALUATED step={step} checkpoint={name}", flush=True)
            if step >= args.final_step:
                return 0
        if not pending and trainer_done:
            return 0
        time.sleep(args.poll)


if __name__ == "__main__":
    sys.exit(main())
