"""tuner.anchors.boxes: ground truth from TFRecords, checked against the OD API's own decoder,
and every bad-record case named by file and record index."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tuner.anchors import AnchorError
from tuner.anchors.boxes import read_ground_truth

_KEYS = ("ymin", "xmin", "ymax", "xmax")


def _example(boxes=(), labels=None, texts=None, hw=(100, 200), encoded: bytes | None = None,
             coords: dict[str, list] | None = None) -> bytes:
    """One serialized record like tuner.data.shapes writes; ``coords`` overrides the bbox lists
    (to write inconsistent ones), ``hw=None`` leaves out image/height and image/width."""
    def floats(v):
        return tf.train.Feature(float_list=tf.train.FloatList(value=v))

    def ints(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=v))

    feature = {"image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"jpeg"]))}
    if hw is not None:
        feature["image/height"], feature["image/width"] = ints([hw[0]]), ints([hw[1]])
    if encoded is not None:
        feature["image/encoded"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
    coords = coords if coords is not None else {k: [b[i] for b in boxes] for i, k in enumerate(_KEYS)}
    for key, values in coords.items():
        feature[f"image/object/bbox/{key}"] = floats(values)
    labels = list(labels) if labels is not None else list(range(1, len(boxes) + 1))
    feature["image/object/class/label"] = ints(labels)
    if texts is not None:
        feature["image/object/class/text"] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[t.encode() for t in texts]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write(path: Path, records: list[bytes]) -> Path:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def _image(h: int, w: int, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(out, format=fmt)
    return out.getvalue()


GOOD = _example([(0.1, 0.2, 0.5, 0.6)], labels=[3])


def test_reads_what_was_written(tmp_path: Path) -> None:
    boxes0 = [(0.1, 0.2, 0.5, 0.6), (0.0, 0.0, 1.0, 1.0)]
    path = _write(tmp_path / "a.record", [
        _example(boxes0, labels=[2, 1], texts=["square", "circle"], hw=(100, 200)),
        _example([], hw=(50, 60)),
        _example([(0.25, 0.5, 0.75, 0.875)], labels=[2], texts=["square"], hw=(30, 40)),
    ])
    gt = read_ground_truth([str(path)])
    written = np.array(boxes0 + [(0.25, 0.5, 0.75, 0.875)], np.float32).astype(np.float64)
    np.testing.assert_array_equal(gt.boxes, written)
    assert gt.boxes.dtype == np.float64 and gt.boxes.shape == (3, 4)
    assert gt.classes.tolist() == [2, 1, 2] and gt.classes.dtype == np.int64
    assert gt.image_index.tolist() == [0, 0, 2] and gt.image_index.dtype == np.int64
    assert gt.image_hw.tolist() == [[100, 200], [100, 200], [30, 40]] and gt.image_hw.dtype == np.int64
    assert gt.class_names == {1: "circle", 2: "square"}
    assert gt.images == 3 and gt.files == (str(path),)


def test_records_without_labels_or_texts(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.record", [_example([(0.1, 0.1, 0.2, 0.2)], labels=[]), GOOD])
    gt = read_ground_truth([str(path)])
    assert gt.classes.tolist() == [-1, 3] and gt.class_names == {}


def test_agrees_with_the_od_api_decoder(tmp_path: Path) -> None:
    from tuner import compat
    compat.apply()
    from object_detection.core import standard_fields as fields
    from object_detection.data_decoders.tf_example_decoder import TfExampleDecoder

    from tuner.data import shapes

    dataset = shapes.generate(tmp_path / "shapes", shapes.DatasetSpec(train=8, eval=2, size=64, seed=3))
    gt = read_ground_truth([str(dataset.train_record)])
    decoder = TfExampleDecoder()
    records = list(tf.data.TFRecordDataset(str(dataset.train_record)))
    assert gt.images == len(records) == 8
    for index, serialized in enumerate(records):
        decoded = decoder.decode(serialized)
        mine = gt.image_index == index
        np.testing.assert_array_equal(gt.boxes[mine].astype(np.float32),
                                      decoded[fields.InputDataFields.groundtruth_boxes].numpy())
        np.testing.assert_array_equal(gt.classes[mine], decoded[fields.InputDataFields.groundtruth_classes].numpy())
        image_hw = decoded[fields.InputDataFields.original_image_spatial_shape].numpy()
        assert (gt.image_hw[mine] == image_hw).all()
    assert set(gt.class_names.values()) <= set(dataset.spec.classes)


def test_sharded_pattern_reads_shards_in_order(tmp_path: Path) -> None:
    b = [_example([(0.1 * i, 0.1, 0.1 * i + 0.05, 0.2)], labels=[i + 1]) for i in range(5)]
    second = _write(tmp_path / "train.record-00001-of-00002", b[3:])
    first = _write(tmp_path / "train.record-00000-of-00002", b[:3])
    _write(tmp_path / "eval.record-00000-of-00001", [GOOD])  # not matched
    gt = read_ground_truth([str(tmp_path / "train.record-?????-of-00002")])
    assert gt.files == (str(first), str(second))
    assert gt.images == 5 and gt.image_index.tolist() == [0, 1, 2, 3, 4]
    assert gt.classes.tolist() == [1, 2, 3, 4, 5]
    limited = read_ground_truth([str(tmp_path / "train.record-*")], max_records=4)
    assert limited.images == 4 and limited.classes.tolist() == [1, 2, 3, 4]
    assert read_ground_truth([str(tmp_path / "train.record-*")], max_records=2).files == (str(first),)


def test_coordinates_within_tolerance_are_clipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.record", [_example([(-0.0005, 0.2, 1.0009, 0.6)])])
    np.testing.assert_array_equal(read_ground_truth([str(path)]).boxes[0, [0, 2]], [0.0, 1.0])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_missing_image_size_is_read_from_the_image_header(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path / "a.record", [_example([(0.1, 0.1, 0.2, 0.2)], hw=None, encoded=_image(37, 53, fmt))])
    assert read_ground_truth([str(path)]).image_hw.tolist() == [[37, 53]]


_BAD: dict[str, tuple[bytes, str]] = {
    "not an example": (b"\x00garbage\xff", "does not parse"),
    "bbox stored as ints": (tf.train.Example(features=tf.train.Features(feature={
        "image/object/bbox/ymin": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))})).SerializeToString(),
        "does not parse"),
    "outside [0, 1]": (_example([(0.1, 0.2, 0.5, 1.2)]), r"box 0: xmax 1\.2 is outside \[0, 1\]"),
    "in pixels": (_example([(0.1, 0.2, 0.5, 0.6), (10, 20, 50, 60)]), r"box 1: ymin 10 is outside"),
    "not finite": (_example([(0.1, 0.2, float("nan"), 0.6)]), "ymax nan is outside"),
    "inverted": (_example([(0.6, 0.2, 0.4, 0.6)]), r"box 0: ymin 0\.6 >= ymax 0\.4"),
    "degenerate": (_example([(0.1, 0.3, 0.5, 0.3)]), r"xmin 0\.3 >= xmax 0\.3"),
    "coordinate counts differ": (_example(coords={"ymin": [0.1, 0.2], "xmin": [0.1, 0.2], "ymax": [0.3],
                                                  "xmax": [0.4, 0.5]}, labels=[1, 1]),
                                 "different numbers of values .ymin 2, xmin 2, ymax 1, xmax 2."),
    "label count differs": (_example([(0.1, 0.2, 0.5, 0.6), (0.1, 0.2, 0.5, 0.6)], labels=[1]),
                            "2 boxes but 1 image/object/class/label"),
    "no size, no image": (_example([(0.1, 0.1, 0.2, 0.2)], hw=None), "no image/height and image/width"),
    "no size, bad image": (_example([(0.1, 0.1, 0.2, 0.2)], hw=None, encoded=b"\xff\xd8not a jpeg"),
                           "cannot be decoded"),
}


@pytest.mark.parametrize("case", sorted(_BAD))
def test_bad_record_is_named_by_file_and_index(tmp_path: Path, case: str) -> None:
    record, message = _BAD[case]
    _write(tmp_path / "a-00000-of-00002", [GOOD] * 3)
    bad_file = _write(tmp_path / "a-00001-of-00002", [GOOD, GOOD, record, GOOD])
    with pytest.raises(AnchorError, match=message) as info:
        read_ground_truth([str(tmp_path / "a-*")])
    text = str(info.value)
    assert f"{bad_file}, record 2" in text and "(fix: " in text and "\n" not in text


def test_records_stop_after_max_records_before_a_bad_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.record", [GOOD, GOOD, _example([(0.6, 0.2, 0.4, 0.6)])])
    assert read_ground_truth([str(path)], max_records=2).images == 2


def test_corrupt_tfrecord_names_the_first_unreadable_record(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.record", [GOOD] * 300)
    with open(path, "ab") as handle:
        handle.write(b"\x01\x02\x03 cut short")
    with pytest.raises(AnchorError, match=f"{path}, record 300: not a valid TFRecord"):
        read_ground_truth([str(path)])


def test_no_file_matches(tmp_path: Path) -> None:
    pattern = str(tmp_path / "train.record-?????-of-00010")
    with pytest.raises(AnchorError, match=r"input path '.*train\.record-\?\?\?\?\?-of-00010' matches no file"):
        read_ground_truth([pattern])


def test_records_without_boxes(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.record", [_example([]), _example([])])
    with pytest.raises(AnchorError, match=f"records without boxes: none of the 2 records in {path}"):
        read_ground_truth([str(path)])


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_max_records(tmp_path: Path, bad) -> None:
    path = _write(tmp_path / "a.record", [GOOD])
    with pytest.raises(AnchorError, match="max_records"):
        read_ground_truth([str(path)], max_records=bad)
