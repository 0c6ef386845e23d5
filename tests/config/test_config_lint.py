"""Every lint rule, firing and not firing."""
from __future__ import annotations

from pathlib import Path

import pytest
from configfixtures import COSINE, RATIOS, write_records

from tuner.config import (Finding, Severity, format_findings, has_errors, lint, loads,
                          point_to_dataset, set_num_steps, set_schedule_type, set_value)


def _by_path(findings: list[Finding]) -> dict[str, Finding]:
    return {f.path: f for f in findings}


@pytest.fixture
def ready(shapes, dataset):
    """The demo config pointed at a small real dataset: lints clean apart from deprecations."""
    point_to_dataset(shapes, dataset.train, dataset.eval, dataset.label_map)
    set_value(shapes, "train_config.batch_size", 4)
    shapes.train_config.ClearField("max_number_of_boxes")
    return shapes


def test_ready_config_is_clean(ready):
    assert lint(ready) == []
    assert not has_errors([])


def test_placeholder_paths(zoo):
    findings = _by_path(lint(zoo, check_files=False))
    for path in ("train_config.fine_tune_checkpoint", "train_input_reader.label_map_path",
                 "train_input_reader.tf_record_input_reader.input_path[0]",
                 "eval_input_reader[0].tf_record_input_reader.input_path[0]"):
        assert findings[path].severity is Severity.ERROR
        assert "PATH_TO_BE_CONFIGURED" in findings[path].message
    assert "point_to_dataset" in findings["train_input_reader.label_map_path"].fix
    assert has_errors(findings.values())


def test_missing_input_files_and_label_map(ready, tmp_path: Path):
    set_value(ready, "train_input_reader.tf_record_input_reader.input_path", [str(tmp_path / "no-*.rec")])
    set_value(ready, "eval_input_reader[0].label_map_path", str(tmp_path / "gone.pbtxt"))
    findings = _by_path(lint(ready))
    assert "matches no file" in findings["train_input_reader.tf_record_input_reader.input_path[0]"].message
    assert "does not exist" in findings["eval_input_reader[0].label_map_path"].message
    assert all(f.severity is Severity.ERROR for f in findings.values())
    assert lint(ready, check_files=False) == []


def test_reader_without_inputs():
    cfg = loads("train_input_reader { label_map_path: 'x' }")
    findings = _by_path(lint(cfg, check_files=True))
    assert findings["train_input_reader.tf_record_input_reader.input_path"].message == \
        "no input files configured"


def test_relative_paths_resolve_from_base_dir(ready, dataset):
    set_value(ready, "train_input_reader.tf_record_input_reader.input_path", ["train.record"])
    set_value(ready, "train_input_reader.label_map_path", "label_map.pbtxt")
    assert lint(ready, base_dir=dataset.train.parent) == []
    assert any("matches no file" in f.message for f in lint(ready, base_dir="/nonexistent"))


def test_num_classes_disagreeing_with_label_map(ready):
    set_value(ready, "model.ssd.num_classes", 90)
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.ERROR, "model.ssd.num_classes")
    assert "num_classes is 90 but the label map" in finding.message and "3 classes" in finding.message
    assert finding.fix == "set model.ssd.num_classes=3"


def test_unusable_label_map(ready, dataset):
    dataset.label_map.write_text("item { id: 0 name: 'background' }")
    (finding,) = lint(ready)
    assert finding.path == "train_input_reader.label_map_path"
    assert "unusable label map" in finding.message and "ids must be >= 1" in finding.message


def test_cosine_total_steps_not_num_steps(ready):
    set_value(ready, "train_config.num_steps", 2000)
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.WARNING, f"{COSINE}.total_steps")
    assert "total_steps 1000 != num_steps 2000" in finding.message
    assert "stops at 0" in finding.message
    set_value(ready, "train_config.num_steps", 500)
    assert "never finishes decaying" in lint(ready)[0].message
    set_num_steps(ready, 500)
    assert lint(ready) == []


def test_warmup_not_below_total_steps(ready):
    set_value(ready, f"{COSINE}.warmup_steps", 1000)
    findings = _by_path(lint(ready))
    assert findings[f"{COSINE}.warmup_steps"].severity is Severity.ERROR
    assert "warmup_steps 1000 >= total_steps 1000" in findings[f"{COSINE}.warmup_steps"].message


