"""The data types every dataset reader yields, and the reader interface.

A reader turns one annotation format into :class:`ImageRecord` values: which image file, which
boxes (class name and corner coordinates, in pixels or normalised as the format stores them),
the size the annotation declares. It never opens an image: reading image bytes, checking boxes
against the real image size and writing records is the converter's job
(:mod:`tuner.data.convert`), the same for every format.
"""
from __future__ import annotations

import abc
import dataclasses
import enum
from pathlib import Path
from typing import ClassVar, Iterator

from tuner.data.issues import DatasetError, Report

__all__ = ["DatasetReader", "ImageRecord", "ObjectBox", "Units"]


class Units(enum.Enum):
    """The unit of a record's box coordinates."""

    PIXELS = "pixels"          # COCO, Pascal VOC, CSV: pixels of the image
    NORMALIZED = "normalized"  # YOLO: fractions of the image width and height


@dataclasses.dataclass(frozen=True)
class ObjectBox:
    """One annotated object as the source states it (not yet checked against the image).

    Attributes:
        label: class name.
        xmin, ymin, xmax, ymax: corners in the record's :class:`Units`.
        where: the entry within the annotation (``annotation id 17``, ``object 2``, ``line 5``).
        crowd: a COCO ``iscrowd`` region (written as ``image/object/is_crowd``).
        difficult: a Pascal VOC ``difficult`` object (written as ``image/object/difficult``).
    """

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    where: str
    crowd: bool = False
    difficult: bool = False


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    """One image entry of the source annotations.

    Attributes:
        filename: the image's name as annotated, relative to the images directory (unique in a
            converted dataset; written as ``image/filename`` and ``image/source_id``).
        path: where the image file is expected.
        where: the annotation (file, entry) describing the image, for messages.
        boxes: the objects the reader could parse (entries it could not are already reported).
        units: the unit of the box coordinates.
        size: (height, width) the annotation declares, or None when it declares none.
        annotated: False when the image has no annotation at all (a YOLO image without a label
            file); True when it has one, even one listing no objects.
        dropped: box entries of this image the reader already reported and dropped.
    """

    filename: str
    path: Path
    where: str
    boxes: tuple[ObjectBox, ...]
    units: Units = Units.PIXELS
    size: tuple[int, int] | None = None
    annotated: bool = True
    dropped: int = 0


class DatasetReader(abc.ABC):
    """Reads the annotations of one source dataset format.

    Contract:
        * The constructor checks that the source exists and has the format's shape, and reads
          what the whole dataset depends on (a COCO JSON, a YOLO class list); it raises
          :class:`~tuner.data.issues.DatasetError` (one line: what, where, the fix) otherwise.
        * :meth:`records` yields every image entry once, in a deterministic order. A problem
          with one entry (a malformed box, an unknown class id, an unreadable annotation file)
          goes to ``report`` and the entry or box is left out; it is raised only if ``report``
          raises (strict mode). Duplicate file names are yielded as they are: deciding between
          them is the converter's job.
        * No image file is opened; memory holds annotations only.
        * Not thread-safe; :meth:`records` may be called more than once.
    """

    #: How the CLI names the format (``--format``).
    name: ClassVar[str]

    def __init__(self, src: Path, images: Path | None = None) -> None:
        self.src = Path(src)
        self.images = Path(images) if images is not None else None
        if not self.src.exists():
            raise DatasetError(f"source not found: {self.src}; give the {self.expects}")
        if self.images is not None and not self.images.is_dir():
            raise DatasetError(f"--images {self.images} is not a directory; give the directory holding the images")

    @property
    @abc.abstractmethod
    def expects(self) -> str:
        """What SRC must be, for messages (``annotation JSON file (instances_train.json)``)."""

    @property
    @abc.abstractmethod
    def images_dir(self) -> Path:
        """The directory image file names are relative to."""

    @abc.abstractmethod
    def classes(self) -> tuple[str, ...] | None:
        """The class names the source declares, in id order (None: the format declares none)."""

    @abc.abstractmethod
    def records(self, report: Report) -> Iterator[ImageRecord]:
        """Yield the image entries; send entry-level problems to ``report``."""
