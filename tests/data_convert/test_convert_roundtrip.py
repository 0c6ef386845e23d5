"""Round trip: shapes images with known boxes -> COCO / VOC / YOLO / CSV -> ``python -m tuner.data
convert`` -> records decoded by the OD API's own ``TfExampleDecoder``: the same images (byte for
byte), boxes and classes, each image in exactly one split."""
from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest
from convhelpers import ROUND_TRIP_SHARDS, SPEC, decode, manifest

from tuner.data.formats import Format

FORMATS = list(Format)


@pytest.fixture(scope="module")
def decoded(round_trip):
    return {fmt: decode(out) for fmt, (_, out, proc) in round_trip.items() if proc.returncode == 0}


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.value for f in FORMATS])
def test_cli_converts_every_image(round_trip, fmt) -> None:
    _, out, proc = round_trip[fmt]
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {SPEC.train} images" in proc.stdout
    assert "skipped" not in proc.stdout
    assert "Traceback" not in proc.stderr
    shards = ROUND_TRIP_SHARDS[fmt]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["dataset.json", "label_map.pbtxt"]
        + [f"{split}.record-{i:05d}-of-{shards:05d}" for split in ("train", "eval", "test") for i in range(shards)])


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.value for f in FORMATS])
def test_records_hold_the_source_images_boxes_and_classes(round_trip, decoded, shapes_items, fmt) -> None:
    from object_detection.utils import label_map_util

    source, out, _ = round_trip[fmt]
    records = decoded[fmt]
    label_map = label_map_util.get_label_map_dict(str(out / "label_map.pbtxt"))
    # COCO (categories by id) and YOLO (class list) keep the source's order; VOC and CSV sort the names.
    order = SPEC.classes if fmt in (Format.COCO, Format.YOLO) else tuple(sorted(SPEC.classes))
    assert label_map == {name: i for i, name in enumerate(order, 1)}
    names = {i: name for name, i in label_map.items()}

    expected = {item.filename: item for item in shapes_items}
    assert sorted(r.source_id for r in records) == sorted(expected)  # every image once, source ids unique
    for r in records:
        item = expected[r.source_id]
        assert r.filename == item.filename
        assert r.encoded == (source.image_dir / item.filename).read_bytes()  # never re-encoded
        assert r.format == "jpeg" and r.sha256 == hashlib.sha256(r.encoded).hexdigest()
        assert (r.height, r.width) == (SPEC.size, SPEC.size) and r.image_shape == (SPEC.size, SPEC.size, 3)
        want = np.array([[b.ymin, b.xmin, b.ymax, b.xmax] for b in item.boxes])
        assert r.boxes.shape == want.shape
        np.testing.assert_allclose(r.boxes, want, atol=1e-5, rtol=0)
        assert [names[int(c)] for c in r.classes] == [b.label for b in item.boxes]
        assert list(r.texts) == [b.label for b in item.boxes]


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.value for f in FORMATS])
def test_splits_are_disjoint_seeded_and_counted(round_trip, decoded, shapes_items, fmt) -> None:
    _, out, _ = round_trip[fmt]
    records = decoded[fmt]
    m = manifest(out)
    members = {split: {r.source_id for r in records if r.split == split} for split in m["splits"]}
    assert {s: len(v) for s, v in members.items()} == {"train": 12, "eval": 6, "test": 6}
    assert sum(map(len, members.values())) == len(set().union(*members.values())) == SPEC.train
    assert m["split"] == {"train": 0.5, "eval": 0.25, "test": 0.25} and m["seed"] == 7
    assert m["source"]["format"] == fmt.value and m["skipped"] == {}
    boxes = Counter(b.label for item in shapes_items for b in item.boxes)
    images = Counter(label for item in shapes_items for label in {b.label for b in item.boxes})
    assert {n: (c["images"], c["boxes"]) for n, c in m["per_class"].items()} == \
        {n: (images[n], boxes[n]) for n in SPEC.classes}
    for split, info in m["splits"].items():
        mine = [r for r in records if r.split == split]
        assert info["images"] == len(mine) and info["boxes"] == sum(len(r.boxes) for r in mine)
        assert sum(c["boxes"] for c in info["per_class"].values()) == info["boxes"]


def test_equal_seeds_give_equal_splits_in_every_format(round_trip, decoded) -> None:
    """The shuffle depends on the seed and the file names only, not on the format or reading order."""
    assignments = {fmt: {r.source_id: r.split for r in records} for fmt, records in decoded.items()}
    assert len(assignments) == len(Format)
    first = assignments[Format.COCO]
    assert all(a == first for a in assignments.values())
