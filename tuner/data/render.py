"""What one synthetic image looks like: the dataset spec and the renderer.

Every image is a pure function of ``(spec, split, index)``: coloured shapes of several sizes
and aspect ratios on a noisy gradient, several per image (overlapping at most half of an
earlier one), with unlabelled clutter (lines, blobs) and an occasional blur. Writing the
images as TFRecords is :mod:`tuner.data.shapes`.
"""
from __future__ import annotations

import dataclasses
import io
import math

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
    "rod": (5.0, 7.0),        # a thin horizontal bar, about 1:6
    "stick": (1 / 7.0, 1 / 5.0),  # a thin vertical bar, about 6:1
}
DEFAULT_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "bar")


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
    else:  # square, bar, pillar, rod, stick
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
