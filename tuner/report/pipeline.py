"""The verdict as a library call: select, check, detect, judge, write (atomically), upload.

Everything that can fail on bad input (the study and trial, the options, the output directory,
the TFLite conversion report, the data, building and restoring the model, loading every TFLite
file) is checked before anything is written. The files are written into a temporary directory
next to ``out`` that is renamed onto ``out`` at the end (``tflite.pipeline``'s publish step),
so a failure leaves no half-written report. Then the files are attached to the trial
(:mod:`tuner.report.artifacts`) and the uploaded ids recorded in ``out/artifacts.json``.

Output directory (default ``RUN_DIR/report-trial-NNNN``)::

    verdict.json, verdict.txt            every model, per class (tuner.report.verdict)
    <model>_operating_points.json        per class: threshold, precision, recall, f1 (tuner.report.operating)
    <model>_pr_curves.png                per-class precision-recall at IoU .5
    <model>_images.png                   --images eval images with ground truth and kept detections
    artifacts.json                       what was uploaded (not itself uploaded)

``<model>`` is ``checkpoint`` and each TFLite variant of the conversion (``fp32``, ``int8``...).
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

from tflite.errors import ConvertError, DataError, ModelError, OutputError
from tflite.select import Selection, default_out, resolve_study, select
from tuner.report import artifacts
from tuner.report.models import CHECKPOINT_SOURCE, ModelSource, tflite_sources
from tuner.report.operating import Rule
from tuner.report.verdict import Verdict

VERDICT_JSON = "verdict.json"
VERDICT_TEXT = "verdict.txt"


class OptionError(ConvertError):
    """A report option is out of range."""


@dataclasses.dataclass(frozen=True)
class Options:
    """What to report on and how (the CLI's flags).

    Attributes:
        study: run directory or study name (with ``storage``).
        storage: Optuna storage URL (default: the run directory's).
        trial: trial number (default: ``tflite.select``'s choice).
        target_precision: operating-point target; ``None``: max F1.
        images: eval images to draw per model (0: none).
        tflite_dir: the conversion to judge (default: ``RUN_DIR/tflite-trial-NNNN`` when it exists).
        out: output directory (default ``RUN_DIR/report-trial-NNNN``).
        eval_count: eval images to measure on (0: all).
        records: TFRecord files or globs to measure on instead of the config's eval input (e.g. a test split).
        threads: TFLite interpreter threads.
        artifact_dir: the ``FileSystemArtifactStore`` directory (default ``RUN_DIR/artifacts``).
        upload: attach the files to the trial.
        overwrite: replace an existing ``out`` (and withdraw its artifacts).
    """

    study: str
    storage: str | None = None
    trial: int | None = None
    target_precision: float | None = None
    images: int = 4
    tflite_dir: Path | None = None
    out: Path | None = None
    eval_count: int = 0
    records: tuple[str, ...] = ()
    threads: int = 2
    artifact_dir: Path | None = None
    upload: bool = True
    overwrite: bool = False


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything checked before TensorFlow is imported."""

    selection: Selection
    cfg: Any
    out: Path
    eval_paths: list[str]
    label_map: str
    sources: tuple[ModelSource, ...]
    tflite_dir: Path | None
    artifact_dir: Path | None
    previous: artifacts.Manifest | None
    notes: tuple[str, ...]


def default_report_dir(selection: Selection) -> Path:
    """``<run dir>/report-trial-NNNN``, or ``./report-<study>-trial-NNNN`` without a run dir."""
    tflite_default = default_out(selection)
    return tflite_default.with_name(tflite_default.name.replace("tflite-", "report-", 1))


def _check_options(o: Options) -> None:
    if o.target_precision is not None and not 0.0 < o.target_precision <= 1.0:
        raise OptionError("--target-precision must be in (0, 1]", f"got {o.target_precision}",
                          "pass a precision such as 0.9, or leave it out for the max-F1 threshold")
    if o.images < 0 or o.eval_count < 0 or o.threads < 1:
        raise OptionError("--images and --eval-count must be >= 0, --threads >= 1",
                          f"got {o.images}, {o.eval_count}, {o.threads}", "fix the option")


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise OutputError("the output directory already exists", str(out), "choose another --out or pass --overwrite")
    if not out.parent.is_dir():
        raise OutputError("the parent of the output directory does not exist", str(out.parent),
                          "create it or choose another --out")
    if not os.access(out.parent, os.W_OK):
        raise OutputError("the output directory cannot be written", str(out.parent), "choose another --out")


def _eval_paths(o: Options, cfg: Any, where: str) -> list[str]:
    from tflite import records
    from tuner.config import expand_input_paths

    if o.records:
        paths = [p for pattern in o.records for p in expand_input_paths(pattern)]
        if not paths:
            raise DataError("no TFRecords match --records", " ".join(o.records), "pass existing TFRecord files or globs")
        return paths
    if not cfg.eval_input_reader:
        raise DataError("the config has no eval_input_reader", where, "add the eval data, or pass --records")
    return records.reader_paths(cfg.eval_input_reader[0], "eval")


def _sources(o: Options, selection: Selection) -> tuple[tuple[ModelSource, ...], Path | None, list[str]]:
    from tflite.report import REPORT_JSON

    if o.tflite_dir is not None:
        return (CHECKPOINT_SOURCE, *tflite_sources(o.tflite_dir, selection)), o.tflite_dir, []
    found = default_out(selection)
    if not (found / REPORT_JSON).is_file():
        return (CHECKPOINT_SOURCE,), None, [
            f"no TFLite conversion of trial {selection.number} at {found}: the checkpoint only "
            f"(python -m tflite.convert --study ... --trial {selection.number} writes one there)"]
    return (CHECKPOINT_SOURCE, *tflite_sources(found, selection)), found, []


def plan(options: Options) -> Plan:
    """Resolve and check every input; TensorFlow is not imported.

    Raises:
        ConvertError: any bad input (:mod:`tflite.errors`, :class:`OptionError`).
    """
    from tflite import records
    from tflite.model import check_exportable, load_config

    _check_options(options)
    selection = select(resolve_study(options.study, options.storage), options.trial)
    where = str(selection.config_path)
    cfg = load_config(selection.config_path)
    try:
        check_exportable(cfg, where)  # CheckpointModel runs what the TFLite exporter takes
    except ModelError as exc:
        raise ModelError(f"the report runs SSD models with a fixed_shape_resizer only ({exc.what})", where,
                         "choose such a trial with --trial N") from None
    out = Path(options.out) if options.out else default_report_dir(selection)
    _check_out(out, options.overwrite)
    artifact_dir = None
    if options.upload:
        run_dir = selection.study.run_dir
        artifact_dir = options.artifact_dir or (run_dir / artifacts.ARTIFACTS_DIR if run_dir else None)
        if artifact_dir is None:
            raise OutputError("no run directory to keep the artifacts in", f"study {selection.study.name!r}",
                              "pass --artifact-dir DIR (the directory optuna-dashboard --artifact-dir will read) "
                              "or --no-upload")
    eval_paths = _eval_paths(options, cfg, where)
    reader = cfg.eval_input_reader[0] if cfg.eval_input_reader else cfg.train_input_reader
    label_map = reader.label_map_path or cfg.train_input_reader.label_map_path
    records.check_exists(label_map, "label map")
    sources, tflite_dir, notes = _sources(options, selection)
    previous = artifacts.Manifest.load(out) if out.is_dir() else None
    return Plan(selection, cfg, out, eval_paths, label_map, sources, tflite_dir, artifact_dir, previous,
                tuple(notes))


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __str__(self) -> str:
        return f"[{time.monotonic() - self.start:.0f} s]"


@dataclasses.dataclass(frozen=True)
class Result:
    """What :func:`run` produced."""

    verdict: Verdict
    out: Path
    manifest: artifacts.Manifest | None
    withdrawn: int = 0


def run(options: Options, log: Callable[[str], None] = print) -> Result:
    """Judge the chosen trial's checkpoint and TFLite variants; write, publish and upload the files.

    Raises:
        ConvertError: bad input, or a failure to run a model or to write; nothing is written
            (a failure while uploading leaves the published report and says so).
    """
    checked = plan(options)
    sel = checked.selection
    if sel.why:
        log(f"reporting on {sel.why}")
    log(f"trial {sel.number} of study {sel.study.name!r}: checkpoint {sel.checkpoint}; models: "
        f"{', '.join(s.name for s in checked.sources)}; writing {checked.out}")
    clock = _Clock()
    verdict, tmp = _judge_all(options, checked, clock, log)
    try:
        (tmp / VERDICT_JSON).write_text(json.dumps(verdict.to_json(), indent=2, allow_nan=False) + "\n")
        (tmp / VERDICT_TEXT).write_text(verdict.to_text() + "\n")
        from tflite.pipeline import _publish  # the conversion's rename-into-place, same contract

        _publish(tmp, checked.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if checked.artifact_dir is None:
        return Result(verdict, checked.out, None)
    files = [checked.out / VERDICT_JSON, checked.out / VERDICT_TEXT]
    files += [checked.out / name for m in verdict.models for name in m.files.values()]
    try:
        manifest = artifacts.upload(sel.study.storage, sel.study.name, sel.number, files, checked.artifact_dir)
    except ConvertError as exc:
        raise type(exc)(f"the report was written but not attached to the trial: {exc.what}", exc.where,
                        f"{exc.fix}; then re-run with --overwrite") from exc
    manifest.save(checked.out)
    withdrawn = 0
    if checked.previous is not None:
        try:
            withdrawn = artifacts.withdraw(checked.previous)
        except ConvertError as exc:  # the new report is complete; the old links are only stale
            log(f"could not withdraw the previous report's artifacts: {exc.one_line()}")
    log(f"{clock} attached {len(manifest.artifacts)} files to trial {sel.number} in {checked.artifact_dir}"
        + (f" (withdrew {withdrawn} of the previous report)" if withdrawn else ""))
    return Result(verdict, checked.out, manifest, withdrawn)


def _judge_all(options: Options, checked: Plan, clock: _Clock, log: Callable[[str], None]) -> tuple[Verdict, Path]:
    """Build the model, read the data, judge every model into a new temporary directory.

    Raises:
        ConvertError: the model cannot be built or restored, the data read, a TFLite file loaded.
    """
    import tuner.odapi  # noqa: F401  (compat shims before any OD API model code)
    from tflite import records
    from tflite.model import CheckpointModel
    from tuner.report.detections import Category, ImageResult
    from tuner.report.judge import judge, shown_indices, write_files
    from tuner.report.models import open_detector

    sel = checked.selection
    model = CheckpointModel(checked.cfg, sel.checkpoint_prefix, str(sel.config_path))
    examples = records.load_examples(checked.eval_paths, options.eval_count, "eval")
    categories = Category.of(records.categories(checked.label_map))
    cache: dict[int, Any] = {}

    def inputs(example: records.Example) -> Any:
        if id(example) not in cache:
            cache[id(example)] = model.preprocess(example.image)
        return cache[id(example)]

    detectors = [(s, open_detector(s, model, inputs, options.threads)) for s in checked.sources]  # loads all first
    shown = [(i, examples[i].image) for i in shown_indices(len(examples), options.images)]
    log(f"{clock} model restored, {len(examples)} eval images, {len(categories)} classes")
    tmp = Path(tempfile.mkdtemp(prefix=f".{checked.out.name}.tmp-", dir=checked.out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the published report private
    try:
        judged = []
        for source, detect in detectors:
            results = [ImageResult.from_normalized(e.width, e.height, e.boxes, e.classes, *detect(e))
                       for e in examples]
            one = judge(source.name, source.path.name if source.path else None, results, categories,
                        options.target_precision)
            title = f"study {sel.study.name}, trial {sel.number} {sel.checkpoint}: {source.name}, {len(examples)} images"
            judged.append(write_files(one, categories, tmp, title, shown).verdict)
            log(f"{clock} {source.name}: mAP {_fmt(one.verdict.metrics.map)}, mAP@.50 {_fmt(one.verdict.metrics.map50)}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    reference = judged[0]
    models = (reference, *(m.against(reference) for m in judged[1:]))
    verdict = Verdict(study=sel.study.name, trial=sel.number, checkpoint=sel.checkpoint, images=len(examples),
                      records=tuple(checked.eval_paths),
                      rule=Rule.MAX_F1 if options.target_precision is None else Rule.TARGET_PRECISION,
                      target_precision=options.target_precision, models=models, why=sel.why,
                      tflite_dir=str(checked.tflite_dir) if checked.tflite_dir else None, notes=checked.notes)
    return verdict, tmp


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
