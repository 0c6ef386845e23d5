"""``python -m tflite.convert``: the best trial of a study as measured TFLite models.

Picks the best completed trial (or ``--trial N``) and its best-mAP checkpoint, exports it
with the OD API TFLite exporter, converts it to the requested variants, measures each one
(COCO mAP on the eval TFRecords, size, latency) next to the checkpoint itself, and writes
``model_<variant>.tflite``, ``labels.txt``, ``report.json``/``report.md``, ``params.json``
and ``pipeline.config`` into ``--out`` (default ``<run dir>/tflite-trial-NNNN``). The terminal
shows only the tool's progress lines and the table; TensorFlow's own output goes to
``tensorflow.log`` in ``--out``.

Bad input (no completed trial, missing checkpoint, non-SSD model, unsupported resizer, a
model the OD API cannot build, missing data, existing --out), and a failed export,
conversion or TFLite run, print one line ``error: what: where; how to fix`` on stderr, exit
with code 2 and write nothing.
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
from tflite.quantize import parse_variants
from tuner.cli import example, OneLineParser

#: TensorFlow's own output during the conversion (C++ logs, converter summaries), kept in --out.
TF_LOG = "tensorflow.log"


def _parser() -> OneLineParser:
    p = OneLineParser(prog="python -m tflite.convert",
                      description="Convert a study's best trial to measured TFLite models.",
                      epilog=example("convert"))
    p.add_argument("--study", required=True, help="run directory (holding study.json) or study name (with --storage)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: the run directory's)")
    p.add_argument("--trial", type=int, default=None, help="trial number, e.g. any member of a multi-objective study's Pareto front (default: the confirmed pick, else the best completed trial by mAP)")
    p.add_argument("--out", default=None, help="output directory (default: <run dir>/tflite-trial-NNNN)")
    p.add_argument("--variants", default="fp32,fp16,dynamic,int8", help="comma-separated subset of fp32,fp16,dynamic,int8")
    p.add_argument("--representative-count", type=int, default=100, help="training images for int8 calibration")
    p.add_argument("--eval-count", type=int, default=0, help="eval images to measure mAP on (0: all)")
    p.add_argument("--threads", type=int, default=2, help="TFLite interpreter threads for latency and eval")
    p.add_argument("--latency-runs", type=int, default=50, help="timed invocations per variant")
    p.add_argument("--uint8-io", action="store_true",
                   help="int8 model with a uint8 input (outputs stay float32: the post-processing op emits float)")
    p.add_argument("--regular-nms", action="store_true", help="multi-class NMS in the TFLite model (slower)")
    p.add_argument("--qat-threshold", type=float, default=0.02,
                   help="int8 mAP loss against fp32 (the checkpoint when fp32 is not converted) above which the "
                        "notes flag quantization-aware fine-tuning as needed; its feasibility is always checked")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args, code = _parser().parse_or_exit_code(argv)
    if args is None:
        return code
    from tflite.pipeline import Options, run

    try:
        if args.threads < 1 or args.latency_runs < 1 or args.eval_count < 0:
            raise ConvertError("--threads and --latency-runs must be >= 1, --eval-count >= 0",
                               f"got {args.threads}, {args.latency_runs}, {args.eval_count}", "fix the option")
        options = Options(study=args.study, storage=args.storage, trial=args.trial,
                          out=Path(args.out) if args.out else None, variants=parse_variants(args.variants),
                          representative_count=args.representative_count, eval_count=args.eval_count,
                          threads=args.threads, latency_runs=args.latency_runs, uint8_io=args.uint8_io,
                          regular_nms=args.regular_nms, qat_threshold=args.qat_threshold, overwrite=args.overwrite)
        fd, name = tempfile.mkstemp(prefix="odapi-tflite-convert-", suffix=".log")
        os.close(fd)
        tf_log = Path(name)
        try:
            with quiet(tf_log) as console:
                report, out = run(options, log=lambda line: print(line, file=console, flush=True))
        except ConvertError:
            tf_log.unlink(missing_ok=True)  # bad input or a failure already summarised in one line
            raise
        except BaseException:
            print(f"TensorFlow's output until this failure: {tf_log}", file=sys.stderr)
            raise
    except ConvertError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    kept = out / TF_LOG
    shutil.move(tf_log, kept)
    print()
    print(report.to_text())
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {out} (TensorFlow's own output: {kept})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
