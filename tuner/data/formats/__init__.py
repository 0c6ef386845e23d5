"""Source dataset formats: one reader per format behind :class:`DatasetReader`, chosen by :class:`Format`.

``Format.COCO`` (COCO detection JSON), ``Format.VOC`` (Pascal VOC XML directory),
``Format.YOLO`` (YOLO txt label directory), ``Format.CSV`` (box-per-row CSV). Each reader
module's docstring states the layout it expects.
"""
from __future__ import annotations

import enum
from pathlib import Path

from tuner.data.formats._base import DatasetReader, ImageRecord, ObjectBox, Units
from tuner.data.formats._coco import CocoReader
from tuner.data.formats._csv import CsvReader
from tuner.data.formats._voc import VocReader
from tuner.data.formats._yolo import YoloReader
from tuner.data.issues import DatasetError

__all__ = ["DatasetReader", "Format", "ImageRecord", "ObjectBox", "Units", "open_reader"]


class Format(enum.Enum):
    """The source formats ``python -m tuner.data convert --format`` reads."""

    COCO = "coco"
    VOC = "voc"
    YOLO = "yolo"
    CSV = "csv"

    @classmethod
    def parse(cls, name: str) -> Format:
        """The format called ``name`` (case-insensitive).

        Raises:
            DatasetError: no such format (the message lists them).
        """
        try:
            return cls(name.strip().lower())
        except ValueError:
            raise DatasetError(f"unknown format {name!r}; choose one of {', '.join(f.value for f in cls)}") from None

    @property
    def reader(self) -> type[DatasetReader]:
        return _READERS[self]


_READERS: dict[Format, type[DatasetReader]] = {
    Format.COCO: CocoReader,
    Format.VOC: VocReader,
    Format.YOLO: YoloReader,
    Format.CSV: CsvReader,
}


def open_reader(fmt: Format | str, src: str | Path, images: str | Path | None = None) -> DatasetReader:
    """The reader of ``fmt`` on ``src`` (``images``: the images directory, when not the default).

    Raises:
        DatasetError: unknown format, missing source, or a source of the wrong shape.
    """
    fmt = fmt if isinstance(fmt, Format) else Format.parse(fmt)
    return fmt.reader(Path(src), Path(images) if images is not None else None)
