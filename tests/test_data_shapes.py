"""tuner.data.shapes: deterministic, valid OD API TFRecords with varied sizes and aspect ratios."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from tuner.data import shapes


def test_render_is_a_pure_function_of_spec_split_index() -> None:
    spec = shapes.DatasetSpec(size=96, seed=3)
    assert shapes.render(spec, "train", 5) == shapes.render(spec, "train", 5)
    assert shapes.render(spec, "train", 5)[0] != shapes.render(spec, "train", 6)[0]
    assert shapes.render(spec, "train", 5)[0] != shapes.render(spec, "eval", 5)[0]
    other = shapes.DatasetSpec(size=96, seed=4)
    assert shapes.render(spec, "train", 5)[0] != shapes.render(other, "train", 5)[0]


def test_boxes_are_normalised_and_varied() -> None:
    spec = shapes.DatasetSpec(classes=("circle", "bar", "pillar"))
    boxes = [b for i in range(200) for b in shapes.render(spec, "train", i)[1]]
    assert all(0 <= b.xmin < b.xmax <= 1 and 0 <= b.ymin < b.ymax <= 1 for b in boxes)
    sides = [max(b.xmax - b.xmin, b.ymax - b.ymin) for b in boxes]
    assert min(sides) < 0.12 and max(sides) > 0.4, "objects must span small to large"
    aspect = {b.label: (b.xmax - b.xmin) / (b.ymax - b.ymin) for b in boxes}
    assert aspect["bar"] > 2 and aspect["pillar"] < 0.5 and 0.9 < aspect["circle"] < 1.1
    counts = [len(shapes.render(spec, "train", i)[1]) for i in range(50)]
    assert max(counts) > 1, "several objects per image"


def test_label_map_parses_with_the_od_api_proto() -> None:
    from google.protobuf import text_format
    from object_detection.protos import string_int_label_map_pb2

    label_map = text_format.Parse(shapes.label_map_text(["circle", "bar"]),
                                  string_int_label_map_pb2.StringIntLabelMap())
    assert [(i.id, i.name) for i in label_map.item] == [(1, "circle"), (2, "bar")]


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": ("circle", "hexagon")}, "unknown class 'hexagon'"),
    ({"train": 0}, "--train must be >= 1"),
    ({"size": 8}, "--size must be in 32..1024"),
    ({"min_object": 0.6, "max_object": 0.5}, "--min-object <= --max-object"),
    ({"max_objects": 0}, "--max-objects"),
])
def test_bad_specs_are_rejected_with_the_flag_named(kwargs, message) -> None:
    with pytest.raises(shapes.DatasetSpecError, match=message.replace(".", r"\.").replace("(", r"\(")):
        shapes.DatasetSpec(**kwargs).validate()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.usefixtures("odapi")
def test_generate_is_deterministic_reusable_and_never_overwrites(tmp_path) -> None:
    spec = shapes.DatasetSpec(train=6, eval=2, size=64, seed=0)
    a = shapes.generate(tmp_path / "a", spec)
    b = shapes.generate(tmp_path / "b", spec)
    assert _digest(a.train_record) == _digest(b.train_record)
    assert _digest(a.eval_record) == _digest(b.eval_record)
    before = a.train_record.stat().st_mtime_ns
    shapes.generate(tmp_path / "a", spec)  # complete already: reused, not rewritten
    assert a.train_record.stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match="different shapes dataset"):
        shapes.generate(tmp_path / "a", shapes.DatasetSpec(train=7, eval=2, size=64))
    assert _digest(a.train_record) == _digest(b.train_record)


@pytest.mark.usefixtures("odapi")
def test_records_decode_with_the_od_api_decoder(shapes_dataset) -> None:
    import tuner.odapi  # noqa: F401
    import tensorflow as tf
    from object_detection.data_decoders import tf_example_decoder

    decoder = tf_example_decoder.TfExampleDecoder()
    records = list(tf.data.TFRecordDataset(str(shapes_dataset.eval_record)))
    assert len(records) == shapes_dataset.spec.eval
    decoded = decoder.decode(records[0])
    assert tuple(decoded["image"].shape) == (128, 128, 3)
    classes = decoded["groundtruth_classes"].numpy()
    boxes = decoded["groundtruth_boxes"].numpy()
    assert len(classes) == len(boxes) >= 1
    assert set(classes.tolist()) <= {1, 2, 3, 4}


def test_cli_rejects_bad_input_with_one_line_and_exit_2(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "tuner.data.shapes", "--out", str(tmp_path / "x"),
                             "--classes", "circle,hexagon"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: unknown class 'hexagon' in --classes; choose from "
                                                  + ", ".join(shapes.SHAPES)]
    assert not (tmp_path / "x").exists()
