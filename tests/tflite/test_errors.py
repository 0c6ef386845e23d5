"""Bad input: one line ``error: what: where; fix`` on stderr, exit code 2, nothing written."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from tflite import convert
from tflite.errors import EXIT_BAD_INPUT


@pytest.fixture(scope="module")
def trial_factory(make_config, tmp_path_factory) -> Callable[..., Path]:
    """A trial directory with an edited config and fake checkpoint files (never restored)."""
    from tuner import config as cfgmod

    root = tmp_path_factory.mktemp("fake-trials")

    def build(name: str, edit: Callable[[object], None] | None = None, checkpoint: str | None = "ckpt-1") -> Path:
        cfg = cfgmod.loads(make_config(30))
        if edit is not None:
            edit(cfg)
        trial_dir = root / name
        (trial_dir / "model").mkdir(parents=True)
        (trial_dir / "pipeline.config").write_text(cfgmod.dumps(cfg))
        if checkpoint:
            for suffix in (".index", ".data-00000-of-00001"):
                (trial_dir / "model" / f"{checkpoint}{suffix}").write_bytes(b"")
        return trial_dir

    return build


def _expect_error(capsys, args: list[str], out: Path, *needles: str) -> str:
    code = convert.main([*args, "--out", str(out), "--variants", "fp32,int8"])
    captured = capsys.readouterr()
    assert code == EXIT_BAD_INPUT
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name]
    return lines[0]


def test_no_completed_trial(capsys, study_factory, trial_factory, tmp_path, trial_entry) -> None:
    trial_dir = trial_factory("unfinished")
    run = study_factory(tmp_path / "run", [
        trial_entry(trial_dir, value=None, checkpoint=None, state="FAIL"),
        trial_entry(trial_dir, value=None, checkpoint="ckpt-1", state="PRUNED", intermediate={10: 0.0}),
        trial_entry(trial_dir, value=None, checkpoint=None, state="RUNNING")])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "no completed trial", "study 's'", "--trial N")


def test_unfinished_trial_is_refused(capsys, study_factory, trial_factory, tmp_path, trial_entry) -> None:
    trial_dir = trial_factory("running")
    run = study_factory(tmp_path / "run", [trial_entry(trial_dir), trial_entry(trial_dir, value=None, state="RUNNING")])
    _expect_error(capsys, ["--study", str(run), "--trial", "1"], tmp_path / "out", "trial 1 is running")


def test_error_from_the_real_cli_is_one_line(cli, study_factory, trial_factory, tmp_path, trial_entry) -> None:
    """As a subprocess too: nothing but the one error line on stderr (no TF or Optuna noise)."""
    run = study_factory(tmp_path / "run", [trial_entry(trial_factory("cli"), value=None, checkpoint=None, state="FAIL")])
    proc = cli("--study", str(run), "--out", str(tmp_path / "out"))
    assert proc.returncode == EXIT_BAD_INPUT
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: no completed trial"), proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    trial_dir = trial_factory("no-ckpt", checkpoint=None)
    run = study_factory(tmp_path / "run", [trial_entry(trial_dir, checkpoint="ckpt-3")])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "checkpoint ckpt-3", "ckpt-3.index", "--trial")


def test_non_ssd_model(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    trial_dir = trial_factory("rcnn", lambda cfg: setattr(cfg.model.faster_rcnn, "num_classes", 4))
    run = study_factory(tmp_path / "run", [trial_entry(trial_dir)])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "model.faster_rcnn", "SSD", "pipeline.config")


def test_unsupported_resizer(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    def keep_aspect(cfg) -> None:
        cfg.model.ssd.image_resizer.keep_aspect_ratio_resizer.min_dimension = 128
        cfg.model.ssd.image_resizer.keep_aspect_ratio_resizer.max_dimension = 128

    trial_dir = trial_factory("aspect", keep_aspect)
    run = study_factory(tmp_path / "run", [trial_entry(trial_dir)])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "keep_aspect_ratio_resizer", "fixed_shape_resizer")


def test_a_model_the_od_api_cannot_build(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    """Schema-valid but unknown to the OD API builders: one line, before anything is written."""
    def unknown_extractor(cfg) -> None:
        cfg.model.ssd.feature_extractor.type = "ssd_no_such_extractor"

    run = study_factory(tmp_path / "run", [trial_entry(trial_factory("unbuildable", unknown_extractor))])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "the OD API cannot build the trial's model",
                  "ssd_no_such_extractor", "pipeline.config", "feature_extractor.type")


def test_missing_representative_data(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    def no_train(cfg) -> None:
        cfg.train_input_reader.tf_record_input_reader.input_path[:] = ["/nonexistent/train-*.record"]

    run = study_factory(tmp_path / "run", [trial_entry(trial_factory("notrain", no_train))])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "representative data", "/nonexistent/train-")


def test_missing_eval_data(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    def no_eval(cfg) -> None:
        cfg.eval_input_reader[0].tf_record_input_reader.input_path[:] = ["/nonexistent/eval.record"]

    run = study_factory(tmp_path / "run", [trial_entry(trial_factory("noeval", no_eval))])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "eval TFRecords", "/nonexistent/eval.record")


def test_existing_out_is_not_replaced(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    run = study_factory(tmp_path / "run", [trial_entry(trial_factory("exists"))])
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("x")
    code = convert.main(["--study", str(run), "--out", str(out)])
    assert code == EXIT_BAD_INPUT and "--overwrite" in capsys.readouterr().err
    assert (out / "keep").read_text() == "x"


@pytest.mark.parametrize("args, needle", [
    (["--study", "no-such-dir"], "--storage"),
    (["--study", "RUN", "--trial", "9"], "choose --trial from [0]"),
    (["--study", "RUN", "--variants", "fp32,int4"], "unknown variant 'int4'"),
    (["--study", "RUN", "--representative-count", "0"], "--representative-count 0"),
    (["--study", "RUN", "--variants", "fp32,fp16", "--uint8-io"], "--uint8-io applies to the int8 variant only"),
    (["--study", "nope", "--storage", "sqlite:////nonexistent/db.sqlite"], "does not exist"),
    (["--study", "RUN", "--trial", "x"], "argument --trial: invalid int value: 'x'"),
    (["--study", "RUN", "--varients", "fp32"], "unrecognized arguments: --varients"),
])
def test_option_errors(capsys, study_factory, tmp_path, trial_factory, args, needle, trial_entry) -> None:
    run = study_factory(tmp_path / "run", [trial_entry(trial_factory(f"opt-{tmp_path.name}"))])
    args = [str(run) if a == "RUN" else a for a in args]
    code = convert.main([*args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT and len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "out").exists()


def test_an_unreadable_study_json_is_one_line(capsys, study_factory, tmp_path, trial_factory, trial_entry) -> None:
    run = study_factory(tmp_path / "run", [trial_entry(trial_factory("bad-json"))])
    (run / "study.json").write_text("{not json")
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "unreadable study.json", "--storage")


@pytest.mark.parametrize("damage", ["empty files", "data shard missing"])
def test_a_checkpoint_that_cannot_be_restored(capsys, study_factory, tmp_path, trial_factory, trial_entry,
                                              damage) -> None:
    """The .index is there, so selection passes; restoring it fails: one line, nothing written."""
    trial_dir = trial_factory(f"broken-ckpt-{damage.split()[0]}")  # empty ckpt-1.index and ckpt-1.data-*
    if damage == "data shard missing":
        (trial_dir / "model" / "ckpt-1.data-00000-of-00001").unlink()
    run = study_factory(tmp_path / "run", [trial_entry(trial_dir, checkpoint="ckpt-1")])
    _expect_error(capsys, ["--study", str(run)], tmp_path / "out", "the checkpoint cannot be restored",
                  "ckpt-1", "restore the checkpoint files")
