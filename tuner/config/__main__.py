"""Command line: ``python -m tuner.config {show,get,set,add,remove,edit,diff,lint} ...``.

Thin by design: parse arguments, call the library, print. Bad input prints one line
``error: ...`` on stderr and exits 2, and nothing is written; ``lint`` exits 1 when it finds
errors (with ``--fix``: errors that remain after fixing); an unexpected error (a bug of ours)
prints one line, keeps the traceback in a temporary file and exits 3.

Output files: ``set``, ``add``, ``remove`` and ``edit`` write the edited config to ``-o OUT``, or
print it to stdout without ``-o``; the input is overwritten only when ``-o`` names it. They (and
``lint --fix``) change only the lines of the fields they change: comments, field order and
layout elsewhere stay (:mod:`tuner.config.textedit`). A path that would switch a oneof away from
the member the config holds (another model type, anchor generator, schedule ...) is refused
unless ``set``/``add`` get ``--switch``.

``edit CONFIG [--num-steps N] [--learning-rate X] [--schedule KIND] [--warmup-fraction F]
[--l2 W] [--batch-size B] [--data DIR | --train-data R --eval-data R --label-map M] [-o OUT]``
makes the library's coupled edits (:mod:`tuner.config.plan`, fixed order) and prints one
``path: old -> new`` line per changed field: on stdout with ``-o``, on stderr without (stdout
then holds the config). ``--data DIR`` takes a directory holding ``train.record``,
``eval.record`` (or their shards ``train.record-*``, ``eval.record-*``) and ``label_map.pbtxt``,
the layout ``python -m tuner.data.shapes`` writes, and writes absolute paths.

``lint CONFIG --fix [-o OUT]`` applies the mechanical fixes (:mod:`tuner.config.autofix`),
prints each change as ``fixed: path: old -> new``, then the findings that remain. Without
``-o`` it is a dry run: it writes nothing and prints ``would fix: ...`` lines instead.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from google.protobuf import text_format
from google.protobuf.message import Message

from tuner.cli import example, EXIT_FAILED, EXIT_OK, EXIT_USAGE, OneLineParser, report_internal_error
from tuner.config.diff import diff, format_diff
from tuner.config.edits import dataset_files
from tuner.config.errors import ConfigError
from tuner.config.io import dumps, load, loads, read_text, write_text_atomic
from tuner.config.textedit import render_edit_kept
from tuner.config.lint import format_findings, has_errors, lint
from tuner.config.paths import add_value, get_value, remove_value, set_value
from tuner.config.plan import Dataset, EditPlan, apply_plan

EXIT_LINT = EXIT_FAILED  # the config has lint errors


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


def _load_text(path: str) -> tuple[str, Message]:
    """The file's text and the config parsed from it (edits are written onto the text)."""
    text = read_text(path)
    return text, loads(text, source=path)


def _rendered(original: str, before: Message, after: Message, source: str) -> str:
    """:func:`tuner.config.textedit.render_edit`'s text; when it cannot keep ``source``'s layout
    for this edit (its text is canonical ``text_format``), a note on stderr says so, once."""
    text, kept = render_edit_kept(original, before, after)
    if not kept:
        print(f"note: {source}: this edit cannot be written onto the file's own lines, so the output is "
              "canonical text (its comments and layout are not kept); every value is as edited", file=sys.stderr)
    return text


def _write_or_print(original: str, before: Message, cfg: Message, out: str | None, source: str) -> None:
    """Write ``cfg`` as ``original`` with only the changed fields' lines changed (comments, order and
    layout kept: :func:`_rendered`), to ``out`` or stdout."""
    text = _rendered(original, before, cfg, source)
    if out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(out, text)


def _build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m tuner.config",
                           description="Schema-checked editor for TF OD API pipeline.config files.",
                           epilog=example("config"))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
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
        if name != "remove":
            cmd.add_argument("--switch", action="store_true",
                             help="allow a path through another member of a oneof than the config holds (e.g. "
                                  "ssd_anchor_generator on a multiscale_anchor_generator): the held member and "
                                  "everything under it are dropped; refused without this flag")
    _add_edit_parser(sub)
    dif = sub.add_parser("diff", help="list differences A -> B as 'path: old -> new'")
    dif.add_argument("a")
    dif.add_argument("b")
    lnt = sub.add_parser("lint", help="check the config; exit 1 on errors")
    lnt.add_argument("config")
    lnt.add_argument("--base-dir", help="resolve relative paths from here (default: cwd)")
    lnt.add_argument("--no-files", action="store_true", help="skip file-system checks")
    lnt.add_argument("--no-anchors", action="store_true",
                     help="skip the anchor-coverage check (it reads the training boxes and builds the model)")
    lnt.add_argument("--verbose", action="store_true",
                     help="let TensorFlow's start-up lines and warnings (the anchor check imports it) through")
    lnt.add_argument("--fix", action="store_true",
                     help="apply the mechanical fixes and print each change, then lint the result; "
                          "without -o a dry run that writes nothing")
    lnt.add_argument("-o", "--output", help="with --fix: write the fixed config here "
                                            "(the input only if named explicitly)")
    return parser


SCHEDULE_CHOICES = ("cosine", "exponential", "constant", "manual", "manual_step")


