"""A warm trainer: ``python -m tuner.odapi.host`` trains one trial after another in one process.

A one-process trial (:mod:`tuner.odapi.train` with ``--evaluate-final``) pays TensorFlow's and the
OD API's imports at every start (and, before the steps were traced without autograph,
:mod:`tuner.odapi.tracing`, autograph's conversion of the OD API's functions; one slot alone,
20-step demo trials then: 64 s for the first trial of a process, 37-43 s for most of the next ones;
bench/warm_memory.py, docs/benchmarks.md "Warm trainers"). This process pays them once per slot:

* it reads one request per line on stdin, a JSON object ``{"argv": [...], "log": PATH}``: the
  arguments of ``python -m tuner.odapi.train`` (``--evaluate-final`` included) and the file its
  output goes to (file descriptors 1 and 2 are pointed at it for the trial, so TensorFlow's own
  lines land there too); for the first request it imports everything and sets TensorFlow's CPU
  threads (:func:`tuner.odapi.train.start_process`), so that trial's log reads as a trainer
  process's;
* it trains the trial (:func:`tuner.odapi.train.train` ``hosted``: the same code path as a
  trainer process, ending at the last checkpoint by raising :class:`tuner.odapi.train.Ended`),
  prints ``HOST_END <exit code>`` on its control output (the stdout it was started with), then
  clears Keras' session and collects garbage. The ended trial's traceback is kept: it holds
  ``train_loop``'s frames and through them the trial's input pipeline, whose teardown took 15-31 s
  (what a trainer process skips with ``os._exit``); this process ends by ``os._exit`` too, so that
  teardown never runs;
* it ends after a trial that did not exit 0 (its state is not trusted: the next trial gets a
  fresh process), after ``--max-trials`` trials (memory held by TensorFlow's caches grows with
  each graph: the process is recycled), or when stdin closes.

A crash, an out-of-memory kill or a stop (the trial kills the process group) ends this process
and only the trial it was running; :class:`tuner.trial.host.WarmHost` starts the next one.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
from typing import Sequence

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tuner.odapi.host")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for TF ops (0: TF decides)")
    p.add_argument("--max-trials", type=int, default=4, help="trials before this process ends (recycled)")
    return p


def _point_output_at(fd: int) -> None:
    """Send this process's stdout and stderr (Python's and the C++ libraries') to ``fd``."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)


def _next_request() -> dict | None:
    line = sys.stdin.readline()
    return json.loads(line) if line else None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    control = os.fdopen(os.dup(1), "w", buffering=1)  # replies: the stdout this process was started with
    quiet = os.open(os.devnull, os.O_WRONLY)
    _point_output_at(quiet)
    from tuner import protocol
    from tuner.odapi import train

    ended_trials: list[BaseException] = []
    request = _next_request()
    for served in range(args.max_trials):
        if request is None:
            return 0
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _point_output_at(log)  # the first trial's log also gets the imports, as a trainer process's does
        os.close(log)
        parser = train._parser()  # noqa: SLF001 - the trainer's own arguments, checked the trainer's way
        try:
            trial_args = parser.parse_args(request["argv"])
            train._check_seed(parser, trial_args)  # noqa: SLF001
            if served == 0:
                train.start_process(args.threads)
            code = train.train(trial_args, hosted=True)
        except train.Ended as ended:
            # Its traceback holds train_loop's frames, and they the trial's input pipeline, whose
            # teardown took 15-31 s (bench/warm_memory.py): kept until this process ends, by
            # os._exit, so it never runs.
            ended_trials.append(ended)
            code = ended.code
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception:  # noqa: BLE001 - the trial crashed: its log gets the traceback, this process ends
            traceback.print_exc()
            code = 1
        protocol.phase("returned")
        _point_output_at(quiet)
        print(f"{protocol.HOST_END_LINE} {code}", file=control)  # the trial is over: its result is written
        if code != 0 or served + 1 == args.max_trials:
            return 0
        import tensorflow as tf

        tf.keras.backend.clear_session()  # while the study starts the next trial's bookkeeping
        gc.collect()
        request = _next_request()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown: the trials' kept pipelines and graphs just go
