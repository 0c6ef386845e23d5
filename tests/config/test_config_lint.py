"""Every lint rule, firing and not firing."""
from __future__ import annotations

from pathlib import Path

from configfixtures import COSINE, RATIOS, write_label_map, write_records

from tuner.config import (Finding, Severity, dumps, format_findings, has_errors, lint, loads,
                          set_num_steps, set_schedule_type, set_value)


def _by_path(findings: list[Finding]) -> dict[str, Finding]:
    return {f.path: f for f in findings}


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
    assert findings["train_input_reader.label_map_path"].fix.startswith(
        "python -m tuner.config set CONFIG train_input_reader.label_map_path=REAL_PATH -o OUT; inputs and label "
        "maps together: python -m tuner.config edit CONFIG --data DIR -o OUT")
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
    assert finding.fix == ("python -m tuner.config lint CONFIG --fix -o OUT sets model.ssd.num_classes=3; "
                           "or python -m tuner.config set CONFIG model.ssd.num_classes=3 -o OUT")
    assert finding.repair is not None and finding.repair.what == "sets model.ssd.num_classes=3"


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
    assert "the rate is ~0 from step" in finding.message
    assert finding.fix == ("stretch the decay over num_steps: python -m tuner.config set CONFIG "
                           f"{EXPONENTIAL}.decay_steps=S -o OUT, or python -m tuner.config edit CONFIG --schedule "
                           "cosine -o OUT (a new schedule is sized to num_steps)")


def test_manual_and_constant_schedules(ready):
    set_schedule_type(ready, "manual_step")
    assert lint(ready) == []
    set_schedule_type(ready, "constant")
    assert lint(ready) == []  # a constant rate is a choice, not a mistake


def test_fine_tune_checkpoint_without_type_and_reverse(ready):
    set_value(ready, "train_config.fine_tune_checkpoint", "/ckpt/model.ckpt-1")
    finding, version = lint(ready)
    assert (version.severity, version.path) == (Severity.ERROR, "train_config.fine_tune_checkpoint_version")
    assert "the TF2 trainer refuses it ('Checkpoint version should be V2')" in version.message
    assert version.fix == ("python -m tuner.config lint CONFIG --fix -o OUT sets "
                           "train_config.fine_tune_checkpoint_version=V2; or python -m tuner.config set CONFIG "
                           "train_config.fine_tune_checkpoint_version=V2 -o OUT (TF2 checkpoints are all V2)")
    set_value(ready, "train_config.fine_tune_checkpoint_version", "V2")
    (finding,) = lint(ready)  # the OD API accepts it (config_util.update_fine_tune_checkpoint_type): a warning
    assert (finding.severity, finding.path) == (Severity.WARNING, "train_config.fine_tune_checkpoint_type")
    assert "the TF2 trainer takes 'classification' (from from_detection_checkpoint: false)" in finding.message
    assert "restores the backbone only" in finding.message
    set_value(ready, "train_config.from_detection_checkpoint", True)
    findings = lint(ready)
    assert findings[0].severity is Severity.WARNING and "takes 'detection'" in findings[0].message
    assert [f.path for f in findings] == ["train_config.fine_tune_checkpoint_type",
                                          "train_config.from_detection_checkpoint"]
    assert "still reads it while fine_tune_checkpoint_type is unset (true means 'detection')" in findings[1].message
    ready.train_config.ClearField("from_detection_checkpoint")
    set_value(ready, "train_config.fine_tune_checkpoint_type", "detection")
    assert lint(ready) == []
    ready.train_config.ClearField("fine_tune_checkpoint")
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.WARNING, "train_config.fine_tune_checkpoint")
    assert "starts from scratch" in finding.message


def test_freeze_and_update_trainable_variables_are_said_to_be_honoured(ready):
    set_value(ready, "train_config.fine_tune_checkpoint", "/ckpt/ckpt-3")
    set_value(ready, "train_config.fine_tune_checkpoint_type", "detection")
    set_value(ready, "train_config.fine_tune_checkpoint_version", "V2")
    set_value(ready, "train_config.freeze_variables", ["^Conv1/"])
    set_value(ready, "train_config.update_trainable_variables", ["FeatureMaps", "^BoxPredictor/"])
    findings = lint(ready)
    assert [(f.severity, f.path) for f in findings] == [
        (Severity.WARNING, "train_config.update_trainable_variables"),
        (Severity.WARNING, "train_config.freeze_variables")]
    for finding in findings:
        assert "odapi-tuner's trainer (python -m tuner.odapi.train) honours it as the TF1 trainer did" \
            in finding.message
        assert "model_main_tf2.py) ignores it and trains every variable" in finding.message
        assert finding.fix == "train with odapi-tuner; with model_main_tf2.py expect every variable to train"
    assert not has_errors(findings)


