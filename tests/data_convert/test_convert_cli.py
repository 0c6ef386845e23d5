"""``python -m tuner.data convert``: bad options and sources fail with one line and exit 2, before any
work; the output directory is refused, replaced or created whole."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from convhelpers import assert_one_line_error, cli, leftovers, manifest

from tuner.data.__main__ import main
from tuner.data.formats import Format


def test_unknown_format_is_one_line_without_traceback(tmp_path) -> None:
    result = cli("convert", "--format", "kitti", tmp_path, "--out", tmp_path / "out", timeout=60)
    assert_one_line_error(result.returncode, result.stderr, "invalid choice: 'kitti'", "'coco', 'voc', 'yolo', 'csv'")
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_missing_source_is_one_line_without_traceback(tmp_path) -> None:
    result = cli("convert", "--format", "coco", tmp_path / "nope.json", "--out", tmp_path / "out", timeout=60)
    line = assert_one_line_error(result.returncode, result.stderr)
    assert line == f"error: source not found: {tmp_path / 'nope.json'}; give the COCO annotation JSON file " \
                   "(e.g. annotations/instances_train.json)"
    assert not (tmp_path / "out").exists()


EXPECTS = {Format.COCO: "give the COCO annotation JSON file", Format.VOC: "give the directory of Pascal VOC XML files",
           Format.YOLO: "give the directory of YOLO label files", Format.CSV: "give the CSV file with the columns"}


@pytest.mark.parametrize("fmt", list(Format), ids=[f.value for f in Format])
def test_missing_source_names_what_each_format_expects(fmt, tmp_path, capsys) -> None:
    code = main(["convert", "--format", fmt.value, str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert_one_line_error(code, capsys.readouterr().err, "source not found", EXPECTS[fmt])


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("fmt, make, fragments", [
    ("coco", lambda d: d, ("is a directory", "--format coco takes the COCO annotation JSON file")),
    ("coco", lambda d: _write(d / "a.json", "{not json"), ("not valid JSON", "line 1 column 2")),
    ("coco", lambda d: _write(d / "a.json", '{"images": []}'), ("no 'images' and 'categories' lists",)),
    ("coco", lambda d: _write(d / "a.json", json.dumps({"images": [], "categories": [
        {"id": 1, "name": "cat"}, {"id": 5, "name": "cat"}]})), ("category name 'cat' used by ids 1 and 5",)),
    ("voc", lambda d: _write(d / "a.xml", "<annotation/>"), ("is not a directory",)),
    ("voc", lambda d: d, ("no .xml files in",)),
    ("yolo", lambda d: d, ("no class names (classes.txt or data.yaml)", "write classes.txt")),
    ("yolo", lambda d: _write(d / "data.yaml", "names: {0: a, 2: b}\n").parent, ("must map 0, 1, ... 1 to names",)),
    ("yolo", lambda d: _write(d / "classes.txt", "a\nb\na\n").parent, ("class name 'a' listed twice",)),
    ("csv", lambda d: _write(d / "a.csv", "filename,class,xmin\nx.jpg,a,1\n"),
     ("no column width, height, ymin, xmax, ymax in the header",)),
], ids=["coco-dir", "coco-json", "coco-keys", "coco-names", "voc-file", "voc-empty", "yolo-classes", "yolo-yaml",
        "yolo-twice", "csv-columns"])
def test_malformed_sources_are_one_line_errors(fmt, make, fragments, tmp_path, capsys) -> None:
    (tmp_path / "src").mkdir()
    src = make(tmp_path / "src")
    code = main(["convert", "--format", fmt, str(src), "--out", str(tmp_path / "out")])
    assert_one_line_error(code, capsys.readouterr().err, *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options, fragment", [
    (["--split", "train=0.8,eval=0.1"], "--split fractions sum to 0.9, not 1"),
    (["--split", "train=0.9,eval"], "--split part 'eval' is not name=fraction"),
    (["--split", "train=1,eval=0"], "--split fraction of eval is 0, not in (0, 1]"),
    (["--split", "train=0.5,train=0.5"], "--split names train twice"),
    (["--shards", "0"], "--shards 0 is not in 1..1000"),
    (["--classes", "a,,b"], "--classes lists no class or an empty name"),
    (["--classes", "a,b,a"], "--classes names a class twice"),
])
def test_bad_options_are_one_line_errors(options, fragment, exported, tmp_path, capsys) -> None:
    e = exported(Format.YOLO, 2)
    code = main(["convert", "--format", "yolo", str(e.src), "--out", str(tmp_path / "out"), *options])
    assert_one_line_error(code, capsys.readouterr().err, fragment)
    assert not (tmp_path / "out").exists()


def test_existing_out_is_refused_without_overwrite_and_left_alone(exported, tmp_path) -> None:
    e = exported(Format.YOLO, 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = cli("convert", "--format", "yolo", e.src, "--out", out, timeout=60)
    assert_one_line_error(result.returncode, result.stderr, f"--out {out} exists", "add --overwrite")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_overwrite_refuses_a_directory_it_did_not_write(exported, tmp_path, capsys) -> None:
    e = exported(Format.YOLO, 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = main(["convert", "--format", "yolo", str(e.src), "--out", str(out), "--overwrite"])
    assert_one_line_error(code, capsys.readouterr().err, "holds files but no dataset.json", "refusing to replace it")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_out_must_not_contain_the_source(exported, tmp_path, capsys) -> None:
    e = exported(Format.YOLO, 2)
    code = main(["convert", "--format", "yolo", str(e.src), "--out", str(e.src.parent), "--overwrite"])
    assert_one_line_error(code, capsys.readouterr().err, "contains the source data")


def test_overwrite_replaces_an_earlier_conversion_whole(exported, tmp_path, capsys) -> None:
    e = exported(Format.YOLO, 4)
    out = tmp_path / "out"
    assert main(["convert", "--format", "yolo", str(e.src), "--out", str(out), "--shards", "3"]) == 0
    assert main(["convert", "--format", "yolo", str(e.src), "--out", str(out), "--shards", "1", "--seed", "3",
                 "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "eval.record-00000-of-00001", "label_map.pbtxt",
                                                     "test.record-00000-of-00001", "train.record-00000-of-00001"]
    assert manifest(out)["seed"] == 3 and leftovers(out) == []


def test_output_table_and_hint(exported, tmp_path, capsys) -> None:
    e = exported(Format.YOLO, 4)
    out = tmp_path / "out"
    assert main(["convert", "--format", "yolo", str(e.src), "--out", str(out), "--split", "train=0.75,eval=0.25"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith(f"wrote 4 images, 10 boxes, 3 classes to {out} (yolo ")
    assert lines[1].split() == ["split", "images", "boxes", "input_path"]
    train = manifest(out)["splits"]["train"]
    assert lines[3].split() == ["train", "3", str(train["boxes"]), str(out / "train.record-?????-of-00001")]
    assert f"use it: python -m tuner.config edit BASE.config --data {out} -o NEW.config" in captured.out
    assert captured.err.strip().splitlines()[-1] == "convert: 4/4 images"  # the progress line (no terminal)


def test_tiny_dataset_warns_about_an_empty_split(exported, tmp_path, capsys) -> None:
    e = exported(Format.YOLO, 2)
    assert main(["convert", "--format", "yolo", str(e.src), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "warning: split eval is empty" in err and "warning: split test is empty" in err
