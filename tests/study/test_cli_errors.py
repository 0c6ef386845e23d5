"""Bad input to python -m tuner.study: one line, exit 2, before any training, nothing changed."""
from __future__ import annotations

import hashlib
from pathlib import Path

import optuna
import pytest

from studyhelpers import run_study
from tuner.runinfo import BASE_CONFIG_FILE, RunInfo, sqlite_url

GOOD_SPACE = "params:\n  s:\n    path: model.ssd.anchor_generator.ssd_anchor_generator.min_scale\n    float: [0.1, 0.2]\n"


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def existing_run(tmp_path, small_base) -> Path:
    """A run directory holding a study with one finished trial."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / BASE_CONFIG_FILE).write_text(small_base.read_text())
    RunInfo("existing", sqlite_url(run_dir), str(small_base), "t", "e", "l", 20, 10, "mAP").save(run_dir)
    study = optuna.create_study(study_name="existing", storage=sqlite_url(run_dir), direction="maximize")
    study.add_trial(optuna.trial.create_trial(value=0.25, params={}, distributions={}))
    return run_dir


def _cases(tmp_path: Path, small_base: Path) -> dict[str, tuple[list[str], str]]:
    def space(text: str) -> str:
        path = tmp_path / f"space{abs(hash(text))}.yaml"
        path.write_text(text)
        return str(path)

    bad_config = tmp_path / "bad.config"
    bad_config.write_text(small_base.read_text().replace("num_classes", "num_clases", 1))
    return {
        "broken space file": (["--space", space("params:\n  s: [oops\n")], "YAML syntax error"),
        "unknown path": (["--space", space(GOOD_SPACE.replace("min_scale", "min_scal"))], "did you mean 'min_scale'"),
        "empty range": (["--space", space(GOOD_SPACE.replace("[0.1, 0.2]", "[0.2, 0.2]"))], "empty range"),
        "inverted range": (["--space", space(GOOD_SPACE.replace("[0.1, 0.2]", "[0.3, 0.2]"))], "inverted range"),
        "invalid base config": (["--base", str(bad_config)], "num_clases"),
        "missing base": (["--base", str(tmp_path / "nope.config")], "not found"),
        "missing data": (["--train-data", str(tmp_path / "none.record"), "--eval-data", str(tmp_path / "e.record"),
                          "--label-map", str(tmp_path / "l.pbtxt")], "--train-data"),
        "partial data": (["--train-data", str(small_base)], "give all of --train-data, --eval-data and --label-map"),
        "unreachable storage": (["--storage", "postgresql://nobody@127.0.0.1:1/none"], "cannot open storage"),
        "steps vs eval interval": (["--steps", "25"], "not a multiple of --eval-every"),
        "another storage for this run dir": (["--storage", f"sqlite:///{tmp_path / 'other.db'}"],
                                             "stored in sqlite:///"),
        "missing fine-tune checkpoint": (["--fine-tune-checkpoint", str(tmp_path / "ckpt-0")], "ckpt-0.index not found"),
        "zero timeout": (["--timeout", "0"], "--timeout must be a positive number"),
        "run dir under a file": (["--run-dir", str(small_base / "run")], "is a file"),
        "storage in a missing directory": (["--storage", f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}"],
                                           "does not exist"),
        "negative trial timeout": (["--trial-timeout", "-5"], "--trial-timeout must be a positive number"),
        "zero status interval": (["--status-every", "0"], "--status-every must be a positive number"),
        "warm-up out of range": (["--prune-after", "1.5"], "--prune-after must be a fraction of --steps in [0, 1)"),
        "empty comparison set": (["--prune-min-trials", "0"], "--prune-min-trials must be >= 1 (got 0)"),
        "freeze without a checkpoint": (["--space", space("params:\n  f:\n    knob: freeze\n    choices: [none, backbone]\n")],
                                        "knob 'freeze' needs a fine-tune checkpoint"),
        "usage error": (["--jobs", "two"], "argument --jobs: invalid int value: 'two'"),
    }


def test_each_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path, small_base, existing_run) -> None:
    before = _snapshot(existing_run)
    for label, (extra, expected) in _cases(tmp_path, small_base).items():
        args = ["--base", str(small_base), "--space", str(tmp_path / "default.yaml"), "--steps", "20",
                "--eval-every", "10", "--n-trials", "2", "--study-name", "existing", "--run-dir", str(existing_run)]
        (tmp_path / "default.yaml").write_text(GOOD_SPACE)
        # later flags win in argparse: the case's own value replaces the default one
        result = run_study(*args, *extra, timeout=300)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, f"{label}: exit {result.returncode}\n{result.stderr[-2000:]}"
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{label}: {result.stderr!r}"
        assert expected in lines[0], f"{label}: {lines[0]}"
        assert "Traceback" not in result.stderr
        assert _snapshot(existing_run) == before, f"{label} changed the existing run directory"
    trials = optuna.load_study(study_name="existing", storage=sqlite_url(existing_run)).trials
    assert len(trials) == 1
    assert not (tmp_path / "other.db").exists(), "a refused --storage SQLite file was created"


def test_a_run_dir_of_another_study_is_refused(tmp_path, small_base, existing_run) -> None:
    (tmp_path / "s.yaml").write_text(GOOD_SPACE)
    result = run_study("--base", str(small_base), "--space", str(tmp_path / "s.yaml"), "--steps", "40",
                       "--eval-every", "10", "--study-name", "existing", "--run-dir", str(existing_run))
    assert result.returncode == 2
    assert "different base config, data or budget" in result.stderr
