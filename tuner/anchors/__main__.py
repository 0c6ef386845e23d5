"""Command line: ``python -m tuner.anchors {analyze,fit} --config C [--data RECORDS ...]``.

``analyze`` prints the coverage table of the config's anchors on its training boxes (``--json``:
one JSON object on stdout) and writes a PNG of box sizes against anchor shapes. ``fit`` fits the
anchors to the boxes, grows their sizes for training (``--growth``, default
:data:`tuner.anchors.fit.TRAINING_GROWTH`), prints before/after and writes the config with them to
``-o OUT`` (through :mod:`tuner.config`; an existing file only with ``--overwrite``).

Bad input (unreadable or invalid records, an unsupported generator or resizer, an existing
output) prints one line ``error: ...`` on stderr and exits 2, writing nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from tuner.cli import example, EXIT_OK, EXIT_USAGE, OneLineParser


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m tuner.anchors",
                           description="Anchor coverage of an SSD config on its training boxes, and fitted anchors.",
                           epilog=example("anchors"))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, text in (("analyze", "print the coverage of the config's anchors; write a PNG"),
                       ("fit", "fit the anchors to the boxes; write the config with them to -o OUT")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--config", required=True, help="the pipeline.config")
        cmd.add_argument("--data", nargs="+", metavar="RECORDS",
                         help="TFRecords (files, globs, sharded patterns); default: the config's training input")
        cmd.add_argument("--max-records", type=int, help="read at most this many records (default: all)")
        cmd.add_argument("--png", help="the PNG to write (default: next to the config, or to -o OUT)")
        cmd.add_argument("--verbose", action="store_true", help="let TensorFlow's start-up lines and warnings through")
    analyze = sub.choices["analyze"]
    analyze.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    fit = sub.choices["fit"]
    fit.add_argument("-o", "--output", required=True, help="the config to write with the fitted anchors")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    fit.add_argument("--seed", type=int, default=0, help="seed of the fit (default 0; equal seeds, equal fits)")
    fit.add_argument("--ratios", type=int, help="number of aspect ratios, 3..6 (default: the config's, clamped)")
    fit.add_argument("--growth", type=float, default=None,
                     help="multiply the fitted anchor sizes by this before writing them (default: 1.25, which "
                          "trained better than the coverage optimum in our measurements; 1.0 keeps the optimum)")
    fit.add_argument("--objective", choices=("shape", "grid"), default=None,
                     help="maximise shape coverage + mean best IoU (shape), or also the grid coverage and IoU the "
                          "matcher sees (grid); default: grid, which trained better in our measurements)")
    return parser


def _png_path(args: argparse.Namespace) -> Path:
    if args.png:
        return Path(args.png)
    anchor = Path(args.output) if args.command == "fit" else Path(args.config)
    return anchor.with_name(anchor.stem + ".anchors.png")


def _check_paths(args: argparse.Namespace) -> None:
    """Outputs that must not be overwritten, and writable directories, before any work."""
    from tuner.anchors.errors import AnchorError

    if args.max_records is not None and args.max_records < 1:
        raise AnchorError(f"--max-records must be >= 1 (got {args.max_records})")
    if args.command == "fit":
        from tuner.anchors.fit import MAX_RATIOS, MIN_RATIOS
        from tuner.anchors.params import SIZE_FACTOR_RANGE

        low, high = SIZE_FACTOR_RANGE
        if args.growth is not None and not low <= args.growth <= high:
            raise AnchorError(f"--growth must be in {low:g}..{high:g} (got {args.growth:g}); 1.0 keeps the fitted sizes")
        if args.ratios is not None and not MIN_RATIOS <= args.ratios <= MAX_RATIOS:
            raise AnchorError(f"--ratios must be in {MIN_RATIOS}..{MAX_RATIOS} (got {args.ratios})")
        out = Path(args.output)
        if out.exists() and not args.overwrite:
            raise AnchorError(f"-o {out} exists; give another path or add --overwrite")
        if out.resolve() == Path(args.config).resolve():
            raise AnchorError(f"-o {out} is the input config; write the fitted config to another file")
        if not out.parent.is_dir():
            raise AnchorError(f"-o {out}: directory {out.parent} does not exist; create it or give another path")
    png = _png_path(args)
    if not png.parent.is_dir():
        raise AnchorError(f"--png {png}: directory {png.parent} does not exist; create it or give another path")


def _run(args: argparse.Namespace) -> int:
    from tuner import config as cfgmod
    from tuner.anchors import analysis, plot
    from tuner.anchors import fit as fitmod
    from tuner.anchors.generators import anchor_shapes
    from tuner.anchors.params import describe, params_from_config

    _check_paths(args)
    cfg = cfgmod.load(args.config)
    sub = analysis.subject(cfg, args.data, max_records=args.max_records)
    source = ", ".join(sub.truth.files[:2]) + (f" (+{len(sub.truth.files) - 2} more)" if len(sub.truth.files) > 2
                                                else "")
    shapes_of = lambda p: anchor_shapes(p, sub.feature_maps, sub.frame_hw)  # noqa: E731
    grids = " ".join(f"{h}x{w}" for h, w in sub.feature_maps)
    header = (f"{len(sub.boxes)} boxes in {sub.truth.images} images ({source}); input "
              f"{sub.frame.height}x{sub.frame.width} px, feature maps {grids}; covered = best anchor IoU >= "
              f"{sub.threshold:g} (matched_threshold)")
    png = _png_path(args)
    if args.command == "analyze":
        params = params_from_config(cfg)
        coverage = sub.measure(params)
        plot.box_plot(png, sub.box_hw, sub.truth.classes, sub.truth.class_names, [("config", shapes_of(params))],
                      f"{Path(args.config).name}: {describe(params)}", sub.threshold)
        if args.json:
            print(json.dumps({**coverage.to_json(), "anchors": describe(params), "png": str(png),
                              "feature_maps": [list(m) for m in sub.feature_maps],
                              "input": [sub.frame.height, sub.frame.width]}))
            return EXIT_OK
        print(header)
        print(f"anchors: {describe(params)}")
        print(analysis.table([("", coverage)]))
        for line in coverage.advice():
            print(f"advice: {line}")
        print(f"picture: {png}")
        return EXIT_OK
    objective = fitmod.Objective(args.objective) if args.objective else fitmod.DEFAULT_OBJECTIVE
    growth = fitmod.TRAINING_GROWTH if args.growth is None else args.growth
    fitted = analysis.fit(cfg, sub, seed=args.seed, ratios=args.ratios, objective=objective, growth=growth)
    print(header)
    print(f"base:   {describe(fitted.base)}")
    grew = f", sizes x{fitted.params_growth:g}" if fitted.params_growth != 1.0 else ""
    print(f"fitted: {describe(fitted.params)}  ({objective.value} objective{grew}, {fitted.result.evaluations} "
          f"candidates, {fitted.result.seconds:.1f} s, seed {args.seed})")
    print(analysis.table([("base", fitted.before), ("fit", fitted.after)]))
    for line in fitted.after.advice():
        print(f"advice: {line}")
    cfgmod.save(analysis.fitted_config(cfg, fitted.params), args.output)
    plot.box_plot(png, sub.box_hw, sub.truth.classes, sub.truth.class_names,
                  [("base", shapes_of(fitted.base)), ("fitted", shapes_of(fitted.params))],
                  f"{Path(args.config).name}: base vs fitted anchors", sub.threshold)
    print(f"wrote {args.output} (anchors only changed: python -m tuner.config diff {args.config} {args.output})")
    print(f"picture: {png}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 bad input)."""
    from tuner import tfquiet
    from tuner.anchors.errors import AnchorError
    from tuner.config.errors import ConfigError

    args = _parser().parse_args(argv)
    tfquiet.set_verbose(args.verbose)
    try:
        with tfquiet.quietly():  # TensorFlow's start-up lines and library warnings stay off ours
            return _run(args)
    except (AnchorError, ConfigError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
