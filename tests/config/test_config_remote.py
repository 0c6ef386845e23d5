"""Remote paths (gs://, s3://, hdfs://): recognised, never read, never reported as missing."""
from __future__ import annotations

import pytest
from configfixtures import SHAPES

from tuner.config import (Severity, ConfigFileError, count_records, expand_input_paths, is_remote, lint, load,
                          load_label_map, point_to_dataset, set_value, url_scheme)
from tuner.config.findings import LintContext

GS_TRAIN = "gs://bucket/data/train.record-?????-of-00010"
GS_EVAL = "gs://bucket/data/eval.record-?????-of-00010"
GS_LABEL_MAP = "gs://bucket/label_map.pbtxt"


@pytest.mark.parametrize("path, scheme", [
    ("gs://bucket/x", "gs"), ("s3://b/k", "s3"), ("hdfs://nn:8020/d", "hdfs"), ("GS://B/x", "gs"),
    ("file:///tmp/x", "file"), ("/data/train.record", None), ("data/gs://odd", None),
    ("C:\\data\\train.record", None), ("C:/data/train.record", None), ("", None),
])
def test_url_scheme(path: str, scheme: str | None):
    assert url_scheme(path) == scheme
    assert is_remote(path) == (scheme is not None)


def _checked(findings):
    """The findings other than the "remote path was not checked" warnings (asserted to be warnings)."""
    skipped = [f for f in findings if "was not checked" in f.message]
    assert all(f.severity is Severity.WARNING and "remote path" in f.message for f in skipped)
    return [f for f in findings if f not in skipped]


@pytest.fixture
def remote(shapes, dataset):
    """The demo config pointed at a dataset in a bucket (the seed user's layout)."""
    point_to_dataset(shapes, dataset.train, dataset.eval, dataset.label_map)  # num_classes 3 from a local copy
    for reader in ("train_input_reader", "eval_input_reader[0]"):
        set_value(shapes, f"{reader}.tf_record_input_reader.input_path", [GS_TRAIN if reader[0] == "t" else GS_EVAL])
        set_value(shapes, f"{reader}.label_map_path", GS_LABEL_MAP)
    shapes.train_config.ClearField("max_number_of_boxes")
    return shapes


def test_lint_does_not_call_remote_inputs_and_label_maps_missing(remote, tmp_path):
    warned = sorted(f.path for f in lint(remote) if "was not checked" in f.message)
    assert warned == ["eval_input_reader[0].label_map_path", "eval_input_reader[0].tf_record_input_reader.input_path[0]",
                      "train_input_reader.label_map_path", "train_input_reader.tf_record_input_reader.input_path[0]"]
    assert _checked(lint(remote)) == []
    assert _checked(lint(remote, base_dir=tmp_path)) == []  # never joined to a base directory
    assert _checked(lint(remote, check_anchors=True)) == []  # remote boxes are not read either
    set_value(remote, "train_config.batch_size", 100000)  # remote records are not counted
    assert _checked(lint(remote)) == []


@pytest.mark.parametrize("scheme", ["s3", "hdfs", "az"])
def test_other_schemes_are_remote_too(remote, scheme: str):
    set_value(remote, "eval_input_reader[0].label_map_path", f"{scheme}://bucket/label_map.pbtxt")
    set_value(remote, "train_input_reader.tf_record_input_reader.input_path", [f"{scheme}://bucket/train-*"])
    assert _checked(lint(remote)) == []


def test_local_paths_beside_remote_ones_are_still_checked(remote, tmp_path):
    set_value(remote, "eval_input_reader[0].tf_record_input_reader.input_path", [str(tmp_path / "gone-*")])
    set_value(remote, "eval_input_reader[0].label_map_path", str(tmp_path / "gone.pbtxt"))
    assert sorted(f.path for f in _checked(lint(remote))) == ["eval_input_reader[0].label_map_path",
                                                    "eval_input_reader[0].tf_record_input_reader.input_path[0]"]


def test_seed_style_config_lints_without_errors(tmp_path):
    cfg = load(SHAPES)
    set_value(cfg, "train_input_reader.tf_record_input_reader.input_path", [GS_TRAIN])
    set_value(cfg, "eval_input_reader[0].tf_record_input_reader.input_path", [GS_EVAL])
    set_value(cfg, "train_input_reader.label_map_path", GS_LABEL_MAP)
    set_value(cfg, "eval_input_reader[0].label_map_path", GS_LABEL_MAP)
    assert _checked(lint(cfg, base_dir=tmp_path)) == []  # the local demo config itself is clean
    assert all(f.severity is Severity.WARNING for f in lint(cfg, base_dir=tmp_path))  # warnings only


def test_readers_refuse_remote_paths_with_a_clear_error():
    with pytest.raises(ConfigFileError, match=r"label map file gs://bucket/label_map.pbtxt is remote \(gs://\)"):
        load_label_map(GS_LABEL_MAP)
    with pytest.raises(ConfigFileError, match=r"is remote \(gs://\): only local files are listed"):
        expand_input_paths(GS_TRAIN)
    with pytest.raises(ConfigFileError, match=r"TFRecord file s3://b/train.record is remote \(s3://\)"):
        count_records("s3://b/train.record")
    with pytest.raises(ConfigFileError, match=r"config file gs://b/pipeline.config is remote"):
        load("gs://b/pipeline.config")


def test_lint_context_leaves_remote_paths_alone():
    ctx = LintContext("/base", check_files=True)
    assert ctx.resolve(GS_TRAIN) == GS_TRAIN
    assert ctx.resolve("train.record") == "/base/train.record"
