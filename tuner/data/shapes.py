"""Deterministic synthetic detection dataset: coloured shapes on cluttered backgrounds.

Writes OD API format TFRecords (the standard ``image/...`` tf.Example keys, JPEG encoded)
and a ``label_map.pbtxt``; the embedded default for ``make demo`` and the data of the tests.

The data is built so that detector hyper-parameters matter: objects span a wide range of
sizes (small ones are hard for coarse anchors), elongated classes have aspect ratios far
from 1 (anchor aspect ratios matter), several objects share an image and may overlap (NMS and
matcher thresholds matter), and unlabelled clutter (lines, blobs, noise) makes false positives
possible. Every image is a pure function of (seed, split, index).

CLI::

    python -m tuner.data.shapes --out DIR --train 512 --eval 64 --size 128 --seed 0
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Sequence

from tuner.cli import example
from tuner.data.render import DEFAULT_CLASSES, SHAPES, Box, DatasetSpec, DatasetSpecError, render

#: The demo dataset's spec (a frozen dataclass: one shared default is safe).
DEFAULT_SPEC = DatasetSpec()

__all__ = ["DEFAULT_CLASSES", "EVAL_RECORD", "LABEL_MAP", "MANIFEST", "SHAPES", "TRAIN_RECORD", "Box", "Dataset",
           "DatasetSpec", "DatasetSpecError", "generate", "label_map_text", "main", "render"]

TRAIN_RECORD = "train.record"
EVAL_RECORD = "eval.record"
LABEL_MAP = "label_map.pbtxt"
MANIFEST = "dataset.json"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Paths of a written dataset."""

    root: Path
    train_record: Path
    eval_record: Path
    label_map: Path
    spec: DatasetSpec


def label_map_text(classes: Sequence[str]) -> str:
    """The OD API ``StringIntLabelMap`` text for ``classes`` (ids from 1)."""
    return "".join(f"item {{\n  id: {i}\n  name: '{name}'\n}}\n" for i, name in enumerate(classes, 1))


