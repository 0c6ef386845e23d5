"""A source dataset (COCO, Pascal VOC, YOLO, CSV) as OD API TFRecords, a label map and a manifest.

:func:`convert` reads the annotations with the format's reader (:mod:`tuner.data.formats`),
drops what cannot be converted (:mod:`tuner.data.issues` lists every reason), shuffles the
image entries with the seed and streams them, one image file read at a time, into the shards
of their split (:mod:`tuner.data.split`, :mod:`tuner.data.records`). The output directory
holds, when complete:

* ``<split>.record-0000k-of-0000N`` for every split (``--split``) and shard (``--shards``);
* ``label_map.pbtxt``: the classes with ids 1, 2, ... (checked with the OD API's
  ``label_map_util``);
* ``dataset.json``: the source, seed, split fractions, counts per split and class, and what
  was skipped and why.

Class ids: COCO categories ordered by id, YOLO's class list (class k -> k + 1), else the names
found, sorted; ``classes`` fixes them for any format (boxes of other classes are then skipped).

Images without objects: an image whose annotation lists no objects is skipped unless
``keep_empty`` (then it is written as a negative, with no boxes). An image without any
annotation (a YOLO image without a label file) and an image whose every box was skipped are
always skipped: their objects would be taught as background.

Memory holds the annotations and a digest per written image, never more than one image's bytes.
Nothing is written unless the conversion completes (:mod:`tuner.data.staging`).
"""
from __future__ import annotations

import dataclasses
import json
import posixpath
import random
import time
from pathlib import Path
from typing import Any

from tuner.data.checks import NormBox, normalize_boxes
from tuner.data.formats import DatasetReader, Format, ImageRecord, open_reader
from tuner.data.images import ImageFile, ImageProblem, read_image
from tuner.data.issues import DatasetError, Issue, Report, SkipReason, SkipTally
from tuner.data.progress import ProgressFactory
from tuner.data.split import DEFAULT_SPLIT, SplitSpec, Splitter
from tuner.data.staging import check_target, staged_directory

__all__ = ["LABEL_MAP", "MANIFEST", "ConvertOptions", "ConvertResult", "convert"]

MANIFEST = "dataset.json"
LABEL_MAP = "label_map.pbtxt"
GENERATOR = "tuner.data convert"
MAX_SHARDS = 1000


@dataclasses.dataclass(frozen=True)
class ConvertOptions:
    """What to convert, and how (see :func:`convert`)."""

    fmt: Format
    src: Path
    out: Path
    images: Path | None = None
    split: SplitSpec = dataclasses.field(default_factory=lambda: SplitSpec.parse(DEFAULT_SPLIT))
    shards: int = 1
    seed: int = 0
    strict: bool = False
    overwrite: bool = False
    keep_empty: bool = False
    classes: tuple[str, ...] | None = None

    def validate(self) -> None:
        """Raises:
            DatasetError: shards out of range, or a bad class list.
        """
        if not 1 <= self.shards <= MAX_SHARDS:
            raise DatasetError(f"--shards {self.shards} is not in 1..{MAX_SHARDS}; give the number of files per split")
        if self.classes is not None:
            if not self.classes or not all(c.strip() for c in self.classes):
                raise DatasetError("--classes lists no class or an empty name; give names separated by commas")
            if len(set(self.classes)) != len(self.classes):
                raise DatasetError("--classes names a class twice; give each class once (its position is its id)")


@dataclasses.dataclass
class _Count:
    images: int = 0
    boxes: int = 0
    per_class: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # name -> [images, boxes]

    def add(self, boxes: list[NormBox]) -> None:
        self.images += 1
        self.boxes += len(boxes)
        for label in {b.label for b in boxes}:
            self.per_class.setdefault(label, [0, 0])[0] += 1
        for b in boxes:
            self.per_class.setdefault(b.label, [0, 0])[1] += 1


