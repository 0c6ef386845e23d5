"""tuner.config.textedit: an edit rewrites only its own lines, and the result is always the wanted config."""
from __future__ import annotations

import copy
from pathlib import Path

from tuner.config import loads
from tuner.config.textedit import preserved, render_edit

ONELINE = Path(__file__).parents[1] / "data" / "ssd_mobilenet_v1_tf1_oneline.config"

TEXT = """\
# header comment
model {
  ssd {
    num_classes: 3  # our classes
    anchor_generator {
      ssd_anchor_generator {
        num_layers: 6
        min_scale: 0.2
        aspect_ratios: [1.0, 2.0, 0.5]
      }
    }
  }
}

train_config: {
  batch_size: 8;
  data_augmentation_options {
    random_horizontal_flip {
    }
  }
  data_augmentation_options {
    ssd_random_crop {
    }
  }
  freeze_variables: "a"
  freeze_variables: "b"
}
eval_config {
}
"""


def _edit(fn, text: str = TEXT) -> tuple[str, bool]:
    before = loads(text)
    after = copy.deepcopy(before)
    fn(after)
    out = render_edit(text, before, after)
    assert loads(out) == after
    return out, preserved(text, before, after)


def _changed(a: str, b: str) -> list[tuple[str, str]]:
    import difflib

    return [(line[0], line[1:]) for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_a_changed_scalar_keeps_its_trailing_comment() -> None:
    out, kept = _edit(lambda c: setattr(c.model.ssd, "num_classes", 5))
    assert kept and _changed(TEXT, out) == [("-", "    num_classes: 3  # our classes"),
                                            ("+", "    num_classes: 5  # our classes")]


def test_a_new_field_goes_next_to_its_schema_sibling_with_its_indentation() -> None:
    out, kept = _edit(lambda c: setattr(c.model.ssd.anchor_generator.ssd_anchor_generator, "max_scale", 0.9))
    assert kept and _changed(TEXT, out) == [("+", "        max_scale: 0.9")]
    lines = out.splitlines()
    assert lines[lines.index("        max_scale: 0.9") - 1] == "        min_scale: 0.2"


def test_a_field_in_an_empty_message_goes_inside_its_braces() -> None:
    out, kept = _edit(lambda c: setattr(c.eval_config, "num_visualizations", 4))
    assert kept and out.endswith("eval_config {\n  num_visualizations: 4\n}\n")


def test_a_removed_field_takes_its_line_and_a_list_keeps_its_form() -> None:
    out, kept = _edit(lambda c: c.train_config.ClearField("batch_size"))
    assert kept and _changed(TEXT, out) == [("-", "  batch_size: 8;")]
    ratios = lambda c: c.model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios  # noqa: E731
    out, kept = _edit(lambda c: ratios(c).append(3.0))
    assert kept and _changed(TEXT, out) == [("-", "        aspect_ratios: [1.0, 2.0, 0.5]"),
                                            ("+", "        aspect_ratios: [1.0, 2.0, 0.5, 3.0]")]


def test_repeated_lines_are_rewritten_where_they_were() -> None:
    def edit(c):
        c.train_config.ClearField("freeze_variables")
        c.train_config.freeze_variables.extend(["x", "y", "z"])
    out, kept = _edit(edit)
    assert kept and '  freeze_variables: "x"\n  freeze_variables: "y"\n  freeze_variables: "z"\n}' in out


def test_a_repeated_message_removed_from_the_middle_leaves_the_others_alone() -> None:
    out, kept = _edit(lambda c: c.train_config.data_augmentation_options.__delitem__(0))
    assert kept and out == TEXT.replace("  data_augmentation_options {\n    random_horizontal_flip {\n    }\n  }\n", "", 1)


def test_a_one_line_config_stays_on_one_line() -> None:
    text = ONELINE.read_text()

    def edit(c):
        c.train_config.num_steps = 77
        c.eval_config.num_visualizations = 3
    out, kept = _edit(edit, text)
    assert kept and len(out.splitlines()) == len(text.splitlines())
    assert "from_detection_checkpoint: true num_steps: 77 " in out


def test_a_switched_oneof_member_is_replaced_in_place() -> None:
    def edit(c):
        c.model.ssd.anchor_generator.multiscale_anchor_generator.anchor_scale = 4.0
    out, kept = _edit(edit)
    assert kept and "ssd_anchor_generator" not in out and "      multiscale_anchor_generator {" in out
    assert out.startswith("# header comment\nmodel {\n  ssd {\n    num_classes: 3  # our classes\n")


def test_unchanged_is_byte_identical_and_an_unmappable_text_falls_back_to_canonical() -> None:
    cfg = loads(TEXT)
    assert render_edit(TEXT, cfg, copy.deepcopy(cfg)) == TEXT
    odd = "# keep me\ntrain_config { data_augmentation_options: [{ random_horizontal_flip {} }, { ssd_random_crop {} }] }\n"
    before = loads(odd)  # a list of messages: valid text format that the line edit does not map
    after = copy.deepcopy(before)
    del after.train_config.data_augmentation_options[0]
    out = render_edit(odd, before, after)  # the smallest enclosing entry is rewritten, the rest kept
    assert preserved(odd, before, after) and loads(out) == after and out.startswith("# keep me\ntrain_config {")
    odd = "# lost\neval_input_reader: [{ shuffle: false }, { shuffle: true }]\n"  # at the top: nothing to keep
    before = loads(odd)
    after = copy.deepcopy(before)
    del after.eval_input_reader[0]
    assert not preserved(odd, before, after)
    assert render_edit(odd, before, after) == "eval_input_reader {\n  shuffle: true\n}\n"