def test_warmup_rate_above_base(ready):
    set_value(ready, f"{COSINE}.warmup_learning_rate", 0.5)
    (finding,) = lint(ready)
    assert finding.path == f"{COSINE}.warmup_learning_rate" and finding.severity is Severity.ERROR


def test_schedule_that_barely_decays(tf1):
    findings = [f for f in lint(tf1, check_files=False) if "barely decays" in f.message]
    (finding,) = findings
    assert finding.severity is Severity.WARNING
    assert finding.path.endswith("exponential_decay_learning_rate")
    assert "ends at 100% of its peak" in finding.message


def test_schedule_that_decays_to_zero_too_early(ready):
    set_schedule_type(ready, "exponential")
    assert lint(ready) == []
    set_value(ready, "train_config.optimizer.momentum_optimizer.learning_rate"
                     ".exponential_decay_learning_rate.decay_steps", 10)
    (finding,) = lint(ready)
    assert finding.severity is Severity.WARNING
    assert "the rate is ~0 from step" in finding.message and "set_num_steps" in finding.fix


def test_manual_and_constant_schedules(ready):
    set_schedule_type(ready, "manual_step")
    assert lint(ready) == []
    set_schedule_type(ready, "constant")
    assert lint(ready) == []  # a constant rate is a choice, not a mistake


def test_fine_tune_checkpoint_without_type_and_reverse(ready):
    set_value(ready, "train_config.fine_tune_checkpoint", "/ckpt/model.ckpt-1")
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.ERROR, "train_config.fine_tune_checkpoint_type")
    assert "silently assumes 'classification'" in finding.message
    set_value(ready, "train_config.from_detection_checkpoint", True)
    findings = lint(ready)
    assert findings[0].severity is Severity.WARNING and "'detection'" in findings[0].message
    ready.train_config.ClearField("from_detection_checkpoint")
    set_value(ready, "train_config.fine_tune_checkpoint_type", "detection")
    assert lint(ready) == []
    ready.train_config.ClearField("fine_tune_checkpoint")
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.WARNING, "train_config.fine_tune_checkpoint")
    assert "starts from scratch" in finding.message


def test_ssd_aspect_ratios_without_one(ready):
    set_value(ready, RATIOS, [2.0, 0.5])
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.WARNING, RATIOS)
    assert "lack 1.0" in finding.message


def test_argmax_matcher_unmatched_above_matched(ready):
    set_value(ready, "model.ssd.matcher.argmax_matcher.matched_threshold", 0.4)
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.ERROR,
                                                "model.ssd.matcher.argmax_matcher.unmatched_threshold")
    assert "unmatched_threshold 0.5 > matched_threshold 0.4" in finding.message
    assert "matcher_iou" in finding.fix
    set_value(ready, "model.ssd.matcher.argmax_matcher.unmatched_threshold", 0.4)
    assert lint(ready) == []


def test_deprecated_fields(tf1, shapes):
    findings = _by_path([f for f in lint(tf1, check_files=False) if "deprecated" in f.message])
    assert set(findings) == {"train_config.from_detection_checkpoint", "eval_config.num_examples",
                             "eval_config.max_evals"}
    assert 'fine_tune_checkpoint_type="detection"' in \
        findings["train_config.from_detection_checkpoint"].fix
    assert all(f.severity is Severity.WARNING for f in findings.values())
    set_value(shapes, "train_config.max_number_of_boxes", 20)
    assert any(f.path == "train_config.max_number_of_boxes" and f.severity is Severity.WARNING
               for f in lint(shapes, check_files=False))


def test_batch_size_larger_than_dataset(ready, dataset, tmp_path: Path):
    set_value(ready, "train_config.batch_size", 11)
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.ERROR, "train_config.batch_size")
    assert "larger than the training set (10 records)" in finding.message
    extra = write_records(tmp_path / "extra.record", 5)
    set_value(ready, "train_input_reader.tf_record_input_reader.input_path",
              [str(dataset.train), str(extra)])
    assert lint(ready) == []


def test_corrupt_records_are_reported(ready, dataset):
    dataset.train.write_bytes(dataset.train.read_bytes()[:-1])
    (finding,) = lint(ready)
    assert finding.severity is Severity.ERROR and "not a valid TFRecord file" in finding.message


def test_format_findings(tf1):
    text = format_findings(lint(tf1, check_files=False))
    assert text.splitlines()[0].startswith("error: train_config.fine_tune_checkpoint: placeholder")
    assert all("(fix: " in line for line in text.splitlines())