@dataclasses.dataclass(frozen=True)
class ConvertResult:
    """What :func:`convert` wrote: the output directory, the manifest it holds, the skips."""

    out: Path
    manifest: dict[str, Any]
    skipped: SkipTally
    seconds: float


def _plan(reader: DatasetReader, options: ConvertOptions, report: Report) -> tuple[list[ImageRecord], tuple[str, ...]]:
    """The image entries worth reading, and the classes in id order (annotation checks only)."""
    declared = options.classes or reader.classes()
    known = set(declared or ())
    origin = "--classes" if options.classes else "the class list"
    first_at: dict[str, str] = {}
    kept: list[ImageRecord] = []
    for record in reader.records(report):
        key = posixpath.normpath(record.filename.replace("\\", "/"))
        if key in first_at:
            report(Issue(SkipReason.DUPLICATE_FILE, record.where, f"{record.filename} is also annotated in "
                         f"{first_at[key]}", len(record.boxes)))
            continue
        first_at[key] = record.where
        if not record.annotated:
            report(Issue(SkipReason.NO_ANNOTATION, record.where))
            continue
        if declared is not None:
            unknown = [b for b in record.boxes if b.label not in known]
            for box in unknown:
                report(Issue(SkipReason.UNKNOWN_CLASS, box.where, f"{box.label!r} is not in {origin}", 1))
            if unknown:
                record = dataclasses.replace(record, boxes=tuple(b for b in record.boxes if b.label in known),
                                             dropped=record.dropped + len(unknown))
        if not record.boxes:
            if record.dropped:
                report(Issue(SkipReason.NO_BOXES_LEFT, record.where))
                continue
            if not options.keep_empty:
                report(Issue(SkipReason.NO_OBJECTS, record.where))
                continue
        kept.append(record)
    classes = tuple(declared) if declared else tuple(sorted({b.label for r in kept for b in r.boxes}))
    if not classes:
        raise DatasetError(f"no object to convert in {options.src}: no image has a usable box; check --format and "
                           "the annotations")
    return kept, classes


def _prepare(record: ImageRecord, written: dict[str, str], report: Report) -> tuple[ImageFile, list[NormBox]] | None:
    """The image file and checked boxes of ``record``, or None when it is skipped (reported)."""
    lost = len(record.boxes)
    try:
        image = read_image(record.path)
    except ImageProblem as problem:
        report(Issue(problem.reason, record.where, problem.detail, lost))
        return None
    if record.size is not None and record.size != (image.height, image.width):
        report(Issue(SkipReason.SIZE_MISMATCH, record.where, f"annotated {record.size[1]}x{record.size[0]}, the file "
                     f"is {image.width}x{image.height}", lost))
        return None
    if image.sha256 in written:
        report(Issue(SkipReason.DUPLICATE_CONTENT, record.where, f"same bytes as {written[image.sha256]}", lost))
        return None
    boxes = normalize_boxes(record, image.height, image.width, report)
    if record.boxes and not boxes:
        report(Issue(SkipReason.NO_BOXES_LEFT, record.where))
        return None
    return image, boxes


def _write(staging: Path, entries: list[ImageRecord], classes: tuple[str, ...], options: ConvertOptions,
           tally: SkipTally, progress: ProgressFactory | None) -> dict[str, _Count]:
    from tuner.data import records  # imports TensorFlow: only now that there is something to write

    ids = {name: i for i, name in enumerate(classes, 1)}
    splitter = Splitter(options.split)
    counts = {name: _Count() for name in options.split.names}
    written: dict[str, str] = {}  # sha256 -> file name, of the images written
    bar = progress(len(entries)) if progress is not None else None
    try:
        with records.SplitWriters(staging, options.split.names, options.shards) as writers:
            for record in entries:
                prepared = _prepare(record, written, tally.report)
                if prepared is not None:
                    image, boxes = prepared
                    split = splitter.assign()
                    writers.write(split, records.serialize(image, record.filename, boxes, ids))
                    written[image.sha256] = record.filename
                    counts[split].add(boxes)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not written:
        raise DatasetError(f"no image to convert in {options.src}: all {len(entries)} were skipped; {_worst(tally)}")
    return counts


