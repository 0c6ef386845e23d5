"""Ground-truth boxes from OD API TFRecords.

:func:`read_ground_truth` reads the boxes, labels and image sizes of the records a
``tf_record_input_reader.input_path`` names, without decoding images (only the header of an
image whose record lacks ``image/height``/``image/width`` is read). The boxes stay normalised
to their source image; :mod:`.frame` maps them into the model's input frame (its names are
re-exported here, so ``from tuner.anchors.boxes import to_input_frame`` keeps working).

Every error is an :class:`~tuner.anchors.errors.AnchorError` with a one-line message naming
the file and the 0-based record index within that file, and the fix.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Iterator, Sequence, Union

import numpy as np

from tuner.anchors.errors import AnchorError
# Re-exported: these names lived here before frame.py was split out (see __all__).
from tuner.anchors.frame import InputFrame, input_frame, to_input_frame
from tuner.anchors.truth import GroundTruth

__all__ = ["BATCH", "TOLERANCE", "GroundTruth", "InputFrame", "input_frame", "read_ground_truth",
           "to_input_frame"]

#: Coordinates up to this far outside [0, 1] are accepted (and clipped): float rounding of
#: pixel boxes at the image border.
TOLERANCE = 1e-3
#: Records parsed per ``tf.io.parse_example`` call.
BATCH = 256

_BBOX = ("ymin", "xmin", "ymax", "xmax")
_RECORDS_FIX = ("write image/object/bbox/{ymin,xmin,ymax,xmax} as float lists, image/object/class/label "
                "as an int64 list, image/height and image/width as one int64 each (as tuner.data.shapes "
                "and the OD API's dataset tools do)")


PathLike = Union[str, "os.PathLike[str]"]


def _first_line(exc: BaseException) -> str:
    """The gist of a (TensorFlow) error: its first line without the op-wrapper noise."""
    text = str(getattr(exc, "message", None) or exc)
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text, flags=re.S)
    line = text.strip().splitlines()[0].strip() if text.strip() else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _expand(input_paths: Sequence[PathLike] | PathLike) -> list[str]:
    """Files of ``input_paths`` (globs expanded, each pattern's matches sorted), without repeats.

    Raises:
        AnchorError: no path given, a path that matches no file, or one that names a directory.
    """
    import tensorflow as tf

    if isinstance(input_paths, (str, os.PathLike)):
        input_paths = [input_paths]
    patterns = [os.fspath(p) for p in input_paths]
    if not patterns:
        raise AnchorError("no input path given (fix: pass the tf_record_input_reader.input_path of the "
                          "train_input_reader, e.g. data/train.record or data/train.record-?????-of-00010)")
    files: list[str] = []
    for pattern in patterns:
        try:
            matches = sorted(tf.io.gfile.glob(pattern))
        except tf.errors.OpError as exc:
            raise AnchorError(f"input path {pattern!r} cannot be listed: {_first_line(exc)} (fix: check the "
                              "path, the file system (gs:// needs credentials) and permissions)") from None
        matches = [m for m in matches if not tf.io.gfile.isdir(m)]
        if not matches:
            raise AnchorError(f"input path {pattern!r} matches no file (fix: check "
                              "tf_record_input_reader.input_path; files, globs and sharded patterns such as "
                              "train.record-?????-of-00010 are expanded, relative paths from "
                              f"{os.getcwd()})")
        files.extend(m for m in matches if m not in files)
    return files


def _batches(path: str, limit: int | None) -> Iterator[Any]:
    """Batches of serialized records of one file (at most ``limit`` records in all).

    Raises:
        AnchorError: the file cannot be read or its TFRecord framing is corrupt (naming the
            index of the first record that cannot be read).
    """
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset(path)
    if limit is not None:
        dataset = dataset.take(limit)
    read = 0
    try:
        for batch in dataset.batch(BATCH):
            read += int(batch.shape[0])
            yield batch
    except (tf.errors.DataLossError, tf.errors.OpError) as exc:
        if isinstance(exc, tf.errors.NotFoundError) or isinstance(exc, tf.errors.PermissionDeniedError):
            raise AnchorError(f"{path}: cannot be read: {_first_line(exc)} (fix: check the path and "
                              "permissions)") from None
        bad = read
        try:  # the failing batch is lost: count its good records one by one
            for _ in tf.data.TFRecordDataset(path).skip(read):
                bad += 1
        except tf.errors.OpError:
            pass
        raise AnchorError(f"{path}, record {bad}: not a valid TFRecord ({_first_line(exc)}) (fix: regenerate "
                          "the file; it was cut short, is compressed or is not a TFRecord file)") from None


def _features() -> dict[str, Any]:
    import tensorflow as tf

    ragged = {f"image/object/bbox/{key}": tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64)
              for key in _BBOX}
    return {
        "image/height": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "image/width": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        **ragged,
        "image/object/class/label": tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64),
        "image/object/class/text": tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64),
    }


def _parse(batch: Any, path: str, first: int) -> dict[str, Any]:
    """Parse a batch; on failure find and name the record that does not parse."""
    import tensorflow as tf

    features = _features()
    try:
        return tf.io.parse_example(batch, features)
    except tf.errors.InvalidArgumentError:
        pass
    for offset in range(int(batch.shape[0])):
        try:
            tf.io.parse_example(batch[offset:offset + 1], features)
        except tf.errors.InvalidArgumentError as exc:
            raise AnchorError(f"{path}, record {first + offset}: does not parse as an OD API tf.train.Example "
                              f"({_first_line(exc)}) (fix: {_RECORDS_FIX})") from None
    raise AnchorError(f"{path}, records {first}..{first + int(batch.shape[0]) - 1}: do not parse as OD API "
                      f"tf.train.Examples (fix: {_RECORDS_FIX})")


def _image_size(serialized: Any, path: str, record: int) -> tuple[int, int]:
    """Height and width from the header of the record's ``image/encoded`` (JPEG: header only)."""
    import tensorflow as tf

    fix = "(fix: write image/height and image/width into every record)"
    try:
        encoded = tf.io.parse_single_example(
            serialized, {"image/encoded": tf.io.FixedLenFeature([], tf.string, default_value=b"")})["image/encoded"]
    except tf.errors.InvalidArgumentError as exc:
        raise AnchorError(f"{path}, record {record}: no image/height and image/width, and image/encoded does "
                          f"not parse ({_first_line(exc)}) {fix}") from None
    data = encoded.numpy()
    if not data:
        raise AnchorError(f"{path}, record {record}: no image/height and image/width, and no image/encoded to "
                          f"read them from {fix}")
    try:
        if data[:2] == b"\xff\xd8":
            shape = tf.io.extract_jpeg_shape(encoded).numpy()
        else:
            shape = tf.shape(tf.io.decode_image(encoded, expand_animations=False)).numpy()
    except tf.errors.OpError as exc:
        raise AnchorError(f"{path}, record {record}: no image/height and image/width, and image/encoded cannot "
                          f"be decoded ({_first_line(exc)}) {fix}") from None
    return int(shape[0]), int(shape[1])


@dataclasses.dataclass
class _Parts:
    boxes: list[np.ndarray] = dataclasses.field(default_factory=list)
    classes: list[np.ndarray] = dataclasses.field(default_factory=list)
    index: list[np.ndarray] = dataclasses.field(default_factory=list)
    hw: list[np.ndarray] = dataclasses.field(default_factory=list)
    names: dict[int, str] = dataclasses.field(default_factory=dict)


def _check_batch(parsed: dict[str, Any], batch: Any, path: str, first: int, base: int, parts: _Parts) -> None:
    """Validate one parsed batch (records ``first..`` of ``path``, global index ``base..``) and
    append its boxes to ``parts``.

    Raises:
        AnchorError: for the first bad record of the batch.
    """
    counts = {key: parsed[f"image/object/bbox/{key}"].row_lengths().numpy() for key in _BBOX}
    values = {key: parsed[f"image/object/bbox/{key}"].flat_values.numpy() for key in _BBOX}
    size = len(counts["ymin"])
    same = np.all([counts[key] == counts["ymin"] for key in _BBOX], axis=0)
    limit = int(np.argmin(same)) if not same.all() else size  # records before it have aligned values
    n = counts["ymin"][:limit]
    total = int(n.sum())
    labels_n = parsed["image/object/class/label"].row_lengths().numpy()[:limit]
    labels = parsed["image/object/class/label"].flat_values.numpy()
    texts_n = parsed["image/object/class/text"].row_lengths().numpy()[:limit]
    texts = parsed["image/object/class/text"].flat_values.numpy()

    raw = np.stack([values[key][:total] for key in _BBOX], axis=1).astype(np.float64)
    record_of_box = np.repeat(np.arange(limit), n)
    starts = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64) if limit else np.zeros(0, np.int64)
    outside = ~np.all(np.isfinite(raw) & (raw >= -TOLERANCE) & (raw <= 1 + TOLERANCE), axis=1)
    boxes = np.clip(raw, 0.0, 1.0)
    empty = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    bad_labels = (labels_n > 0) & (labels_n != n)

    candidates = [int(record_of_box[outside][0]) if outside.any() else size,
                  int(record_of_box[empty][0]) if empty.any() else size,
                  int(np.argmax(bad_labels)) if bad_labels.any() else size,
                  limit]
    bad = min(candidates)
    if bad < size:
        where = f"{path}, record {first + bad}"
        if bad == candidates[0]:
            j = int(np.argmax(outside & (record_of_box == bad)))
            name, value = next((k, v) for k, v in zip(_BBOX, raw[j])
                               if not (np.isfinite(v) and -TOLERANCE <= v <= 1 + TOLERANCE))
            raise AnchorError(f"{where}, box {j - starts[bad]}: {name} {value:g} is outside [0, 1] (fix: store "
                              "box coordinates normalised by the image height and width, not in pixels)")
        if bad == candidates[1]:
            j = int(np.argmax(empty & (record_of_box == bad)))
            ymin, xmin, ymax, xmax = boxes[j]
            what = f"ymin {ymin:g} >= ymax {ymax:g}" if ymax <= ymin else f"xmin {xmin:g} >= xmax {xmax:g}"
            raise AnchorError(f"{where}, box {j - starts[bad]}: {what}, an empty or inverted box (fix: drop the "
                              "box or swap its coordinates; every box needs ymin < ymax and xmin < xmax)")
        if bad == candidates[2]:
            raise AnchorError(f"{where}: {n[bad]} boxes but {labels_n[bad]} image/object/class/label values "
                              "(fix: write exactly one label per box)")
        shown = ", ".join(f"{key} {counts[key][bad]}" for key in _BBOX)
        raise AnchorError(f"{where}: the image/object/bbox keys hold different numbers of values ({shown}) "
                          "(fix: write one ymin, xmin, ymax and xmax per object)")

    hw = np.stack([parsed["image/height"].numpy(), parsed["image/width"].numpy()], axis=1).astype(np.int64)
    for r in np.flatnonzero(((hw[:, 0] <= 0) | (hw[:, 1] <= 0)) & (n > 0)):
        hw[r] = _image_size(batch[r], path, first + int(r))

    has_labels = np.repeat(labels_n > 0, n)
    classes = np.full(total, -1, np.int64)
    classes[has_labels] = labels[:int(labels_n.sum())]
    named = (texts_n == n) & (labels_n == n) & (n > 0)
    if named.any():
        box_named = np.repeat(named, n)
        label_start = np.concatenate([[0], np.cumsum(labels_n)[:-1]]).astype(np.int64)
        text_start = np.concatenate([[0], np.cumsum(texts_n)[:-1]]).astype(np.int64)
        within = np.arange(total) - np.repeat(starts, n)
        text_at = (np.repeat(text_start, n) + within)[box_named]
        label_at = (np.repeat(label_start, n) + within)[box_named]
        ids, first_seen = np.unique(labels[label_at], return_index=True)
        for label, at in zip(ids, first_seen):
            parts.names.setdefault(int(label), texts[text_at[at]].decode("utf-8", errors="replace"))

    parts.boxes.append(boxes)
    parts.classes.append(classes)
    parts.index.append(base + record_of_box.astype(np.int64))
    parts.hw.append(hw[record_of_box])


