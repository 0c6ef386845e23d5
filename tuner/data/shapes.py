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
import io
import json
import math
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Shapes the generator can draw, with the aspect ratio (width / height) range of each.
SHAPES: dict[str, tuple[float, float]] = {
    "circle": (1.0, 1.0),
    "square": (1.0, 1.0),
    "triangle": (0.8, 1.25),
    "bar": (2.5, 4.0),        # wide and flat
    "pillar": (0.25, 0.4),    # tall and thin
    "ellipse": (1.5, 2.5),
}
DEFAULT_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "bar")

TRAIN_RECORD = "train.record"
EVAL_RECORD = "eval.record"
LABEL_MAP = "label_map.pbtxt"
MANIFEST = "dataset.json"


class DatasetSpecError(ValueError):
    """A dataset parameter is out of range; the message says which and how to fix it."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Parameters of a synthetic dataset. Equal specs produce byte-identical files."""

    train: int = 512
    eval: int = 64
    size: int = 128
    seed: int = 0
    classes: tuple[str, ...] = DEFAULT_CLASSES
    min_object: float = 0.08   # smallest object side, as a fraction of the image side
    max_object: float = 0.5    # largest object side, as a fraction of the image side
    max_objects: int = 4       # objects per image: 1..max_objects
    clutter: int = 6           # unlabelled distractors per image (lines, blobs)
    jpeg_quality: int = 90

    def validate(self) -> None:
        """Raises:
            DatasetSpecError: naming the parameter, its value and the valid range.
        """
        unknown = [c for c in self.classes if c not in SHAPES]
        if unknown:
            raise DatasetSpecError(
                f"unknown class {unknown[0]!r} in --classes; choose from {', '.join(SHAPES)}")
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise DatasetSpecError("--classes must list at least one shape, each once")
        checks = [
            (self.train >= 1, f"--train must be >= 1 (got {self.train})"),
            (self.eval >= 1, f"--eval must be >= 1 (got {self.eval})"),
            (32 <= self.size <= 1024, f"--size must be in 32..1024 pixels (got {self.size})"),
            (0.02 <= self.min_object <= self.max_object <= 0.9,
             f"need 0.02 <= --min-object <= --max-object <= 0.9 (got {self.min_object}, {self.max_object})"),
            (1 <= self.max_objects <= 20, f"--max-objects must be in 1..20 (got {self.max_objects})"),
            (0 <= self.clutter <= 50, f"--clutter must be in 0..50 (got {self.clutter})"),
            (10 <= self.jpeg_quality <= 100, f"--jpeg-quality must be in 10..100 (got {self.jpeg_quality})"),
        ]
        for ok, message in checks:
            if not ok:
                raise DatasetSpecError(message)


