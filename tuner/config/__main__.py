"""Command line: ``python -m tuner.config {show,get,set,add,remove,diff,lint} ...``.

Thin by design: parse arguments, call the library, print. Bad input prints one line
``error: ...`` on stderr and exits 2; ``lint`` exits 1 when it finds errors.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn, Sequence

from google.protobuf import text_format
from google.protobuf.message import Message

from tuner.config.diff import diff, format_diff
from tuner.config.errors import ConfigError
from tuner.config.io import dumps, load, write_text_atomic
from tuner.config.lint import format_findings, has_errors, lint
from tuner.config.paths import add_value, get_value, remove_value, set_value

EXIT_OK, EXIT_LINT, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line (``error: ...``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message} (fix: see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _assignment(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"expected PATH=VALUE, got {text!r}",
                          fix="write e.g. train_config.num_steps=20000")
    path, value = text.split("=", 1)
    return path.strip(), value


def _format(value: object) -> str:
    if isinstance(value, Message):
        return text_format.MessageToString(value).rstrip("\n") or "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _write_or_print(cfg: Message, out: str | None) -> None:
    if out is None:
        sys.stdout.write(dumps(cfg))
    else:
        write_text_atomic(out, dumps(cfg))


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tuner.config",
                     description="Schema-checked editor for TF OD API pipeline.config files.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("show", help="print the config in canonical text format").add_argument("config")
    get = sub.add_parser("get", help="print the value at a dotted path")
    get.add_argument("config")
    get.add_argument("path")
    for name, helptext, metavar in (("set", "set PATH=VALUE (one or more)", "PATH=VALUE"),
                                    ("add", "append to a repeated field: PATH[=VALUE]", "PATH[=VALUE]"),
                                    ("remove", "remove an entry or clear a field", "PATH")):
        cmd = sub.add_parser(name, help=helptext + "; writes to -o OUT or stdout")
        cmd.add_argument("config")
        cmd.add_argument("edits", nargs="+", metavar=metavar)
        cmd.add_argument("-o", "--output", help="output file (the input only if named explicitly)")
    dif = sub.add_parser("diff", help="list differences A -> B as 'path: old -> new'")
    dif.add_argument("a")
    dif.add_argument("b")
    lnt = sub.add_parser("lint", help="check the config; exit 1 on errors")
    lnt.add_argument("config")
    lnt.add_argument("--base-dir", help="resolve relative paths from here (default: cwd)")
    lnt.add_argument("--no-files", action="store_true", help="skip file-system checks")
    lnt.add_argument("--no-anchors", action="store_true",
                     help="skip the anchor-coverage check (it reads the training boxes and builds the model)")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "show":
        sys.stdout.write(dumps(load(args.config)))
    elif args.command == "get":
        print(_format(get_value(load(args.config), args.path)))
    elif args.command in ("set", "add", "remove"):
        cfg = load(args.config)
        for edit in args.edits:
            if args.command == "set":
                set_value(cfg, *_assignment(edit))
            elif args.command == "add":
                path, value = _assignment(edit) if "=" in edit else (edit, None)
                add_value(cfg, path, value)
            else:
                remove_value(cfg, edit)
        _write_or_print(cfg, args.output)
    elif args.command == "diff":
        text = format_diff(diff(load(args.a), load(args.b)))
        if text:
            print(text)
    else:
        from tuner import tfquiet

        with tfquiet.quietly():  # the anchor check imports TensorFlow: its start-up lines stay off ours
            findings = lint(load(args.config), base_dir=args.base_dir, check_files=not args.no_files,
                            check_anchors=not args.no_anchors)
        if findings:
            print(format_findings(findings))
        return EXIT_LINT if has_errors(findings) else EXIT_OK
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 lint errors, 2 bad input)."""
    args = _build_parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`: not an error of the input
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        sys.stderr.write(f"error: {os.strerror(exc.errno) if exc.errno else exc}: "
                         f"{exc.filename or ''} (fix: check the path)\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
