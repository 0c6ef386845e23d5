"""Lint a pipeline config for the mistakes that silently waste a training run.

Each rule is a function ``(cfg, context) -> Iterable[Finding]`` listed in :data:`RULES`;
:func:`lint` runs them in order. File-system rules (missing inputs, label map, record counts)
only run with ``check_files=True``; relative paths are taken relative to ``base_dir``.
"""
from __future__ import annotations

import dataclasses
import enum
import os
from typing import Callable, Iterable, Iterator

from google.protobuf.descriptor import FieldDescriptor
from object_detection.protos import input_reader_pb2, pipeline_pb2

from tuner.config.edits import model_num_classes_path
from tuner.config.errors import ConfigError
from tuner.config.io import PathLike
from tuner.config.labelmap import label_map_num_classes, load_label_map
from tuner.config.paths import iter_set_fields
from tuner.config.records import count_records, expand_input_paths
from tuner.config.schedules import learning_rate_at, learning_rate_message, schedule_path

Config = pipeline_pb2.TrainEvalPipelineConfig
PLACEHOLDER = "PATH_TO_BE_CONFIGURED"
#: A schedule "barely decays" if it ends above this fraction of its peak.
BARELY_DECAYS = 0.5
#: A rate below this fraction of the peak counts as ~0 ...
NEAR_ZERO = 1e-3
#: ... and reaching it before this fraction of num_steps wastes the rest of training.
TOO_EARLY = 0.75


