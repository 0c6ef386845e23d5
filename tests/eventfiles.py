"""Test helper: write real TF event files without TensorFlow.

Records are framed by TensorBoard's own ``RecordWriter`` (length, masked CRC32C, data, CRC),
the same code ``EventFileWriter`` uses, but on a plain Python file: writes are synchronous
and byte-exact, so tests can cut a file in the middle of a record. (``EventFileWriter`` itself
goes through the lazy ``tensorboard.compat.tf``, which would import real TensorFlow into the
test process.)
"""
from __future__ import annotations

import io
import os
from types import TracebackType

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

SCALARS_PLUGIN = "scalars"


def event_file_name(index: int = 0, *, timestamp: int = 1_700_000_000, host: str = "testhost") -> str:
    """A file name in the form TF writers use; names sort by ``timestamp`` then ``index``."""
    return f"events.out.tfevents.{timestamp:010d}.{host}.{4242}.{index}.v2"


def version_event(wall_time: float = 1.0) -> event_pb2.Event:
    """The first event of every TF2 event file."""
    return event_pb2.Event(wall_time=wall_time, file_version="brain.Event:2")


def simple_value_event(tag: str, value: float, step: int, wall_time: float = 1.0) -> event_pb2.Event:
    """A TF1-style scalar: ``Summary.Value.simple_value``."""
    return event_pb2.Event(
        wall_time=wall_time,
        step=step,
        summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]),
    )


def scalar_tensor(value: float, encoding: str = "float_val") -> tensor_pb2.TensorProto:
    """A float32 scalar TensorProto.

    Args:
        value: The scalar.
        encoding: ``"float_val"`` (what ``make_tensor_proto`` produces) or ``"tensor_content"``
            (little-endian bytes, what TF2's ``tf.summary.scalar`` writes).
    """
    if encoding == "float_val":
        return tensor_util.make_tensor_proto(np.float32(value))
    if encoding == "tensor_content":
        return tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT, tensor_content=np.array(value, dtype="<f4").tobytes()
        )
    raise ValueError(f"encoding must be 'float_val' or 'tensor_content', got {encoding!r}")


def tensor_event(
    tag: str,
    value: float,
    step: int,
    wall_time: float = 1.0,
    *,
    encoding: str = "float_val",
    metadata: bool = True,
) -> event_pb2.Event:
    """A TF2-style scalar: value in ``Summary.Value.tensor``, plugin ``scalars``.

    Args:
        tag: Summary tag.
        value: The scalar.
        step: Global step.
        wall_time: Event time.
        encoding: See :func:`scalar_tensor`.
        metadata: TF2 writers attach the plugin metadata only to a tag's first event; pass
            False for the later ones.
    """
    summary_value = summary_pb2.Summary.Value(tag=tag, tensor=scalar_tensor(value, encoding))
    if metadata:
        summary_value.metadata.plugin_data.plugin_name = SCALARS_PLUGIN
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=[summary_value]))


def image_event(tag: str, step: int, wall_time: float = 1.0) -> event_pb2.Event:
    """A TF2-style image summary (string tensor ``[width, height, png...]``); not a scalar."""
    summary_value = summary_pb2.Summary.Value(
        tag=tag, tensor=tensor_util.make_tensor_proto([b"1", b"1", b"\x89PNG fake"])
    )
    summary_value.metadata.plugin_data.plugin_name = "images"
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=[summary_value]))


def record_bytes(*events: event_pb2.Event) -> bytes:
    """The exact bytes a TF writer puts on disk for these events."""
    buffer = io.BytesIO()
    writer = RecordWriter(buffer)
    for event in events:
        writer.write(event.SerializeToString())
    return buffer.getvalue()


class EventFile:
    """An event file that tests append to; every :meth:`append` is flushed to disk.

    Usage::

        with EventFile(tmp_path / "eval") as f:
            f.append(tensor_event(MAP, 0.3, step=100))
    """

    def __init__(
        self, directory: str | os.PathLike[str], name: str | None = None, *, header: bool = True
    ) -> None:
        """Creates the directory and the file (with a version event unless ``header=False``)."""
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(os.fspath(directory), name or event_file_name())
        self._file = open(self.path, "ab")
        self._writer = RecordWriter(self._file)
        if header:
            self.append(version_event())

    def append(self, *events: event_pb2.Event) -> None:
        """Writes the events and flushes them to the OS."""
        for event in events:
            self._writer.write(event.SerializeToString())
        self._writer.flush()

    def append_bytes(self, data: bytes) -> None:
        """Writes raw bytes (e.g. the rest of a cut record) and flushes."""
        self._file.write(data)
        self._file.flush()

    def close(self) -> None:
        """Closes the file."""
        self._writer.close()

    def __enter__(self) -> EventFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