def test_freezing_without_a_fine_tune_checkpoint_and_bad_regexes(ready):
    set_value(ready, "train_config.freeze_variables", ["^Conv1/", "block_(\\d+"])
    findings = _by_path(lint(ready))
    assert set(findings) == {"train_config.freeze_variables[1]", "train_config.freeze_variables"}
    bad = findings["train_config.freeze_variables[1]"]
    assert bad.severity is Severity.ERROR and "'block_(\\\\d+' is not a valid regex" in bad.message
    unloaded = findings["train_config.freeze_variables"]
    assert unloaded.severity is Severity.WARNING
    assert unloaded.message.startswith("freeze_variables is set without a fine_tune_checkpoint: it freezes "
                                       "randomly initialised weights (odapi-tuner's trainer")
    assert unloaded.fix == ("python -m tuner.config set CONFIG train_config.fine_tune_checkpoint=CHECKPOINT "
                            "train_config.fine_tune_checkpoint_type=detection -o OUT, or remove "
                            "train_config.freeze_variables: python -m tuner.config remove CONFIG "
                            "train_config.freeze_variables -o OUT")


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
    deprecated = {"train_config.from_detection_checkpoint", "eval_config.num_examples", "eval_config.max_evals"}
    findings = _by_path([f for f in lint(tf1, check_files=False) if f.path in deprecated])
    assert set(findings) == deprecated
    assert findings["train_config.from_detection_checkpoint"].fix == (
        "python -m tuner.config set CONFIG train_config.fine_tune_checkpoint_type=detection -o OUT and "
        "python -m tuner.config remove CONFIG train_config.from_detection_checkpoint -o OUT")
    assert "the TF2 trainer still reads it while fine_tune_checkpoint_type is unset" in \
        findings["train_config.from_detection_checkpoint"].message
    assert "TF1 evaluation setting" in findings["eval_config.max_evals"].message
    assert all(f.severity is Severity.WARNING for f in findings.values())
    set_value(shapes, "train_config.max_number_of_boxes", 20)
    (boxes,) = [f for f in lint(shapes, check_files=False) if f.path == "train_config.max_number_of_boxes"]
    assert boxes.severity is Severity.WARNING
    assert "pads each image's boxes to train_input_reader.max_number_of_boxes" in boxes.message
    set_value(shapes, "train_config.fine_tune_checkpoint_type", "detection")
    set_value(shapes, "train_config.from_detection_checkpoint", True)
    (flag,) = [f for f in lint(shapes, check_files=False) if f.path == "train_config.from_detection_checkpoint"]
    assert "ignored here: fine_tune_checkpoint_type 'detection' is set" in flag.message


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
    assert text.splitlines()[0].startswith("error: model.ssd.feature_extractor.type: feature extractor "
                                           "'ssd_mobilenet_v1' exists only in the TF1 OD API")
    assert text.splitlines()[1].startswith("error: train_config.fine_tune_checkpoint: placeholder")
    assert all("(fix: " in line for line in text.splitlines())


MANUAL = "train_config.optimizer.momentum_optimizer.learning_rate.manual_step_learning_rate"
EXPONENTIAL = "train_config.optimizer.momentum_optimizer.learning_rate.exponential_decay_learning_rate"


def test_empty_config_names_every_missing_section():
    findings = lint(loads(""), check_files=False)
    assert [(f.severity, f.path) for f in findings] == [
        (Severity.ERROR, "model"), (Severity.ERROR, "train_config"),
        (Severity.ERROR, "train_input_reader"), (Severity.ERROR, "eval_input_reader")]
    by_path = _by_path(findings)
    assert by_path["model"].message == "no model is configured"
    assert by_path["train_config"].message.startswith("no train_config: nothing says how to train")
    assert by_path["train_input_reader"].message == "no train_input_reader: no training data is configured"
    assert by_path["eval_input_reader"].message == "no eval_input_reader: trials cannot be evaluated"
    assert all("python -m tuner.config edit CONFIG --data DIR -o OUT" in by_path[p].fix
               for p in ("train_input_reader", "eval_input_reader"))
    assert lint(loads("model { }"), check_files=False)[0].message == "model names no architecture"


