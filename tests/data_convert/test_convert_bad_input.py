"""The bad-input catalogue, case by case: by default the item is skipped and counted with its
reason (summary table, ``dataset.json``); with ``--strict`` the first one fails the run with one
line ``error: <what> in <where>; <fix>``, exit 2, and nothing is left on disk.

The CLI runs in-process (``tuner.data.__main__.main``) to keep these fast; the subprocess runs
are in test_convert_roundtrip.py and test_convert_cli.py.
"""
from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import Callable

import pytest
from convhelpers import assert_one_line_error, decode, leftovers, manifest
from PIL import Image

from tuner.data.__main__ import main
from tuner.data.export import Exported
from tuner.data.formats import Format
from tuner.data.issues import SkipReason

COUNT = 6  # images exported per case: train_000000.jpg .. train_000005.jpg


@dataclasses.dataclass(frozen=True)
class Case:
    """A dataset defect: how to make it, what the converter must report."""

    name: str
    fmt: Format
    make: Callable[[Exported], None]
    reason: SkipReason
    images: int          # images skipped for the reason
    boxes: int           # boxes lost for the reason
    where: str           # fragment of the place named
    detail: str          # fragment of the detail
    strict_first: SkipReason | None = None  # the first issue strict mode meets, when not ``reason``
    extra: int = 0       # image entries the defect adds to the COUNT exported


def _coco(e: Exported, edit: Callable[[dict], None]) -> None:
    data = json.loads(e.src.read_text())
    edit(data)
    e.src.write_text(json.dumps(data))


def _csv_edit(e: Exported, filename: str, column: str, value: str, first_only: bool = False) -> None:
    lines = e.src.read_text().splitlines()
    header = lines[0].split(",")
    done = False
    for i, line in enumerate(lines[1:], 1):
        cells = line.split(",")
        if cells[0] == filename and not (first_only and done):
            cells[header.index(column)] = value
            lines[i] = ",".join(cells)
            done = True
    e.src.write_text("\n".join(lines) + "\n")


def _voc_edit(e: Exported, stem: str, old: str, new: str) -> None:
    path = e.src / f"{stem}.xml"
    path.write_text(path.read_text().replace(old, new, 1))


def _bmp(e: Exported) -> None:
    jpg = e.image_dir / "train_000003.jpg"
    Image.open(jpg).save(e.image_dir / "train_000003.bmp", format="BMP")
    jpg.unlink()


def _copy(e: Exported) -> None:
    shutil.copy(e.image_dir / "train_000000.jpg", e.image_dir / "zcopy.jpg")
    shutil.copy(e.src / "train_000000.txt", e.src / "zcopy.txt")


def _empty_image(e: Exported) -> None:
    Image.new("RGB", (64, 48), (90, 90, 90)).save(e.image_dir / "empty.jpg", format="JPEG")
    _coco(e, lambda d: d["images"].append({"id": 50, "file_name": "empty.jpg", "width": 64, "height": 48}))


def _unknown_category(d: dict) -> None:
    d["annotations"][0]["category_id"] = 999


def _xmax(e: Exported, stem: str, value: str) -> None:
    """Set the xmax of the first object of ``stem``.xml."""
    path = e.src / f"{stem}.xml"
    text = path.read_text()
    start = text.index("<xmax>") + len("<xmax>")
    path.write_text(text[:start] + value + text[text.index("</xmax>"):])