class Severity(enum.Enum):
    """How bad a finding is: errors make ``lint`` exit non-zero."""

    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One lint finding.

    Attributes:
        severity: ERROR or WARNING.
        path: Dotted path of the offending field.
        message: What is wrong.
        fix: How to fix it.
    """

    severity: Severity
    path: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.path}: {self.message} (fix: {self.fix})"


@dataclasses.dataclass(frozen=True)
class _Context:
    base_dir: str | None
    check_files: bool

    def resolve(self, path: str) -> str:
        if os.path.isabs(path) or self.base_dir is None:
            return path
        return os.path.join(self.base_dir, path)


def _error(path: str, message: str, fix: str) -> Finding:
    return Finding(Severity.ERROR, path, message, fix)


def _warning(path: str, message: str, fix: str) -> Finding:
    return Finding(Severity.WARNING, path, message, fix)


def _readers(cfg: Config) -> Iterator[tuple[str, input_reader_pb2.InputReader]]:
    if cfg.HasField("train_input_reader"):
        yield "train_input_reader", cfg.train_input_reader
    for i, reader in enumerate(cfg.eval_input_reader):
        yield f"eval_input_reader[{i}]", reader


def _placeholders(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    for path, field, value in iter_set_fields(cfg):
        if field.type != FieldDescriptor.TYPE_STRING:
            continue
        values = value if isinstance(value, list) else [value]
        for i, text in enumerate(values):
            if PLACEHOLDER in text:
                where = f"{path}[{i}]" if isinstance(value, list) else path
                hint = " (point_to_dataset sets inputs and label maps)" \
                    if "input_reader" in where else ""
                yield _error(where, f"placeholder path {text!r} was never configured",
                             f"set {where}=REAL_PATH{hint}")


def _missing_files(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    if not ctx.check_files:
        return
    for where, reader in _readers(cfg):
        label_map = reader.label_map_path
        if label_map and PLACEHOLDER not in label_map and not os.path.isfile(ctx.resolve(label_map)):
            yield _error(f"{where}.label_map_path", f"label map {label_map!r} does not exist",
                         "fix the path or create the label map")
        if reader.WhichOneof("input_reader") != "tf_record_input_reader" or \
                not reader.tf_record_input_reader.input_path:
            yield _error(f"{where}.tf_record_input_reader.input_path", "no input files configured",
                         "set tf_record_input_reader.input_path (point_to_dataset)")
            continue
        for i, pattern in enumerate(reader.tf_record_input_reader.input_path):
            if PLACEHOLDER not in pattern and not expand_input_paths(pattern, base_dir=ctx.base_dir):
                yield _error(f"{where}.tf_record_input_reader.input_path[{i}]",
                             f"input {pattern!r} matches no file",
                             "fix the path/glob or generate the TFRecord files")


def _num_classes(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    if not ctx.check_files or not cfg.train_input_reader.label_map_path:
        return
    label_map = cfg.train_input_reader.label_map_path
    full = ctx.resolve(label_map)
    if PLACEHOLDER in label_map or not os.path.isfile(full):
        return
    try:
        expected = label_map_num_classes(load_label_map(full), source=label_map)
        path = model_num_classes_path(cfg)
    except ConfigError as exc:
        yield _error("train_input_reader.label_map_path", f"unusable label map: {exc.message}",
                     exc.fix or "fix the label map")
        return
    actual = getattr(getattr(cfg.model, path.split(".")[1]), "num_classes")
    if actual != expected:
        yield _error(path, f"num_classes is {actual} but the label map {label_map!r} has "
                           f"{expected} classes", f"set {path}={expected}")


def _cosine(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    try:
        lr = learning_rate_message(cfg)
    except ConfigError:
        return
    if lr.WhichOneof("learning_rate") != "cosine_decay_learning_rate":
        return
    s, path = lr.cosine_decay_learning_rate, schedule_path(cfg)
    n = cfg.train_config.num_steps
    if n and s.total_steps != n:
        what = "stops at 0 before training ends" if s.total_steps < n else "never finishes decaying"
        yield _warning(f"{path}.total_steps", f"cosine total_steps {s.total_steps} != num_steps {n}: "
                                              f"the rate {what}", f"set_num_steps(cfg, {n}) or set "
                                                                  f"{path}.total_steps={n}")
    if s.warmup_steps >= s.total_steps:
        yield _error(f"{path}.warmup_steps", f"warmup_steps {s.warmup_steps} >= total_steps "
                                             f"{s.total_steps}: the schedule never decays "
                                             "(the OD API rejects it)",
                     f"set {path}.warmup_steps below {s.total_steps}")
    if s.warmup_learning_rate > s.learning_rate_base:
        yield _error(f"{path}.warmup_learning_rate", "warmup_learning_rate is above "
                                                     "learning_rate_base (the OD API rejects it)",
                     "lower warmup_learning_rate or use set_base_learning_rate")


def _decay_shape(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    n = cfg.train_config.num_steps
    try:
        kind = learning_rate_message(cfg).WhichOneof("learning_rate")
        path = schedule_path(cfg)
    except ConfigError:
        return
    if not n or kind in (None, "constant_learning_rate"):
        return
    if kind == "cosine_decay_learning_rate" and \
            learning_rate_message(cfg).cosine_decay_learning_rate.total_steps != n:
        return  # reported by the cosine rule
    samples = 400
    steps = [round(n * i / samples) for i in range(samples + 1)]
    rates = [learning_rate_at(cfg, step) for step in steps]
    peak = max(rates)
    if peak <= 0:
        return
    peak_at = rates.index(peak)
    if rates[-1] > BARELY_DECAYS * peak:
        yield _warning(path, f"the rate barely decays within num_steps {n}: it ends at "
                             f"{rates[-1] / peak:.0%} of its peak",
                       "shorten the decay (set_num_steps keeps it in step) or switch with "
                       "set_schedule_type")
        return
    for step, rate in zip(steps[peak_at:], rates[peak_at:]):
        if rate <= NEAR_ZERO * peak:
            if step < TOO_EARLY * n:
                yield _warning(path, f"the rate is ~0 from step {step} ({step / n:.0%} of num_steps "
                                     f"{n}); the rest of training learns nothing",
                               "stretch the decay over num_steps (set_num_steps)")
            break


def _fine_tune(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    train = cfg.train_config
    if train.fine_tune_checkpoint and not train.fine_tune_checkpoint_type:
        implied = "detection" if train.from_detection_checkpoint else "classification"
        report = _warning if train.from_detection_checkpoint else _error
        yield report("train_config.fine_tune_checkpoint_type",
                     "fine_tune_checkpoint is set without fine_tune_checkpoint_type; the trainer "
                     f"silently assumes {implied!r}",
                     'set train_config.fine_tune_checkpoint_type="detection" (or "classification")')
    if train.fine_tune_checkpoint_type and not train.fine_tune_checkpoint:
        yield _warning("train_config.fine_tune_checkpoint",
                       f"fine_tune_checkpoint_type {train.fine_tune_checkpoint_type!r} is set but "
                       "there is no fine_tune_checkpoint; training starts from scratch",
                       "set train_config.fine_tune_checkpoint or remove the type")


def _aspect_ratios(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    if cfg.model.WhichOneof("model") != "ssd":
        return
    generator = cfg.model.ssd.anchor_generator
    if generator.WhichOneof("anchor_generator_oneof") != "ssd_anchor_generator":
        return
    ratios = list(generator.ssd_anchor_generator.aspect_ratios)
    if ratios and not any(abs(r - 1.0) < 1e-6 for r in ratios):
        path = "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"
        yield _warning(path, f"aspect_ratios {[round(r, 4) for r in ratios]} lack 1.0: no square "
                             "anchors", f"add {path}=1.0")


def _matcher(cfg: Config, ctx: _Context) -> Iterator[Finding]:
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
            yield _error(path, f"unmatched_threshold {argmax.unmatched_threshold:g} > matched_threshold "
                               f"{argmax.matched_threshold:g}: the OD API rejects this matcher",
                         f"set {path} <= matched_threshold (or tune the `matcher_iou` knob, which sets both)")


def _deprecated(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    for path, field, _ in iter_set_fields(cfg):
        if not field.GetOptions().deprecated:
            continue
        if field.name == "from_detection_checkpoint":
            fix = 'remove it and set train_config.fine_tune_checkpoint_type="detection"'
        else:
            fix = f"remove it: remove {path}"
        yield _warning(path, f"{field.name} is deprecated in the OD API schema and ignored or "
                             "superseded by the TF2 trainer", fix)


def _batch_size(cfg: Config, ctx: _Context) -> Iterator[Finding]:
    reader = cfg.train_input_reader
    if not ctx.check_files or reader.WhichOneof("input_reader") != "tf_record_input_reader":
        return
    patterns = list(reader.tf_record_input_reader.input_path)
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
        yield _error("train_input_reader.tf_record_input_reader.input_path", exc.message,
                     exc.fix or "regenerate the records")
        return
    batch = cfg.train_config.batch_size
    if batch > total:
        yield _error("train_config.batch_size", f"batch_size {batch} is larger than the training "
                                                f"set ({total} records): every batch repeats images",
                     f"set train_config.batch_size<={total} or point at the full dataset")


Rule = Callable[[Config, _Context], Iterable[Finding]]
#: The lint rules, in report order.
RULES: tuple[Rule, ...] = (_placeholders, _missing_files, _num_classes, _cosine, _decay_shape,
                           _fine_tune, _aspect_ratios, _matcher, _deprecated, _batch_size)


def lint(cfg: Config, *, base_dir: PathLike | None = None, check_files: bool = True) -> list[Finding]:
    """Run every lint rule on ``cfg``.

    Args:
        cfg: Config to check (not modified).
        base_dir: Directory relative paths are resolved from (default: current directory, as the
            trainer does).
        check_files: Also check that inputs exist, the label map matches and the batch fits.

    Returns:
        Findings, errors and warnings, in rule order.
    """
    ctx = _Context(os.fspath(base_dir) if base_dir is not None else None, check_files)
    return [finding for rule in RULES for finding in rule(cfg, ctx)]


def has_errors(findings: Iterable[Finding]) -> bool:
    """True if any finding is an ERROR."""
    return any(f.severity is Severity.ERROR for f in findings)


def format_findings(findings: Iterable[Finding]) -> str:
    """One line per finding, ``severity: path: message (fix: ...)``."""
    return "\n".join(str(f) for f in findings)