def test_sections_rule_is_quiet_on_a_full_config(ready):
    for name in ("model", "train_config", "train_input_reader", "eval_input_reader"):
        assert name not in _by_path(lint(ready))


def test_unset_eval_label_map(ready):
    ready.eval_input_reader[0].ClearField("label_map_path")
    (finding,) = lint(ready)
    assert (finding.severity, finding.path) == (Severity.ERROR, "eval_input_reader[0].label_map_path")
    assert "no label map: the OD API's evaluation needs one" in finding.message
    assert finding.fix.startswith("python -m tuner.config set CONFIG eval_input_reader[0].label_map_path=LABEL_MAP "
                                  "-o OUT; with the inputs: python -m tuner.config edit CONFIG --data DIR -o OUT")
    assert lint(ready, check_files=False) == [finding]  # a config fact, not a file check


def test_num_classes_checked_against_the_eval_label_map_too(ready, dataset, tmp_path: Path):
    four = write_label_map(tmp_path / "four.pbtxt", ["a", "b", "c", "d"])
    set_value(ready, "eval_input_reader[0].label_map_path", str(four))
    (finding,) = lint(ready)  # num_classes 3 agrees with the train label map, not with the eval one
    assert (finding.severity, finding.path) == (Severity.ERROR, "eval_input_reader[0].label_map_path")
    assert finding.message == (f"the label map {str(four)!r} has 4 classes but num_classes and the "
                               "train_input_reader label map have 3")
    assert "training classes" in finding.fix
    set_value(ready, "model.ssd.num_classes", 4)  # now the train label map disagrees
    (finding,) = lint(ready)
    assert finding.path == "model.ssd.num_classes" and "set CONFIG model.ssd.num_classes=3 -o OUT" in finding.fix
    assert "(train_input_reader.label_map_path) has 3 classes" in finding.message
    set_value(ready, "train_input_reader.label_map_path", str(four))
    set_value(ready, "eval_input_reader[0].label_map_path", str(dataset.label_map))
    (finding,) = lint(ready)  # only the eval label map disagrees now
    assert "(train_input_reader" not in finding.message and "3 classes" in finding.message


def test_same_class_count_in_two_label_map_files_is_reported_once(ready, tmp_path: Path):
    copy = write_label_map(tmp_path / "copy.pbtxt", ["circle", "square", "triangle"])
    set_value(ready, "eval_input_reader[0].label_map_path", str(copy))
    assert lint(ready) == []
    set_value(ready, "model.ssd.num_classes", 5)
    (finding,) = lint(ready)
    assert finding.path == "model.ssd.num_classes"


def test_cosine_warmup_longer_than_training(ready):
    set_value(ready, "train_config.num_steps", 40)  # total_steps stays 1000, warmup 50
    findings = _by_path(lint(ready))
    finding = findings[f"{COSINE}.warmup_steps"]
    assert finding.severity is Severity.ERROR
    assert finding.message == "warmup_steps 50 >= num_steps 40: training ends during the warmup"
    assert finding.fix.startswith("python -m tuner.config lint CONFIG --fix -o OUT sets total_steps=40, scaling "
                                  "warmup and hold in proportion; or python -m tuner.config set CONFIG "
                                  f"{COSINE}.warmup_steps=W -o OUT with W < 40")
    set_num_steps(ready, 40)
    assert lint(ready) == []


def test_cosine_warmup_plus_hold_not_below_total_steps(ready):
    set_value(ready, f"{COSINE}.hold_base_rate_steps", 950)
    (finding,) = [f for f in lint(ready) if f.severity is Severity.ERROR]
    assert finding.path == f"{COSINE}.hold_base_rate_steps"
    assert "warmup_steps 50 + hold_base_rate_steps 950 >= total_steps 1000" in finding.message
    assert finding.fix == f"python -m tuner.config set CONFIG {COSINE}.hold_base_rate_steps=H -o OUT with H < 950"


