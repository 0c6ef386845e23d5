"""Lint against what the OD API's TF2 trainer does with TF1 configs (tuner.config.lint_tf2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tuner.config import ConfigError, Severity, lint, load, set_value
from tuner.config.autofix import apply_fixes
from tuner.config.lint_tf2 import TF2_EXTRACTORS, keras_counterpart

ZOO_DIR = Path(__file__).parent / "zoo"
TF1 = Path(__file__).parents[1] / "data" / "ssd_mobilenet_v1_tf1.config"


def _at(findings, path):
    return [f for f in findings if f.path == path]


def test_the_extractor_table_is_the_tf2_model_builders() -> None:
    import tuner.odapi  # noqa: F401  (the compat shims)
    from object_detection.builders import model_builder

    assert TF2_EXTRACTORS["ssd"] == set(model_builder.SSD_KERAS_FEATURE_EXTRACTOR_CLASS_MAP)
    assert TF2_EXTRACTORS["faster_rcnn"] == set(model_builder.FASTER_RCNN_KERAS_FEATURE_EXTRACTOR_CLASS_MAP)
    assert TF2_EXTRACTORS["center_net"] == set(model_builder.CENTER_NET_EXTRACTOR_FUNCTION_MAP)


def test_tf1_only_extractors_are_errors_with_the_right_fix() -> None:
    (finding,) = _at(lint(load(TF1), check_files=False), "model.ssd.feature_extractor.type")
    assert finding.severity is Severity.ERROR
    assert "'ssd_mobilenet_v1' exists only in the TF1 OD API: the TF2 trainer" in finding.message
    assert "feature_extractor.type=ssd_mobilenet_v1_keras" in finding.fix
    (finding,) = _at(lint(load(ZOO_DIR / "tf1_ssd_inception_v2.config"), check_files=False),
                     "model.ssd.feature_extractor.type")
    assert "is not one the TF2 model builder knows" in finding.message and "TF2 zoo config" in finding.fix
    (finding,) = _at(lint(load(ZOO_DIR / "tf1_context_rcnn_resnet101.config"), check_files=False),
                     "model.faster_rcnn.feature_extractor.type")
    assert "faster_rcnn_resnet101_keras" in finding.fix
    assert keras_counterpart("ssd", "ssd_inception_v2") is None
    for path in ZOO_DIR.glob("[!t]*.config"):  # the TF2 families: no extractor finding
        assert not [f for f in lint(load(path), check_files=False) if f.path.endswith("feature_extractor.type")]


def test_load_all_detection_checkpoint_vars_is_an_error_that_lint_fix_removes() -> None:
    cfg = load(ZOO_DIR / "ssd_mobilenet_v2_320x320.config")
    set_value(cfg, "train_config.load_all_detection_checkpoint_vars", True)
    (finding,) = _at(lint(cfg, check_files=False), "train_config.load_all_detection_checkpoint_vars")
    assert finding.severity is Severity.ERROR and "raises 'unsupported in TF2'" in finding.message
    fixed = apply_fixes(cfg, check_files=False).config
    assert not fixed.train_config.HasField("load_all_detection_checkpoint_vars")


def test_deprecated_fields_say_what_the_tf2_trainer_does() -> None:
    findings = lint(load(ZOO_DIR / "tf1_context_rcnn_resnet101.config"), check_files=False)
    (boxes,) = _at(findings, "train_config.max_number_of_boxes")
    assert boxes.severity is Severity.WARNING and "train_input_reader.max_number_of_boxes" in boxes.message
    (evals,) = _at(findings, "eval_config.max_evals")
    assert "TF1 evaluation setting" in evals.message
    (kind,) = _at(findings, "train_config.fine_tune_checkpoint_type")
    assert kind.severity is Severity.WARNING and "takes 'detection' (from from_detection_checkpoint: true)" in kind.message


def test_a_warm_up_that_ramps_down_is_said() -> None:
    cfg = load(ZOO_DIR / "tf1_context_rcnn_resnet101.config")
    manual = "train_config.optimizer.momentum_optimizer.learning_rate.manual_step_learning_rate"
    assert not _at(lint(cfg, check_files=False), f"{manual}.initial_learning_rate")  # from 0: a real warm-up
    set_value(cfg, f"{manual}.initial_learning_rate", 0.01)
    (finding,) = _at(lint(cfg, check_files=False), f"{manual}.initial_learning_rate")
    assert "the 'warm-up' ramps the rate down until step 400000" in finding.message


def test_the_zoo_s_unparsable_quirks_get_a_fix_that_names_them(tmp_path) -> None:
    text = (ZOO_DIR / "ssd_mobilenet_v2_320x320.config").read_text()
    cases = {
        "unquoted": (text.replace('fine_tune_checkpoint: "PATH_TO_BE_CONFIGURED/mobilenet_v2.ckpt-1"',
                                  "fine_tune_checkpoint: PATH_TO_BE_CONFIGURED"), 'string values are quoted'),
        "removed field": (text.replace("      min_depth: 16\n", "      min_depth: 16\n      batch_norm_trainable: true\n"),
                          "batch_norm_trainable was removed from the OD API"),
        "internal extension": (text.replace('  tf_record_input_reader {\n    input_path: "PATH_TO_BE_CONFIGURED/train',
                                            '  external_input_reader {\n    [object_detection.protos.GoogleInputReader'
                                            '.google_input_reader] {\n      input_path: "x"\n    }\n  }\n'
                                            '  tf_record_input_reader {\n    input_path: "PATH_TO_BE_CONFIGURED/train'),
                               "Google-internal extension"),
    }
    for name, (broken, fix) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.config"
        path.write_text(broken)
        with pytest.raises(ConfigError, match=fix):
            load(path)