def read_ground_truth(input_paths: Sequence[str], max_records: int | None = None) -> GroundTruth:
    """Read the ground-truth boxes of OD API TFRecords (images are not decoded).

    Args:
        input_paths: What ``tf_record_input_reader.input_path`` holds: files, globs or sharded
            patterns (``train.record-?????-of-00010``), expanded with ``tf.io.gfile.glob`` (so
            ``gs://`` works): each pattern's matches sorted, patterns in order, a file matched
            twice read once. A single string is taken as one path.
        max_records: Stop after this many records in all (None: read everything).

    Returns:
        The boxes, labels and image sizes; records without boxes are counted in ``images``.

    Raises:
        AnchorError: a path that matches no file; a file that is not a TFRecord file; a record
            that does not parse; bbox keys of a record holding different numbers of values; a
            label count that is neither 0 nor the box count; a coordinate outside [0, 1] (beyond
            :data:`TOLERANCE`) or not finite; an empty or inverted box (ymax <= ymin or
            xmax <= xmin); a record with boxes but no image size and no decodable image; no box
            in any record read. The message names the file and the 0-based record index in it.
    """
    if max_records is not None and (isinstance(max_records, bool) or not isinstance(max_records, int)
                                    or max_records < 1):
        raise AnchorError(f"max_records must be an integer >= 1 or None, got {max_records!r} (fix: pass a "
                          "positive record count, or None to read every record)")
    files = _expand(input_paths)
    parts = _Parts()
    images = 0
    read_files: list[str] = []
    for path in files:
        left = None if max_records is None else max_records - images
        if left is not None and left <= 0:
            break
        read_files.append(path)
        first = 0
        for batch in _batches(path, left):
            parsed = _parse(batch, path, first)
            _check_batch(parsed, batch, path, first, images, parts)
            first += int(batch.shape[0])
            images += int(batch.shape[0])
    if not parts.boxes or sum(len(b) for b in parts.boxes) == 0:
        limited = f" (the first {max_records} read)" if max_records is not None else ""
        raise AnchorError(f"records without boxes: none of the {images} records{limited} in "
                          f"{', '.join(read_files)} has an image/object/bbox value (fix: point input_path at "
                          "labelled records; the anchor analysis needs ground-truth boxes)")
    return GroundTruth(
        boxes=np.concatenate(parts.boxes).astype(np.float64),
        classes=np.concatenate(parts.classes).astype(np.int64),
        image_index=np.concatenate(parts.index).astype(np.int64),
        image_hw=np.concatenate(parts.hw).reshape(-1, 2).astype(np.int64),
        class_names=dict(sorted(parts.names.items())),
        images=images,
        files=tuple(read_files),
    )
