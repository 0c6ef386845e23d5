"""The CLI, driven through subprocess: every subcommand and the error exits."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from configfixtures import COSINE, ROOT, SHAPES, TF1, ZOO

from tuner.config import dumps, load, point_to_dataset, save


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