CASES = [
    Case("missing image", Format.COCO, lambda e: (e.image_dir / "train_000002.jpg").unlink(),
         SkipReason.MISSING_IMAGE, 1, 3, "instances.json, image id 3 (train_000002.jpg)", "looked for"),
    Case("unreadable image", Format.VOC, lambda e: (e.image_dir / "train_000001.jpg").write_bytes(b"not a jpeg"),
         SkipReason.UNREADABLE_IMAGE, 1, 2, "train_000001.xml", "not an image Pillow can identify"),
    Case("unsupported image format", Format.YOLO, _bmp,
         SkipReason.UNSUPPORTED_IMAGE, 1, 3, "train_000003.txt", "is BMP"),
    Case("image size differs from the annotation", Format.CSV,
         lambda e: _csv_edit(e, "train_000004.jpg", "width", "100"),
         SkipReason.SIZE_MISMATCH, 1, 2, "labels.csv, line", "annotated 100x64, the file is 64x64"),
    Case("duplicate file name", Format.COCO,
         lambda e: _coco(e, lambda d: d["images"].append({**d["images"][0], "id": 99})),
         SkipReason.DUPLICATE_FILE, 1, 0, "instances.json, image id 99 (train_000000.jpg)",
         "also annotated in instances.json, image id 1", extra=1),
    Case("duplicate image content", Format.YOLO, _copy,
         SkipReason.DUPLICATE_CONTENT, 1, 2, ".txt", "same bytes as", extra=1),
    Case("unreadable annotation file", Format.VOC, lambda e: (e.src / "broken.xml").write_text("<annotation><filen"),
         SkipReason.BAD_ANNOTATION, 1, 0, "broken.xml", "not readable XML", extra=1),
    Case("image without annotation", Format.YOLO, lambda e: (e.src / "train_000005.txt").unlink(),
         SkipReason.NO_ANNOTATION, 1, 0, "train_000005.jpg (no train_000005.txt)", ""),
    Case("image annotated with no objects", Format.COCO, _empty_image,
         SkipReason.NO_OBJECTS, 1, 0, "instances.json, image id 50 (empty.jpg)", "", extra=1),
    Case("malformed box line", Format.YOLO,
         lambda e: (e.src / "train_000001.txt").open("a").write("0 0.5 oops 0.1 0.1\n"),
         SkipReason.BAD_BOX, 0, 1, "train_000001.txt, line 3", "is not 'class cx cy w h'"),
    Case("unknown class id (COCO)", Format.COCO, lambda e: _coco(e, _unknown_category),
         SkipReason.UNKNOWN_CLASS, 0, 1, "instances.json, annotation id 1", "category_id 999 is not in categories"),
    Case("unknown class index (YOLO)", Format.YOLO,
         lambda e: (e.src / "train_000002.txt").open("a").write("9 0.5 0.5 0.2 0.2\n"),
         SkipReason.UNKNOWN_CLASS, 0, 1, "train_000002.txt, line 4", "class 9; the class list has 3 (0..2)"),
    Case("box outside the image", Format.VOC, lambda e: _xmax(e, "train_000002", "200"),
         SkipReason.BOX_OUTSIDE, 0, 1, "train_000002.xml, object 1", "xmax 200 outside 0..64 (pixels)"),
    Case("box with zero area", Format.CSV, lambda e: _csv_edit(e, "train_000000.jpg", "xmax", "1", first_only=True),
         SkipReason.DEGENERATE_BOX, 0, 1, "labels.csv, line 2", ">= xmax 1"),
    Case("every box of an image skipped", Format.CSV, lambda e: _csv_edit(e, "train_000001.jpg", "ymax", "0"),
         SkipReason.NO_BOXES_LEFT, 1, 0, "labels.csv, line 4 (train_000001.jpg)", "",
         strict_first=SkipReason.DEGENERATE_BOX),
]
IDS = [c.name.replace(" ", "-") for c in CASES]


def _args(e: Exported, out: Path, *extra: str) -> list[str]:
    args = ["convert", "--format", e.fmt.value, str(e.src), "--out", str(out), "--split", "train=0.5,eval=0.5"]
    return args + (["--images", str(e.images)] if e.images is not None else []) + list(extra)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_skipped_by_default_with_reason_and_count(case: Case, exported, tmp_path, capsys) -> None:
    e = exported(case.fmt, COUNT)
    case.make(e)
    assert main(_args(e, tmp_path / "out")) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    skipped = manifest(tmp_path / "out")["skipped"]
    entry = skipped[case.reason.value]
    assert (entry["images"], entry["boxes"]) == (case.images, case.boxes)
    assert entry["scope"] == case.reason.scope.value and entry["fix"] == case.reason.fix
    assert case.where in entry["examples"][0] and case.detail in entry["examples"][0]
    assert case.reason.summary in stdout and "skipped" in stdout
    assert manifest(tmp_path / "out")["images"] == COUNT + case.extra - sum(v["images"] for v in skipped.values())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_strict_fails_on_the_first_with_one_line_and_writes_nothing(case: Case, exported, tmp_path, capsys) -> None:
    e = exported(case.fmt, COUNT)
    case.make(e)
    out = tmp_path / "out"
    code = main(_args(e, out, "--strict"))
    first = case.strict_first or case.reason
    line = assert_one_line_error(code, capsys.readouterr().err, f"error: {first.summary}", " in ",
                                 f"; {first.fix}, or run without --strict to skip the {first.scope.value}")
    if case.strict_first is None:
        assert case.where in line and case.detail in line
    assert not out.exists() and leftovers(out) == []


