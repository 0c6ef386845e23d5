"""The config CLI on the TF2 model zoo's config shapes (tests/config/zoo, see its README):
lint, set, diff and edit end without a traceback on every family; an edit changes only its lines;
map fields are read, set, removed and diffed by key; a path that would switch a oneof is refused."""
from __future__ import annotations

import copy
import difflib
from pathlib import Path

import pytest

from tuner.config import diff, get_value, load, loads, set_value
from tuner.config.__main__ import main
from tuner.config.errors import OneofSwitchError, PathError
from tuner.config.paths import iter_set_fields, remove_value
from tuner.config.textedit import preserved, render_edit

ZOO_DIR = Path(__file__).parent / "zoo"
CONFIGS = sorted(ZOO_DIR.glob("*.config"))
KPTS = ZOO_DIR / "centernet_hourglass104_512x512_kpts.config"
DEEPMAC = ZOO_DIR / "center_net_deepmac_512x512.config"
FPN = ZOO_DIR / "ssd_resnet50_v1_fpn_640x640.config"
FASTER_RCNN = ZOO_DIR / "faster_rcnn_resnet50_v1_640x640.config"
CONTEXT_RCNN = ZOO_DIR / "tf1_context_rcnn_resnet101.config"
STD = "model.center_net.keypoint_estimation_task[0].keypoint_label_to_std"


