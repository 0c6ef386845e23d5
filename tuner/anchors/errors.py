"""The one error of :mod:`tuner.anchors`."""
from __future__ import annotations


class AnchorError(ValueError):
    """Bad input for the anchor analysis (unreadable or invalid records, an unsupported anchor
    generator or image resizer). The message is one line: what is wrong, where (file and record
    index, or config path), and how to fix it. The CLIs exit 2 on it and write nothing."""
