"""OD API ``tf.train.Example`` records and their sharded TFRecord files.

The keys are those the OD API's ``tf_example_decoder`` reads and its own dataset tools
(``create_coco_tf_record.py``, ``create_pascal_tf_record.py``) write: ``image/encoded`` (the
file's bytes as they are), ``image/format``, ``image/height``, ``image/width``,
``image/filename``, ``image/source_id``, ``image/key/sha256``, ``image/object/bbox/{xmin,xmax,
ymin,ymax}`` (normalised), ``image/object/class/label`` (1-based), ``image/object/class/text``,
``image/object/is_crowd`` and ``image/object/difficult``.

Shards are named as the OD API's ``tf_record_creation_util`` names them
(``train.record-00000-of-00004``); image k of a split goes to shard k mod N. Importing this
module imports TensorFlow.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import Mapping, Sequence

from object_detection.dataset_tools import tf_record_creation_util
from object_detection.utils import dataset_util

from tuner.data.checks import NormBox
from tuner.data.images import ImageFile

RECORD_SUFFIX = ".record"


def shard_names(split: str, shards: int) -> list[str]:
    """File names of a split's shards (``train.record-00000-of-00002`` ...)."""
    return [f"{split}{RECORD_SUFFIX}-{i:05d}-of-{shards:05d}" for i in range(shards)]


def shard_pattern(split: str, shards: int) -> str:
    """The glob of a split's shards, for ``tf_record_input_reader.input_path``."""
    return f"{split}{RECORD_SUFFIX}-?????-of-{shards:05d}"


def serialize(image: ImageFile, filename: str, boxes: Sequence[NormBox], ids: Mapping[str, int]) -> bytes:
    """The serialized ``tf.train.Example`` of one image and its checked boxes."""
    import tensorflow as tf

    name = filename.encode("utf-8")
    feature = {
        "image/height": dataset_util.int64_feature(image.height),
        "image/width": dataset_util.int64_feature(image.width),
        "image/filename": dataset_util.bytes_feature(name),
        "image/source_id": dataset_util.bytes_feature(name),
        "image/key/sha256": dataset_util.bytes_feature(image.sha256.encode("ascii")),
        "image/encoded": dataset_util.bytes_feature(image.encoded),
        "image/format": dataset_util.bytes_feature(image.format.encode("ascii")),
        "image/object/bbox/xmin": dataset_util.float_list_feature([b.xmin for b in boxes]),
        "image/object/bbox/xmax": dataset_util.float_list_feature([b.xmax for b in boxes]),
        "image/object/bbox/ymin": dataset_util.float_list_feature([b.ymin for b in boxes]),
        "image/object/bbox/ymax": dataset_util.float_list_feature([b.ymax for b in boxes]),
        "image/object/class/text": dataset_util.bytes_list_feature([b.label.encode("utf-8") for b in boxes]),
        "image/object/class/label": dataset_util.int64_list_feature([ids[b.label] for b in boxes]),
        "image/object/is_crowd": dataset_util.int64_list_feature([int(b.crowd) for b in boxes]),
        "image/object/difficult": dataset_util.int64_list_feature([int(b.difficult) for b in boxes]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


class SplitWriters:
    """The open shard files of every split in a directory (a context manager; closes them all).

    Every shard file is created up front, so a split with fewer images than shards still has
    all N files (some empty; a valid empty TFRecord file).
    """

    def __init__(self, directory: Path, splits: Sequence[str], shards: int) -> None:
        self.shards = shards
        self._stack = contextlib.ExitStack()
        self._writers = {split: tf_record_creation_util.open_sharded_output_tfrecords(
            self._stack, str(directory / f"{split}{RECORD_SUFFIX}"), shards) for split in splits}
        self._written = dict.fromkeys(splits, 0)

    def write(self, split: str, serialized: bytes) -> None:
        """Append one record to the split's next shard (round robin)."""
        self._writers[split][self._written[split] % self.shards].write(serialized)
        self._written[split] += 1

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> SplitWriters:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def write_label_map(path: Path, classes: Sequence[str]) -> None:
    """Write the ``StringIntLabelMap`` of ``classes`` (ids 1, 2, ... in order) to ``path``, then load
    it back with the OD API's ``label_map_util`` to prove the OD API reads it as written.

    Raises:
        RuntimeError: the OD API reads other names or ids back (a bug, not bad input).
    """
    from google.protobuf import text_format
    from object_detection.protos import string_int_label_map_pb2
    from object_detection.utils import label_map_util

    label_map = string_int_label_map_pb2.StringIntLabelMap()
    for i, name in enumerate(classes, 1):
        item = label_map.item.add()
        item.id, item.name = i, name
    path.write_text(text_format.MessageToString(label_map, as_utf8=True), encoding="utf-8")
    loaded = label_map_util.get_label_map_dict(str(path))
    expected = {name: i for i, name in enumerate(classes, 1)}
    if loaded != expected:
        raise RuntimeError(f"{path}: label_map_util reads {loaded}, not {expected}")
