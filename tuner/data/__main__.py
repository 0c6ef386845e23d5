"""Command line: ``python -m tuner.data {convert,stats} ...``.

``convert --format coco|voc|yolo|csv SRC --out DIR [--images DIR] [--split train=0.8,eval=0.1,test=0.1]
[--shards N] [--seed S] [--classes A,B,...] [--keep-empty] [--strict] [--overwrite]`` writes OD API
TFRecords, ``label_map.pbtxt`` and ``dataset.json`` (:mod:`tuner.data.convert`), printing the
counts per split and class and a table of what was skipped and why; a progress bar goes to stderr.

``stats DIR | RECORDS... [--config C] [--out PNGDIR]`` prints per-class counts, box sizes and
aspect ratios (in the model's input frame with ``--config``) and writes three PNGs
(:mod:`tuner.data.stats`).

Bad input (unknown format, missing source, an existing ``--out`` without ``--overwrite``, and
with ``--strict`` the first item that would be skipped) prints one line ``error: ...`` on stderr
and exits 2, writing nothing; Ctrl-C exits 130, writing nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from tuner.cli import example, EXIT_OK, EXIT_USAGE, OneLineParser
from tuner.data.formats import Format
from tuner.data.split import DEFAULT_SPLIT

EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m tuner.data", description="Datasets for the OD API: convert, inspect.",
                           epilog=example("data"))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    conv = sub.add_parser("convert", help="COCO, Pascal VOC, YOLO or CSV annotations -> OD API TFRecords")
    conv.add_argument("--format", required=True, choices=[f.value for f in Format], help="the source format")
    conv.add_argument("src", metavar="SRC", help="coco: the JSON file; voc: the XML directory; yolo: the label "
                                                 "directory; csv: the CSV file")
    conv.add_argument("--images", help="the directory holding the images (default: see the format)")
    conv.add_argument("--out", required=True, help="the output directory (must not exist, unless --overwrite)")
    conv.add_argument("--split", default=DEFAULT_SPLIT, help="split fractions (default %(default)s)")
    conv.add_argument("--shards", type=int, default=1, help="files per split (default %(default)s)")
    conv.add_argument("--seed", type=int, default=0, help="seed of the split (default %(default)s)")
    conv.add_argument("--classes", help="comma-separated class names in id order (default: from the source; "
                                        "boxes of other classes are skipped)")
    conv.add_argument("--keep-empty", action="store_true",
                      help="keep images annotated with no objects (negatives); skipped by default")
    conv.add_argument("--strict", action="store_true", help="fail on the first item that would be skipped")
    conv.add_argument("--overwrite", action="store_true", help="replace --out if it holds an earlier conversion")
    stats = sub.add_parser("stats", help="per-class counts, box sizes and aspect ratios of TFRecords")
    stats.add_argument("sources", nargs="+", metavar="DIR|RECORDS",
                       help="a dataset directory (convert's output), or TFRecord files and globs")
    stats.add_argument("--config", help="a pipeline.config: measure boxes in its model's input frame")
    stats.add_argument("--out", help="directory for the PNGs (default: DIR/stats, or stats/ beside the records)")
    return parser


def _convert(args: argparse.Namespace) -> int:
    from tuner.data.convert import ConvertOptions, convert
    from tuner.data.progress import stderr_progress
    from tuner.data.split import SplitSpec

    classes = tuple(c.strip() for c in args.classes.split(",")) if args.classes is not None else None
    options = ConvertOptions(fmt=Format.parse(args.format), src=Path(args.src), out=Path(args.out),
                             images=Path(args.images) if args.images else None, split=SplitSpec.parse(args.split),
                             shards=args.shards, seed=args.seed, strict=args.strict, overwrite=args.overwrite,
                             keep_empty=args.keep_empty, classes=classes)
    result = convert(options, progress=stderr_progress())
    from tuner.cli import text_table

    m = result.manifest
    splits = m["splits"]
    print(f"wrote {m['images']} images, {m['boxes']} boxes, {len(m['classes'])} classes to {result.out} "
          f"({args.format} {args.src}, seed {args.seed}, {result.seconds:.1f} s)")
    print("\n".join(text_table(("split", "images", "boxes", "input_path"),
                               [(name, str(s["images"]), str(s["boxes"]), str(result.out / s["input_path"]))
                                for name, s in splits.items()])))
    print()
    print("\n".join(text_table(("class", "id", *(f"boxes {n}" for n in splits), "images"),
                               [(name, str(c["id"]), *(str(s["per_class"][name]["boxes"]) for s in splits.values()),
                                 str(c["images"])) for name, c in m["per_class"].items()])))
    if result.skipped:
        print(f"\nskipped {result.skipped.images} images and {result.skipped.boxes} boxes (details and fixes: "
              f"{result.out / 'dataset.json'}, 'skipped'):")
        print("\n".join(text_table(("reason", "images", "boxes", "first"), result.skipped.rows())))
    for name, s in splits.items():
        if not s["images"]:
            sys.stderr.write(f"warning: split {name} is empty (too few images for its fraction {m['split'][name]})\n")
    if "train" in splits and "eval" in splits:
        print(f"\nuse it: python -m tuner.config edit BASE.config --data {result.out} -o NEW.config")
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    from tuner.data import stats as statsmod
    from tuner.data.stats_plot import write_pngs

    groups = statsmod.find_groups(args.sources)
    model_cfg = None
    if args.config:
        from tuner import config as cfgmod

        model_cfg = cfgmod.load(args.config).model
    if args.out:
        out = Path(args.out)
    elif len(args.sources) == 1 and Path(args.sources[0]).is_dir():
        out = Path(args.sources[0]) / "stats"
    else:
        out = Path(args.sources[0]).parent / "stats"
    result = statsmod.collect(groups, model_cfg)
    print(statsmod.table(result))
    title = Path(args.sources[0]).name + (f", {Path(args.config).name}" if args.config else "")
    for path in write_pngs(result, out, title):
        print(f"picture: {path}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 bad input, 130 interrupted)."""
    from tuner import tfquiet
    from tuner.anchors.errors import AnchorError
    from tuner.config.errors import ConfigError
    from tuner.data.issues import DatasetError

    args = _parser().parse_args(argv)
    try:
        with tfquiet.quietly():  # TensorFlow's start-up lines and library warnings stay off ours
            return _convert(args) if args.command == "convert" else _stats(args)
    except (DatasetError, AnchorError, ConfigError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        sys.stderr.write(f"error: {exc.strerror or exc}{where}; check the paths and permissions\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing was written\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
