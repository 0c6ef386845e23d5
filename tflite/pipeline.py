"""The conversion as a library call: select, export, convert, measure, report; written atomically.

Everything is checked (study, trial, checkpoint, model kind, data), the model built and its
checkpoint restored, before anything is written. Output goes into a temporary directory next
to ``out`` that is renamed onto ``out`` at the end, so a failure leaves no half-written result.

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
from typing import TYPE_CHECKING, Any, Callable

from tflite import records
from tflite.model import max_detections
from tflite.errors import ConvertError, DataError, OutputError
from tflite.quantize import ALL_VARIANTS, Variant
from tflite.report import CHECKPOINT_ROW, Report, Row
from tflite.select import Selection, default_out, resolve_study, select

if TYPE_CHECKING:
    from tflite.measure import Accuracy
    from tflite.model import CheckpointModel
    from tflite.qat import QatOutcome
    from tflite.quantize import RepresentativeData

UINT8_NOTE = "uint8 input (outputs stay float32: the post-processing op emits float)"
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

    if options.uint8_io and Variant.INT8 not in options.variants:
        asked = ",".join(v.value for v in options.variants)
        raise ConvertError("--uint8-io applies to the int8 variant only", f"--variants {asked}",
                           "add int8 to --variants or drop --uint8-io")
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

    Everything that can fail on bad input (the study, the config, building the model,
    restoring the checkpoint, reading the data) is done before the temporary directory is
    created; a later failure (the exporter, the converter, the interpreter) removes it.

    Raises:
        ConvertError: bad input, or a failed export, conversion or measurement; nothing is written.
    """
    checked = plan(options)
    sel = checked.selection
    if sel.why:
        log(f"converting {sel.why}")
    log(f"trial {sel.number} of study {sel.study.name!r}: checkpoint {sel.checkpoint} "
        f"(step {sel.best_step}), writing {checked.out}")
    clock = _Clock()
    prepared = _prepare(options, checked, clock, log)
    tmp = Path(tempfile.mkdtemp(prefix=f".{checked.out.name}.tmp-", dir=checked.out.parent))
    try:
        report = _convert_and_measure(options, checked, prepared, tmp, clock, log)
        shutil.rmtree(tmp / "work", ignore_errors=True)
        _publish(tmp, checked.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report, checked.out


def _publish(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` onto ``out``; an existing ``out`` is replaced only if that succeeds.

    An existing ``out`` is first moved aside; if ``tmp`` then cannot be renamed onto ``out``,
    the old directory is moved back before the error is raised.

    Raises:
        OutputError: a rename failed (the previous ``out``, if any, is in place again).
    """
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        try:
            os.replace(out, old)
        except OSError as exc:
            raise OutputError(f"the existing output directory cannot be moved aside ({exc.strerror or exc})",
                              str(out), "check its permissions, or choose another --out") from exc
    try:
        os.replace(tmp, out)
    except OSError as exc:
        restored = ""
        if old is not None:
            try:
                os.replace(old, out)
                restored = "; the previous output was left in place"
            except OSError:
                restored = f"; the previous output is in {old}"
        raise OutputError(f"the result cannot be moved into place ({exc.strerror or exc}){restored}", str(out),
                          "check the permissions and free space of its parent, or choose another --out") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _Clock:
    """``[12 s]`` since the heavy work started, for the log lines."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __str__(self) -> str:
        return f"[{time.monotonic() - self.start:.0f} s]"


@dataclasses.dataclass
class _Prepared:
    """What the conversion needs, built and checked before anything is written."""

    model: CheckpointModel
    examples: list[records.Example]
    inputs: list[Any]
    categories: list[dict[str, Any]]
    reference: Accuracy
    representative: RepresentativeData | None
    qat: QatOutcome | None


def _prepare(options: Options, checked: Plan, clock: _Clock, log: Callable[[str], None]) -> _Prepared:
    """Build the model, restore the checkpoint, read the data, measure the checkpoint; write nothing.

    Raises:
        ConvertError: the model cannot be built or restored, the data cannot be read.
    """
    import tuner.odapi  # noqa: F401  (compat shims before any OD API model code)
    from tflite import measure, qat, quantize
    from tflite.model import CheckpointModel

    sel, cfg, where = checked.selection, checked.cfg, str(checked.selection.config_path)
    model = CheckpointModel(cfg, sel.checkpoint_prefix, where)
    outcome = None
    if Variant.INT8 in options.variants:
        outcome = qat.attempt(cfg, where)  # the finding goes into the notes, whatever int8 loses
    examples = records.load_examples(checked.eval_paths, options.eval_count, "eval")
    inputs = [model.preprocess(e.image) for e in examples]
    cats = records.categories(checked.label_map)
    reference = measure.coco_accuracy(lambda e: model.detect(e.image), examples, cats)
    log(f"{clock} checkpoint: mAP {reference.map:.4f} on {len(examples)} eval images")
    representative = None
    if Variant.INT8 in options.variants:
        train = records.sample_examples(checked.train_paths, options.representative_count, "train")
        representative = quantize.representative_dataset(model.preprocess(e.image) for e in train)
    return _Prepared(model, examples, inputs, cats, reference, representative, outcome)


def _convert_and_measure(options: Options, checked: Plan, prepared: _Prepared, tmp: Path, clock: _Clock,
                         log: Callable[[str], None]) -> Report:
    from tflite import export, measure, quantize
    from tflite.model import InputSpec

    sel, cfg = checked.selection, checked.cfg
    examples, inputs, reference = prepared.examples, prepared.inputs, prepared.reference
    rows = [Row(CHECKPOINT_ROW, None, reference.map, reference.map50, 0.0, note="TF checkpoint, for reference")]
    saved_model = export.export_saved_model(cfg, sel.checkpoint_prefix, tmp / "work", max_detections(cfg),
                                            options.regular_nms)
    log(f"{clock} exported {sel.checkpoint} with the OD API TFLite exporter")
    by_input = dict(zip(map(id, examples), inputs))
    converter = quantize.Converter(saved_model)
    for variant in options.variants:
        path = tmp / variant.filename
        uint8_io = options.uint8_io and variant is Variant.INT8
        path.write_bytes(converter.convert(variant, prepared.representative, uint8_io))
        detector = measure.TfliteDetector(path, options.threads)
        acc = measure.coco_accuracy(lambda e, d=detector: d(by_input[id(e)]), examples, prepared.categories)
        median, p90 = detector.latency(inputs[0], options.latency_runs)
        rows.append(Row(variant.value, path.name, acc.map, acc.map50, reference.map - acc.map, path.stat().st_size,
                        median, p90, options.threads, note=UINT8_NOTE if uint8_io else "", **detector.io()))
        log(f"{clock} {variant.value}: mAP {acc.map:.4f}, {path.stat().st_size} bytes, {median:.2f} ms")
    spec = InputSpec.of(cfg)
    described = {"shape": [1, spec.height, spec.width, spec.channels], "dtype": "float32",
                 "preprocess": "the model's preprocess: resize to the fixed shape, then the feature "
                               "extractor's normalisation (SSD MobileNet: 2/255*x-1, in [-1, 1])"}
    if any(r.input_dtype not in (None, "float32") for r in rows):
        described["integer_input"] = ("rows whose input_dtype is an integer type take round(x / input_scale) + "
                                      "input_zero_point of the preprocessed float x, clipped to the type's range")
    report = Report(study=sel.study.name, trial=sel.number, checkpoint=sel.checkpoint, eval_images=len(examples),
                    threads=options.threads, latency_runs=options.latency_runs, rows=tuple(rows), input=described,
                    notes=tuple(_notes(options, rows, cfg, prepared.qat)))
    report.write(tmp)
    (tmp / LABELS_FILE).write_text(records.labels_text(prepared.categories, cfg.model.ssd.num_classes))
    (tmp / PARAMS_FILE).write_text(json.dumps(sel.to_json(), indent=2, default=str) + "\n")
    shutil.copy2(sel.config_path, tmp / CONFIG_COPY)
    return report


def _notes(options: Options, rows: list[Row], cfg: Any, qat_outcome: QatOutcome | None) -> list[str]:
    """Closing notes: the post-processing gap of the float model, and the QAT finding.

    Args:
        options: the conversion's options (NMS kind, QAT threshold).
        rows: the measured rows.
        cfg: the trial's config.
        qat_outcome: :func:`tflite.qat.attempt`'s outcome (``None`` when int8 was not converted).
    """
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
    if int8 is None or qat_outcome is None:
        return notes + ["int8 not requested: quantization-aware fine-tuning not considered"]
    base = fp32 or by[CHECKPOINT_ROW]
    loss = base.map - int8.map
    verdict = "within" if loss <= options.qat_threshold else "above"
    return notes + [f"int8 lost {loss:+.4f} mAP against {base.variant} ({verdict} the quantization-aware "
                    f"fine-tuning threshold {options.qat_threshold}); {qat_outcome.note}"]
