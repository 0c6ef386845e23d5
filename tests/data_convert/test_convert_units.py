"""The conversion's parts one by one: split fractions and assignment, the format registry, the
readers' class lists, box checks, the skip tally, the label map, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuner.data.checks import normalize_boxes
from tuner.data.convert import ConvertOptions, convert
from tuner.data.formats import DatasetReader, Format, ImageRecord, ObjectBox, Units, open_reader
from tuner.data.issues import DatasetError, Issue, Scope, SkipReason, SkipTally, StrictError
from tuner.data.split import DEFAULT_SPLIT, SplitSpec, Splitter


def test_split_spec_parses_the_default_and_keeps_order() -> None:
    spec = SplitSpec.parse(DEFAULT_SPLIT)
    assert spec.fractions == (("train", 0.8), ("eval", 0.1), ("test", 0.1))
    assert SplitSpec.parse(" train = 0.7 , val=0.3 ").names == ("train", "val")


@pytest.mark.parametrize("text", ["train=0.5,eval=0.5", DEFAULT_SPLIT, "a=0.34,b=0.33,c=0.33", "only=1"])
def test_splitter_keeps_every_prefix_within_one_image_of_its_share(text: str) -> None:
    spec = SplitSpec.parse(text)
    splitter = Splitter(spec)
    for n in range(1, 101):
        splitter.assign()
        assert sum(splitter.counts.values()) == n
        for name, fraction in spec.fractions:
            assert abs(splitter.counts[name] - fraction * n) < 1 + 1e-9, (n, splitter.counts)


def test_every_format_has_a_reader_named_like_it() -> None:
    for fmt in Format:
        assert issubclass(fmt.reader, DatasetReader) and fmt.reader.name == fmt.value
    assert Format.parse(" COCO ") is Format.COCO
    with pytest.raises(DatasetError, match="unknown format 'kitti'; choose one of coco, voc, yolo, csv"):
        Format.parse("kitti")


def test_coco_classes_are_ordered_by_category_id_whatever_the_listing(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"images": [], "annotations": [], "categories": [
        {"id": 90, "name": "zebra"}, {"id": 3, "name": "car"}, {"id": 17, "name": "apple"}]}))
    assert open_reader("coco", path).classes() == ("car", "apple", "zebra")


@pytest.mark.parametrize("names", ["names: [cat, dog]\n", "names:\n  0: cat\n  1: dog\n"])
def test_yolo_reads_data_yaml_names_beside_or_above_the_labels(tmp_path: Path, names: str) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "data.yaml").write_text(f"path: .\n{names}")
    assert open_reader(Format.YOLO, tmp_path / "labels").classes() == ("cat", "dog")


def test_readers_never_open_images(tmp_path: Path) -> None:
    """Annotations alone: the images directory may be empty when reading."""
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>0</width><height>0</height></size><object><name>cat"
        "</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>2.5</ymin><xmax>30</xmax><ymax>40</ymax>"
        "</bndbox></object></annotation>")
    issues: list[Issue] = []
    [record] = open_reader(Format.VOC, tmp_path / "Annotations").records(issues.append)
    assert issues == [] and record.size is None  # a declared 0x0 size is no size: the header decides
    assert record.path == tmp_path / "Annotations" / "a.jpg"  # no JPEGImages sibling: beside the XML
    assert record.boxes == (ObjectBox("cat", 1.0, 2.5, 30.0, 40.0, "a.xml, object 1", difficult=True),)


def test_box_checks_clip_within_a_pixel_and_normalise_yolo_boxes() -> None:
    record = ImageRecord("a.jpg", Path("a.jpg"), "a.txt", boxes=(
        ObjectBox("cat", 0.25, 0.5, 0.75, 1.0, "line 1"),            # normalised: 40x20 image
        ObjectBox("cat", -0.01, 0.0, 0.5, 1.02, "line 2"),           # 0.4 px outside: clipped
        ObjectBox("cat", 0.5, 0.5, 1.2, 0.9, "line 3"),              # 8 px outside: skipped
        ObjectBox("cat", 0.5, 0.5, 0.5, 0.9, "line 4")), units=Units.NORMALIZED)
    issues: list[Issue] = []
    boxes = normalize_boxes(record, height=20, width=40, report=issues.append)
    assert [(b.ymin, b.xmin, b.ymax, b.xmax) for b in boxes] == [(0.5, 0.25, 1.0, 0.75), (0.0, 0.0, 1.0, 0.5)]
    assert [(i.reason, i.where, i.detail) for i in issues] == [
        (SkipReason.BOX_OUTSIDE, "line 3", "xmax 1.2 outside 0..1 (normalized) of the 40x20 image"),
        (SkipReason.DEGENERATE_BOX, "line 4", "xmin 0.5 >= xmax 0.5")]


def test_tally_counts_by_scope_keeps_few_examples_and_strict_raises() -> None:
    tally = SkipTally(examples=2)
    for k in range(5):
        tally.report(Issue(SkipReason.BOX_OUTSIDE, f"line {k}", "x", 1))
    tally.report(Issue(SkipReason.MISSING_IMAGE, "a.xml", "looked for a.jpg", 3))
    assert (tally.images, tally.boxes) == (1, 8)
    assert tally.to_json()["box_outside"]["examples"] == ["line 0: x", "line 1: x"]
    assert [row[:3] for row in tally.rows()] == [("image file not found", "1", "3"),
                                                 ("box outside the image", "-", "5")]
    with pytest.raises(StrictError) as caught:
        SkipTally(strict=True).report(Issue(SkipReason.MISSING_IMAGE, "a.xml", "looked for a.jpg", 3))
    assert caught.value.issue.reason is SkipReason.MISSING_IMAGE


def test_every_reason_has_a_scope_summary_and_fix() -> None:
    for reason in SkipReason:
        assert isinstance(reason.scope, Scope) and reason.summary and reason.fix
        assert "\n" not in Issue(reason, "here", "detail").one_line(strict=True)


def test_label_map_with_quotes_and_unicode_loads_back_through_label_map_util(tmp_path: Path) -> None:
    from tuner.data.records import write_label_map

    from object_detection.utils import label_map_util

    names = ["o'brien", 'say "hi"', "café"]
    write_label_map(tmp_path / "label_map.pbtxt", names)  # also raises itself if the OD API cannot read it back
    categories = label_map_util.create_categories_from_labelmap(str(tmp_path / "label_map.pbtxt"))
    assert [(c["id"], c["name"]) for c in categories] == [(1, "o'brien"), (2, 'say "hi"'), (3, "café")]


def test_equal_seeds_give_identical_files_and_other_seeds_other_splits(exported, tmp_path: Path) -> None:
    e = exported(Format.YOLO, 12)
    outs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        outs[name] = tmp_path / name
        convert(ConvertOptions(Format.YOLO, e.src, outs[name], seed=seed, split=SplitSpec.parse("train=0.5,eval=0.5")))
    files = sorted(p.name for p in outs["a"].iterdir() if p.name != "dataset.json")
    assert all((outs["a"] / f).read_bytes() == (outs["b"] / f).read_bytes() for f in files)
    assert (outs["a"] / "train.record-00000-of-00001").read_bytes() != \
        (outs["c"] / "train.record-00000-of-00001").read_bytes()
