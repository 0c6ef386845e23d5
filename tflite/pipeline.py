"""The conversion as a library call: select, export, convert, measure, report; written atomically.

Everything is checked (study, trial, checkpoint, model kind, data) before anything is
written. Output goes into a temporary directory next to ``out`` that is renamed onto ``out``
at the end, so a failure leaves no half-written result.

Output directory::

    model_<variant>.tflite   one per variant
    labels.txt               line i names TFLite class i (label-map id i + 1)
    report.json, report.md   the measured table (tflite.report)
    params.json              the trial: number, params, value, metrics, checkpoint
    pipeline.config          the trial's config
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from tflite import records
from tflite.model import max_detections
from tflite.errors import DataError, OutputError
from tflite.quantize import ALL_VARIANTS, Variant
from tflite.report import CHECKPOINT_ROW, Report, Row
from tflite.select import Selection, default_out, resolve_study, select

PARAMS_FILE = "params.json"
LABELS_FILE = "labels.txt"
CONFIG_COPY = "pipeline.config"


@dataclasses.dataclass(frozen=True)
class Options:
    """What to convert and how to measure it (the CLI's flags)."""

    study: str
    storage: str | None = None
    trial: int | None = None
    out: Path | None = None
    variants: tuple[Variant, ...] = ALL_VARIANTS
    representative_count: int = 100
    eval_count: int = 0
    threads: int = 2
    latency_runs: int = 50
    uint8_io: bool = False
    regular_nms: bool = False
    qat_threshold: float = 0.02
    overwrite: bool = False


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything checked before the heavy work starts."""

    selection: Selection
    cfg: object
    out: Path
    eval_paths: list[str]
    train_paths: list[str]
    label_map: str


def _nonempty(paths: list[str], what: str) -> None:
    from tuner.config import ConfigError, count_records

    try:
        total = sum(count_records(p) for p in paths)
    except ConfigError as exc:
        raise DataError(f"the {what} TFRecords cannot be read", ", ".join(paths), str(exc).splitlines()[0]) from exc
    if total == 0:
        raise DataError(f"the {what} TFRecords hold no example", ", ".join(paths),
                        f"point the config's {what} input_path at non-empty records")


def plan(options: Options) -> Plan:
    """Resolve and check every input; TensorFlow is not imported.

    Raises:
        ConvertError: any bad input (see :mod:`tflite.errors`).
    """
    from tflite.model import check_exportable, load_config

    if options.representative_count < 1 and Variant.INT8 in options.variants:
        raise DataError("int8 needs at least one representative image", f"--representative-count {options.representative_count}",
                        "use --representative-count 100 (or leave int8 out of --variants)")
    selection = select(resolve_study(options.study, options.storage), options.trial)
    cfg = load_config(selection.config_path)
    check_exportable(cfg, str(selection.config_path))
    out = Path(options.out) if options.out else default_out(selection)
    if out.exists() and not options.overwrite:
        raise OutputError("the output directory already exists", str(out), "choose another --out or pass --overwrite")
    if not out.parent.is_dir():
        raise OutputError("the parent of the output directory does not exist", str(out.parent), "create it or choose another --out")
    if not os.access(out.parent, os.W_OK):
        raise OutputError("the output directory cannot be written", str(out.parent), "choose another --out")
    if not cfg.eval_input_reader:
        raise DataError("the config has no eval_input_reader", str(selection.config_path), "add the eval data to the config")
    eval_reader = cfg.eval_input_reader[0]
    eval_paths = records.reader_paths(eval_reader, "eval")
    _nonempty(eval_paths, "eval")
    train_paths: list[str] = []
    if Variant.INT8 in options.variants:
        try:
            train_paths = records.reader_paths(cfg.train_input_reader, "train")
            _nonempty(train_paths, "train")
        except DataError as exc:
            raise DataError(f"no representative data for int8: {exc.what}", exc.where,
                            f"{exc.fix}, or leave int8 out of --variants") from exc
    label_map = eval_reader.label_map_path or cfg.train_input_reader.label_map_path
    records.check_exists(label_map, "label map")
    return Plan(selection, cfg, out, eval_paths, train_paths, label_map)


def run(options: Options, log: Callable[[str], None] = print) -> tuple[Report, Path]:
    """Convert and measure; return the report and the output directory.

    Raises:
        ConvertError: bad input; nothing is written.
    """
    checked = plan(options)
    sel = checked.selection
    log(f"trial {sel.number} of study {sel.study.name!r}: checkpoint {sel.checkpoint} "
        f"(step {sel.best_step}), writing {checked.out}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{checked.out.name}.tmp-", dir=checked.out.parent))
    try:
        report = _convert_and_measure(options, checked, tmp, log)
        shutil.rmtree(tmp / "work", ignore_errors=True)
        _publish(tmp, checked.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report, checked.out


def _publish(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` onto ``out`` (an existing ``out`` is replaced only after that succeeds)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _convert_and_measure(options: Options, checked: Plan, tmp: Path, log: Callable[[str], None]) -> Report:
    import tuner.odapi  # noqa: F401  (compat shims before any OD API model code)
    from tflite import export, measure, qat, quantize
    from tflite.model import CheckpointModel, InputSpec

    sel, cfg = checked.selection, checked.cfg
    start = time.monotonic()

    def elapsed() -> str:
        return f"[{time.monotonic() - start:.0f} s]"

    model = CheckpointModel(cfg, sel.checkpoint_prefix)
    examples = records.load_examples(checked.eval_paths, options.eval_count, "eval")
    inputs = [model.preprocess(e.image) for e in examples]
    cats = records.categories(checked.label_map)
    reference = measure.coco_accuracy(lambda e: model.detect(e.image), examples, cats)
    log(f"{elapsed()} checkpoint: mAP {reference.map:.4f} on {len(examples)} eval images")
    rows = [Row(CHECKPOINT_ROW, None, reference.map, reference.map50, 0.0, note="TF checkpoint, for reference")]

    saved_model = export.export_saved_model(cfg, sel.checkpoint_prefix, tmp / "work", max_detections(cfg),
                                            options.regular_nms)
    log(f"{elapsed()} exported {sel.checkpoint} with the OD API TFLite exporter")
    representative = None
    if Variant.INT8 in options.variants:
        train = records.load_examples(checked.train_paths, options.representative_count, "train")
        representative = quantize.representative_dataset(model.preprocess(e.image) for e in train)
    by_input = dict(zip(map(id, examples), inputs))
    converter = quantize.Converter(saved_model)
    for variant in options.variants:
        path = tmp / variant.filename
        path.write_bytes(converter.convert(variant, representative, options.uint8_io))
        detector = measure.TfliteDetector(path, options.threads, inputs)
        acc = measure.coco_accuracy(lambda e: detector(by_input[id(e)]), examples, cats)
        median, p90 = detector.latency(inputs[0], options.latency_runs)
        rows.append(Row(variant.value, path.name, acc.map, acc.map50, reference.map - acc.map, path.stat().st_size,
                        median, p90, options.threads,
                        note="uint8 input/output" if variant is Variant.INT8 and options.uint8_io else ""))
        log(f"{elapsed()} {variant.value}: mAP {acc.map:.4f}, {path.stat().st_size} bytes, {median:.2f} ms")
    notes = _notes(options, rows, cfg, qat)
    spec = InputSpec.of(cfg)
    report = Report(study=sel.study.name, trial=sel.number, checkpoint=sel.checkpoint, eval_images=len(examples),
                    threads=options.threads, latency_runs=options.latency_runs, rows=tuple(rows),
                    input={"shape": [1, spec.height, spec.width, spec.channels], "dtype": "float32",
                           "preprocess": "the model's preprocess: resize to the fixed shape, then the feature "
                                         "extractor's normalisation (SSD MobileNet: 2/255*x-1, in [-1, 1])"},
                    notes=tuple(notes))
    report.write(tmp)
    (tmp / LABELS_FILE).write_text(records.labels_text(cats, cfg.model.ssd.num_classes))
    (tmp / PARAMS_FILE).write_text(json.dumps(sel.to_json(), indent=2, default=str) + "\n")
    shutil.copy2(sel.config_path, tmp / CONFIG_COPY)
    return report


def _notes(options: Options, rows: list[Row], cfg: Any, qat: Any) -> list[str]:
    """Closing notes: the post-processing gap of the float model, and what QAT could do."""
    by = {r.variant: r for r in rows}
    notes = []
    fp32 = by.get(Variant.FP32.value)
    if fp32 is not None and abs(fp32.map_drop) > 0.005:
        notes.append(
            f"fp32 differs from the checkpoint by {fp32.map_drop:+.4f} mAP with the same weights: the TFLite model "
            f"ends in TFLite_Detection_PostProcess ({'regular' if options.regular_nms else 'fast'} NMS, "
            f"{max_detections(cfg)} detections, one class per box) instead of the OD API's multi-class NMS, "
            "which may keep a box under several classes; every variant's drop includes this gap")
    int8 = by.get(Variant.INT8.value)
    if int8 is None:
        return notes + ["int8 not requested: quantization-aware fine-tuning not considered"]
    base = fp32 or by[CHECKPOINT_ROW]
    loss = base.map - int8.map
    where = f"against {base.variant}"
    if loss <= options.qat_threshold:
        return notes + [f"int8 lost {loss:+.4f} mAP {where} (threshold {options.qat_threshold}): post-training "
                        "quantization suffices, quantization-aware fine-tuning not attempted"]
    outcome = qat.attempt(cfg)
    return notes + [f"int8 lost {loss:+.4f} mAP {where} (> threshold {options.qat_threshold}); {outcome.note}"]
