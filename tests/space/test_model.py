"""Search-space files: parsing, range sanity and the error messages."""
from __future__ import annotations

import pytest

from tuner.space import Kind, SpaceError, Target, load_space, parse_space
from tuner.paths import PIPELINES_DIR

MIN_SCALE = "model.ssd.anchor_generator.ssd_anchor_generator.min_scale"


def _space(**entries):
    return parse_space({"params": entries}, "s.yaml")


def test_default_space_parses_with_every_form() -> None:
    space = load_space(PIPELINES_DIR / "spaces" / "ssd.yaml")
    by_name = {p.name: p for p in space.params}
    assert by_name["learning_rate"].target is Target.KNOB and by_name["learning_rate"].log
    assert by_name["anchor_aspect_ratios"].kind is Kind.CATEGORICAL
    assert by_name["anchor_aspect_ratios"].target is Target.KNOB
    assert by_name["anchor_aspect_ratios"].choices[:2] == ("keep", (1.0, 2.0, 0.5))
    assert by_name["brightness"].target is Target.AUGMENTATION
    assert by_name["warmup_fraction"].when == {"schedule": ("cosine",)}
    assert by_name["decay_factor"].when == {"schedule": ("exponential",)}


def test_int_and_step_entries() -> None:
    space = _space(layers={"path": "model.ssd.anchor_generator.ssd_anchor_generator.num_layers", "int": [4, 6]},
                   scale={"path": MIN_SCALE, "float": [0.1, 0.3], "step": 0.05})
    assert space.params[0].kind is Kind.INT and space.params[0].probe_values() == [4, 6]
    assert space.params[1].step == 0.05


@pytest.mark.parametrize("entry, message", [
    ({"path": MIN_SCALE, "float": [0.3, 0.1]}, r"inverted range \[0.3, 0.1\]; write it as \[0.1, 0.3\]"),
    ({"path": MIN_SCALE, "float": [0.2, 0.2]}, "empty range"),
    ({"path": MIN_SCALE, "float": [0.0, 0.2], "log": True}, "log scale needs low > 0"),
    ({"path": MIN_SCALE, "float": [0.1]}, r"float needs \[low, high\]"),
    ({"path": MIN_SCALE, "int": [1.5, 3]}, "int bounds must be integers"),
    ({"path": MIN_SCALE, "choices": []}, "choices must be a non-empty list"),
    ({"path": MIN_SCALE, "choices": [1, 1]}, "choices repeat a value"),
    ({"path": MIN_SCALE}, "needs exactly one distribution"),
    ({"float": [0.1, 0.2]}, "needs exactly one of knob / path / augmentation"),
    ({"knob": "learning_rat", "float": [0.1, 0.2]}, "unknown knob 'learning_rat' \\(did you mean 'learning_rate'\\?\\)"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "lgo": True}, "unknown key 'lgo'"),
    ({"augmentation": "random_adjust_hue", "float": [0.1, 0.2]}, "use choices: \\[true, false\\]"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "when": {"later": 1}}, "not an earlier entry"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "when": "cosine"}, "when must map an earlier entry to a value"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "when": ["s"]}, "when must map an earlier entry to a value"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "when": {}}, "when must map an earlier entry to a value"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "step": 0}, r"step must be a positive number \(got 0\)"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "step": -0.05}, "step must be a positive number"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "step": "0.05"}, "step must be a positive number \\(got '0.05'\\)"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "step": True}, "step must be a positive number"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "step": 0.5}, r"step 0.5 is larger than the range \[0.1, 0.2\]"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "step": 0.01, "log": True}, "step cannot be combined with log"),
    ({"path": MIN_SCALE, "int": [1, 6], "step": 0.5}, r"step of an int range must be a positive integer \(got 0.5\)"),
    ({"path": MIN_SCALE, "int": [1, 6], "step": 0}, "step of an int range must be a positive integer"),
    ({"path": MIN_SCALE, "float": [0.1, 0.2], "log": "yes"}, "log must be true or false"),
])
def test_bad_entries_name_the_entry_and_the_fix(entry, message) -> None:
    with pytest.raises(SpaceError, match="^s.yaml: params.x: .*" + message):
        _space(x=entry)


def test_when_value_must_be_one_of_the_parent_choices() -> None:
    with pytest.raises(SpaceError, match="when: s = 'cosin' is not one of its choices"):
        _space(s={"knob": "schedule_type", "choices": ["cosine", "constant"]},
               w={"knob": "warmup_fraction", "float": [0.0, 0.1], "when": {"s": "cosin"}})


def test_top_level_shape(tmp_path) -> None:
    with pytest.raises(SpaceError, match="expected a top-level 'params:' mapping"):
        parse_space({"parameters": {}}, "s.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  x: [unclosed\n")
    with pytest.raises(SpaceError, match=r"bad.yaml:\d+:\d+: YAML syntax error"):
        load_space(bad)
    with pytest.raises(SpaceError, match="cannot read the search space"):
        load_space(tmp_path / "missing.yaml")


def test_when_is_type_checked_against_its_parent() -> None:
    schedule = {"knob": "schedule_type", "choices": ["cosine", "exponential", "constant"]}
    warmup = {"knob": "warmup_fraction", "float": [0.0, 0.1]}
    cases = [
        ({"s": {"cosine": True}}, "when: s needs a value or a non-empty list of values"),
        ({"s": None}, "when: s needs a value or a non-empty list of values"),
        ({"s": []}, "when: s needs a value or a non-empty list of values"),
        ({"s": ["cosine", "cosin"]}, "when: s = 'cosin' is not one of its choices"),
        ({"f": 0.1}, "when: f is a float range, which never takes one exact value"),
        ({"n": 9}, r"when: n = 9 is not an integer in its range \[4, 6\]"),
    ]
    for when, message in cases:
        with pytest.raises(SpaceError, match="^s.yaml: params.w: " + message):
            _space(s=schedule, f={"path": MIN_SCALE, "float": [0.1, 0.2]},
                   n={"path": "model.ssd.anchor_generator.ssd_anchor_generator.num_layers", "int": [4, 6]},
                   w={**warmup, "when": when})
    space = _space(s=schedule, n={"path": "model.ssd.anchor_generator.ssd_anchor_generator.num_layers", "int": [4, 6]},
                   w={**warmup, "when": {"s": ["cosine", "exponential"], "n": 6}})
    assert space.params[-1].when == {"s": ("cosine", "exponential"), "n": (6,)}


def test_when_may_name_one_list_valued_choice() -> None:
    ratios = {"path": "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios",
              "choices": [[1.0, 2.0], [1.0, 3.0]]}
    one = _space(r=ratios, x={"path": MIN_SCALE, "float": [0.1, 0.2], "when": {"r": [1.0, 2.0]}})
    assert one.params[1].when == {"r": ((1.0, 2.0),)}
    both = _space(r=ratios, x={"path": MIN_SCALE, "float": [0.1, 0.2], "when": {"r": [[1.0, 2.0], [1.0, 3.0]]}})
    assert both.params[1].when == {"r": ((1.0, 2.0), (1.0, 3.0))}
