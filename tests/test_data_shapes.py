"""tuner.data.shapes: deterministic, valid OD API TFRecords with varied sizes and aspect ratios."""
from __future__ import annotations

import hashlib
import json
import os
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


def _fake_records(path, spec, split, count) -> None:
    """Stands in for the TFRecord writer: the file layout without TensorFlow."""
    path.write_bytes(f"{split}:{count}".encode())


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuner.data.shapes", *args], capture_output=True, text=True,
                          timeout=120)


def _one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.mark.usefixtures("odapi")
def test_cli_writes_a_dataset_and_reuses_it(tmp_path, capsys) -> None:
    out = tmp_path / "data"
    args = ["--out", str(out), "--train", "3", "--eval", "2", "--size", "64", "--classes", "circle,bar"]
    assert shapes.main(args) == 0
    assert capsys.readouterr().out == f"wrote 3 train / 2 eval images (64px, classes circle, bar) to {out}\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [shapes.TRAIN_RECORD, shapes.EVAL_RECORD, shapes.LABEL_MAP, shapes.MANIFEST])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"], "no temporary directory is left"
    manifest = json.loads((out / shapes.MANIFEST).read_text())
    assert manifest["spec"]["train"] == 3 and manifest["spec"]["classes"] == ["circle", "bar"]
    before = (out / shapes.TRAIN_RECORD).stat().st_mtime_ns
    assert shapes.main(args) == 0  # complete already: reused
    assert (out / shapes.TRAIN_RECORD).stat().st_mtime_ns == before


@pytest.mark.usefixtures("odapi")
def test_cli_prints_only_its_own_line(tmp_path) -> None:
    """TensorFlow's start-up lines and Google's FutureWarnings (printed on import) stay off the terminal."""
    out = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    result = subprocess.run([sys.executable, "-m", "tuner.data.shapes", "--out", str(out), "--train", "2", "--eval",
                             "1", "--size", "64"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [f"wrote 2 train / 1 eval images (64px, classes "
                                          f"{', '.join(shapes.DatasetSpec().classes)}) to {out}"]


@pytest.mark.usefixtures("odapi")
def test_cli_object_size_and_clutter_flags_change_the_data(tmp_path, capsys) -> None:
    base = ["--train", "4", "--eval", "1", "--size", "64"]
    variants = {"default": [], "min": ["--min-object", "0.2"], "max": ["--max-object", "0.3"],
                "clutter": ["--clutter", "0"], "quality": ["--jpeg-quality", "50"]}
    digests = {}
    for name, flags in variants.items():
        assert shapes.main(["--out", str(tmp_path / name), *base, *flags]) == 0
        digests[name] = _digest(tmp_path / name / shapes.TRAIN_RECORD)
    assert len(set(digests.values())) == len(variants), digests
    spec = json.loads((tmp_path / "min" / shapes.MANIFEST).read_text())["spec"]
    assert (spec["min_object"], spec["max_object"], spec["clutter"]) == (0.2, 0.5, 6)
    spec = json.loads((tmp_path / "clutter" / shapes.MANIFEST).read_text())["spec"]
    assert spec["clutter"] == 0 and spec["max_object"] == 0.5


def test_object_size_flags_bound_the_boxes() -> None:
    small = shapes.DatasetSpec(min_object=0.05, max_object=0.1, classes=("circle", "square"))
    big = shapes.DatasetSpec(min_object=0.6, max_object=0.7, classes=("circle", "square"))
    side = lambda b: max(b.xmax - b.xmin, b.ymax - b.ymin)  # noqa: E731
    assert all(side(b) <= 0.1 + 1e-6 for i in range(30) for b in shapes.render(small, "train", i)[1])
    assert all(side(b) >= 0.6 - 1e-6 for i in range(30) for b in shapes.render(big, "train", i)[1])


def test_cli_bad_out_is_one_line_error(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker / "x", blocker):
        result = _run_cli("--out", str(out))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        line = _one_line_error(result.stderr)
        assert line == (f"error: cannot write the dataset to {out}: Not a directory ({blocker}) "
                        "(fix: choose an --out directory that can be created and written)")
    if sys.platform.startswith("linux"):
        result = _run_cli("--out", "/proc/nope/x")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert _one_line_error(result.stderr).startswith("error: cannot write the dataset to /proc/nope/x: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.parametrize("content, detail", [
    ("{not json", "JSONDecodeError"), ("[]", "TypeError"), ('{"generator": "x"}', "KeyError"),
    ('{"spec": 3}', "its 'spec' is not an object"),
])
def test_cli_corrupt_manifest_is_one_line_error(tmp_path, content, detail) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / shapes.MANIFEST).write_text(content)
    result = _run_cli("--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = _one_line_error(result.stderr)
    assert line.startswith(f"error: {out / shapes.MANIFEST} is not a readable shapes manifest (")
    assert detail in line and line.endswith(f"delete {out} (for the demo data: make clean-demo) "
                                            "or choose another --out")


def test_records_without_manifest_name_the_directory_and_say_delete(tmp_path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / shapes.TRAIN_RECORD).write_bytes(b"half")
    with pytest.raises(FileExistsError) as info:
        shapes.generate(out, shapes.DatasetSpec(train=2, eval=1, size=64))
    assert str(info.value) == (f"{out} holds train.record but no dataset.json: an interrupted run or another "
                               f"dataset, not a finished shapes dataset; delete {out} (for the demo data: "
                               "make clean-demo) or choose another --out")


def test_an_interrupted_run_leaves_nothing_that_looks_finished(tmp_path, monkeypatch, capsys) -> None:
    def interrupted(path, spec, split, count) -> None:
        _fake_records(path, spec, split, count)
        if split == "eval":
            raise KeyboardInterrupt

    monkeypatch.setattr(shapes, "_write_records", interrupted)
    out = tmp_path / "data"
    assert shapes.main(["--out", str(out), "--train", "2", "--eval", "1"]) == 130
    assert capsys.readouterr().err == f"interrupted: nothing was written to {out}\n"
    assert list(tmp_path.iterdir()) == [], "neither the dataset nor its temporary directory is left"
    monkeypatch.setattr(shapes, "_write_records", _fake_records)
    dataset = shapes.generate(out, shapes.DatasetSpec(train=2, eval=1))  # the next run is not blocked
    assert dataset.train_record.read_bytes() == b"train:2" and (out / shapes.MANIFEST).exists()


def test_generate_into_an_existing_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(shapes, "_write_records", _fake_records)
    empty = tmp_path / "empty"
    empty.mkdir()
    shapes.generate(empty, shapes.DatasetSpec(train=2, eval=1))  # an empty directory is replaced atomically
    assert (empty / shapes.MANIFEST).exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "README").write_text("mine")
    shapes.generate(busy, shapes.DatasetSpec(train=2, eval=1))  # other files stay; ours move in
    assert (busy / "README").read_text() == "mine" and (busy / shapes.MANIFEST).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "empty"]
