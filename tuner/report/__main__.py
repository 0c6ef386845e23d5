"""``python -m tuner.report``: a per-class verdict on a study's chosen trial, attached to the trial.

    python -m tuner.report --study RUN_DIR [--trial N] [--target-precision P] [--images K]
        [--tflite-dir DIR] [--out DIR] [--eval-count N] [--records GLOB ...] [--threads T]
        [--artifact-dir DIR | --no-upload] [--overwrite]

Judges the trial ``tflite.select`` picks (or ``--trial N``), its best checkpoint and every
TFLite variant of its conversion (``RUN_DIR/tflite-trial-NNNN`` when it exists, or
``--tflite-dir``), on the config's eval images (or ``--records``). Writes
:mod:`tuner.report.pipeline`'s files to ``--out`` (default ``RUN_DIR/report-trial-NNNN``),
prints the verdict table, and attaches the files to the trial in the artifact store
``RUN_DIR/artifacts``: ``optuna-dashboard sqlite:///RUN_DIR/study.db --artifact-dir
RUN_DIR/artifacts`` shows them on the trial's page. TensorFlow's own output goes to
``tensorflow.log`` in ``--out``.

Bad input prints one line ``error: what: where; how to fix`` on stderr and exits 2, writing nothing.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from tflite.console import quiet
from tflite.errors import EXIT_BAD_INPUT, ConvertError
from tuner.cli import example, OneLineParser

TF_LOG = "tensorflow.log"
PROG = "python -m tuner.report"


def _parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Per-class verdict (AP, PR curves, operating points) on a study's chosen "
                                             "trial, its checkpoint and TFLite variants, attached to the trial.",
                      epilog=example("report"))
    p.add_argument("--study", required=True, help="run directory (holding study.json) or study name (with --storage)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: the run directory's)")
    p.add_argument("--trial", type=int, default=None,
                   help="trial number (default: the trial tflite.convert picks: the confirmed pick's best run, "
                        "else the best completed trial)")
    p.add_argument("--target-precision", type=float, default=None,
                   help="per class, the lowest score threshold whose precision meets this (default: max F1)")
    p.add_argument("--images", type=int, default=4, help="eval images to draw per model (default 4; 0: none)")
    p.add_argument("--tflite-dir", default=None,
                   help="the tflite.convert output to judge (default: RUN_DIR/tflite-trial-NNNN if it exists)")
    p.add_argument("--out", default=None, help="output directory (default: RUN_DIR/report-trial-NNNN)")
    p.add_argument("--eval-count", type=int, default=0, help="eval images to measure on (default 0: all)")
    p.add_argument("--records", nargs="+", default=(), metavar="GLOB",
                   help="TFRecords to measure on instead of the config's eval input (e.g. a held-out test split)")
    p.add_argument("--threads", type=int, default=2, help="TFLite interpreter threads")
    p.add_argument("--artifact-dir", default=None,
                   help="Optuna FileSystemArtifactStore directory (default: RUN_DIR/artifacts)")
    p.add_argument("--no-upload", action="store_true", help="write the files only; attach nothing to the trial")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out (its artifacts are withdrawn from the trial)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args, code = _parser().parse_or_exit_code(argv)
    if args is None:
        return code
    from tuner.report.pipeline import Options, run

    options = Options(study=args.study, storage=args.storage, trial=args.trial,
                      target_precision=args.target_precision, images=args.images,
                      tflite_dir=Path(args.tflite_dir) if args.tflite_dir else None,
                      out=Path(args.out) if args.out else None, eval_count=args.eval_count,
                      records=tuple(args.records), threads=args.threads,
                      artifact_dir=Path(args.artifact_dir) if args.artifact_dir else None,
                      upload=not args.no_upload, overwrite=args.overwrite)
    try:
        fd, name = tempfile.mkstemp(prefix="odapi-tuner-report-", suffix=".log")
        os.close(fd)
        tf_log = Path(name)
        try:
            with quiet(tf_log) as console:
                result = run(options, log=lambda line: print(line, file=console, flush=True))
        except ConvertError:
            tf_log.unlink(missing_ok=True)
            raise
        except BaseException:
            print(f"TensorFlow's output until this failure: {tf_log}", file=sys.stderr)
            raise
    except ConvertError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    kept = result.out / TF_LOG
    shutil.move(tf_log, kept)
    print()
    print(result.verdict.to_text())
    print(f"wrote {result.out} (TensorFlow's own output: {kept})")
    if result.manifest is not None:
        from tuner.study.report import dashboard_command

        m = result.manifest
        print(f"attached {len(m.artifacts)} files to trial {m.trial}; see them with: "
              f"{dashboard_command(m.storage, str(Path(m.artifact_dir).resolve()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
