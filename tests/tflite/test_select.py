"""Picking the study, the trial and its best-mAP checkpoint (TensorFlow-free)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tflite.errors import StudyError
from tflite.select import default_out, resolve_study, select


def _trial_dir(root: Path, name: str, checkpoints: tuple[str, ...]) -> Path:
    trial_dir = root / name
    (trial_dir / "model").mkdir(parents=True)
    (trial_dir / "pipeline.config").write_text("model { ssd { num_classes: 1 } }\n")
    for ckpt in checkpoints:
        (trial_dir / "model" / f"{ckpt}.index").write_bytes(b"")
    return trial_dir


def test_best_completed_trial_and_its_best_checkpoint_not_the_latest(study_factory, trial_entry, tmp_path) -> None:
    a = _trial_dir(tmp_path, "trial-0000", ("ckpt-4",))
    b = _trial_dir(tmp_path, "trial-0001", ("ckpt-2", "ckpt-4"))  # best at step 10, latest is ckpt-4
    run = study_factory(tmp_path / "run", [
        trial_entry(a, value=0.30, checkpoint="ckpt-4", baseline=True, params={}),
        trial_entry(b, value=0.42, checkpoint="ckpt-2", step=10, params={"lr": 0.01}),
        trial_entry(a, value=None, checkpoint="ckpt-4", state="PRUNED"),
        trial_entry(None, value=None, checkpoint=None, state="FAIL")])
    chosen = select(resolve_study(str(run)))
    assert (chosen.number, chosen.checkpoint, chosen.best_step) == (1, "ckpt-2", 10)
    assert chosen.checkpoint_prefix == b / "model" / "ckpt-2"
    assert chosen.params == {"lr": 0.01} and chosen.value == pytest.approx(0.42)
    assert chosen.baseline == (0, pytest.approx(0.30))
    assert default_out(chosen) == run.resolve() / "tflite-trial-0001"


def test_a_confirmed_study_gives_its_picks_best_run_not_the_luckiest_single_run(study_factory, trial_entry,
                                                                                  tmp_path) -> None:
    import optuna

    from tuner.runinfo import Attr, sqlite_url
    from tuner.study import confirm

    dirs = [_trial_dir(tmp_path, f"trial-{i:04d}", ("ckpt-1",)) for i in range(7)]
    run = study_factory(tmp_path / "run", [
        trial_entry(dirs[0], value=0.30, baseline=True, params={}),
        trial_entry(dirs[1], value=0.45, params={"lr": 0.02}),  # the luckiest single run
        trial_entry(dirs[2], value=0.40, params={"lr": 0.03}),
        trial_entry(dirs[3], value=0.20, params={"lr": 0.02}, attrs={Attr.REPEAT_OF: 1}),
        trial_entry(dirs[4], value=0.41, params={"lr": 0.03}, attrs={Attr.REPEAT_OF: 2}),
        trial_entry(dirs[5], value=0.31, baseline=True, params={}, attrs={Attr.REPEAT_OF: 0})])
    study = optuna.load_study(study_name="s", storage=sqlite_url(run))
    confirm.record(study, confirm.confirm(study.get_trials(), 2, 1))
    chosen = select(resolve_study(str(run)))
    assert chosen.number == 4  # trial 2 has the best fresh mean (0.41; trial 1's is 0.20); its best run is its repeat
    # base fresh [0.30, 0.31]: s = 0.00707, df 1; lift 0.105 +- t(.95, 1) 6.314 * 0.00707 * sqrt(1 + 1/2) = 0.0547
    assert chosen.why == ("the confirmed pick, trial 2 (fresh mean mAP 0.4100 over 1 run(s); +10.5 pts (90 % interval "
                          "+5.0 to +16.0; 1 fresh runs vs 2): a lift); its best run is its repeat trial 4 (mAP 0.4100)")
    assert select(resolve_study(str(run)), trial=1).why == "trial 1 as asked (--trial)"


def test_explicit_trial_and_study_name_with_storage(study_factory, trial_entry, tmp_path) -> None:
    a = _trial_dir(tmp_path, "t0", ("ckpt-3",))
    run = study_factory(tmp_path / "run", [trial_entry(a, value=0.5, checkpoint="ckpt-3"),
                                           trial_entry(a, value=None, checkpoint="ckpt-3", state="PRUNED")],
                        name="named")
    from tuner.runinfo import sqlite_url

    ref = resolve_study("named", sqlite_url(run))
    assert ref.run_dir is None and ref.name == "named"
    assert select(ref, trial=1).number == 1  # a pruned trial with a checkpoint may be converted on request
    with pytest.raises(StudyError, match="no study named 'other'"):
        select(resolve_study("other", sqlite_url(run)))


def test_relative_trial_dir_is_taken_from_the_run_dir(study_factory, trial_entry, tmp_path) -> None:
    run = tmp_path / "run"
    _trial_dir(run, "trial-0000", ("ckpt-1",))
    study_factory(run, [trial_entry(Path("trial-0000"), value=0.1)])
    assert select(resolve_study(str(run))).trial_dir == run.resolve() / "trial-0000"


def test_trial_dir_recorded_relative_to_another_working_directory(study_factory, trial_entry, tmp_path) -> None:
    """`tuner.study --run-dir runs/demo` run from the repository recorded `runs/demo/trial-0000`."""
    run = tmp_path / "runs" / "demo"
    _trial_dir(run, "trial-0000", ("ckpt-1",))
    study_factory(run, [trial_entry(Path("runs/demo/trial-0000"), value=0.1)])
    assert select(resolve_study(str(run))).trial_dir == run.resolve() / "trial-0000"


def test_a_moved_run_dir_still_finds_its_trials(study_factory, trial_entry, tmp_path) -> None:
    old = tmp_path / "old"
    study_factory(old, [trial_entry(old / "trial-0000", value=0.1)])
    moved = tmp_path / "moved"
    old.rename(moved)
    _trial_dir(moved, "trial-0000", ("ckpt-1",))
    assert select(resolve_study(str(moved))).trial_dir == moved.resolve() / "trial-0000"


def test_run_dir_without_study_json(tmp_path) -> None:
    with pytest.raises(StudyError, match="not a study run directory") as info:
        resolve_study(str(tmp_path))
    assert "study.json" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("step, expected", [(0, 0), (20, 20), (None, -1)])
def test_best_step_zero_is_a_real_step(study_factory, trial_entry, tmp_path, step, expected) -> None:
    """A best checkpoint at step 0 (the OD API saves ckpt-1 at step 0) keeps step 0, not -1."""
    a = _trial_dir(tmp_path, "trial-0000", ("ckpt-1",))
    run = study_factory(tmp_path / "run", [trial_entry(a, value=0.1, checkpoint="ckpt-1", step=step,
                                                       intermediate={5: 0.1})])
    assert select(resolve_study(str(run))).best_step == expected
