"""Images and ground truth from the TFRecords a trial's config names, decoded as the OD API does.

Decoding uses the OD API's own ``TfExampleDecoder`` (the one its input pipeline uses), so the
images and boxes seen here are the ones training and evaluation saw. Eval images are read in
file order (:func:`load_examples`); int8 calibration images are a seeded reservoir sample over
all training records (:func:`sample_examples`), so they are spread over the file(s) and the
same on every run. Import :mod:`tuner.odapi` before this module (its compat shims fix tf-slim
for the decoder).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

import numpy as np

from tflite.errors import DataError
from tuner.config import expand_input_paths, load_label_map

#: Seed of the calibration sample (:func:`sample_examples`): the same images on every run.
CALIBRATION_SEED = 0
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Example:
    """One decoded image with its ground truth.

    Attributes:
        image: uint8 array ``[height, width, 3]`` as decoded.
        boxes: float32 ``[n, 4]`` normalized ``ymin, xmin, ymax, xmax``.
        classes: int64 ``[n]`` label-map ids (1-based).
    """

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def reader_paths(reader: Any, what: str) -> list[str]:
    """The existing files an ``InputReader`` config names (globs expanded).

    Raises:
        DataError: the reader names no TFRecord, or none of its paths exists.
    """
    patterns = list(reader.tf_record_input_reader.input_path)
    paths = [p for pattern in patterns for p in expand_input_paths(pattern)]
    if not paths:
        raise DataError(f"no {what} TFRecords found", f"input_path {patterns or '(none)'} of the trial's config",
                        f"make the {what} data available at that path (or regenerate the dataset)")
    return paths


def iter_examples(paths: list[str], limit: int = 0, what: str = "eval") -> Iterator[Example]:
    """Decode up to ``limit`` examples (0: all) from ``paths`` in file order.

    Raises:
        DataError: a file cannot be read or decoded.
    """
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset(paths)
    if limit > 0:
        dataset = dataset.take(limit)
    yield from _decode(dataset, paths, what)


def _decode(serialized: Any, paths: list[str], what: str) -> Iterator[Example]:
    """Decode a dataset of serialized ``tf.Example`` records with the OD API decoder.

    Raises:
        DataError: a record cannot be read or decoded.
    """
    import tensorflow as tf
    from object_detection.core import standard_fields as fields
    from object_detection.data_decoders import tf_example_decoder

    decoder = tf_example_decoder.TfExampleDecoder()
    key = fields.InputDataFields
    try:
        for item in serialized.map(decoder.decode).as_numpy_iterator():
            yield Example(image=item[key.image].astype(np.uint8),
                          boxes=item[key.groundtruth_boxes].astype(np.float32).reshape(-1, 4),
                          classes=item[key.groundtruth_classes].astype(np.int64).reshape(-1))
    except tf.errors.OpError as exc:
        raise DataError(f"cannot read the {what} TFRecords ({type(exc).__name__}: {exc.message.splitlines()[0]})",
                        ", ".join(paths), "regenerate the records or fix the config's input_path") from exc


def reservoir(items: Iterable[T], count: int, seed: int = CALIBRATION_SEED) -> list[tuple[int, T]]:
    """A uniform random sample of ``count`` items in one pass (reservoir sampling, algorithm R).

    Deterministic for a given ``seed`` and sequence; every item has the same chance to be
    chosen wherever it is in the sequence. All items when there are at most ``count``.

    Returns:
        ``(position, item)`` pairs in sequence order.
    """
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, T]] = []
    for position, item in enumerate(items):
        if position < count:
            chosen.append((position, item))
            continue
        slot = int(rng.integers(0, position + 1))
        if slot < count:
            chosen[slot] = (position, item)
    return sorted(chosen, key=lambda pair: pair[0])


def sample_examples(paths: list[str], count: int, what: str = "train",
                    seed: int = CALIBRATION_SEED) -> list[Example]:
    """A seeded sample of ``count`` examples spread over all records of ``paths`` (in file order).

    One pass over the serialized records chooses them (:func:`reservoir`); only the chosen
    ones are decoded. The same files and seed always give the same examples.

    Raises:
        DataError: unreadable records, or no example at all.
    """
    import tensorflow as tf

    def serialized() -> Iterator[bytes]:
        try:
            yield from tf.data.TFRecordDataset(paths).as_numpy_iterator()
        except tf.errors.OpError as exc:
            raise DataError(f"cannot read the {what} TFRecords ({type(exc).__name__}: "
                            f"{exc.message.splitlines()[0]})", ", ".join(paths),
                            "regenerate the records or fix the config's input_path") from exc

    chosen = [record for _, record in reservoir(serialized(), count, seed)]
    if not chosen:
        raise DataError(f"the {what} TFRecords hold no example", ", ".join(paths),
                        f"point the config's {what} input_path at non-empty records")
    return list(_decode(tf.data.Dataset.from_tensor_slices(chosen), paths, what))


def load_examples(paths: list[str], limit: int = 0, what: str = "eval") -> list[Example]:
    """All of :func:`iter_examples` as a list.

    Raises:
        DataError: unreadable records, or no example at all.
    """
    examples = list(iter_examples(paths, limit, what))
    if not examples:
        raise DataError(f"the {what} TFRecords hold no example", ", ".join(paths),
                        f"point the config's {what} input_path at non-empty records")
    return examples


def categories(label_map_path: str) -> list[dict[str, Any]]:
    """COCO categories (``{"id", "name"}``) of a label map, sorted by id.

    Raises:
        DataError: the label map is missing or invalid.
    """
    from tuner.config import ConfigError

    try:
        label_map = load_label_map(label_map_path)
    except ConfigError as exc:
        raise DataError("cannot read the label map", str(label_map_path),
                        f"fix label_map_path in the trial's config ({exc})") from exc
    items = sorted(({"id": int(i.id), "name": i.display_name or i.name or f"class_{i.id}"}
                    for i in label_map.item), key=lambda c: c["id"])
    if not items:
        raise DataError("the label map has no items", str(label_map_path), "add item { id: 1 name: ... } entries")
    return items


def labels_text(cats: list[dict[str, Any]], num_classes: int) -> str:
    """``labels.txt``: line ``i`` names the TFLite class output ``i`` (label-map id ``i + 1``).

    Ids the label map does not use are written as ``???``.
    """
    by_id = {c["id"]: c["name"] for c in cats}
    count = max(num_classes, max(by_id, default=0))
    return "".join(f"{by_id.get(i + 1, '???')}\n" for i in range(count))


def check_exists(path: str | Path, what: str) -> None:
    """Raises:
        DataError: ``path`` is not a file.
    """
    if not Path(path).is_file():
        raise DataError(f"the {what} is missing", str(path), "fix the path in the trial's config")
