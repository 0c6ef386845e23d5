"""The CLI, driven through subprocess: every subcommand and the error exits."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from configfixtures import COSINE, ROOT, SHAPES, TF1, ZOO

from tuner.config import diff, dumps, format_diff, load, loads, point_to_dataset, save


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuner.config", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_show_prints_canonical_text():
    result = run("show", TF1)
    assert result.returncode == 0
    assert result.stdout == dumps(load(TF1))


def test_get_scalar_list_and_message():
    assert run("get", ZOO, "train_config.batch_size").stdout == "512\n"
    ratios = "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"
    assert run("get", ZOO, ratios).stdout == "[1.0, 2.0, 0.5, 3.0, 0.3333]\n"
    assert run("get", ZOO, "train_config.sync_replicas").stdout == "true\n"
    out = run("get", ZOO, COSINE).stdout
    assert "learning_rate_base: 0.8\n" in out and "total_steps: 50000" in out


def test_set_writes_output_and_never_touches_input(tmp_path: Path):
    src = tmp_path / "in.config"
    src.write_text(ZOO.read_text())
    before = src.read_text()
    out = tmp_path / "out.config"
    result = run("set", src, "train_config.batch_size=64", f"{COSINE}.learning_rate_base=0.4",
                 "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios=[1.0,2.0,0.5]",
                 "-o", out)
    assert result.returncode == 0 and result.stdout == ""
    assert src.read_text() == before
    cfg = load(out)
    assert cfg.train_config.batch_size == 64
    assert list(cfg.model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios) == [1.0, 2.0, 0.5]


def test_set_without_output_prints_and_in_place_needs_explicit_o(tmp_path: Path):
    src = tmp_path / "in.config"
    src.write_text(TF1.read_text())
    before = src.read_text()
    result = run("set", src, "train_config.batch_size=8")
    assert result.returncode == 0 and "batch_size: 8" in result.stdout
    assert src.read_text() == before
    assert run("set", src, "train_config.batch_size=8", "-o", src).returncode == 0
    assert load(src).train_config.batch_size == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.config"]


def test_add_and_remove(tmp_path: Path):
    out = tmp_path / "out.config"
    aug = "train_config.data_augmentation_options"
    assert run("add", ZOO, f"{aug}[random_adjust_brightness]={{max_delta: 0.2}}",
               f"{aug}[random_vertical_flip]", "-o", out).returncode == 0
    assert run("get", out, f"{aug}[random_adjust_brightness].max_delta").stdout == "0.2\n"
    assert run("remove", out, f"{aug}[random_vertical_flip]", "train_config.fine_tune_checkpoint",
               "-o", out).returncode == 0
    cfg = load(out)
    assert len(cfg.train_config.data_augmentation_options) == 3
    assert not cfg.train_config.HasField("fine_tune_checkpoint")


def test_an_edit_that_cannot_keep_the_layout_says_so(tmp_path: Path):
    """The layout is kept where the edit maps onto the file's lines (no note); where it cannot (a
    list of messages at the top level), the output is canonical and a note on stderr says so."""
    src = tmp_path / "odd.config"
    src.write_text("# lost\neval_input_reader: [{ shuffle: false }, { shuffle: true }]\n")
    result = run("remove", src, "eval_input_reader[0]")
    assert result.returncode == 0 and result.stdout == "eval_input_reader {\n  shuffle: true\n}\n"
    note = result.stderr.splitlines()
    assert len(note) == 1 and note[0].startswith(f"note: {src}: this edit cannot be written onto the file's own lines")
    kept = run("set", ZOO, "train_config.batch_size=64")
    assert kept.returncode == 0 and kept.stderr == "" and kept.stdout.count("\n") == ZOO.read_text().count("\n")


def test_diff():
    result = run("diff", ZOO, SHAPES)
    assert result.returncode == 0
    assert "model.ssd.image_resizer.fixed_shape_resizer.height: 320 -> 128" in result.stdout
    assert run("diff", TF1, TF1).stdout == ""


def test_lint_exit_codes(tmp_path: Path, dataset):
    result = run("lint", ZOO)
    assert result.returncode == 1
    assert "error: train_input_reader.label_map_path: placeholder" in result.stdout
    cfg = load(SHAPES)
    point_to_dataset(cfg, dataset.train, dataset.eval, dataset.label_map)
    cfg.train_config.batch_size = 4
    save(cfg, tmp_path / "ok.config")
    result = run("lint", tmp_path / "ok.config")
    assert result.returncode == 0 and "error" not in result.stdout
    cfg.train_config.max_number_of_boxes = 20  # deprecated: a warning, still exit 0
    save(cfg, tmp_path / "ok.config")
    result = run("lint", tmp_path / "ok.config")
    assert result.returncode == 0  # deprecation warnings only
    assert result.stdout.startswith("warning: ")
    assert run("lint", "--no-files", tmp_path / "ok.config").returncode == 0


def test_lint_applies_the_range_rules_to_a_file(tmp_path: Path, dataset):
    cfg = load(SHAPES)
    point_to_dataset(cfg, dataset.train, dataset.eval, dataset.label_map)
    cfg.train_config.batch_size = 4
    cfg.model.ssd.post_processing.batch_non_max_suppression.iou_threshold = 5
    save(cfg, tmp_path / "bad.config")
    result = run("lint", tmp_path / "bad.config", "--no-anchors")  # the fixture's records hold no real examples
    assert result.returncode == 1
    assert result.stdout == ("error: model.ssd.post_processing.batch_non_max_suppression.iou_threshold: "
                             "iou_threshold is a probability/threshold and must be in [0, 1], got 5.0 "
                             "(fix: give a value in [0, 1])\n")


def test_lint_base_dir(tmp_path: Path, dataset):
    cfg = load(SHAPES)
    point_to_dataset(cfg, "train.record", "eval.record", dataset.label_map)
    cfg.train_config.batch_size = 4
    save(cfg, tmp_path / "rel.config")
    assert run("lint", tmp_path / "rel.config").returncode == 1
    assert run("lint", "--base-dir", dataset.train.parent, tmp_path / "rel.config").returncode == 0


@pytest.mark.parametrize("args, fragments", [
    (("get", ZOO, "train_config.num_step"), ("unknown field 'num_step'", "did you mean 'num_steps'")),
    (("set", ZOO, "train_config.batch_size=-1"), ("size or count", "must be >= 1")),
    (("set", ZOO, "train_config.batch_size"), ("expected PATH=VALUE", "fix:")),
    (("set", ZOO, "train_config.num_steps=abc"), ("expects uint32, got 'abc'",)),
    (("get", "missing.config", "train_config"), ("config file not found: missing.config",)),
    (("get", ZOO, "model.faster_rcnn.num_classes"), ("oneof 'model' holds 'ssd'",)),
    (("remove", ZOO, "train_config.data_augmentation_options[9]"), ("index 9 out of range",)),
    (("add", ZOO, "train_config.num_steps=3"), ("not a repeated field",)),
    (("bogus",), ("invalid choice", "--help")),
    (("get", ZOO), ("required", "python -m tuner.config get --help")),
    ((), ("required",)),
    # a whole message as the value: every number inside it is range-checked
    (("add", ZOO, "train_config.data_augmentation_options[random_adjust_brightness]={ max_delta: -1 }"),
     ("random_adjust_brightness].max_delta is a non-negative parameter and must be >= 0, got -1.0",)),
    (("set", ZOO, "model.ssd.post_processing.batch_non_max_suppression="
                  "{iou_threshold: 5 score_threshold: -3}"),
     ("batch_non_max_suppression.score_threshold is a probability/threshold", "got -3.0",
      "also out of range: model.ssd.post_processing.batch_non_max_suppression.iou_threshold")),
    (("set", ZOO, "model.ssd.image_resizer={fixed_shape_resizer{height:-1}}"),
     ("fixed_shape_resizer.height is a size or count and must be >= 1, got -1",)),
    (("set", ZOO, f"{COSINE}.learning_rate_base=1e40"), ("32-bit float", "stored as inf")),
    (("set", ZOO, "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios=[1,-2,0]"),
     ("an anchor aspect ratio or scale and must be > 0, got -2.0",)),
])
def test_bad_input_is_one_line_error_exit_2(args, fragments):
    assert_one_line_error(run(*args), *fragments)


def test_syntax_error_and_unwritable_output(tmp_path: Path):
    bad = tmp_path / "bad.config"
    bad.write_text("train_config {\n  batch_size: 4\n  num_step: 5\n}\n")
    assert_one_line_error(run("show", bad), f"{bad}:3:3:", "'num_step'", "did you mean 'num_steps'")
    assert_one_line_error(run("set", ZOO, "train_config.batch_size=4", "-o",
                              tmp_path / "no" / "dir.config"), "cannot write")


def test_edit_writes_output_and_prints_each_change(tmp_path: Path, dataset):
    out = tmp_path / "out.config"
    before = ZOO.read_text()
    result = run("edit", ZOO, "--num-steps", "2000", "--learning-rate", "0.4", "--l2", "1e-5", "--batch-size", "8",
                 "--warmup-fraction", "0.1", "--data", dataset.train.parent, "-o", out)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert ZOO.read_text() == before
    cfg = load(out)
    assert result.stdout == format_diff(diff(load(ZOO), cfg)) + "\n"
    lines = result.stdout.splitlines()
    assert "train_config.num_steps: 50000 -> 2000" in lines
    assert f"{COSINE}.total_steps: 50000 -> 2000" in lines
    assert f"{COSINE}.warmup_steps: 2000 -> 200" in lines
    assert f"{COSINE}.learning_rate_base: 0.8 -> 0.4" in lines
    assert "model.ssd.num_classes: 90 -> 3" in lines
    assert f"train_input_reader.tf_record_input_reader.input_path: " \
           f"['PATH_TO_BE_CONFIGURED/train2017-?????-of-00256.tfrecord'] -> ['{dataset.train}']" in lines
    assert cfg.train_config.batch_size == 8
    findings = run("lint", out, "--no-anchors").stdout.splitlines()
    assert not [f for f in findings if "input_reader" in f.split(": ")[1]]  # only the checkpoint placeholder is left


def test_edit_without_output_prints_the_config_and_the_changes_on_stderr(tmp_path: Path, dataset):
    result = run("edit", SHAPES, "--schedule", "manual", "--train-data", dataset.train, "--eval-data", dataset.eval,
                 "--label-map", dataset.label_map)
    assert result.returncode == 0
    cfg = loads(result.stdout)
    assert cfg.model.ssd.num_classes == 3 and list(cfg.train_input_reader.tf_record_input_reader.input_path) == \
        [str(dataset.train)]
    assert result.stderr == format_diff(diff(load(SHAPES), cfg)) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.record", "label_map.pbtxt", "train.record"]


@pytest.mark.parametrize("args, fragments", [
    (("--num-steps", "-5"), ("num_steps must be a whole number > 0, got -5",)),
    (("--learning-rate", "0"), ("learning rate must be a finite number > 0",)),
    (("--l2=-1e-4",), ("L2 weight must be a finite number >= 0",)),
    (("--batch-size", "0"), ("batch_size is a size or count and must be >= 1, got 0",)),
    (("--warmup-fraction", "1.5"), ("warmup_fraction must be in [0, 1)",)),
    (("--schedule", "exponential", "--warmup-fraction", "0.1"), ("applies to cosine_decay_learning_rate only",)),
    (("--schedule", "linear"), ("invalid choice: 'linear'",)),
    (("--num-steps", "many"), ("invalid int value: 'many'",)),
    (("--train-data", "x.record"), ("--train-data needs --eval-data and --label-map too",)),
    (("--data", "DATA", "--label-map", "x.pbtxt"), ("--data and --label-map both name the dataset",)),
    (("--data", "EMPTY"), ("has no train.record, eval.record, label_map.pbtxt",)),
    (("--data", "gs://bucket/data"), ("is remote (gs://)",)),
    (("--train-data", "gs://b/t-*", "--eval-data", "gs://b/e-*", "--label-map", "gs://b/l.pbtxt"),
     ("label map file gs://b/l.pbtxt is remote (gs://)",)),
    ((), ("edit needs at least one edit",)),
])
def test_edit_bad_input_is_one_line_error_and_writes_nothing(tmp_path: Path, dataset, args, fragments):
    (tmp_path / "empty").mkdir()
    names = {"DATA": str(dataset.train.parent), "EMPTY": str(tmp_path / "empty")}
    out = tmp_path / "out.config"
    assert_one_line_error(run("edit", ZOO, *[names.get(a, a) for a in args], "-o", out), *fragments)
    assert not out.exists()


def test_lint_fix_writes_the_fixed_config_and_lints_it(tmp_path: Path, dataset):
    cfg = load(SHAPES)
    point_to_dataset(cfg, dataset.train, dataset.eval, dataset.label_map)
    cfg.train_config.batch_size = 4
    cfg.model.ssd.num_classes = 90
    cfg.train_config.num_steps = 2000
    cfg.model.ssd.matcher.argmax_matcher.matched_threshold = 0.4  # needs a human
    save(cfg, tmp_path / "bad.config")
    before = (tmp_path / "bad.config").read_text()
    dry = run("lint", tmp_path / "bad.config", "--fix", "--no-anchors")
    assert dry.returncode == 1
    assert dry.stdout.splitlines()[:3] == ["would fix: model.ssd.num_classes: 90 -> 3",
                                           f"would fix: {COSINE}.total_steps: 1000 -> 2000",
                                           f"would fix: {COSINE}.warmup_steps: 50 -> 100"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.config", "eval.record", "label_map.pbtxt",
                                                          "train.record"]
    out = tmp_path / "fixed.config"
    result = run("lint", tmp_path / "bad.config", "--fix", "--no-anchors", "-o", out)
    assert result.returncode == 1  # the matcher error remains
    lines = result.stdout.splitlines()
    assert lines[:3] == [line.replace("would fix", "fixed") for line in dry.stdout.splitlines()[:3]]
    assert len(lines) == 4 and lines[3].startswith("error: model.ssd.matcher.argmax_matcher.unmatched_threshold")
    assert (tmp_path / "bad.config").read_text() == before
    assert load(out).model.ssd.num_classes == 3
    assert run("lint", out, "--no-anchors").stdout == lines[3] + "\n"


def test_lint_fix_in_place_only_when_named_and_o_needs_fix(tmp_path: Path, dataset):
    src = tmp_path / "in.config"
    cfg = load(SHAPES)
    point_to_dataset(cfg, dataset.train, dataset.eval, dataset.label_map)
    cfg.train_config.batch_size = 4
    cfg.model.ssd.anchor_generator.ssd_anchor_generator.ClearField("aspect_ratios")
    cfg.model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios.extend([2.0, 0.5])
    save(cfg, src)
    assert_one_line_error(run("lint", src, "-o", tmp_path / "x.config"), "lint -o writes the fixed config and "
                                                                         "needs --fix")
    result = run("lint", src, "--fix", "--no-anchors", "-o", src)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == \
        "fixed: model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios: [2.0, 0.5] -> [2.0, 0.5, 1.0]"
    assert list(load(src).model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios) == [2.0, 0.5, 1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.record", "in.config", "label_map.pbtxt",
                                                          "train.record"]


def test_lint_with_remote_inputs_warns_they_were_not_checked(tmp_path: Path):
    out = tmp_path / "gs.config"
    assert run("set", SHAPES, "train_input_reader.tf_record_input_reader.input_path="
                              "['gs://bucket/data/train.record-?????-of-00010']",
               "eval_input_reader[0].tf_record_input_reader.input_path=['gs://bucket/data/eval.record-*']",
               "train_input_reader.label_map_path=gs://bucket/label_map.pbtxt",
               "eval_input_reader[0].label_map_path=gs://bucket/label_map.pbtxt", "-o", out).returncode == 0
    result = run("lint", out, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")  # warnings only: the remote paths were not checked
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("warning: ") and "was not checked" in line for line in lines)