@dataclasses.dataclass(frozen=True)
class Box:
    """One labelled object, normalised coordinates in [0, 1]."""

    label: str
    ymin: float
    xmin: float
    ymax: float
    xmax: float


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Paths of a written dataset."""

    root: Path
    train_record: Path
    eval_record: Path
    label_map: Path
    spec: DatasetSpec


def _rng(spec: DatasetSpec, split: str, index: int) -> np.random.Generator:
    split_id = {"train": 1, "eval": 2}[split]
    return np.random.default_rng([spec.seed, split_id, index])


def _colour(rng: np.random.Generator, avoid: np.ndarray | None = None) -> tuple[int, int, int]:
    while True:
        c = rng.integers(0, 256, size=3)
        if avoid is None or np.abs(c.astype(int) - avoid.astype(int)).sum() > 160:
            return int(c[0]), int(c[1]), int(c[2])


def _background(rng: np.random.Generator, size: int) -> tuple[Image.Image, np.ndarray]:
    base = rng.integers(40, 216, size=3)
    gradient = np.linspace(-30, 30, size)[None, :, None] * rng.uniform(-1, 1, size=3)
    noise = rng.normal(0, 12, size=(size, size, 3))
    pixels = np.clip(base[None, None, :] + gradient + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB"), base


def _draw_clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, count: int,
                  base: np.ndarray) -> None:
    for _ in range(count):
        colour = _colour(rng, base)
        if rng.random() < 0.6:  # a line: thin, so no box fits it
            x0, y0, x1, y1 = (float(v) for v in rng.uniform(0, size, size=4))
            draw.line([x0, y0, x1, y1], fill=colour, width=int(rng.integers(1, 3)))
        else:  # a small irregular blob, smaller than the smallest object
            cx, cy = rng.uniform(0, size, size=2)
            r = max(1.0, size * 0.015)
            pts = [(float(cx + r * math.cos(a) * rng.uniform(0.5, 1.5)),
                    float(cy + r * math.sin(a) * rng.uniform(0.5, 1.5)))
                   for a in np.linspace(0, 2 * math.pi, 7, endpoint=False)]
            draw.polygon(pts, fill=colour)


def _draw_object(draw: ImageDraw.ImageDraw, shape: str, x0: float, y0: float, w: float, h: float,
                 colour: tuple[int, int, int]) -> None:
    x1, y1 = x0 + w, y0 + h
    if shape in ("circle", "ellipse"):
        draw.ellipse([x0, y0, x1, y1], fill=colour)
    elif shape == "triangle":
        draw.polygon([(x0 + w / 2, y0), (x1, y1), (x0, y1)], fill=colour)
    else:  # square, bar, pillar
        draw.rectangle([x0, y0, x1, y1], fill=colour)


def _covered_fraction(earlier: Box, later: Box) -> float:
    """Fraction of ``earlier``'s area that ``later`` covers."""
    dy = min(earlier.ymax, later.ymax) - max(earlier.ymin, later.ymin)
    dx = min(earlier.xmax, later.xmax) - max(earlier.xmin, later.xmin)
    area = (earlier.ymax - earlier.ymin) * (earlier.xmax - earlier.xmin)
    return max(dy, 0.0) * max(dx, 0.0) / area if area > 0 else 1.0


def render(spec: DatasetSpec, split: str, index: int) -> tuple[bytes, list[Box]]:
    """Render one image and its boxes; a pure function of ``(spec, split, index)``.

    Returns:
        (JPEG bytes, labelled boxes).
    """
    rng = _rng(spec, split, index)
    size = spec.size
    image, base = _background(rng, size)
    draw = ImageDraw.Draw(image)
    _draw_clutter(draw, rng, size, spec.clutter // 2, base)
    boxes: list[Box] = []
    for _ in range(int(rng.integers(1, spec.max_objects + 1))):
        label = spec.classes[int(rng.integers(len(spec.classes)))]
        lo_ar, hi_ar = SHAPES[label]
        aspect = math.exp(rng.uniform(math.log(lo_ar), math.log(hi_ar)))
        # Log-uniform object scale: as many small objects as large ones.
        scale = math.exp(rng.uniform(math.log(spec.min_object), math.log(spec.max_object))) * size
        w = min(scale * math.sqrt(aspect), size * 0.95)
        h = min(scale / math.sqrt(aspect), size * 0.95)
        w, h = max(w, 3.0), max(h, 3.0)
        for _attempt in range(10):  # never hide more than half of an earlier object
            x0 = float(rng.uniform(0, size - w))
            y0 = float(rng.uniform(0, size - h))
            box = Box(label, y0 / size, x0 / size, min(1.0, (y0 + h) / size), min(1.0, (x0 + w) / size))
            if all(_covered_fraction(earlier, box) <= 0.5 for earlier in boxes):
                break
        else:
            continue
        _draw_object(draw, label, x0, y0, w, h, _colour(rng, base))
        boxes.append(box)
    _draw_clutter(draw, rng, size, spec.clutter - spec.clutter // 2, base)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.3, 1.0))))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=spec.jpeg_quality)
    return buffer.getvalue(), boxes


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


def generate(out: str | os.PathLike[str], spec: DatasetSpec = DatasetSpec()) -> Dataset:
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
    p = argparse.ArgumentParser(prog="python -m tuner.data.shapes", description=__doc__.split("\n\n")[0])
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
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    spec = DatasetSpec(train=args.train, eval=args.eval, size=args.size, seed=args.seed,
                       classes=tuple(c.strip() for c in args.classes.split(",") if c.strip()),
                       min_object=args.min_object, max_object=args.max_object,
                       max_objects=args.max_objects, clutter=args.clutter, jpeg_quality=args.jpeg_quality)
    try:
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