def cli(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def changed_lines(a: str, b: str) -> list[str]:
    return [line for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_every_family_of_the_zoo_is_here() -> None:
    assert {p.name for p in CONFIGS} >= {
        "ssd_mobilenet_v2_320x320.config", "ssd_mobilenet_v2_fpnlite_320x320.config",
        "ssd_resnet50_v1_fpn_640x640.config", "ssd_efficientdet_d0_512x512.config",
        "faster_rcnn_resnet50_v1_640x640.config", "centernet_hourglass104_512x512_kpts.config",
        "center_net_deepmac_512x512.config"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_lint_reports_findings_not_a_traceback(path: Path, capsys) -> None:
    code, out, err = cli(capsys, "lint", path, "--no-files")
    assert (code, err) == (1, ""), err  # the placeholders are errors
    assert out and all(line.startswith(("error: ", "warning: ")) for line in out.splitlines())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_set_changes_one_line_and_diff_names_it(path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.config"
    code, _, err = cli(capsys, "set", path, "train_config.num_steps=1234", "-o", out)
    assert (code, err) == (0, "")
    before, after = path.read_text(), out.read_text()
    old = load(path).train_config.num_steps
    assert changed_lines(before, after) == [f"-  num_steps: {old}", "+  num_steps: 1234"]
    code, printed, err = cli(capsys, "diff", path, out)
    assert (code, printed, err) == (0, f"train_config.num_steps: {old} -> 1234\n", "")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_edit_keeps_the_file_and_says_each_change(path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.config"
    code, printed, err = cli(capsys, "edit", path, "--num-steps", "2000", "--learning-rate", "0.01", "-o", out)
    assert (code, err) == (0, "")
    assert "train_config.num_steps:" in printed
    text = out.read_text()
    comments = [line for line in path.read_text().splitlines() if line.lstrip().startswith("#")]
    assert comments and all(line in text.splitlines() for line in comments)
    assert len(changed_lines(path.read_text(), text)) == 2 * len(printed.splitlines())  # - and + per change
    assert loads(text) == _edited(path)


def _edited(path: Path):
    from tuner.config.plan import EditPlan, apply_plan

    cfg = load(path)
    apply_plan(cfg, EditPlan(num_steps=2000, learning_rate=0.01))
    return cfg


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_unchanged_round_trip_is_byte_identical(path: Path) -> None:
    text = path.read_text()
    cfg = loads(text)
    assert render_edit(text, cfg, copy.deepcopy(cfg)) == text


def test_map_fields_get_set_remove_and_diff_by_key(tmp_path: Path, capsys) -> None:
    cfg = load(KPTS)
    assert get_value(cfg, f"{STD}[nose]") == pytest.approx(0.26)
    assert set(get_value(cfg, STD)) == {"left_ankle", "left_ear", "nose", "right_ankle", "right_ear"}
    walked = [path for path, _, _ in iter_set_fields(cfg) if "keypoint_label_to" in path]
    assert f"{STD}[nose]" in walked and \
        "eval_config.parameterized_metric[0].coco_keypoint_metrics.keypoint_label_to_sigmas[left_ear]" in walked
    out = tmp_path / "out.config"
    code, _, err = cli(capsys, "set", KPTS, f"{STD}[nose]=0.3", "-o", out)
    assert (code, err) == (0, "")
    assert changed_lines(KPTS.read_text(), out.read_text()) == ["-        value: 0.26", "+        value: 0.3"]
    code, printed, _ = cli(capsys, "diff", KPTS, out)
    assert printed == f"{STD}[nose]: 0.26 -> 0.3\n"
    code, _, err = cli(capsys, "remove", KPTS, f"{STD}[left_ear]", "-o", out)
    assert (code, err) == (0, "") and "left_ear" not in get_value(load(out), STD)
    code, printed, _ = cli(capsys, "diff", KPTS, out)
    assert printed == f"{STD}[left_ear]: 0.35 -> <unset>\n"
    code, _, err = cli(capsys, "set", KPTS, f"{STD}[wrist]=0.6", "-o", out)
    assert (code, err) == (0, "") and get_value(load(out), f"{STD}[wrist]") == pytest.approx(0.6)
    with pytest.raises(PathError, match="no key elbow in map keypoint_label_to_std.*keys here: left_ankle"):
        get_value(cfg, f"{STD}[elbow]")


def test_a_map_of_strings_split_over_lines_reads_and_edits(tmp_path: Path, capsys) -> None:
    cfg = load(DEEPMAC)
    voc = get_value(cfg, "eval_config.super_categories[VOC]")
    assert voc.startswith("person,bicycle") and voc.endswith("dining table,tv")
    out = tmp_path / "out.config"
    code, _, err = cli(capsys, "set", DEEPMAC, 'eval_config.super_categories["my animals"]="cat,dog"', "-o", out)
    assert (code, err) == (0, "")
    assert get_value(load(out), 'eval_config.super_categories["my animals"]') == "cat,dog"
    assert len(changed_lines(DEEPMAC.read_text(), out.read_text())) == 4  # one new entry, the rest untouched
    code, printed, _ = cli(capsys, "get", DEEPMAC, "eval_config.super_categories[person]")
    assert printed == "person\n"


@pytest.mark.parametrize("path, edit, held", [
    (FASTER_RCNN, "model.ssd.anchor_generator.ssd_anchor_generator.min_scale=0.1", "model.faster_rcnn"),
    (FPN, "model.ssd.anchor_generator.ssd_anchor_generator.min_scale=0.1",
     "model.ssd.anchor_generator.multiscale_anchor_generator"),
    (FPN, "train_config.optimizer.adam_optimizer.epsilon=1e-7", "train_config.optimizer.momentum_optimizer"),
])
def test_a_path_that_would_switch_a_oneof_exits_2_and_writes_nothing(path, edit, held, tmp_path, capsys) -> None:
    out = tmp_path / "out.config"
    code, printed, err = cli(capsys, "set", path, edit, "-o", out)
    assert code == 2 and printed == "" and len(err.splitlines()) == 1
    assert f"the config has {held} set and protobuf would silently drop it" in err
    assert "set --switch CONFIG" in err
    assert not out.exists()
    code, _, err = cli(capsys, "set", "--switch", path, edit, "-o", out)  # on purpose
    assert (code, err) == (0, "") and out.exists()


def test_the_library_refuses_the_switch_and_leaves_the_config_as_it_was() -> None:
    cfg = load(FASTER_RCNN)
    before = copy.deepcopy(cfg)
    with pytest.raises(OneofSwitchError, match="would switch model from faster_rcnn to ssd") as caught:
        set_value(cfg, "model.ssd.num_classes", 3)
    assert (caught.value.oneof, caught.value.held, caught.value.wanted) == ("model", "faster_rcnn", "ssd")
    assert cfg == before
    remove_value(cfg, "model.faster_rcnn.first_stage_max_proposals")  # edits inside the held branch are fine
    set_value(cfg, "model.faster_rcnn.num_classes", 3)


def test_schedule_switch_names_the_edit_that_switches_schedules(capsys) -> None:
    code, _, err = cli(capsys, "set", FPN,
                       "train_config.optimizer.momentum_optimizer.learning_rate.exponential_decay_learning_rate"
                       ".decay_steps=100")
    assert code == 2 and "edit CONFIG --schedule KIND" in err


def test_learning_rate_edit_rescales_a_manual_warm_up_from_zero(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.config"
    code, printed, err = cli(capsys, "edit", CONTEXT_RCNN, "--learning-rate", "0.01", "-o", out)
    assert (code, err) == (0, "")
    manual = load(out).train_config.optimizer.momentum_optimizer.learning_rate.manual_step_learning_rate
    assert manual.initial_learning_rate == 0.0 and manual.warmup  # still a warm-up from 0
    assert [round(s.learning_rate, 7) for s in manual.schedule] == [0.01, 0.001, 0.0001]
    assert changed_lines(CONTEXT_RCNN.read_text(), out.read_text()) == [
        "-            learning_rate: 0.002", "+            learning_rate: 0.01",
        "-            learning_rate: 0.0002", "+            learning_rate: 0.001",
        "-            learning_rate: 0.00002", "+            learning_rate: 0.0001"]
    assert len(printed.splitlines()) == 3


def test_an_unexpected_error_exits_3_not_lints_1(capsys, monkeypatch) -> None:
    import tuner.config.__main__ as cli_mod

    def broken(*args, **kwargs):
        raise KeyError(0)

    monkeypatch.setattr(cli_mod, "lint", broken)
    code, out, err = cli(capsys, "lint", KPTS, "--no-files")
    assert code == 3 and out == ""
    assert err.startswith("error: unexpected KeyError: 0 (a bug in odapi-tuner") and len(err.splitlines()) == 1
    log = Path(err.split("traceback: ")[1].split(";")[0])
    assert "KeyError" in log.read_text()
    log.unlink()


def test_every_edit_on_every_family_is_written_in_place() -> None:
    """Beyond the CLI: several edits at once, each family keeps its layout (no canonical fallback)."""
    for path in CONFIGS:
        text = path.read_text()
        before = loads(text)
        after = copy.deepcopy(before)
        after.train_config.batch_size = 3
        after.eval_config.ClearField("metrics_set")
        after.train_config.data_augmentation_options.add().random_adjust_hue.max_delta = 0.1
        del after.train_config.data_augmentation_options[0]
        after.eval_config.num_visualizations = 5
        assert preserved(text, before, after), path.name
        written = render_edit(text, before, after)
        assert loads(written) == after
        assert diff(loads(written), after) == []
