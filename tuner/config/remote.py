"""Remote paths (``gs://``, ``s3://``, ``hdfs://``, any ``scheme://``) in a config.

The OD API reads its inputs and label maps through ``tf.io.gfile``, so a config may name files
in a bucket. This package reads local files only and never touches the network: :func:`is_remote`
tells the two apart, lint skips its existence, record-count and label-map checks for remote
paths (no finding either way: it cannot know), and readers (:func:`tuner.config.io.read_text`,
:func:`tuner.config.records.count_records`) refuse them with an error naming the path.
"""
from __future__ import annotations

import os
import re
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

#: ``scheme://`` at the start of a path (RFC 3986 scheme characters). ``C:\\...`` is not one.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(path: PathLike) -> str | None:
    """The URL scheme of ``path`` (``"gs"`` for ``gs://bucket/x``), or None for a local path."""
    match = _SCHEME.match(os.fspath(path))
    return match.group(1).lower() if match else None


def is_remote(path: PathLike) -> bool:
    """True when ``path`` has a URL scheme (``gs://``, ``s3://``, ``hdfs://``, ``file://`` ...):
    a path ``tf.io.gfile`` resolves, which this package does not check."""
    return url_scheme(path) is not None
