"""What a dataset of OD API TFRecords holds: per-class image and box counts, box sizes, aspect ratios.

:func:`collect` reads the records with the anchor analysis' reader
(:func:`tuner.anchors.boxes.read_ground_truth`: boxes, labels and image sizes, no image decoded)
and, given a pipeline config, measures the boxes in the model's input frame with
:func:`tuner.anchors.boxes.to_input_frame` (the frame the anchors see), else in the pixels of
their source images. A box's size is the square root of its area; its aspect ratio is width /
height. :func:`table` prints the numbers; :mod:`tuner.data.stats_plot` draws them.

Sources: a directory written by ``python -m tuner.data convert`` (one group per split, from its
``dataset.json``) or by ``tuner.data.shapes`` (one group per ``NAME.record*`` file set), or
TFRecord files and globs (one group).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tuner.data.issues import DatasetError

__all__ = ["ClassStats", "DatasetStats", "Group", "collect", "find_groups", "table"]


@dataclasses.dataclass(frozen=True)
class Group:
    """A set of records read together (a split): its name, input paths, and (when a manifest
    says it holds no box) its image count, so it is not read."""

    name: str
    paths: tuple[str, ...]
    images_without_reading: int | None = None


@dataclasses.dataclass(frozen=True)
class ClassStats:
    """One class over all groups: counts (and per group), size and aspect ratio percentiles."""

    id: int
    name: str
    images: int
    boxes: int
    boxes_by_group: dict[str, int]
    size: tuple[float, float, float]    # 10th, 50th, 90th percentile, pixels
    aspect: tuple[float, float, float]  # 10th, 50th, 90th percentile of width / height


@dataclasses.dataclass(frozen=True)
class DatasetStats:
    """Everything :func:`collect` measured.

    Attributes:
        groups: name -> (images, images without boxes, boxes).
        classes: per class, by id.
        sizes, aspects, class_ids: per box (all groups), for the histograms.
        unit: the pixels sizes are in (``source image pixels`` or ``input pixels (HxW)``).
    """

    groups: dict[str, tuple[int, int, int]]
    classes: tuple[ClassStats, ...]
    sizes: np.ndarray
    aspects: np.ndarray
    class_ids: np.ndarray
    unit: str


def _manifest_groups(directory: Path) -> list[Group] | None:
    path = directory / "dataset.json"
    if not path.is_file():
        return None
    try:
        splits = json.loads(path.read_text(encoding="utf-8")).get("splits")
    except (ValueError, OSError, AttributeError):
        raise DatasetError(f"{path} is not a readable dataset manifest; rewrite the dataset, or name its record "
                           "files instead of the directory") from None
    if not isinstance(splits, dict):
        return None  # a manifest without splits (tuner.data.shapes): group by file name
    groups = []
    for name, info in splits.items():
        if not info.get("images"):
            continue
        pattern = str(directory / info["input_path"])
        groups.append(Group(name, (pattern,), info["images"] if info.get("boxes") == 0 else None))
    return groups


def find_groups(sources: Sequence[str]) -> list[Group]:
    """The record groups of ``sources``: one directory, or record files and globs.

    Raises:
        DatasetError: a directory among several sources, a directory without records, or a
            source that does not exist.
    """
    if len(sources) == 1 and Path(sources[0]).is_dir():
        directory = Path(sources[0])
        groups = _manifest_groups(directory)
        if groups is None:
            names: dict[str, list[str]] = {}
            for path in sorted(directory.iterdir()):
                stem, sep, _ = path.name.partition(".record")
                if sep and path.is_file():
                    names.setdefault(stem, []).append(str(path))
            groups = [Group(stem, tuple(files)) for stem, files in names.items()]
        if not groups:
            raise DatasetError(f"no records in {directory} (no NAME.record files, no dataset.json with splits); "
                               "give a directory written by python -m tuner.data convert, or record files")
        return groups
    for source in sources:
        if Path(source).is_dir():
            raise DatasetError(f"{source} is a directory; give one dataset directory, or record files and globs")
    return [Group("records", tuple(sources))]


def _percentiles(values: np.ndarray) -> tuple[float, float, float]:
    if not len(values):
        return (float("nan"),) * 3
    p = np.percentile(values, [10, 50, 90])
    return float(p[0]), float(p[1]), float(p[2])


def collect(groups: Sequence[Group], model_cfg: Any | None = None) -> DatasetStats:
    """Read every group and measure it (boxes in ``model_cfg``'s input frame when given).

    Raises:
        tuner.anchors.AnchorError: unreadable or invalid records, a group without any box, or a
            model whose input frame the anchor analysis cannot map.
    """
    from tuner.anchors.boxes import read_ground_truth, to_input_frame

    group_counts: dict[str, tuple[int, int, int]] = {}
    hw_parts, class_parts, group_parts, image_parts = [], [], [], []
    names: dict[int, str] = {}
    unit = "source image pixels"
    for g, group in enumerate(groups):
        if group.images_without_reading is not None:
            group_counts[group.name] = (group.images_without_reading, group.images_without_reading, 0)
            continue
        truth = read_ground_truth(list(group.paths))
        if model_cfg is not None:
            frame, boxes = to_input_frame(truth, model_cfg)
            scale = np.array([[frame.height, frame.width]], dtype=np.float64)
            unit = f"input pixels ({frame.height}x{frame.width})"
        else:
            boxes, scale = truth.boxes, truth.image_hw.astype(np.float64)
        hw_parts.append(np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1) * scale)
        class_parts.append(truth.classes)
        group_parts.append(np.full(len(truth.classes), g))
        image_parts.append(truth.image_index)
        for cid, name in truth.class_names.items():
            names.setdefault(cid, name)
        with_boxes = len(np.unique(truth.image_index))
        group_counts[group.name] = (truth.images, truth.images - with_boxes, len(truth.classes))
    hw = np.concatenate(hw_parts) if hw_parts else np.zeros((0, 2))
    class_ids = np.concatenate(class_parts) if class_parts else np.zeros(0, np.int64)
    group_of = np.concatenate(group_parts) if group_parts else np.zeros(0, np.int64)
    image_of = np.concatenate(image_parts) if image_parts else np.zeros(0, np.int64)
    sizes = np.sqrt(hw[:, 0] * hw[:, 1])
    aspects = hw[:, 1] / hw[:, 0]
    classes = []
    for cid in np.unique(class_ids):
        mask = class_ids == cid
        images = len({(int(g), int(i)) for g, i in zip(group_of[mask], image_of[mask])})
        by_group = {group.name: int((mask & (group_of == g)).sum()) for g, group in enumerate(groups)}
        classes.append(ClassStats(int(cid), names.get(int(cid), f"class {cid}"), images, int(mask.sum()), by_group,
                                  _percentiles(sizes[mask]), _percentiles(aspects[mask])))
    return DatasetStats(group_counts, tuple(classes), sizes, aspects, class_ids, unit)


def _g(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.3g}"


def table(stats: DatasetStats) -> str:
    """The per-class table (boxes per group when there are several), then one line per group."""
    from tuner.cli import text_table

    several = len(stats.groups) > 1
    header = ["class", "id", "images", "boxes", *([f"boxes {g}" for g in stats.groups] if several else []),
              "size p10/p50/p90", "aspect p10/p50/p90"]
    rows = [[c.name, str(c.id), str(c.images), str(c.boxes),
             *([str(c.boxes_by_group.get(g, 0)) for g in stats.groups] if several else []),
             "/".join(_g(v) for v in c.size), "/".join(_g(v) for v in c.aspect)] for c in stats.classes]
    lines = text_table(header, rows)
    lines.append(f"size = sqrt(box area) in {stats.unit}; aspect = width / height")
    for name, (images, empty, boxes) in stats.groups.items():
        lines.append(f"{name}: {images} images ({empty} without boxes), {boxes} boxes")
    return "\n".join(lines)
