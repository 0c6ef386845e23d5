"""lint --fix as a library: every repair, its order, and what it leaves alone."""
from __future__ import annotations

from configfixtures import COSINE, RATIOS

from tuner.config import (FixResult, Severity, apply_fixes, dumps, lint, loads, set_schedule_type,
                          set_value)

EXPONENTIAL = "train_config.optimizer.momentum_optimizer.learning_rate.exponential_decay_learning_rate"
PYTHON_NAMES = ("set_num_steps", "point_to_dataset", "set_schedule_type", "set_base_learning_rate",
                "set_l2_weight", "(cfg")


def _changes(result: FixResult) -> dict[str, tuple[object, object]]:
    return {c.path: (c.old, c.new) for c in result.changes}


def test_a_clean_config_is_left_as_it_is(ready):
    result = apply_fixes(ready)
    assert (result.applied, result.changes, result.remaining) == ((), (), ())
    assert result.config == ready and result.config is not ready


def test_num_classes_from_the_label_map_and_the_input_untouched(ready):
    set_value(ready, "model.ssd.num_classes", 90)
    before = dumps(ready)
    result = apply_fixes(ready)
    assert dumps(ready) == before
    assert _changes(result) == {"model.ssd.num_classes": (90, 3)}
    assert [f.path for f in result.applied] == ["model.ssd.num_classes"]
    assert result.remaining == ()
    assert apply_fixes(ready, check_files=False).changes == ()  # needs the label map


def test_checkpoint_version_v1_to_v2_only_with_a_checkpoint(ready):
    set_value(ready, "train_config.fine_tune_checkpoint", "/ckpt/ckpt-1")
    set_value(ready, "train_config.fine_tune_checkpoint_type", "detection")
    result = apply_fixes(ready)
    assert _changes(result) == {"train_config.fine_tune_checkpoint_version": (None, "V2")}
    assert result.remaining == ()
    ready.train_config.ClearField("fine_tune_checkpoint")
    ready.train_config.ClearField("fine_tune_checkpoint_type")
    assert apply_fixes(ready).changes == ()


def test_aspect_ratios_get_one(ready):
    set_value(ready, RATIOS, [2.0, 0.5])
    result = apply_fixes(ready)
    assert _changes(result) == {RATIOS: ([2.0, 0.5], [2.0, 0.5, 1.0])}
    assert result.remaining == ()


def test_cosine_total_steps_stretched_to_num_steps_warmup_in_proportion(ready):
    set_value(ready, "train_config.num_steps", 2000)  # total_steps 1000, warmup 50
    result = apply_fixes(ready)
    assert _changes(result) == {f"{COSINE}.total_steps": (1000, 2000), f"{COSINE}.warmup_steps": (50, 100)}
    assert result.applied[0].severity is Severity.WARNING and result.remaining == ()


def test_cosine_warmup_longer_than_training(ready):
    set_value(ready, "train_config.num_steps", 40)  # total_steps 1000, warmup 50 >= 40
    assert {f.path for f in lint(ready) if f.repair} == {f"{COSINE}.total_steps", f"{COSINE}.warmup_steps"}
    result = apply_fixes(ready)
    assert _changes(result) == {f"{COSINE}.total_steps": (1000, 40), f"{COSINE}.warmup_steps": (50, 2)}
    assert len(result.applied) == 1 and result.remaining == ()  # one repair ended both findings


def test_cosine_warmup_not_below_total_steps_is_cut_before_the_stretch(ready):
    set_value(ready, f"{COSINE}.warmup_steps", 1200)
    set_value(ready, "train_config.num_steps", 2000)
    result = apply_fixes(ready)
    # errors first: the warmup is cut to 5% of total_steps 1000 (50), then the schedule is stretched to 2000
    assert [f.severity for f in result.applied] == [Severity.ERROR, Severity.WARNING]
    assert _changes(result) == {f"{COSINE}.total_steps": (1000, 2000), f"{COSINE}.warmup_steps": (1200, 100)}
    assert result.remaining == ()


def test_exponential_burnin_longer_than_training_is_cut(ready):
    set_schedule_type(ready, "exponential")
    set_value(ready, f"{EXPONENTIAL}.burnin_steps", 1000)
    set_value(ready, f"{EXPONENTIAL}.burnin_learning_rate", 0.01)
    result = apply_fixes(ready)
    assert _changes(result) == {f"{EXPONENTIAL}.burnin_steps": (1000, 50)}
    assert result.remaining == ()


def test_what_needs_a_human_remains(ready):
    set_value(ready, "model.ssd.matcher.argmax_matcher.matched_threshold", 0.4)  # no mechanical fix
    set_value(ready, RATIOS, [2.0, 0.5])
    result = apply_fixes(ready)
    assert list(_changes(result)) == [RATIOS]
    (left,) = result.remaining
    assert left.path == "model.ssd.matcher.argmax_matcher.unmatched_threshold" and left.repair is None


def test_fix_texts_name_commands_not_python_functions(ready, tf1, zoo):
    set_value(ready, "train_config.num_steps", 40)
    set_value(ready, "model.ssd.num_classes", 9)
    set_value(ready, RATIOS, [2.0])
    findings = lint(ready) + lint(tf1, check_files=False) + lint(zoo, check_files=False) + \
        lint(loads(""), check_files=False)
    for finding in findings:
        assert not any(name in finding.fix for name in PYTHON_NAMES), finding
        if finding.repair is not None:
            assert finding.fix.startswith(f"python -m tuner.config lint CONFIG --fix -o OUT {finding.repair.what}")
    assert sum(f.repair is not None for f in findings) >= 4