def _add_edit_parser(sub: argparse._SubParsersAction) -> None:
    edit = sub.add_parser("edit", help="coupled edits (steps, learning rate, schedule, L2, batch, dataset); "
                                       "writes to -o OUT or stdout, prints each change")
    edit.add_argument("config")
    edit.add_argument("--num-steps", type=int, metavar="N", help="train_config.num_steps; the schedule stretches along")
    edit.add_argument("--learning-rate", type=float, metavar="X", help="base learning rate; the schedule rescales")
    edit.add_argument("--schedule", choices=SCHEDULE_CHOICES,
                      help="switch the schedule, sized to num_steps, keeping the base rate and warmup")
    edit.add_argument("--warmup-fraction", type=float, metavar="F",
                      help="cosine warmup as a fraction of total_steps, in [0, 1)")
    edit.add_argument("--l2", type=float, metavar="W", help="the weight of every L2 regularizer")
    edit.add_argument("--batch-size", type=int, metavar="B", help="train_config.batch_size")
    edit.add_argument("--data", metavar="DIR",
                      help="dataset directory with train.record, eval.record and label_map.pbtxt "
                           "(python -m tuner.data.shapes writes one); sets inputs, label maps and num_classes")
    edit.add_argument("--train-data", metavar="R", help="train records (path or glob); with --eval-data, --label-map")
    edit.add_argument("--eval-data", metavar="R", help="eval records (path or glob)")
    edit.add_argument("--label-map", metavar="M", help="label map (sets num_classes from it)")
    edit.add_argument("-o", "--output", help="output file (the input only if named explicitly)")


def _dataset(args: argparse.Namespace) -> Dataset | None:
    """The dataset of ``edit``'s --data or --train-data/--eval-data/--label-map, checked as a set."""
    given = {flag: value for flag, value in (("--train-data", args.train_data), ("--eval-data", args.eval_data),
                                             ("--label-map", args.label_map)) if value is not None}
    if args.data is not None:
        if given:
            raise ConfigError(f"--data and {', '.join(given)} both name the dataset",
                              fix="give either --data DIR or --train-data R --eval-data R --label-map M")
        return Dataset(*dataset_files(args.data))
    if not given:
        return None
    if len(given) < 3:
        missing = [flag for flag in ("--train-data", "--eval-data", "--label-map") if flag not in given]
        raise ConfigError(f"{', '.join(given)} needs {' and '.join(missing)} too",
                          fix="give all three: --train-data R --eval-data R --label-map M (or --data DIR)")
    return Dataset(args.train_data, args.eval_data, args.label_map)


def _edit(args: argparse.Namespace) -> None:
    plan = EditPlan(num_steps=args.num_steps, schedule=args.schedule, learning_rate=args.learning_rate,
                    warmup_fraction=args.warmup_fraction, l2_weight=args.l2, batch_size=args.batch_size,
                    dataset=_dataset(args))
    if plan.is_empty():
        raise ConfigError("edit needs at least one edit",
                          fix="give e.g. --num-steps N, --learning-rate X or --data DIR (see --help)")
    original, before = _load_text(args.config)
    cfg = type(before)()
    cfg.CopyFrom(before)
    apply_plan(cfg, plan)
    text = format_diff(diff(before, cfg))  # before writing: a failure here leaves no file behind
    _write_or_print(original, before, cfg, args.output, args.config)
    if text:
        print(text, file=sys.stdout if args.output is not None else sys.stderr)


def _lint(args: argparse.Namespace) -> int:
    from tuner import tfquiet
    from tuner.config.autofix import apply_fixes

    if args.output is not None and not args.fix:
        raise ConfigError("lint -o writes the fixed config and needs --fix",
                          fix="add --fix, or drop -o to only lint")
    original, cfg = _load_text(args.config)
    check_files, check_anchors = not args.no_files, not args.no_anchors
    tfquiet.set_verbose(args.verbose)
    with tfquiet.quietly():  # the anchor check imports TensorFlow: its start-up lines stay off ours
        if not args.fix:
            findings = lint(cfg, base_dir=args.base_dir, check_files=check_files, check_anchors=check_anchors)
        else:
            result = apply_fixes(cfg, base_dir=args.base_dir, check_files=check_files, check_anchors=check_anchors)
            findings = list(result.remaining)
            if args.output is not None:
                write_text_atomic(args.output, _rendered(original, cfg, result.config, args.config))
            label = "fixed" if args.output is not None else "would fix"
            for change in result.changes:
                print(f"{label}: {change}")
    if findings:
        print(format_findings(findings))
    return EXIT_LINT if has_errors(findings) else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.command == "show":
        sys.stdout.write(dumps(load(args.config)))
    elif args.command == "get":
        print(_format(get_value(load(args.config), args.path)))
    elif args.command in ("set", "add", "remove"):
        original, before = _load_text(args.config)
        cfg = type(before)()
        cfg.CopyFrom(before)
        for edit in args.edits:
            if args.command == "set":
                set_value(cfg, *_assignment(edit), switch=args.switch)
            elif args.command == "add":
                path, value = _assignment(edit) if "=" in edit else (edit, None)
                add_value(cfg, path, value, switch=args.switch)
            else:
                remove_value(cfg, edit)
        _write_or_print(original, before, cfg, args.output, args.config)
    elif args.command == "edit":
        _edit(args)
    elif args.command == "diff":
        text = format_diff(diff(load(args.a), load(args.b)))
        if text:
            print(text)
    else:
        return _lint(args)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 lint errors, 2 bad input, 3 a bug of ours)."""
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
    except Exception as exc:  # noqa: BLE001 - a bug: one line and its own exit code, never lint's "errors found"
        return report_internal_error(exc, "python -m tuner.config")


if __name__ == "__main__":
    sys.exit(main())