def _worst(tally: SkipTally) -> str:
    reason, info = max(tally.to_json().items(), key=lambda kv: (kv[1]["images"], kv[1]["boxes"]))
    examples = info["examples"]
    where = f" (first: {examples[0]})" if isinstance(examples, list) and examples else ""
    return f"most were skipped as '{info['what']}'{where}; {info['fix']}"


def _manifest(options: ConvertOptions, reader: DatasetReader, classes: tuple[str, ...], counts: dict[str, _Count],
              tally: SkipTally) -> dict[str, Any]:
    from tuner.data.records import shard_names, shard_pattern

    def per_class(count_of: dict[str, list[int]]) -> dict[str, dict[str, int]]:
        return {name: {"id": i, "images": count_of.get(name, [0, 0])[0], "boxes": count_of.get(name, [0, 0])[1]}
                for i, name in enumerate(classes, 1)}

    total: dict[str, list[int]] = {}
    for count in counts.values():
        for name, (images, boxes) in count.per_class.items():
            total.setdefault(name, [0, 0])
            total[name][0] += images
            total[name][1] += boxes
    return {
        "generator": GENERATOR,
        "source": {"format": options.fmt.value, "path": str(options.src.resolve()),
                   "images": str(reader.images_dir.resolve())},
        "seed": options.seed,
        "split": options.split.to_json(),
        "shards": options.shards,
        "keep_empty": options.keep_empty,
        "label_map": LABEL_MAP,
        "classes": [{"id": i, "name": name} for i, name in enumerate(classes, 1)],
        "images": sum(c.images for c in counts.values()),
        "boxes": sum(c.boxes for c in counts.values()),
        "per_class": per_class(total),
        "splits": {name: {"images": c.images, "boxes": c.boxes,
                          "input_path": shard_pattern(name, options.shards),
                          "files": shard_names(name, options.shards),
                          "per_class": per_class(c.per_class)} for name, c in counts.items()},
        "skipped": tally.to_json(),
    }


def convert(options: ConvertOptions, progress: ProgressFactory | None = None) -> ConvertResult:
    """Convert ``options.src`` into ``options.out`` (see the module docstring).

    Args:
        options: the source, output and settings.
        progress: makes a progress bar for the number of images to read (None: no bar).

    Returns:
        The output directory, its manifest (also written as ``dataset.json``) and the skips.

    Raises:
        DatasetError: bad options; a missing or malformed source; an output that exists
            (without ``overwrite``) or must not be replaced; nothing left to convert.
        StrictError: in strict mode, the first item that would be skipped.
        OSError: the output cannot be written.
        In every case nothing is written and an existing output is left as it was.
    """
    start = time.monotonic()
    options.validate()
    reader = open_reader(options.fmt, options.src, options.images)
    check_target(options.out, options.overwrite, MANIFEST, keep=(options.src, reader.images_dir))
    tally = SkipTally(strict=options.strict)
    entries, classes = _plan(reader, options, tally.report)
    if not entries:
        raise DatasetError(f"no image to convert in {options.src}: "
                           + (f"all were skipped; {_worst(tally)}" if tally else "the source lists none"))
    entries.sort(key=lambda r: r.filename)  # the shuffle depends on the seed only, not on listing order
    random.Random(options.seed).shuffle(entries)
    with staged_directory(options.out, options.overwrite, MANIFEST) as staging:
        counts = _write(staging, entries, classes, options, tally, progress)
        from tuner.data import records

        records.write_label_map(staging / LABEL_MAP, classes)
        manifest = _manifest(options, reader, classes, counts, tally)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ConvertResult(options.out, manifest, tally, time.monotonic() - start)