def _example(spec: DatasetSpec, split: str, index: int):  # -> tf.train.Example
    import tensorflow as tf

    jpeg, boxes = render(spec, split, index)
    class_ids = {name: i for i, name in enumerate(spec.classes, 1)}

    def floats(values: list[float]) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    def ints(values: list[int]) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def strings(values: list[bytes]) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    name = f"{split}_{index:06d}.jpg".encode()
    feature = {
        "image/height": ints([spec.size]),
        "image/width": ints([spec.size]),
        "image/filename": strings([name]),
        "image/source_id": strings([name]),
        "image/encoded": strings([jpeg]),
        "image/format": strings([b"jpeg"]),
        "image/object/bbox/xmin": floats([b.xmin for b in boxes]),
        "image/object/bbox/xmax": floats([b.xmax for b in boxes]),
        "image/object/bbox/ymin": floats([b.ymin for b in boxes]),
        "image/object/bbox/ymax": floats([b.ymax for b in boxes]),
        "image/object/class/text": strings([b.label.encode() for b in boxes]),
        "image/object/class/label": ints([class_ids[b.label] for b in boxes]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _write_records(path: Path, spec: DatasetSpec, split: str, count: int) -> None:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for index in range(count):
            writer.write(_example(spec, split, index).SerializeToString())


def _delete_hint(root: Path) -> str:
    return f"delete {root} (for the demo data: make clean-demo) or choose another --out"


def _existing(dataset: Dataset, wanted: dict[str, object]) -> bool:
    """True when ``dataset.root`` already holds this very dataset, False when it holds none.

    Raises:
        FileExistsError: it holds something else: another spec, a corrupt manifest, or the
            files of an interrupted run (records but no manifest).
    """
    root, manifest_path = dataset.root, dataset.root / MANIFEST
    files = (dataset.train_record, dataset.eval_record, dataset.label_map)
    if manifest_path.exists():
        try:
            found = json.loads(manifest_path.read_text(encoding="utf-8"))["spec"]
            if not isinstance(found, dict):
                raise ValueError("its 'spec' is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FileExistsError(f"{manifest_path} is not a readable shapes manifest ({type(exc).__name__}: "
                                  f"{exc}); {_delete_hint(root)}") from None
        if found != wanted:
            raise FileExistsError(f"{root} already holds a different shapes dataset ({manifest_path}); "
                                  f"{_delete_hint(root)}")
        missing = [p.name for p in files if not p.exists()]
        if missing:
            raise FileExistsError(f"{root} holds a shapes manifest but not {', '.join(missing)}; "
                                  f"{_delete_hint(root)}")
        return True
    leftovers = [p.name for p in files if p.exists()]
    if leftovers:
        raise FileExistsError(f"{root} holds {', '.join(leftovers)} but no {MANIFEST}: an interrupted run or "
                              f"another dataset, not a finished shapes dataset; {_delete_hint(root)}")
    return False


def _publish(staging: Path, dataset: Dataset, wanted: dict[str, object]) -> None:
    """Move the finished ``staging`` directory to ``dataset.root``.

    One atomic rename when the target does not exist or is an empty directory; otherwise (a
    directory holding other files) the files are moved in one by one, the manifest last.
    """
    try:
        os.rename(staging, dataset.root)
        return
    except OSError:
        if not dataset.root.is_dir():
            raise
    if _existing(dataset, wanted):  # written meanwhile by another process: keep that one
        return
    for name in (TRAIN_RECORD, EVAL_RECORD, LABEL_MAP, MANIFEST):
        os.replace(staging / name, dataset.root / name)


def generate(out: str | os.PathLike[str], spec: DatasetSpec = DEFAULT_SPEC) -> Dataset:
    """Write the dataset under ``out`` (created if needed); reuse it if already complete.

    A directory that already holds a complete dataset of the same spec is left untouched,
    so calling this twice costs nothing. The dataset is written into a hidden temporary
    directory next to ``out`` (``.<name>.partial-*``) and renamed to ``out`` at the end, so an
    interrupted run never leaves a dataset that looks finished (the temporary directory is
    removed on errors and Ctrl-C).

    Raises:
        DatasetSpecError: bad parameters.
        FileExistsError: ``out`` holds a dataset of a different spec, an unreadable manifest,
            or records without a manifest (nothing is overwritten; the message says to delete it).
        OSError: ``out`` or its parent cannot be created or written.
    """
    spec.validate()
    root = Path(out)
    wanted = {**dataclasses.asdict(spec), "classes": list(spec.classes)}
    dataset = Dataset(root, root / TRAIN_RECORD, root / EVAL_RECORD, root / LABEL_MAP, spec)
    if _existing(dataset, wanted):
        return dataset
    target = root.resolve()
    nearest = next(d for d in (target, *target.parents) if d.exists())
    if not nearest.is_dir():  # fail now, not after minutes of rendering
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(nearest))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        _write_records(staging / TRAIN_RECORD, spec, "train", spec.train)
        _write_records(staging / EVAL_RECORD, spec, "eval", spec.eval)
        (staging / LABEL_MAP).write_text(label_map_text(spec.classes), encoding="utf-8")
        manifest = {"generator": "tuner.data.shapes", "spec": wanted}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _publish(staging, dataset, wanted)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone after a successful rename
    return dataset


def _parser() -> argparse.ArgumentParser:
    d = DatasetSpec()
    p = argparse.ArgumentParser(prog="python -m tuner.data.shapes", description=__doc__.split("\n\n")[0],
                                epilog=example("shapes"))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--train", type=int, default=d.train, help="training images (default %(default)s)")
    p.add_argument("--eval", type=int, default=d.eval, help="evaluation images (default %(default)s)")
    p.add_argument("--size", type=int, default=d.size, help="image side in pixels (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--classes", default=",".join(d.classes),
                   help=f"comma-separated shapes from {', '.join(SHAPES)} (default %(default)s)")
    p.add_argument("--min-object", type=float, default=d.min_object,
                   help="smallest object side / image side (default %(default)s)")
    p.add_argument("--max-object", type=float, default=d.max_object,
                   help="largest object side / image side (default %(default)s)")
    p.add_argument("--max-objects", type=int, default=d.max_objects, help="objects per image, at most")
    p.add_argument("--clutter", type=int, default=d.clutter, help="unlabelled distractors per image")
    p.add_argument("--jpeg-quality", type=int, default=d.jpeg_quality,
                   help="JPEG quality 10..100 (default %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 written or reused, 2 bad input, 130 interrupted).

    Every error is one line on stderr: what went wrong, where, and the fix.
    """
    from tuner import tfquiet

    args = _parser().parse_args(argv)
    spec = DatasetSpec(train=args.train, eval=args.eval, size=args.size, seed=args.seed,
                       classes=tuple(c.strip() for c in args.classes.split(",") if c.strip()),
                       min_object=args.min_object, max_object=args.max_object,
                       max_objects=args.max_objects, clutter=args.clutter, jpeg_quality=args.jpeg_quality)
    try:
        with tfquiet.quietly():  # TensorFlow's start-up lines and Google's FutureWarnings stay off ours
            dataset = generate(args.out, spec)
    except (DatasetSpecError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: cannot write the dataset to {args.out}: {reason}{where} "
              "(fix: choose an --out directory that can be created and written)", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: cannot write the dataset to {args.out}: {exc} (fix: check the options, see --help)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: nothing was written to {args.out}", file=sys.stderr)
        return 130
    print(f"wrote {spec.train} train / {spec.eval} eval images ({spec.size}px, classes "
          f"{', '.join(spec.classes)}) to {dataset.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
