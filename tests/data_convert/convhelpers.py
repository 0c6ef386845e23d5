"""Helpers of the conversion tests: the CLI in a subprocess, and records decoded by the OD API.

tests/data_convert is on sys.path for its own test modules (pytest's rootdir import mode), so
they import this module by name.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tuner.data.formats import Format
from tuner.data.render import DatasetSpec

ROOT = Path(__file__).resolve().parents[2]
#: 24 small images, 1..3 objects each, 3 classes with different aspect ratios, no clutter.
SPEC = DatasetSpec(train=24, eval=1, size=64, seed=5, classes=("circle", "bar", "pillar"), min_object=0.15,
                   max_object=0.5, max_objects=3, clutter=0)
#: How each format is converted in the round trip (shard counts differ to cover both layouts).
ROUND_TRIP_SHARDS = {Format.COCO: 2, Format.VOC: 1, Format.YOLO: 3, Format.CSV: 1}
ROUND_TRIP_SPLIT = "train=0.5,eval=0.25,test=0.25"


def cli_args(*args: object) -> list[str]:
    return [sys.executable, "-m", "tuner.data", *map(str, args)]


def cli(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m tuner.data ARGS`` from the repository root."""
    return subprocess.run(cli_args(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(returncode: int, stderr: str, *fragments: str) -> str:
    """Exit 2 and exactly one stderr line ``error: ...`` holding every fragment; returns the line."""
    assert returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("convert: ")]  # progress lines
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def leftovers(out: Path) -> list[str]:
    """Staging directories of ``out`` left in its parent (there must be none)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@dataclasses.dataclass(frozen=True)
class Decoded:
    """One record as the OD API's decoder sees it, plus the raw feature values."""

    split: str
    source_id: str
    filename: str
    encoded: bytes
    format: str
    sha256: str
    height: int
    width: int
    image_shape: tuple[int, ...]
    boxes: np.ndarray   # (N, 4) ymin, xmin, ymax, xmax
    classes: np.ndarray  # (N,) 1-based label ids
    texts: tuple[str, ...]


def manifest(out: Path) -> dict:
    return json.loads((out / "dataset.json").read_text(encoding="utf-8"))


def decode(out: Path) -> list[Decoded]:
    """Every record of a converted dataset, split by split, decoded with the OD API's
    ``TfExampleDecoder`` (after the project's compat shims, as training applies them)."""
    import tuner.odapi  # noqa: F401  (applies tuner.compat: tf-slim's decoder needs it on TF 2.15)
    import tensorflow as tf
    from object_detection.core.standard_fields import InputDataFields as F
    from object_detection.data_decoders.tf_example_decoder import TfExampleDecoder

    decoder = TfExampleDecoder()
    found = []
    for split, info in manifest(out)["splits"].items():
        for name in info["files"]:
            for raw in tf.data.TFRecordDataset(str(out / name)):
                t = decoder.decode(raw)
                feature = tf.train.Example.FromString(raw.numpy()).features.feature
                found.append(Decoded(
                    split=split,
                    source_id=t[F.source_id].numpy().decode(),
                    filename=t[F.filename].numpy().decode(),
                    encoded=feature["image/encoded"].bytes_list.value[0],
                    format=feature["image/format"].bytes_list.value[0].decode(),
                    sha256=t[F.key].numpy().decode(),
                    height=int(feature["image/height"].int64_list.value[0]),
                    width=int(feature["image/width"].int64_list.value[0]),
                    image_shape=tuple(t[F.image].shape),
                    boxes=t[F.groundtruth_boxes].numpy(),
                    classes=t[F.groundtruth_classes].numpy(),
                    texts=tuple(v.decode() for v in feature["image/object/class/text"].bytes_list.value)))
    return found
