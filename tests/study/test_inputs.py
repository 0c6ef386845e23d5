"""prepare(): the issue's own command on the zoo config, checkpoints, and reused run directories."""
from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from tuner.data import demo
from tuner.runinfo import BASE_CONFIG_FILE, RUN_INFO_FILE, RunInfo, sqlite_url
from tuner.study import __main__ as cli
from studyhelpers import fake_study_settings
from tuner.study.inputs import StudyInputError, StudySettings, prepare

SPACE = "params:\n  s:\n    path: model.ssd.anchor_generator.ssd_anchor_generator.min_scale\n    float: [0.1, 0.2]\n"


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory, odapi):
    """The real demo dataset (the zoo config's batch needs all of it), generated once, not in data/."""
    return demo.ensure_demo_dataset(tmp_path_factory.mktemp("demo") / "shapes")


@pytest.fixture()
def demo_data(monkeypatch, demo_dataset):
    monkeypatch.setattr(demo, "ensure_demo_dataset", lambda root=None: demo_dataset)
    return demo_dataset


@pytest.fixture()
def space(tmp_path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return path


def _settings(tmp_path, base, space, **kw) -> StudySettings:
    return StudySettings(base=str(base), space=str(space), steps=20, eval_every=10, n_trials=2,
                         run_dir=str(tmp_path / "run"), **kw)


def _start(prepared) -> None:
    """What run() writes before its first trial."""
    prepared.run_dir.mkdir(parents=True, exist_ok=True)
    prepared.info.save(prepared.run_dir)
    (prepared.run_dir / BASE_CONFIG_FILE).write_text(prepared.base_text)


def test_the_zoo_config_trains_from_scratch_on_demo_data(tmp_path, demo_data) -> None:
    """python -m tuner.study --base ssd_mobilenet_v2.config: placeholder data and checkpoint."""
    prepared = prepare(StudySettings(base="ssd_mobilenet_v2.config", run_dir=str(tmp_path / "run")))
    train = prepared.base_cfg.train_config
    assert not train.HasField("fine_tune_checkpoint") and not train.HasField("fine_tune_checkpoint_type")
    assert list(prepared.base_cfg.train_input_reader.tf_record_input_reader.input_path) == [str(demo_data.train_record)]
    assert prepared.note.splitlines() == [
        f"ssd_mobilenet_v2.config has placeholder paths and no data was given: using the generated demo dataset in "
        f"{demo_data.root} (shapes, {demo_data.spec.train} train / {demo_data.spec.eval} eval images)",
        "ssd_mobilenet_v2.config trains batches of 512 (sized for accelerators): on a CPU that is slow; "
        "--base ssd_mobilenet_v2_shapes is sized for the demo data, or set batch_size in the base config",
        "fine_tune_checkpoint is a placeholder: training from scratch; set it in the base config to fine-tune"]
    assert not (tmp_path / "run").exists()


def test_the_zoo_config_with_data_also_trains_from_scratch(tmp_path, demo_dataset) -> None:
    prepared = prepare(StudySettings(base="ssd_mobilenet_v2", train_data=str(demo_dataset.train_record),
                                     eval_data=str(demo_dataset.eval_record),
                                     label_map=str(demo_dataset.label_map), run_dir=str(tmp_path / "run")))
    assert prepared.note == ("fine_tune_checkpoint is a placeholder: training from scratch; set it in the base "
                             "config to fine-tune")
    assert not prepared.base_cfg.train_config.fine_tune_checkpoint


def test_a_fine_tune_checkpoint_is_checked_and_set(tmp_path, demo_data, small_base) -> None:
    prefix = tmp_path / "ckpt" / "ckpt-0"
    with pytest.raises(StudyInputError, match=rf"--fine-tune-checkpoint {prefix}: no checkpoint there "
                                              rf"\({prefix}.index not found\)"):
        prepare(StudySettings(base="ssd_mobilenet_v2", fine_tune_checkpoint=str(prefix), run_dir=str(tmp_path / "r")))
    prefix.parent.mkdir()
    prefix.with_name("ckpt-0.index").write_bytes(b"")
    zoo = prepare(StudySettings(base="ssd_mobilenet_v2", fine_tune_checkpoint=str(prefix), run_dir=str(tmp_path / "r")))
    assert zoo.base_cfg.train_config.fine_tune_checkpoint == str(prefix)
    assert zoo.base_cfg.train_config.fine_tune_checkpoint_type == "classification"  # the base's own type
    assert "fine_tune_checkpoint" not in zoo.note
    own = prepare(StudySettings(base=str(small_base), fine_tune_checkpoint=str(prefix), run_dir=str(tmp_path / "r")))
    assert own.base_cfg.train_config.fine_tune_checkpoint_type == "detection"
    assert own.base_cfg.train_config.fine_tune_checkpoint_version == 2  # V2: the TF2 trainer refuses V1


def test_a_run_dir_of_another_storage_is_refused(tmp_path, small_base, space) -> None:
    prepared = prepare(_settings(tmp_path, small_base, space))
    _start(prepared)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with pytest.raises(StudyInputError, match=rf"holds study 'small' stored in {sqlite_url(tmp_path / 'run')}, not "
                                              rf"{other}; resume it without --storage \(it uses its own study.db\)"):
        prepare(_settings(tmp_path, small_base, space, storage=other))
    info = json.loads((tmp_path / "run" / RUN_INFO_FILE).read_text())
    info["storage"] = "postgresql://tuner:secret@db.example/studies"
    (tmp_path / "run" / RUN_INFO_FILE).write_text(json.dumps(info))
    with pytest.raises(StudyInputError, match=r"stored in postgresql://tuner:\*\*\*@db.example/studies, not sqlite:.*; "
                                              r"resume it with --storage postgresql://tuner:\*\*\*@db.example/studies"):
        prepare(_settings(tmp_path, small_base, space))


def test_a_missing_or_corrupt_study_json_is_one_line(tmp_path, small_base, space) -> None:
    prepared = prepare(_settings(tmp_path, small_base, space))
    _start(prepared)
    info_file = tmp_path / "run" / RUN_INFO_FILE
    for content, reason in [(None, "is missing"), ("{", r"is unreadable \(JSONDecodeError: "),
                            ('{"study_name": "small"}', "is missing field 'storage'"), ("[]", "is expected a JSON")]:
        if content is None:
            info_file.unlink(missing_ok=True)
        else:
            info_file.write_text(content)
        with pytest.raises(StudyInputError, match=rf"holds a study \(base.config\) but its study.json {reason}"):
            prepare(_settings(tmp_path, small_base, space))


def test_resuming_with_another_space_is_refused(tmp_path, small_base, space) -> None:
    prepared = prepare(_settings(tmp_path, small_base, space))
    _start(prepared)
    assert RunInfo.load(tmp_path / "run").space_sha256 == prepared.info.space_sha256 != ""
    prepare(_settings(tmp_path, small_base, space))  # the same space resumes
    space.write_text(SPACE.replace("[0.1, 0.2]", "[0.1, 0.25]"))
    with pytest.raises(StudyInputError, match=rf"searched with another space file \({space}, sha256 "
                                              rf"{prepared.info.space_sha256[:12]}; now {space}, sha256 [0-9a-f]{{12}}\); "
                                              "resume it with the same --space"):
        prepare(_settings(tmp_path, small_base, space))


def test_trials_without_their_study_are_refused(tmp_path, small_base, space) -> None:
    prepared = prepare(_settings(tmp_path, small_base, space))
    _start(prepared)
    (tmp_path / "run" / "trial-0000").mkdir()
    with pytest.raises(StudyInputError, match="holds trials of study 'small', but sqlite:.* has no such study"):
        prepare(_settings(tmp_path, small_base, space))
    optuna.create_study(study_name="small", storage=sqlite_url(tmp_path / "run"))
    prepare(_settings(tmp_path, small_base, space))


def test_an_unexpected_error_is_one_line_with_the_traceback_in_the_run_dir(tmp_path, small_base, space,
                                                                            monkeypatch, capsys) -> None:
    def broken_run(plan):
        plan.run_dir.mkdir(parents=True)
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(cli, "resolve", lambda settings, **kwargs: prepare(settings))  # no data read, no build
    monkeypatch.setattr(cli, "run", broken_run)
    code = cli.main(["--base", str(small_base), "--space", str(space), "--steps", "20", "--eval-every", "10",
                     "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    log = tmp_path / "run" / "study.log"
    assert code == 1
    assert err == [f"error: unexpected RuntimeError: something broke; the traceback is in {log} (please report it "
                   "with that file)"]
    assert "Traceback" in log.read_text() and "second line" in log.read_text()


@pytest.mark.parametrize("argv, message", [
    (["--timeout", "0"], "--timeout must be a positive number of seconds (got 0)"),
    (["--timeout", "-5"], "--timeout must be a positive number of seconds (got -5)"),
    (["--jobs", "two"], "argument --jobs: invalid int value: 'two' (see python -m tuner.study --help)"),
    (["--sampler", "grid"], "argument --sampler: invalid choice: 'grid'"),
])
def test_usage_errors_are_one_line(argv, message, small_base, capsys) -> None:
    assert cli.main(["--base", str(small_base), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_a_half_generated_demo_dataset_says_how_to_start_over(tmp_path) -> None:
    root = tmp_path / "shapes"
    root.mkdir()
    (root / "train.record").write_bytes(b"partial")
    with pytest.raises(demo.DataError) as caught:
        demo.ensure_demo_dataset(root)
    message = str(caught.value)
    assert message.startswith(f"{root} holds an incomplete or different demo dataset")
    assert f"rm -rf {root}" in message and "make clean-demo" in message and "--out" not in message


@pytest.mark.parametrize("argv, seed, deterministic", [
    ([], None, False),
    (["--seed", "3"], 3, False),
    (["--seed", "3", "--deterministic"], 3, True),
])
def test_the_cli_passes_seed_and_deterministic_to_the_study(argv, seed, deterministic, monkeypatch, capsys) -> None:
    seen: list[StudySettings] = []

    def capture(settings: StudySettings, **kwargs):
        seen.append(settings)
        raise StudyInputError("captured")

    monkeypatch.setattr(cli, "resolve", capture)
    assert cli.main(["--base", "any.config", *argv]) == 2
    assert capsys.readouterr().err.strip() == "error: captured"
    assert (seen[0].seed, seen[0].deterministic) == (seed, deterministic)
    assert StudySettings(base="x").deterministic is False


def test_the_study_parses_its_base_config_once(tmp_path, monkeypatch) -> None:
    from tuner.config import io

    settings = fake_study_settings(tmp_path, "params:\n  lr:\n    knob: learning_rate\n    float: [0.001, 0.3]\n")
    parsed: list[str] = []
    real = io.parse_text
    monkeypatch.setattr(io, "parse_text", lambda text, message, source="<string>": (
        parsed.append(source), real(text, message, source=source))[1])
    prepared = prepare(settings)
    assert [Path(p).name for p in parsed] == ["ssd_mobilenet_v2_shapes.config"]
    assert prepared.base_cfg.train_config.num_steps == settings.steps  # the one parse, prepared in place
