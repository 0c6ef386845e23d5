"""``python -m tuner.data stats``: the numbers of a converted fixture, in source and input pixels,
and the PNGs."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from convhelpers import SPEC, assert_one_line_error, manifest
from PIL import Image

from tuner.data.__main__ import main
from tuner.data.formats import Format
from tuner.data.stats import Group, collect, find_groups
from tuner.paths import PIPELINES_DIR

COUNT = 12
SHAPES_CONFIG = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"  # fixed_shape_resizer 128x128


@pytest.fixture
def converted(exported, shapes_items, tmp_path: Path) -> Path:
    """12 shapes images and one negative (an empty YOLO label file), converted with --keep-empty."""
    e = exported(Format.YOLO, COUNT)
    Image.new("RGB", (64, 64), (90, 90, 90)).save(e.image_dir / "empty.jpg", format="JPEG")
    (e.src / "empty.txt").write_text("")
    out = tmp_path / "out"
    assert main(["convert", "--format", "yolo", str(e.src), "--out", str(out), "--keep-empty",
                 "--split", "train=0.75,eval=0.25"]) == 0
    return out


def _expected(shapes_items, scale: float) -> dict[str, tuple[int, int, float, float]]:
    """class -> (images, boxes, median size, median aspect) of the first COUNT shapes images."""
    items = shapes_items[:COUNT]
    boxes = [b for item in items for b in item.boxes]
    images = Counter(label for item in items for label in {b.label for b in item.boxes})
    found = {}
    for name in SPEC.classes:
        mine = [b for b in boxes if b.label == name]
        w = np.array([b.xmax - b.xmin for b in mine])
        h = np.array([b.ymax - b.ymin for b in mine])
        found[name] = (images[name], len(mine), float(np.median(np.sqrt(w * h) * scale)), float(np.median(w / h)))
    return found


def test_stats_prints_the_numbers_and_writes_pngs(converted: Path, shapes_items, capsys) -> None:
    assert main(["stats", str(converted)]) == 0
    out = capsys.readouterr().out
    m = manifest(converted)
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["class", "id", "images", "boxes", "boxes", "train"]
    expected = _expected(shapes_items, SPEC.size)
    for name, (images, boxes, size, aspect) in expected.items():
        row = next(line.split() for line in lines if line.startswith(name + " "))
        assert row[2:4] == [str(images), str(boxes)]
        assert row[4:6] == [str(m["splits"]["train"]["per_class"][name]["boxes"]),
                            str(m["splits"]["eval"]["per_class"][name]["boxes"])]
        assert float(row[6].split("/")[1]) == pytest.approx(size, rel=6e-3)  # printed to 3 digits
        assert float(row[7].split("/")[1]) == pytest.approx(aspect, rel=6e-3)
    assert "size = sqrt(box area) in source image pixels" in out
    negative_split = _negative_split(converted)
    for split in ("train", "eval"):
        info = m["splits"][split]
        negatives = 1 if split == negative_split else 0
        assert f"{split}: {info['images']} images ({negatives} without boxes), {info['boxes']} boxes" in out
    for name in ("class_counts.png", "box_sizes.png", "aspect_ratios.png"):
        path = converted / "stats" / name
        assert f"picture: {path}" in out
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(path).size[0] >= 400


def _negative_split(out: Path) -> str:
    from convhelpers import decode

    return next(r.split for r in decode(out) if r.source_id == "empty.jpg")


def test_config_measures_boxes_in_the_model_input_frame(converted: Path, shapes_items, tmp_path, capsys) -> None:
    from tuner import config as cfgmod

    groups = find_groups([str(converted)])
    source = collect(groups)
    framed = collect(groups, cfgmod.load(SHAPES_CONFIG).model)
    assert framed.unit == "input pixels (128x128)"
    np.testing.assert_allclose(framed.sizes, source.sizes * 128 / SPEC.size, rtol=1e-9)
    np.testing.assert_allclose(framed.aspects, source.aspects, rtol=1e-9)
    expected = _expected(shapes_items, 128)
    assert {c.name: (c.images, c.boxes) for c in framed.classes} == {n: v[:2] for n, v in expected.items()}
    assert {c.name: c.size[1] for c in framed.classes} == pytest.approx({n: v[2] for n, v in expected.items()},
                                                                        rel=1e-4)
    pngs = tmp_path / "pngs"
    assert main(["stats", str(converted / "train.record-*"), "--config", str(SHAPES_CONFIG), "--out", str(pngs)]) == 0
    out = capsys.readouterr().out
    assert "in input pixels (128x128)" in out and "records: " in out
    assert sorted(p.name for p in pngs.iterdir()) == ["aspect_ratios.png", "box_sizes.png", "class_counts.png"]


def test_a_split_the_manifest_says_has_no_box_is_counted_not_read(converted: Path) -> None:
    m = manifest(converted)
    m["splits"]["eval"]["boxes"] = 0
    (converted / "dataset.json").write_text(json.dumps(m))
    groups = find_groups([str(converted)])
    assert [g.name for g in groups] == ["train", "eval"]
    assert groups[1] == Group("eval", (str(converted / "eval.record-?????-of-00001"),), m["splits"]["eval"]["images"])
    stats = collect(groups)
    assert stats.groups["eval"] == (m["splits"]["eval"]["images"],) * 2 + (0,)


def test_groups_of_a_directory_without_splits_come_from_file_names(tmp_path: Path) -> None:
    for name in ("train.record", "eval.record-00000-of-00002", "eval.record-00001-of-00002", "label_map.pbtxt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "dataset.json").write_text('{"generator": "tuner.data.shapes", "spec": {}}')
    assert [(g.name, len(g.paths)) for g in find_groups([str(tmp_path)])] == [("eval", 2), ("train", 1)]


@pytest.mark.parametrize("args, fragments", [
    (["DIR"], ("no records in",)),
    (["DIR/none.record"], ("matches no file",)),
])
def test_stats_errors_are_one_line(args, fragments, tmp_path, capsys) -> None:
    code = main(["stats", *(a.replace("DIR", str(tmp_path)) for a in args)])
    assert_one_line_error(code, capsys.readouterr().err, *fragments)
