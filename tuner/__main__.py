"""``odapi-tuner <command> ...`` (also ``python -m tuner``): one entry point for every command.

Each command is its module's own ``main`` (``python -m tuner.study`` and the other module forms
keep working); this only dispatches, so a command's flags, messages and exit codes are the same
either way. ``odapi-tuner --help`` lists the commands, ``odapi-tuner COMMAND --help`` a command's
flags with an example.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import sys
from typing import Sequence

from tuner import __version__
from tuner.cli import EXAMPLES, EXIT_OK, EXIT_USAGE


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: the module whose ``main(argv)`` runs it and what it does (its example is
    :data:`tuner.cli.EXAMPLES`, which its own ``--help`` shows too)."""

    module: str
    summary: str

    def example(self, name: str) -> str:
        return EXAMPLES[name]


COMMANDS: dict[str, Command] = {
    "study": Command("tuner.study.__main__", "the search: preflight, trials, pruning, confirmation, held-out test"),
    "trial": Command("tuner.trial.__main__", "one trial of a config, as the study runs it"),
    "config": Command("tuner.config.__main__", "schema-checked show/get/set/add/remove/diff/edit/lint of a config"),
    "anchors": Command("tuner.anchors.__main__", "anchor coverage of the training boxes, fitted anchors"),
    "data": Command("tuner.data.__main__", "convert COCO/VOC/YOLO/CSV to TFRecords; dataset stats"),
    "shapes": Command("tuner.data.shapes", "generate the demo's shapes dataset (or a variant of it)"),
    "report": Command("tuner.report.__main__", "per-class verdict of a study's pick, attached to its trial"),
    "convert": Command("tflite.convert", "the study's pick to measured TFLite models (float, int8, ...)"),
    "doctor": Command("tuner.doctor", "check the installed stack, the compat shims, GPUs, the run directory"),
}


def usage() -> str:
    """The top-level help: the commands, one line each, with an example of each."""
    width = max(map(len, COMMANDS))
    lines = [f"usage: odapi-tuner COMMAND [ARGS ...]   (odapi-tuner {__version__})", "",
             "Measured hyper-parameter search for the TF Object Detection API.", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {command.summary}" for name, command in COMMANDS.items()]
    lines += ["", "examples:"] + [f"  {command.example(name)}" for name, command in COMMANDS.items()]
    lines += ["", "odapi-tuner COMMAND --help shows a command's flags (every command also runs as "
                  "python -m MODULE, e.g. python -m tuner.study)."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the command's ``main``; its exit code is ours."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return EXIT_OK if args else EXIT_USAGE
    if args[0] == "--version":
        print(f"odapi-tuner {__version__}")
        return EXIT_OK
    name = args[0]
    command = COMMANDS.get(name)
    if command is None:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        sys.stderr.write(f"error: unknown command {name!r} (fix: {hint}commands: {', '.join(COMMANDS)}; "
                         "see odapi-tuner --help)\n")
        return EXIT_USAGE
    return int(importlib.import_module(command.module).main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
