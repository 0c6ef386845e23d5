"""Incremental, TensorFlow-free reading of scalar summaries from TF event files.

The trial runner watches ``model_dir/train`` and ``model_dir/eval`` while the OD API writes
them, so this reader must cope with files that are still being written: several
``events.out.tfevents.*`` files in one directory, a partially written last record, and a
directory that does not exist yet.

The record format is not re-implemented here. Records are read by TensorBoard's own
:class:`~tensorboard.backend.event_processing.event_file_loader.EventFileLoader`, run on
TensorBoard's pure-Python "stub" TensorFlow, and tensors are decoded by
:func:`tensorboard.util.tensor_util.make_ndarray`. Importing this module and reading files
never imports TensorFlow (about 3 s and 500 MB per process).

Scalars are accepted in both encodings the OD API stack produces:

* TF1 ``Summary.Value.simple_value``;
* TF2 ``tf.summary.scalar`` tensor summaries (the value lives in ``Summary.Value.tensor``, as
  little-endian ``tensor_content`` or as ``float_val``/``double_val``/``int_val``...).

Any other summary (images, histograms, text) is skipped. NaN and infinities are returned as
they are: the trial runner uses them to detect divergence.

Known limits: a record whose CRC does not match is retried on every poll and blocks the rest
of that file (TensorBoard behaves the same way); a file that is truncated or replaced in place
is not re-read from the start; CRCs are computed in pure Python (about 7 MB/s), which matters
only for event files full of large image summaries.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator

from tensorboard.backend.event_processing import event_file_loader as _event_file_loader
from tensorboard.compat import tensorflow_stub as _tf_stub
from tensorboard.compat.proto import event_pb2, summary_pb2, types_pb2
from tensorboard.util import tensor_util

# Why the event loader is pointed at the stub, and why not through `tensorboard.compat.notf`:
# `event_file_loader` reaches TensorFlow only through its module global `tf`, which is the lazy
# module `tensorboard.compat.tf`. On first use that lazy module imports the real TensorFlow when
# it is installed (it is, here) unless a module `tensorboard.compat.notf` is importable. The
# documented switch -- `sys.modules.setdefault("tensorboard.compat.notf", ...)` -- is global to
# the process: it also turns `tensorboard.compat.tf2` into an ImportError, and TF 2.15's own
# `tf.summary.scalar` goes through `tensorboard.compat.tf2`. Verified: after the notf stub,
# `import tensorflow; tf.summary.scalar(...)` raises "ImportError: cannot import tensorflow 2.0
# API" in the same process. So only this one module global is rebound, to the very stub that
# `tensorboard.compat.tf` would return under notf; every other TensorBoard/TF user in the
# process is unaffected. With the stub, `_make_tf_record_iterator` uses the stub's
# `PyRecordReader_New`, which buffers a partially read record and raises `DataLossError`;
# `RawEventFileLoader.Load` swallows that error (caught against the same stub's `errors`) and
# the next `Load` re-reads the record from its start once the writer has appended the rest.
_event_file_loader.tf = _tf_stub

_errors = _tf_stub.errors

__all__ = [
    "AR1",
    "AR10",
    "AR100",
    "AR100_LARGE",
    "AR100_MEDIUM",
    "AR100_SMALL",
    "COCO_TAGS",
    "EVENT_FILE_PREFIX",
    "LOSS_PREFIX",
    "MAP",
    "MAP50",
    "MAP75",
    "MAP_LARGE",
    "MAP_MEDIUM",
    "MAP_SMALL",
    "TOTAL_LOSS",
    "EventDirReader",
    "ScalarEvent",
    "group_by_step",
    "read_scalars",
]

logger = logging.getLogger(__name__)

#: Every TF event file name starts with this (``events.out.tfevents.<time>.<host>...``).
EVENT_FILE_PREFIX = "events.out.tfevents."

# COCO detection metrics as the OD API's coco_evaluation writes them to ``model_dir/eval``.
MAP = "DetectionBoxes_Precision/mAP"
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
MAP75 = "DetectionBoxes_Precision/mAP@.75IOU"
MAP_SMALL = "DetectionBoxes_Precision/mAP (small)"
MAP_MEDIUM = "DetectionBoxes_Precision/mAP (medium)"
MAP_LARGE = "DetectionBoxes_Precision/mAP (large)"
AR1 = "DetectionBoxes_Recall/AR@1"
AR10 = "DetectionBoxes_Recall/AR@10"
AR100 = "DetectionBoxes_Recall/AR@100"
AR100_SMALL = "DetectionBoxes_Recall/AR@100 (small)"
AR100_MEDIUM = "DetectionBoxes_Recall/AR@100 (medium)"
AR100_LARGE = "DetectionBoxes_Recall/AR@100 (large)"

#: All twelve COCO box metrics, in the order pycocotools reports them.
COCO_TAGS: tuple[str, ...] = (
    MAP,
    MAP50,
    MAP75,
    MAP_SMALL,
    MAP_MEDIUM,
    MAP_LARGE,
    AR1,
    AR10,
    AR100,
    AR100_SMALL,
    AR100_MEDIUM,
    AR100_LARGE,
)

#: Training (and eval) losses are written under ``Loss/``, e.g. ``Loss/total_loss``.
LOSS_PREFIX = "Loss/"
TOTAL_LOSS = "Loss/total_loss"

# Tensor dtypes whose single element is a meaningful scalar value.
_NUMERIC_DTYPES = frozenset(
    {
        types_pb2.DT_HALF,
        types_pb2.DT_FLOAT,
        types_pb2.DT_DOUBLE,
        types_pb2.DT_INT8,
        types_pb2.DT_INT16,
        types_pb2.DT_INT32,
        types_pb2.DT_INT64,
        types_pb2.DT_UINT8,
        types_pb2.DT_UINT16,
        types_pb2.DT_UINT32,
        types_pb2.DT_UINT64,
    }
)


@dataclasses.dataclass(frozen=True)
class ScalarEvent:
    """One scalar summary value.

    Attributes:
        tag: Summary tag, e.g. ``DetectionBoxes_Precision/mAP`` or ``Loss/total_loss``.
        step: Global step the value was written at.
        wall_time: Seconds since the epoch when the writer recorded the event.
        value: The value as a Python float; NaN and infinities are kept as they are.
    """

    tag: str
    step: int
    wall_time: float
    value: float


def _check_tags(tags: Iterable[str] | None) -> frozenset[str] | None:
    if tags is None:
        return None
    if isinstance(tags, (str, bytes)):
        raise TypeError(
            f"tags must be an iterable of tag names, got the single string {tags!r}; "
            f"pass [{tags!r}] to read one tag"
        )
    checked = frozenset(tags)
    bad = sorted(repr(tag) for tag in checked if not isinstance(tag, str))
    if bad:
        raise TypeError(f"tags must be strings, got {', '.join(bad)}")
    return checked


def _scalar_value(value: summary_pb2.Summary.Value) -> float | None:
    """The scalar held by a summary value, or None if it holds anything else."""
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor":
        return None
    tensor = value.tensor
    if tensor.dtype not in _NUMERIC_DTYPES:
        return None
    # A scalar has shape () or any shape of all ones; reject everything else before decoding.
    if any(dim.size != 1 for dim in tensor.tensor_shape.dim):
        return None
    try:
        array = tensor_util.make_ndarray(tensor)
    except (TypeError, ValueError) as exc:
        logger.debug("skipping undecodable tensor summary %r: %s", value.tag, exc)
        return None
    if array.size != 1:
        return None
    return float(array.reshape(()).item())


def _scalars(event: event_pb2.Event, tags: frozenset[str] | None) -> Iterator[ScalarEvent]:
    if not event.HasField("summary"):
        return
    for value in event.summary.value:
        if tags is not None and value.tag not in tags:
            continue
        scalar = _scalar_value(value)
        if scalar is not None:
            yield ScalarEvent(value.tag, int(event.step), float(event.wall_time), scalar)


class EventDirReader:
    """Reads scalar events from one directory of TF event files, incrementally.

    Each :meth:`poll` returns only the events that earlier polls have not returned. All
    ``events.out.tfevents.*`` files directly in the directory are read (not recursively),
    in file-name order, which for TF writers is creation-time order; files that appear later
    are picked up. A partially written last record is left for a later poll, which returns it
    exactly once after the writer has finished it.

    Not thread-safe: use one reader per thread. No file handle stays open between polls
    (TensorBoard's stub reader opens the file for each read), so readers never hold on to
    files that a cleanup wants to delete.
    """

    def __init__(self, directory: str | os.PathLike[str], tags: Iterable[str] | None = None) -> None:
        """Creates a reader; nothing is read until :meth:`poll`.

        Args:
            directory: Directory holding the event files, e.g. ``model_dir/eval``. It need not
                exist yet.
            tags: If given, only these tags are returned. Tags that never appear are not an
                error (the OD API writes eval tags only after the first evaluation).

        Raises:
            TypeError: If ``tags`` is a single string or holds non-strings.
        """
        self._directory = os.fspath(directory)
        self._tags = _check_tags(tags)
        # File name -> loader, for every event file seen so far; a loader keeps its offset.
        self._loaders: dict[str, _event_file_loader.EventFileLoader] = {}

    @property
    def directory(self) -> str:
        """The directory this reader watches."""
        return self._directory

    @property
    def tags(self) -> frozenset[str] | None:
        """The tag filter, or None when every scalar tag is returned."""
        return self._tags

    def poll(self) -> list[ScalarEvent]:
        """Reads everything written since the previous poll.

        Returns:
            The new scalar events, file by file in name order and in write order within a file.
            An empty list if the directory does not exist (yet) or nothing new was written.

        Raises:
            NotADirectoryError: If the path exists but is not a directory.
            OSError: If the directory cannot be listed (e.g. permission denied).
        """
        names = self._event_file_names()
        for name in names:
            if name not in self._loaders:
                loader = self._open(name)
                if loader is not None:
                    self._loaders[name] = loader
        events: list[ScalarEvent] = []
        for name in sorted(self._loaders):
            events.extend(self._read_new(name))
        return events

    def _event_file_names(self) -> list[str]:
        try:
            entries = list(os.scandir(self._directory))
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            raise NotADirectoryError(
                f"event directory {self._directory!r} exists but is not a directory; "
                "pass the directory the writer logs to (e.g. model_dir/eval)"
            ) from None
        return sorted(
            entry.name
            for entry in entries
            if entry.name.startswith(EVENT_FILE_PREFIX) and entry.is_file()
        )

    def _open(self, name: str) -> _event_file_loader.EventFileLoader | None:
        path = os.path.join(self._directory, name)
        try:
            return _event_file_loader.EventFileLoader(path)
        except (_errors.OpError, OSError) as exc:
            # Removed between listing and opening; if it comes back, the next poll retries.
            logger.debug("cannot open event file %s yet: %s", path, exc)
            return None

    def _read_new(self, name: str) -> list[ScalarEvent]:
        events: list[ScalarEvent] = []
        try:
            for event in self._loaders[name].Load():
                events.extend(_scalars(event, self._tags))
        except (_errors.OpError, OSError) as exc:
            # The loader keeps its offset, so a transient failure (file deleted by a cleanup,
            # NFS hiccup) costs nothing: the events read so far are returned, the rest later.
            logger.warning("stopped reading %s: %s", os.path.join(self._directory, name), exc)
        return events


def group_by_step(events: Iterable[ScalarEvent]) -> dict[int, dict[str, float]]:
    """Groups scalar events into ``{step: {tag: value}}``.

    Args:
        events: Scalar events in any order, e.g. from :meth:`EventDirReader.poll`.

    Returns:
        Steps in ascending order, each mapping its tags to values. If a (step, tag) pair occurs
        more than once (say, the same checkpoint evaluated twice), the last event wins.
    """
    grouped: dict[int, dict[str, float]] = {}
    for event in events:
        grouped.setdefault(event.step, {})[event.tag] = event.value
    return {step: grouped[step] for step in sorted(grouped)}


def read_scalars(directory: str | os.PathLike[str], tags: Iterable[str] | None = None) -> list[ScalarEvent]:
    """Reads every scalar event currently in a directory of event files, once.

    Args:
        directory: Directory holding ``events.out.tfevents.*`` files; a missing one reads as empty.
        tags: If given, only these tags are returned.

    Returns:
        The scalar events, file by file in name order. A partially written last record is
        left out.

    Raises:
        TypeError: If ``tags`` is a single string or holds non-strings.
        NotADirectoryError: If the path exists but is not a directory.
        OSError: If the directory cannot be listed.
    """
    return EventDirReader(directory, tags).poll()