def test_strict_message_in_full(exported, tmp_path, capsys) -> None:
    e = exported(Format.COCO, COUNT)
    _coco(e, _unknown_category)
    assert main(_args(e, tmp_path / "out", "--strict")) == 2
    assert capsys.readouterr().err == (
        "error: unknown class (category_id 999 is not in categories) in instances.json, annotation id 1; use a class "
        "from the class list, or add the class to it, or run without --strict to skip the box\n")


def test_keep_empty_writes_negatives(exported, tmp_path, capsys) -> None:
    e = exported(Format.COCO, COUNT)
    _empty_image(e)
    assert main(_args(e, tmp_path / "out", "--keep-empty")) == 0
    records = {r.source_id: r for r in decode(tmp_path / "out")}
    assert len(records) == COUNT + 1 and records["empty.jpg"].boxes.shape == (0, 4)
    assert (records["empty.jpg"].height, records["empty.jpg"].width) == (48, 64)
    assert manifest(tmp_path / "out")["skipped"] == {}


def test_box_just_outside_is_clipped_not_skipped(exported, tmp_path, capsys) -> None:
    e = exported(Format.VOC, COUNT)
    _xmax(e, "train_000002", "64.6")  # within TOLERANCE_PX of the 64 px border
    assert main(_args(e, tmp_path / "out")) == 0
    record = next(r for r in decode(tmp_path / "out") if r.source_id == "train_000002.jpg")
    assert record.boxes[0, 3] == pytest.approx(1.0) and len(record.boxes) == 3
    assert manifest(tmp_path / "out")["skipped"] == {}


def test_classes_option_fixes_ids_and_skips_other_classes(exported, tmp_path, capsys) -> None:
    e = exported(Format.CSV, COUNT)
    assert main(_args(e, tmp_path / "out", "--classes", "pillar,circle")) == 0
    m = manifest(tmp_path / "out")
    assert m["classes"] == [{"id": 1, "name": "pillar"}, {"id": 2, "name": "circle"}]
    bars = sum(1 for r in decode(tmp_path / "out") for t in r.texts if t == "bar")
    assert bars == 0 and m["skipped"]["unknown_class"]["boxes"] == 4  # the bars of images 1, 3, 4
    assert "'bar' is not in --classes" in m["skipped"]["unknown_class"]["examples"][0]
    # train_000001.jpg holds only bars: skipped as a whole, not written as a negative
    assert m["skipped"]["no_boxes_left"]["images"] == 1


def test_interrupt_leaves_nothing(exported, tmp_path) -> None:
    from tuner.data.convert import ConvertOptions, convert

    class Interrupting:
        def update(self, n: int = 1) -> None:
            raise KeyboardInterrupt

        def close(self) -> None:
            pass

    e = exported(Format.YOLO, COUNT)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        convert(ConvertOptions(Format.YOLO, e.src, out), progress=lambda total: Interrupting())
    assert not out.exists() and leftovers(out) == []


def test_nothing_to_convert_is_an_error(exported, tmp_path, capsys) -> None:
    e = exported(Format.COCO, 2)
    for name in ("train_000000.jpg", "train_000001.jpg"):
        (e.image_dir / name).unlink()
    out = tmp_path / "out"
    code = main(_args(e, out))
    assert_one_line_error(code, capsys.readouterr().err, "no image to convert", "all 2 were skipped",
                          "'image file not found'", "pass --images DIR")
    assert not out.exists() and leftovers(out) == []


def test_image_bytes_are_read_once_per_image(exported, tmp_path, monkeypatch, capsys) -> None:
    reads: list[str] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self.name)
        return original(self)

    e = exported(Format.YOLO, COUNT)
    monkeypatch.setattr(Path, "read_bytes", counting)
    assert main(_args(e, tmp_path / "out")) == 0
    images = [r for r in reads if r.endswith(".jpg")]
    assert sorted(images) == sorted(f"train_{i:06d}.jpg" for i in range(COUNT))


def test_unsupported_bytes_are_checked_by_header_not_suffix(exported, tmp_path, capsys) -> None:
    e = exported(Format.CSV, COUNT)
    buffer = io.BytesIO()
    Image.open(e.image_dir / "train_000000.jpg").save(buffer, format="PNG")
    (e.image_dir / "train_000000.jpg").write_bytes(buffer.getvalue())  # a PNG named .jpg is fine
    assert main(_args(e, tmp_path / "out")) == 0
    record = next(r for r in decode(tmp_path / "out") if r.source_id == "train_000000.jpg")
    assert record.format == "png" and record.image_shape == (64, 64, 3)
