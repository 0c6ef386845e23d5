"""Lint a pipeline config for the mistakes that silently waste a training run.

Each rule is a function ``(cfg, context) -> Iterable[Finding]`` listed in :data:`RULES`;
:func:`lint` runs them in order. File-system rules (missing inputs, label maps, record counts)
only run with ``check_files=True``; relative paths are taken relative to ``base_dir``. The
schedule rules live in :mod:`.lint_schedule`; findings and the rule context in :mod:`.findings`.

Remote paths (``gs://``, ``s3://``, ``hdfs://``, any ``scheme://``; :mod:`.remote`) are not
checked: no "does not exist", no label-map or record-count check, and no finding saying so.
Every fix text names a command a CLI user can run; a finding with a mechanical fix carries a
:class:`~tuner.config.findings.Repair` that ``lint --fix`` (:mod:`.autofix`) applies.
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Iterator

from google.protobuf.descriptor import FieldDescriptor
from object_detection.protos import train_pb2
from object_detection.protos import input_reader_pb2

from tuner.config import lint_schedule, lint_tf2
from tuner.config.edits import model_num_classes_path
from tuner.config.errors import ConfigError
from tuner.config.findings import (PLACEHOLDER, Config, Finding, LintContext, Repair, Rule, Severity, cli,
                                   error, warning)
from tuner.config.io import PathLike
from tuner.config.labelmap import label_map_num_classes, load_label_map
from tuner.config.paths import add_value, iter_set_fields, set_value
from tuner.config.ranges import range_violations
from tuner.config.records import count_records, expand_input_paths
from tuner.config.remote import is_remote

__all__ = ["Finding", "RULES", "Severity", "format_findings", "has_errors", "lint"]

#: Fix text for a missing or unconfigured dataset: the edit that sets inputs, label maps and num_classes.
POINT_TO_DATASET = (cli("edit", "--data DIR") + " (a directory with train.record, eval.record, label_map.pbtxt; "
                    "or --train-data R --eval-data R --label-map M)")


def _sections(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """The parts every trial needs: a model, a train_config and both input readers."""
    if not cfg.HasField("model"):
        yield error("model", "no model is configured", "start from a config in pipelines/ or a zoo "
                                                        "pipeline.config (model { ssd { ... } })")
    elif cfg.model.WhichOneof("model") is None:
        yield error("model", "model names no architecture", "set one, e.g. model { ssd { ... } }")
    if not cfg.HasField("train_config"):
        yield error("train_config", "no train_config: nothing says how to train (optimizer, "
                                    "batch_size, num_steps)", "add a train_config { ... } section")
    if not cfg.HasField("train_input_reader"):
        yield error("train_input_reader", "no train_input_reader: no training data is configured",
                    f"point it at a dataset: {POINT_TO_DATASET}")
    if not cfg.eval_input_reader:
        yield error("eval_input_reader", "no eval_input_reader: trials cannot be evaluated",
                    f"point it at a dataset: {POINT_TO_DATASET}")


def _readers(cfg: Config) -> Iterator[tuple[str, input_reader_pb2.InputReader]]:
    if cfg.HasField("train_input_reader"):
        yield "train_input_reader", cfg.train_input_reader
    for i, reader in enumerate(cfg.eval_input_reader):
        yield f"eval_input_reader[{i}]", reader


def _placeholders(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    for path, field, value in iter_set_fields(cfg):
        if field.type != FieldDescriptor.TYPE_STRING:
            continue
        values = value if isinstance(value, list) else [value]
        for i, text in enumerate(values):
            if PLACEHOLDER in text:
                where = f"{path}[{i}]" if isinstance(value, list) else path
                hint = f"; inputs and label maps together: {POINT_TO_DATASET}" if "input_reader" in where else ""
                yield error(where, f"placeholder path {text!r} was never configured",
                            cli("set", f"{where}=REAL_PATH") + hint)


def _not_checked(path: str, remote: str) -> Finding:
    """A remote path is read by TensorFlow on the training machine; lint never touches the network."""
    return warning(path, f"remote path {remote!r} was not checked (lint reads local files only; its records, label "
                         "map and class count are not verified)",
                   "check it from a machine with access, e.g. gsutil ls PATH, or copy the data locally and "
                   + cli("set", f"{path}=LOCAL_PATH"))


def _missing_files(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    if not ctx.check_files:
        return
    for where, reader in _readers(cfg):
        label_map = reader.label_map_path
        if label_map and is_remote(label_map):
            yield _not_checked(f"{where}.label_map_path", label_map)
        if label_map and PLACEHOLDER not in label_map and not is_remote(label_map) \
                and not os.path.isfile(ctx.resolve(label_map)):
            yield error(f"{where}.label_map_path", f"label map {label_map!r} does not exist",
                        "fix the path: " + cli("set", f"{where}.label_map_path=LABEL_MAP") + f", or {POINT_TO_DATASET}")
        if reader.WhichOneof("input_reader") != "tf_record_input_reader" or \
                not reader.tf_record_input_reader.input_path:
            yield error(f"{where}.tf_record_input_reader.input_path", "no input files configured",
                        POINT_TO_DATASET)
            continue
        for i, pattern in enumerate(reader.tf_record_input_reader.input_path):
            if is_remote(pattern):
                yield _not_checked(f"{where}.tf_record_input_reader.input_path[{i}]", pattern)
            if PLACEHOLDER not in pattern and not is_remote(pattern) and \
                    not expand_input_paths(pattern, base_dir=ctx.base_dir):
                yield error(f"{where}.tf_record_input_reader.input_path[{i}]",
                            f"input {pattern!r} matches no file",
                            "fix the path/glob: " + cli("set", f"{where}.tf_record_input_reader.input_path[{i}]=PATH")
                            + f", or {POINT_TO_DATASET}")


def _eval_label_map(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """The OD API's evaluation reads its categories from the eval reader's label map."""
    for i, reader in enumerate(cfg.eval_input_reader):
        if not reader.label_map_path:
            where = f"eval_input_reader[{i}].label_map_path"
            yield error(where, "no label map: the OD API's evaluation needs one for its categories "
                               "and fails without it",
                        cli("set", f"{where}=LABEL_MAP") + f"; with the inputs: {POINT_TO_DATASET}")


def _num_classes(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """num_classes must match every label map (train and eval), each distinct file checked once."""
    if not ctx.check_files:
        return
    try:
        path: str | None = model_num_classes_path(cfg)
    except ConfigError:
        path = None
    files: set[str] = set()
    counts: dict[int, str] = {}  # class count -> the first reader whose label map has it
    for where, reader in _readers(cfg):
        label_map = reader.label_map_path
        full = ctx.resolve(label_map)
        if not label_map or PLACEHOLDER in label_map or is_remote(label_map) or not os.path.isfile(full) \
                or os.path.realpath(full) in files:
            continue
        files.add(os.path.realpath(full))
        try:
            expected = label_map_num_classes(load_label_map(full), source=label_map)
        except ConfigError as exc:
            yield error(f"{where}.label_map_path", f"unusable label map: {exc.message}",
                        exc.fix or "fix the label map")
            continue
        if path is None or expected in counts:
            counts.setdefault(expected, where)
            continue
        actual = getattr(cfg.model, path.split(".")[1]).num_classes
        first = next(iter(counts.items()), None)
        counts[expected] = where
        if actual == expected:
            continue
        if first is not None and first[0] == actual:
            yield error(f"{where}.label_map_path", f"the label map {label_map!r} has {expected} classes "
                                                   f"but num_classes and the {first[1]} label map have "
                                                   f"{actual}", "point it at a label map with the training "
                                                                "classes: " + cli("set", f"{where}.label_map_path"
                                                                                  "=LABEL_MAP"))
        else:
            yield error(path, f"num_classes is {actual} but the label map {label_map!r} "
                              f"({where}.label_map_path) has {expected} classes",
                        cli("set", f"{path}={expected}"), _set_repair(path, expected))


def _set_repair(path: str, value: object) -> Repair:
    """The repair that sets ``path`` to ``value`` (schema- and range-checked like ``set``)."""
    return Repair(f"sets {path}={value}", lambda c: set_value(c, path, value))


def _ranges(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """Every number set in the file obeys the same range rules as an edit (tuner.config.ranges)."""
    for exc in range_violations(cfg):
        message = exc.message
        if message.startswith(exc.path):
            message = exc.path.rsplit(".", 1)[-1] + message[len(exc.path):]
        yield error(exc.path, message, exc.fix or "give a value in range")


def _fine_tune(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    train = cfg.train_config
    if train.fine_tune_checkpoint and not train.fine_tune_checkpoint_type:
        # config_util.update_fine_tune_checkpoint_type: the type follows from_detection_checkpoint
        implied = "detection" if train.from_detection_checkpoint else "classification"
        restores = "backbone and feature-map layers" if implied == "detection" else "backbone only"
        yield warning("train_config.fine_tune_checkpoint_type",
                      "fine_tune_checkpoint is set without fine_tune_checkpoint_type; the TF2 trainer takes "
                      f"{implied!r} (from from_detection_checkpoint: {str(train.from_detection_checkpoint).lower()}) "
                      f"and restores the {restores}",
                      cli("set", f"train_config.fine_tune_checkpoint_type={implied}") + " to say it, or "
                      + ("classification" if implied == "detection" else "detection") + " for the other")
    if train.fine_tune_checkpoint and train.fine_tune_checkpoint_version != train_pb2.CheckpointVersion.V2:
        yield error("train_config.fine_tune_checkpoint_version",
                    "fine_tune_checkpoint_version is V1 (the default when unset); the TF2 trainer refuses it "
                    "('Checkpoint version should be V2') before the first step",
                    cli("set", "train_config.fine_tune_checkpoint_version=V2") + " (TF2 checkpoints are all V2)",
                    _set_repair("train_config.fine_tune_checkpoint_version", "V2"))
    if train.fine_tune_checkpoint_type and not train.fine_tune_checkpoint:
        yield warning("train_config.fine_tune_checkpoint",
                      f"fine_tune_checkpoint_type {train.fine_tune_checkpoint_type!r} is set but "
                      "there is no fine_tune_checkpoint; training starts from scratch",
                      cli("set", "train_config.fine_tune_checkpoint=CHECKPOINT") + ", or remove the type: "
                      + cli("remove", "train_config.fine_tune_checkpoint_type"))


def _trainable_filters(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """update_trainable_variables / freeze_variables: valid regexes, honoured by our trainer only,
    and meant for fine-tuning."""
    train = cfg.train_config
    for name in ("update_trainable_variables", "freeze_variables"):
        patterns = list(getattr(train, name))
        if not patterns:
            continue
        path = f"train_config.{name}"
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                yield error(f"{path}[{i}]", f"{pattern!r} is not a valid regex ({exc}): the trainer rejects "
                                            "the config", "write a Python regex, e.g. '^BoxPredictor/'")
        honoured = ("odapi-tuner's trainer (python -m tuner.odapi.train) honours it as the TF1 trainer did, "
                    "updating only the selected variables; the OD API's own TF2 trainer (model_main_tf2.py) "
                    "ignores it and trains every variable")
        if train.fine_tune_checkpoint:
            yield warning(path, f"{name} is set: {honoured}",
                          "train with odapi-tuner; with model_main_tf2.py expect every variable to train")
        else:
            yield warning(path, f"{name} is set without a fine_tune_checkpoint: it freezes randomly initialised "
                                f"weights ({honoured})",
                          cli("set", "train_config.fine_tune_checkpoint=CHECKPOINT",
                              "train_config.fine_tune_checkpoint_type=detection") + f", or remove {path}: "
                          + cli("remove", path))


def _aspect_ratios(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    if cfg.model.WhichOneof("model") != "ssd":
        return
    generator = cfg.model.ssd.anchor_generator
    if generator.WhichOneof("anchor_generator_oneof") != "ssd_anchor_generator":
        return
    ratios = list(generator.ssd_anchor_generator.aspect_ratios)
    if ratios and not any(abs(r - 1.0) < 1e-6 for r in ratios):
        path = "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"
        yield warning(path, f"aspect_ratios {[round(r, 4) for r in ratios]} lack 1.0: no square "
                            "anchors", cli("add", f"{path}=1.0"),
                      Repair(f"adds 1.0 to {path}", lambda c: add_value(c, path, 1.0)))


def _matcher(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """The OD API refuses an argmax matcher whose unmatched threshold exceeds the matched one."""
    model = cfg.model.WhichOneof("model")
    if model not in ("ssd", "faster_rcnn"):
        return
    if model == "ssd":
        matcher, prefix = cfg.model.ssd.matcher, "model.ssd.matcher"
        if matcher.WhichOneof("matcher_oneof") != "argmax_matcher":
            return
        argmax = matcher.argmax_matcher
        if not argmax.ignore_thresholds and argmax.unmatched_threshold > argmax.matched_threshold:
            path = f"{prefix}.argmax_matcher.unmatched_threshold"
            yield error(path, f"unmatched_threshold {argmax.unmatched_threshold:g} > matched_threshold "
                              f"{argmax.matched_threshold:g}: the OD API rejects this matcher",
                        cli("set", f"{path}=T") + " with T <= matched_threshold (in a search space, the "
                        "`matcher_iou` knob sets both)")


def _batch_size(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    reader = cfg.train_input_reader
    if not ctx.check_files or reader.WhichOneof("input_reader") != "tf_record_input_reader":
        return
    patterns = list(reader.tf_record_input_reader.input_path)
    if any(is_remote(pattern) for pattern in patterns):
        return  # remote records are not counted
    files: list[str] = []
    for pattern in patterns:
        matched = expand_input_paths(pattern, base_dir=ctx.base_dir) if PLACEHOLDER not in pattern \
            else []
        if not matched:
            return  # reported by the missing-files rule
        files.extend(matched)
    if not files:
        return
    try:
        total = sum(count_records(path) for path in files)
    except ConfigError as exc:
        yield error("train_input_reader.tf_record_input_reader.input_path", exc.message,
                    exc.fix or "regenerate the records")
        return
    batch = cfg.train_config.batch_size
    if batch > total:
        yield error("train_config.batch_size", f"batch_size {batch} is larger than the training "
                                               f"set ({total} records): every batch repeats images",
                    cli("edit", "--batch-size B") + f" with B <= {total}, or point at the full dataset: "
                    + cli("edit", "--data DIR"))


#: Records the anchor-coverage rule reads (enough for a stable coverage, seconds to read).
ANCHOR_LINT_RECORDS = 2000


def _anchor_coverage(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """When the training data is readable: warn on low shape coverage (naming the fit command) and
    on grid coverage far below shape coverage (naming the cure). See :mod:`tuner.anchors`."""
    if not (ctx.check_files and ctx.check_anchors) or cfg.model.WhichOneof("model") != "ssd":
        return
    from tuner.anchors import analysis
    from tuner.anchors.coverage import GRID_GAP, LOW_SHAPE_COVERAGE
    from tuner.anchors.errors import AnchorError
    from tuner.anchors.generators import params_from_config

    try:
        params = params_from_config(cfg)
    except AnchorError:
        return  # a generator the analysis does not know: nothing to say
    paths = [ctx.resolve(p) for p in cfg.train_input_reader.tf_record_input_reader.input_path]
    if not paths or any(PLACEHOLDER in p or is_remote(p) or not expand_input_paths(p) for p in paths):
        return  # unreadable data is reported by the missing-files rule; remote data is not read
    try:
        measured = analysis.subject(cfg, paths, max_records=ANCHOR_LINT_RECORDS).measure(params)
    except AnchorError as exc:
        message, _, fix = str(exc).partition(" (fix: ")
        yield warning("train_input_reader.tf_record_input_reader.input_path", f"anchor coverage not measured: {message}",
                      fix.rstrip(")") or "fix the records (python -m tuner.anchors analyze --config CONFIG shows it)")
        return
    path = f"model.ssd.anchor_generator.{cfg.model.ssd.anchor_generator.WhichOneof('anchor_generator_oneof')}"
    if measured.shape_coverage < LOW_SHAPE_COVERAGE:
        yield warning(path, f"the anchors cover {measured.shape_coverage:.0%} of the training boxes (shape coverage, "
                            f"IoU >= {measured.threshold:g}; mean best IoU {measured.mean_best_iou:.2f}): boxes no "
                            "anchor matches teach the model nothing",
                      "fit them to the data: python -m tuner.anchors fit --config CONFIG -o FITTED.config")
    if measured.shape_coverage - measured.grid_coverage > GRID_GAP:
        yield warning("model.ssd.image_resizer", f"grid coverage {measured.grid_coverage:.0%} is far below shape "
                                                 f"coverage {measured.shape_coverage:.0%}: many boxes sit too far from "
                                                 "every anchor centre of the feature-map grid",
                      "raise the input resolution (python -m tuner.config set CONFIG "
                      "model.ssd.image_resizer.fixed_shape_resizer.height=H ...width=W), or lower "
                      "model.ssd.matcher.argmax_matcher.matched_threshold")


#: The lint rules, in report order.
RULES: tuple[Rule, ...] = (_sections, lint_tf2.extractors, _placeholders, _missing_files, _eval_label_map,
                           _num_classes, _ranges, lint_schedule.cosine, lint_schedule.warmup,
                           lint_schedule.manual_steps, lint_schedule.decay_shape, _fine_tune,
                           lint_tf2.load_all_vars, _trainable_filters, _aspect_ratios, _matcher,
                           lint_tf2.deprecated, _batch_size, _anchor_coverage)


def lint(cfg: Config, *, base_dir: PathLike | None = None, check_files: bool = True,
         check_anchors: bool = False) -> list[Finding]:
    """Run every lint rule on ``cfg``.

    Args:
        cfg: Config to check (not modified).
        base_dir: Directory relative paths are resolved from (default: current directory, as the
            trainer does).
        check_files: Also check that inputs exist, the label map matches and the batch fits.
        check_anchors: With ``check_files``, also measure the anchors' coverage of the training
            boxes (builds the model: seconds; the lint CLI does it unless ``--no-anchors``).

    Returns:
        Findings, errors and warnings, in rule order.
    """
    ctx = LintContext(os.fspath(base_dir) if base_dir is not None else None, check_files, check_anchors)
    return [finding for rule in RULES for finding in rule(cfg, ctx)]


def has_errors(findings: Iterable[Finding]) -> bool:
    """True if any finding is an ERROR."""
    return any(f.severity is Severity.ERROR for f in findings)


def format_findings(findings: Iterable[Finding]) -> str:
    """One line per finding, ``severity: path: message (fix: ...)``."""
    return "\n".join(str(f) for f in findings)
