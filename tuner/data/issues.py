"""What a dataset conversion skips, and why: the typed catalogue of bad input.

Every problem found in a source dataset is an :class:`Issue`: a :class:`SkipReason` (what is
wrong), where it is (annotation file and entry, or line), and a detail. Each reason has a scope
(:class:`Scope`): the converter skips the box, or the whole image with its boxes. By default the
issues are counted in a :class:`SkipTally` (the summary table and the ``skipped`` entry of
``dataset.json``); in strict mode the first one raises :class:`StrictError` instead.

Errors that concern the whole conversion (a missing source, an unreadable COCO JSON, an
existing output directory, bad options) are :class:`DatasetError`: one line, what, where and
the fix. The CLI prints ``error: <message>`` and exits 2 on both.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Callable

__all__ = ["DatasetError", "Issue", "Report", "Scope", "SkipReason", "SkipTally", "StrictError"]


class DatasetError(ValueError):
    """Bad input for a conversion or the statistics; nothing has been written when it is raised.

    The message is one line: what is wrong, where (file, entry or option) and how to fix it.
    """


class Scope(enum.Enum):
    """What a skip removes."""

    IMAGE = "image"  # the image and all its boxes
    BOX = "box"      # one box; the image stays if it keeps at least one


@dataclasses.dataclass(frozen=True)
class _Rule:
    scope: Scope
    summary: str
    fix: str


class SkipReason(enum.Enum):
    """Why an item was skipped; the value is the key in ``dataset.json``."""

    MISSING_IMAGE = "missing_image"
    UNREADABLE_IMAGE = "unreadable_image"
    UNSUPPORTED_IMAGE = "unsupported_image"
    SIZE_MISMATCH = "size_mismatch"
    DUPLICATE_FILE = "duplicate_file"
    DUPLICATE_CONTENT = "duplicate_content"
    BAD_ANNOTATION = "bad_annotation"
    NO_ANNOTATION = "no_annotation"
    NO_OBJECTS = "no_objects"
    NO_BOXES_LEFT = "no_boxes_left"
    BAD_BOX = "bad_box"
    UNKNOWN_CLASS = "unknown_class"
    BOX_OUTSIDE = "box_outside"
    DEGENERATE_BOX = "degenerate_box"

    @property
    def scope(self) -> Scope:
        return _RULES[self].scope

    @property
    def summary(self) -> str:
        """What is wrong, in a few words."""
        return _RULES[self].summary

    @property
    def fix(self) -> str:
        """How to fix the source data."""
        return _RULES[self].fix


_RULES: dict[SkipReason, _Rule] = {
    SkipReason.MISSING_IMAGE: _Rule(Scope.IMAGE, "image file not found",
                                    "put the image there, or pass --images DIR (the directory holding the images)"),
    SkipReason.UNREADABLE_IMAGE: _Rule(Scope.IMAGE, "image file unreadable",
                                       "replace it with a valid JPEG or PNG file"),
    SkipReason.UNSUPPORTED_IMAGE: _Rule(Scope.IMAGE, "image format not supported",
                                        "convert the image to JPEG or PNG (the OD API decoder reads these; images "
                                        "are stored as they are, never re-encoded)"),
    SkipReason.SIZE_MISMATCH: _Rule(Scope.IMAGE, "image size differs from the annotated size",
                                    "correct the annotated width and height (the boxes may have been drawn on "
                                    "another version of the image)"),
    SkipReason.DUPLICATE_FILE: _Rule(Scope.IMAGE, "image annotated twice",
                                     "merge the two entries into one (the first was kept)"),
    SkipReason.DUPLICATE_CONTENT: _Rule(Scope.IMAGE, "same image bytes as another file",
                                        "delete the copy (copies could land in two splits; the first was kept)"),
    SkipReason.BAD_ANNOTATION: _Rule(Scope.IMAGE, "annotation unreadable",
                                     "correct the annotation file or entry"),
    SkipReason.NO_ANNOTATION: _Rule(Scope.IMAGE, "image without an annotation",
                                    "annotate it (an empty label file marks an image without objects)"),
    SkipReason.NO_OBJECTS: _Rule(Scope.IMAGE, "image annotated with no objects",
                                 "pass --keep-empty to keep such images as negatives"),
    SkipReason.NO_BOXES_LEFT: _Rule(Scope.IMAGE, "every box of the image was skipped",
                                    "fix its boxes (see the box skips of the same image)"),
    SkipReason.BAD_BOX: _Rule(Scope.BOX, "box entry malformed",
                              "correct the entry (numbers for the coordinates, a class name)"),
    SkipReason.UNKNOWN_CLASS: _Rule(Scope.BOX, "unknown class",
                                    "use a class from the class list, or add the class to it"),
    SkipReason.BOX_OUTSIDE: _Rule(Scope.BOX, "box outside the image",
                                  "correct the coordinates (pixels of this image; YOLO: normalised to [0, 1])"),
    SkipReason.DEGENERATE_BOX: _Rule(Scope.BOX, "box with zero or negative area",
                                     "correct the coordinates (min < max on both axes) or delete the box"),
}


@dataclasses.dataclass(frozen=True)
class Issue:
    """One problem in the source data.

    Attributes:
        reason: what is wrong.
        where: the annotation file and entry (``instances.json, annotation id 17``), or line.
        detail: the specifics (``xmax 700 > image width 640``); may be empty.
        boxes: boxes lost with it (1 for a box, the image's box count for an image).
    """

    reason: SkipReason
    where: str
    detail: str = ""
    boxes: int = 0

    def one_line(self, strict: bool = False) -> str:
        """``<what> in <where>; <how to fix>`` (strict: also how to skip instead)."""
        what = self.reason.summary + (f" ({self.detail})" if self.detail else "")
        skip = f", or run without --strict to skip the {self.reason.scope.value}" if strict else ""
        return " ".join(f"{what} in {self.where}; {self.reason.fix}{skip}".split())


#: Where readers and checks send the issues they find.
Report = Callable[[Issue], None]


class StrictError(DatasetError):
    """Strict mode met its first issue (``issue``); the message is :meth:`Issue.one_line`."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        super().__init__(issue.one_line(strict=True))


@dataclasses.dataclass
class _Count:
    images: int = 0
    boxes: int = 0
    examples: list[str] = dataclasses.field(default_factory=list)


class SkipTally:
    """Counts the skipped items by reason, keeping the first few places of each.

    Memory is bounded: a count and at most ``examples`` strings per reason. Not thread-safe.
    """

    def __init__(self, strict: bool = False, examples: int = 3) -> None:
        self.strict = strict
        self._examples = examples
        self._counts: dict[SkipReason, _Count] = {}

    def report(self, issue: Issue) -> None:
        """Count ``issue``.

        Raises:
            StrictError: in strict mode, always.
        """
        if self.strict:
            raise StrictError(issue)
        count = self._counts.setdefault(issue.reason, _Count())
        if issue.reason.scope is Scope.IMAGE:
            count.images += 1
        count.boxes += issue.boxes
        if len(count.examples) < self._examples:
            count.examples.append(f"{issue.where}" + (f": {issue.detail}" if issue.detail else ""))

    def __bool__(self) -> bool:
        return bool(self._counts)

    @property
    def images(self) -> int:
        """Images skipped, all reasons."""
        return sum(c.images for c in self._counts.values())

    @property
    def boxes(self) -> int:
        """Boxes not written, all reasons (those of skipped images included)."""
        return sum(c.boxes for c in self._counts.values())

    def count(self, reason: SkipReason) -> tuple[int, int]:
        """(images, boxes) skipped for ``reason``."""
        c = self._counts.get(reason, _Count())
        return c.images, c.boxes

    def rows(self) -> list[tuple[str, str, str, str]]:
        """Table rows (reason, images, boxes, first place), in catalogue order."""
        return [(reason.summary, str(c.images) if reason.scope is Scope.IMAGE else "-", str(c.boxes),
                 c.examples[0] if c.examples else "")
                for reason in SkipReason if (c := self._counts.get(reason))]

    def to_json(self) -> dict[str, dict[str, object]]:
        """``{reason key: {scope, what, images, boxes, examples, fix}}`` in catalogue order."""
        return {reason.value: {"scope": reason.scope.value, "what": reason.summary, "images": c.images,
                               "boxes": c.boxes, "examples": list(c.examples), "fix": reason.fix}
                for reason in SkipReason if (c := self._counts.get(reason))}
