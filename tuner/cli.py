"""What every odapi-tuner command line shares: one-line usage errors, exit codes, text tables.

Light on purpose (standard library only): the data, anchors and report CLIs import it without
paying for TensorFlow or Optuna.
"""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Sequence

#: Exit codes of every CLI: success, a finding the command exists to report (lint errors, a
#: failed study), bad input or usage (reported in one line before any work starts), and an
#: unexpected error inside odapi-tuner (a bug: one line, the traceback in a file).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


#: One example per command, shown by ``odapi-tuner --help`` and by the command's own ``--help``.
EXAMPLES: dict[str, str] = {
    "study": "odapi-tuner study --base pipeline.config --train-data 'train.record-*' --eval-data 'eval.record-*' "
             "--label-map label_map.pbtxt --n-trials 30 --steps 20000",
    "trial": "odapi-tuner trial --config pipeline.config --steps 200 --eval-every 100 --out runs/one",
    "config": "odapi-tuner config set pipeline.config train_config.num_steps=20000 -o out.config",
    "anchors": "odapi-tuner anchors fit --config pipeline.config -o fitted.config",
    "data": "odapi-tuner data convert --format coco annotations.json --images images --out data/mine",
    "shapes": "odapi-tuner shapes --out data/shapes-variant --seed 9",
    "report": "odapi-tuner report --study runs/pipeline",
    "convert": "odapi-tuner convert --study runs/pipeline",
    "doctor": "odapi-tuner doctor",
}


def example(command: str) -> str:
    """A parser's epilog: the command's example (same as ``python -m ...`` with the module)."""
    return f"example: {EXAMPLES[command]}"


def first_line(exc: BaseException, *, limit: int = 300) -> str:
    """``ExceptionType: message`` (or the type alone), the message's first line cut at ``limit``
    characters: an error or a shortcut not taken, said in one line."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:limit]}" if text else type(exc).__name__


def report_internal_error(exc: BaseException, prog: str) -> int:
    """Print one line for an unexpected exception, keep its traceback in a temporary file, and
    return :data:`EXIT_INTERNAL` (never an exit code the command gives a meaning to)."""
    import datetime
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    where = "not saved"
    try:
        with tempfile.NamedTemporaryFile("w", prefix=f"odapi-tuner-{stamp}-", suffix=".log", delete=False) as fh:
            fh.write(f"--- {prog} {' '.join(sys.argv[1:])}\n{text}")
            where = fh.name
    except OSError:
        pass
    sys.stderr.write(f"error: unexpected {first_line(exc)} (a bug in "
                     f"odapi-tuner, not in your input; traceback: {where}; please report it)\n")
    return EXIT_INTERNAL


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr,
    ``error: MESSAGE (see PROG --help)``, and exit code :data:`EXIT_USAGE` (no usage dump).

    Give ``prog`` as the user types the command (``python -m tuner.study``, ``bench/seeds.py``).
    """

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)

    def parse_or_exit_code(self, argv: Sequence[str] | None = None) -> tuple[argparse.Namespace | None, int]:
        """``(arguments, 0)``; or ``(None, exit code)`` after ``--help`` (0) or a usage error (already
        printed as one line; :data:`EXIT_USAGE`), for a ``main`` that returns its exit code."""
        try:
            return self.parse_args(argv), EXIT_OK
        except SystemExit as exc:
            return None, EXIT_USAGE if exc.code else EXIT_OK


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain-text table: the header, a rule, then the rows, columns padded to their widest cell."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    return lines + ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