def test_cosine_warmup_equal_to_total_is_not_called_rejected(ready):
    set_value(ready, f"{COSINE}.warmup_steps", 1000)
    assert "rejects" not in _by_path(lint(ready))[f"{COSINE}.warmup_steps"].message
    set_value(ready, f"{COSINE}.warmup_steps", 1001)
    assert "(the OD API rejects it)" in _by_path(lint(ready))[f"{COSINE}.warmup_steps"].message


def test_exponential_burnin_not_below_num_steps(ready):
    set_schedule_type(ready, "exponential")
    set_value(ready, f"{EXPONENTIAL}.burnin_steps", 1000)
    set_value(ready, f"{EXPONENTIAL}.burnin_learning_rate", 0.01)
    errors = [f for f in lint(ready) if f.severity is Severity.ERROR]
    (finding,) = errors
    assert finding.path == f"{EXPONENTIAL}.burnin_steps"
    assert finding.message.startswith("burnin_steps 1000 >= num_steps 1000: the whole run trains at "
                                      "the burn-in rate")
    set_value(ready, f"{EXPONENTIAL}.burnin_steps", 100)
    assert lint(ready) == []


def test_manual_step_warmup_and_rejected_schedules(ready):
    set_schedule_type(ready, "manual_step")
    set_value(ready, f"{MANUAL}.warmup", True)  # on a decaying schedule the "warm-up" ramps the rate down
    (down,) = lint(ready)
    assert (down.severity, down.path) == (Severity.WARNING, f"{MANUAL}.initial_learning_rate")
    assert "the 'warm-up' ramps the rate down until step" in down.message
    set_value(ready, f"{MANUAL}.initial_learning_rate", 0.0)  # a warm-up from 0, as context R-CNN's
    assert lint(ready) == []
    set_value(ready, f"{MANUAL}.schedule[0].step", 1000)
    set_value(ready, f"{MANUAL}.schedule[1].step", 1200)
    errors = _by_path([f for f in lint(ready) if f.severity is Severity.ERROR])
    assert "with warmup the rate ramps up until the first step 1000 >= num_steps 1000" in \
        errors[f"{MANUAL}.schedule[0].step"].message
    set_value(ready, f"{MANUAL}.schedule[0].step", 0)
    assert _by_path(lint(ready))[f"{MANUAL}.schedule[0].step"].message == \
        "the first step is 0 (the OD API rejects it)"
    set_value(ready, f"{MANUAL}.schedule[0].step", 900)
    set_value(ready, f"{MANUAL}.schedule[1].step", 900)
    finding = _by_path(lint(ready))[f"{MANUAL}.schedule[1].step"]
    assert finding.severity is Severity.ERROR
    assert "step 900 is not after the previous step 900: steps must strictly increase" in finding.message
    ready.train_config.optimizer.momentum_optimizer.learning_rate.manual_step_learning_rate \
        .ClearField("schedule")
    finding = _by_path(lint(ready))[f"{MANUAL}.schedule"]
    assert finding.message == "the manual step schedule has no steps (the OD API rejects it)"


def test_values_out_of_range_in_a_loaded_file(ready, tmp_path: Path):
    text = dumps(ready).replace("iou_threshold: 0.6", "iou_threshold: 5.0")
    assert "iou_threshold: 5.0" in text
    cfg = loads(text)
    path = "model.ssd.post_processing.batch_non_max_suppression.iou_threshold"
    (finding,) = lint(cfg)
    assert (finding.severity, finding.path) == (Severity.ERROR, path)
    assert finding.message == "iou_threshold is a probability/threshold and must be in [0, 1], got 5.0"
    assert finding.fix == "give a value in [0, 1]"
    assert str(finding) == (f"error: {path}: iou_threshold is a probability/threshold and must be in "
                            "[0, 1], got 5.0 (fix: give a value in [0, 1])")
    ratios = loads(dumps(ready).replace("aspect_ratios: 2.0", "aspect_ratios: -2.0"))
    (finding,) = lint(ratios)
    assert finding.path == f"{RATIOS}[1]" and "must be > 0, got -2.0" in finding.message
    huge = loads(dumps(ready).replace("learning_rate_base: 0.08", "learning_rate_base: 1e40"))
    finding = _by_path(lint(huge))[f"{COSINE}.learning_rate_base"]
    assert finding.message == "learning_rate_base expects float, got inf"
