"""Counting records in TFRecord files by reading the framing, without TensorFlow.

A TFRecord file is a sequence of ``uint64 length (little endian) | uint32 masked crc of length |
data[length] | uint32 masked crc of data``. CRCs are not verified here; only the framing.

Local files only: a remote pattern (``gs://bucket/train.record-?????-of-00010``, see
:mod:`tuner.config.remote`) is neither listed nor read here; callers check
:func:`~tuner.config.remote.is_remote` first.
"""
from __future__ import annotations

import glob
import os
import struct
from pathlib import Path

from tuner.config.errors import ConfigFileError
from tuner.config.io import PathLike
from tuner.config.remote import is_remote, url_scheme

_HEADER = 12  # 8-byte length + 4-byte crc
_FOOTER = 4


def expand_input_paths(pattern: str, *, base_dir: PathLike | None = None) -> list[str]:
    """Expand a glob pattern (as ``input_path`` allows) into existing files, sorted.

    Relative patterns are taken relative to ``base_dir`` (default: the current directory).

    Raises:
        ConfigFileError: ``pattern`` is remote (``gs://...``): it cannot be listed here.
    """
    if is_remote(pattern):
        raise ConfigFileError(f"input {pattern!r} is remote ({url_scheme(pattern)}://): only local files "
                              "are listed", fix="check remote inputs with gsutil ls (or the storage's own tool)")
    full = pattern if os.path.isabs(pattern) or base_dir is None else os.path.join(base_dir, pattern)
    if glob.has_magic(full):
        return sorted(p for p in glob.glob(full) if os.path.isfile(p))
    return [full] if os.path.isfile(full) else []


def count_records(path: PathLike) -> int:
    """Count the records in one TFRecord file.

    Raises:
        ConfigFileError: The file cannot be read, is remote (``gs://...``) or its framing is
            truncated/corrupt.
    """
    if is_remote(path):
        raise ConfigFileError(f"TFRecord file {os.fspath(path)} is remote ({url_scheme(path)}://): only local "
                              "files are read", fix="count remote records where they are stored")
    count = 0
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as handle:
            offset = 0
            while offset < size:
                header = handle.read(_HEADER)
                if len(header) < _HEADER:
                    raise ConfigFileError(f"{os.fspath(path)} is not a valid TFRecord file: "
                                          f"truncated record header at byte {offset}",
                                          fix="regenerate the file; it was cut short or is not "
                                              "a TFRecord")
                (length,) = struct.unpack("<Q", header[:8])
                end = offset + _HEADER + length + _FOOTER
                if end > size:
                    raise ConfigFileError(f"{os.fspath(path)} is not a valid TFRecord file: record "
                                          f"{count} at byte {offset} claims {length} bytes but the "
                                          f"file has {size}",
                                          fix="regenerate the file; it was cut short or is not a "
                                              "TFRecord")
                handle.seek(end)
                offset = end
                count += 1
    except OSError as exc:
        raise ConfigFileError(f"cannot read TFRecord file {os.fspath(path)}: {exc}",
                              fix="check the path and permissions") from None
    return count
