"""The file and exit-code protocol between a trial's processes (TensorFlow-free).

``tuner.odapi.train`` and ``tuner.odapi.evaluate`` write these; :mod:`tuner.trial` reads them.

* ``model_dir/train/DONE``: written atomically by the trainer when training returned normally.
* ``model_dir/eval/checkpoints.jsonl``: one JSON line per finished evaluation
  (``step``, ``checkpoint`` name, ``seconds``), appended after its summaries were flushed.
* ``EVALUATOR_READY <unix time>`` on the evaluator's output once its start-up is done.
* ``PHASE <name> <unix time> <process CPU seconds>`` on either process's output as it passes a
  phase (:func:`phase`; ``bench/trial_overhead.py`` reads them to say where a trial's time goes).
* ``HOST_END <exit code>`` on a warm trainer's control output (``tuner.odapi.host``) once a
  trial in it has ended; ``tuner.trial.host`` reads it.
* Trainer exit codes: :data:`EXIT_CONFIG_REJECTED`, :data:`EXIT_OUT_OF_MEMORY`.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

DONE_MARKER = "DONE"
#: Printed by the evaluator (with ``time.time()``) once its model and eval input are built.
READY_LINE = "EVALUATOR_READY"
LEDGER = "checkpoints.jsonl"
PHASE_LINE = "PHASE"
HOST_END_LINE = "HOST_END"
EXIT_CONFIG_REJECTED = 3
EXIT_OUT_OF_MEMORY = 4
# What the OD API's builders raise for a config they cannot build (model, input or optimizer).
CONFIG_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, TypeError, NotImplementedError)


def done_marker(model_dir: str | os.PathLike[str]) -> Path:
    return Path(model_dir) / "train" / DONE_MARKER


def ledger_path(model_dir: str | os.PathLike[str]) -> Path:
    return Path(model_dir) / "eval" / LEDGER


def read_ledger(model_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Finished evaluations in the order written (``[]`` if none yet).

    A last line still being written (no newline yet) is ignored until complete.
    """
    path = ledger_path(model_dir)
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def append_ledger(model_dir: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    """Append one finished evaluation (a single write of one complete line)."""
    path = ledger_path(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(entry) + "\n")


def phase(name: str) -> None:
    """Print a :data:`PHASE_LINE` for ``name``: the wall time now and the process's CPU time so far."""
    print(f"{PHASE_LINE} {name} {time.time():.3f} {time.process_time():.2f}", flush=True)


def read_phases(log_text: str) -> dict[str, tuple[float, float]]:
    """``{phase name: (unix time, CPU seconds)}`` from a process's output (the last of each name)."""
    phases: dict[str, tuple[float, float]] = {}
    for line in log_text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == PHASE_LINE:
            phases[parts[1]] = (float(parts[2]), float(parts[3]))
    return phases
