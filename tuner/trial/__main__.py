"""``python -m tuner.trial``: run one trial and print the mAP of each evaluated step and the best."""
from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

from tuner.cli import example
from tuner import events
from tuner.outcome import Evaluation, Status
from tuner.trial.runner import RESULT_FILE, Trial, TrialSpec, TrialSpecError


def _format_metrics(evaluation: Evaluation) -> str:
    return (f"mAP {evaluation.value(events.MAP):.4f}  mAP@.50 {evaluation.value(events.MAP50):.4f}  "
            f"AR@100 {evaluation.value(events.AR100):.4f}")


def main(argv: list[str] | None = None) -> int:
    """Run one trial from the command line; exit 0 when it completed."""
    import argparse

    from tuner.config.errors import ConfigError
    from tuner.baseconfig import DataError, prepare_config

    parser = argparse.ArgumentParser(prog="python -m tuner.trial", description=main.__doc__,
                                     epilog=example("trial"))
    parser.add_argument("--config", required=True, help="pipeline.config (placeholder paths: demo data is used)")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--eval-every", type=int, required=True)
    parser.add_argument("--out", required=True, help="trial directory (must not hold a finished trial)")
    parser.add_argument("--train-data"), parser.add_argument("--eval-data"), parser.add_argument("--label-map")
    parser.add_argument("--device", default=None, help="CUDA_VISIBLE_DEVICES for this trial ('' = CPU)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per TF process (0 = all)")
    parser.add_argument("--timeout", type=float, default=None, help="wall-clock budget in seconds")
    parser.add_argument("--seed", type=int, default=None,
                        help="training seed in [0, 2**31): TensorFlow, NumPy and Python seeds and the input "
                             "pipeline's shuffling (default: unseeded)")
    parser.add_argument("--deterministic", action="store_true",
                        help="also TensorFlow's op determinism (needs --seed): the same seed gives the same "
                             "weights, training is slower")
    args = parser.parse_args(argv)
    try:
        spec = TrialSpec("", Path(args.out), args.steps, args.eval_every, device=args.device, threads=args.threads,
                         timeout=args.timeout, seed=args.seed, deterministic=args.deterministic)
        spec.validate()  # the budget and the seed, before any data is prepared
        config_text, note = prepare_config(args.config, args.train_data, args.eval_data, args.label_map,
                                           steps=args.steps)
        if note:
            print(note)
        trial = Trial(dataclasses.replace(spec, config_text=config_text))
        if (Path(args.out) / RESULT_FILE).exists():
            raise FileExistsError(f"{args.out} already holds a finished trial; choose a new --out")
    except (DataError, ConfigError, TrialSpecError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seeding = "" if args.seed is None else f"; seed {args.seed}" + (", op determinism on" if args.deterministic else "")
    reading = ("evaluating the last checkpoint only, in the trainer's process" if spec.final_only
               else f"evaluating every {args.eval_every}")
    print(f"trial: {args.steps} steps, {reading}{seeding}; logs in {trial.log_dir}")
    previous = signal.signal(signal.SIGINT, lambda *_: trial.stop("interrupted (Ctrl-C)"))
    try:
        for evaluation in trial.evaluations():
            print(f"step {evaluation.step:>6}  {_format_metrics(evaluation)}", flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    outcome = trial.outcome
    assert outcome is not None
    print(f"{outcome.status.value}: {outcome.reason} ({outcome.wall_seconds:.0f} s)")
    if outcome.best:
        print(f"best: step {outcome.best.step} ({outcome.best_checkpoint})  {_format_metrics(outcome.best)}")
    if outcome.failure:
        print(f"failure class: {outcome.failure.value}\n--- log tail ---\n{outcome.log_tail}")
    return 0 if outcome.status is Status.COMPLETED else 1


if __name__ == "__main__":
    sys.exit(main())
