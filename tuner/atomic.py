"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every writer of a file a user or another process reads (configs, result.json, caches, reports)
goes through here: the data is written to a temporary file in the target's directory, flushed to
disk, then moved over the target with ``os.replace`` (atomic on POSIX and Windows). On failure
the temporary file is removed and the target is untouched; the ``OSError`` propagates.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

PathLike = str | os.PathLike[str]


def write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (the directory must exist)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: PathLike, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically.

    NaN and infinity are written as the tokens Python's ``json`` reads back (``NaN``).
    """
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
