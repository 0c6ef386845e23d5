"""One image file, read once: its bytes as they are, its format and size from the header.

The encoded bytes go into the record unchanged (never decoded and re-encoded); the size comes
from the header Pillow reads without decoding the pixels. Only JPEG and PNG are accepted: the
formats the OD API's ``tf_example_decoder`` decodes into one 3-channel image. Truncated files
whose header is intact are not detected (that needs a full decode).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path

from tuner.data.issues import SkipReason

#: Pillow's format name -> ``image/format``.
SUPPORTED = {"JPEG": "jpeg", "PNG": "png"}


@dataclasses.dataclass(frozen=True)
class ImageFile:
    """An image file's bytes, format (``jpeg``/``png``), size and SHA-256 (hex)."""

    encoded: bytes
    format: str
    height: int
    width: int
    sha256: str


class ImageProblem(Exception):
    """The file cannot be used: ``reason`` (a :class:`SkipReason`) and ``detail``."""

    def __init__(self, reason: SkipReason, detail: str) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(detail)


def read_image(path: Path) -> ImageFile:
    """Read ``path`` once and take its format and size from the header.

    Raises:
        ImageProblem: missing (``MISSING_IMAGE``), unreadable or not an image
            (``UNREADABLE_IMAGE``), or not JPEG/PNG (``UNSUPPORTED_IMAGE``).
    """
    from PIL import Image

    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise ImageProblem(SkipReason.MISSING_IMAGE, f"looked for {path}") from None
    except OSError as exc:
        raise ImageProblem(SkipReason.UNREADABLE_IMAGE, f"{path}: {exc.strerror or exc}") from None
    if not data:
        raise ImageProblem(SkipReason.UNREADABLE_IMAGE, f"{path} is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            kind, (width, height) = image.format, image.size
    except Exception as exc:  # noqa: BLE001  (Pillow raises many kinds for a bad header)
        raise ImageProblem(SkipReason.UNREADABLE_IMAGE, f"{path} is not an image Pillow can identify "
                                                        f"({type(exc).__name__})") from None
    if kind not in SUPPORTED:
        raise ImageProblem(SkipReason.UNSUPPORTED_IMAGE, f"{path} is {kind}")
    if width < 1 or height < 1:
        raise ImageProblem(SkipReason.UNREADABLE_IMAGE, f"{path} has size {width}x{height}")
    return ImageFile(data, SUPPORTED[kind], int(height), int(width), hashlib.sha256(data).hexdigest())
