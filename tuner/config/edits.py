"""Semantic edits other than the learning-rate schedule: regularization and dataset pointing."""
from __future__ import annotations

import glob
import math
import os
from typing import Sequence, Union

from google.protobuf.message import Message
from object_detection.protos import pipeline_pb2

from tuner.config.errors import ConfigFileError, ConfigValueError
from tuner.config.io import PathLike
from tuner.config.remote import url_scheme
from tuner.config.labelmap import label_map_num_classes, load_label_map
from tuner.config.paths import iter_set_fields

Config = pipeline_pb2.TrainEvalPipelineConfig
Records = Union[PathLike, Sequence[PathLike]]
_HYPERPARAMS = "object_detection.protos.Hyperparams"
#: A dataset directory's files: the layout ``python -m tuner.data.shapes`` writes.
TRAIN_RECORD, EVAL_RECORD, LABEL_MAP = "train.record", "eval.record", "label_map.pbtxt"


def hyperparams_paths(cfg: Message) -> list[str]:
    """Paths of every set ``Hyperparams`` message (feature extractor, box predictor, ...)."""
    return [path for path, field, _ in iter_set_fields(cfg)
            if field.message_type is not None and field.message_type.full_name == _HYPERPARAMS]


def set_l2_weight(cfg: Config, weight: float) -> list[str]:
    """Set the weight of every L2 regularizer in the model at once.

    Every set ``Hyperparams`` message whose regularizer is ``l2_regularizer`` (feature
    extractor, box predictor, FPN, ...) gets ``weight``. L1 regularizers are left alone.

    Args:
        cfg: Config to edit.
        weight: New L2 weight (>= 0, finite).

    Returns:
        The paths of the weights that were set.

    Raises:
        ConfigValueError: Bad weight, or the config has no L2 regularizer at all.
    """
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
            not math.isfinite(weight) or weight < 0:
        raise ConfigValueError(f"L2 weight must be a finite number >= 0, got {weight!r}",
                               fix="give a value such as 4e-05")
    changed = []
    for path, field, value in list(iter_set_fields(cfg)):
        if field.message_type is None or field.message_type.full_name != _HYPERPARAMS:
            continue
        if value.regularizer.WhichOneof("regularizer_oneof") == "l2_regularizer":
            value.regularizer.l2_regularizer.weight = float(weight)
            changed.append(f"{path}.regularizer.l2_regularizer.weight")
    if not changed:
        raise ConfigValueError("the config has no l2_regularizer to set",
                               path="model", fix="add one to the hyperparams to regularize: python -m "
                                                 "tuner.config set CONFIG PATH.conv_hyperparams.regularizer"
                                                 ".l2_regularizer.weight=W -o OUT")
    return changed


def model_num_classes_path(cfg: Config) -> str:
    """Path of the model's ``num_classes`` (e.g. ``model.ssd.num_classes``).

    Raises:
        ConfigValueError: No model is set or the model type has no num_classes.
    """
    kind = cfg.model.WhichOneof("model")
    if kind is None or "num_classes" not in getattr(cfg.model, kind).DESCRIPTOR.fields_by_name:
        raise ConfigValueError(f"model {kind or '(none)'} has no num_classes", path="model",
                               fix="use a detection model such as model.ssd or model.faster_rcnn")
    return f"model.{kind}.num_classes"


def _as_list(records: Records) -> list[str]:
    if isinstance(records, (str, os.PathLike)):
        items = [os.fspath(records)]
    else:
        items = [os.fspath(r) for r in records]
    if not items or any(not item for item in items):
        raise ConfigValueError(f"record paths must be non-empty, got {records!r}",
                               fix="give a .record/.tfrecord path or glob")
    return items


def _split(directory: str, name: str) -> str | None:
    """``directory/name`` if it is a file, else the glob of its shards ``name-*`` if any exist."""
    single = os.path.join(directory, name)
    if os.path.isfile(single):
        return single
    shards = os.path.join(directory, glob.escape(name) + "-*")
    return os.path.join(directory, name + "-*") if any(map(os.path.isfile, glob.glob(shards))) else None


def dataset_files(directory: PathLike) -> tuple[str, str, str]:
    """The train records, eval records and label map of a dataset directory, as absolute paths.

    The layout is the one ``python -m tuner.data.shapes`` writes: :data:`TRAIN_RECORD`,
    :data:`EVAL_RECORD` and :data:`LABEL_MAP`. A split may instead be sharded
    (``train.record-00000-of-00010`` ...): it is then given as the glob ``train.record-*``,
    which the OD API's input reader expands.

    Raises:
        ConfigFileError: ``directory`` is remote or not a directory, or files are missing (all
            of them are named).
    """
    path = os.fspath(directory)
    scheme = url_scheme(path)
    if scheme is not None:
        raise ConfigFileError(f"dataset directory {path} is remote ({scheme}://): its label map cannot be read "
                              "here", fix="name the files: --train-data R --eval-data R --label-map M with a "
                                          "local label map")
    if not os.path.isdir(path):
        raise ConfigFileError(f"dataset directory not found: {path}",
                              fix="give a directory holding train.record, eval.record and label_map.pbtxt "
                                  "(python -m tuner.data.shapes --out DIR writes one)")
    root = os.path.abspath(path)
    train, evaluation = _split(root, TRAIN_RECORD), _split(root, EVAL_RECORD)
    label_map = os.path.join(root, LABEL_MAP)
    missing = [name for name, found in ((TRAIN_RECORD, train), (EVAL_RECORD, evaluation),
                                        (LABEL_MAP, os.path.isfile(label_map))) if not found]
    if missing or train is None or evaluation is None:
        raise ConfigFileError(f"dataset directory {path} has no {', '.join(missing)}",
                              fix="give a directory holding train.record, eval.record (or their shards "
                                  "NAME-*) and label_map.pbtxt, or name the files with --train-data R "
                                  "--eval-data R --label-map M")
    return train, evaluation, label_map


def point_to_dataset(cfg: Config, train_record: Records, eval_record: Records,
                     label_map: PathLike) -> int:
    """Point the config at a dataset and set ``num_classes`` from its label map.

    Sets ``train_input_reader`` and the first ``eval_input_reader`` (created if missing): their
    ``tf_record_input_reader.input_path`` (a path, glob or list of them) and
    ``label_map_path``; then the model's ``num_classes`` to the label map's largest id. The
    record files are not opened (``lint`` checks them); the label map must exist.

    Returns:
        The number of classes set.

    Raises:
        ConfigFileError: The label map cannot be read.
        ConfigSyntaxError: The label map does not parse.
        ConfigValueError: Empty paths, a bad label map, or a model without num_classes.
    """
    train, evaluation = _as_list(train_record), _as_list(eval_record)
    label_path = os.fspath(label_map)
    num_classes = label_map_num_classes(load_label_map(label_path), source=label_path)
    path = model_num_classes_path(cfg)
    readers = [cfg.train_input_reader]
    if not cfg.eval_input_reader:
        cfg.eval_input_reader.add()
    readers.append(cfg.eval_input_reader[0])
    for reader, paths in zip(readers, (train, evaluation)):
        del reader.tf_record_input_reader.input_path[:]
        reader.tf_record_input_reader.input_path.extend(paths)
        reader.label_map_path = label_path
    getattr(cfg.model, path.split(".")[1]).num_classes = num_classes
    return num_classes
