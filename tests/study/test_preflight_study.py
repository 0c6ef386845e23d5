"""The preflight on the real OD API: ``--dry-run`` builds every draw of the default space on an FPN
SSD and an EfficientDet-shaped config (multiscale anchors), and a space whose variants do not build
is shown by the dry run and refused by the study before it writes anything."""
from __future__ import annotations

from pathlib import Path

import pytest

from studyhelpers import run_study
from tuner import config as cfgmod

ZOO_DIR = Path(__file__).parents[1] / "config" / "zoo"
BAD_SPACE = "params:\n  fpn_min_level:\n    path: model.ssd.feature_extractor.fpn.min_level\n    choices: [4]\n"


def _base(tmp_path: Path, name: str) -> Path:
    """The zoo-shaped config with a batch the tiny test dataset can fill."""
    cfg = cfgmod.load(ZOO_DIR / f"{name}.config")
    cfg.train_config.batch_size = 8
    path = tmp_path / f"{name}.config"
    path.write_text(cfgmod.dumps(cfg))
    return path


def _data(dataset) -> list[str]:
    return ["--train-data", str(dataset.train_record), "--eval-data", str(dataset.eval_record),
            "--label-map", str(dataset.label_map)]


@pytest.mark.parametrize("name", ["ssd_mobilenet_v2_fpnlite_320x320", "ssd_efficientdet_d0_512x512"])
def test_dry_run_builds_every_draw_of_the_default_space(tmp_path, shapes_dataset, name, monkeypatch) -> None:
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # as a user runs it (a test process may have set it)
    run_dir = tmp_path / "run"
    result = run_study("--base", str(_base(tmp_path, name)), *_data(shapes_dataset), "--dry-run", "4", "--seed", "0",
                       "--no-fit-anchors", "--run-dir", str(run_dir), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr == ""
    assert "preflight: 4 of 4 sampled variants build; baseline builds" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert [row[:3] for row in rows] == [["0", "baseline", "yes"]] + [[str(n), "sampled", "yes"] for n in (1, 2, 3, 4)]
    assert all("anchor_size=" in " ".join(row) for row in rows[1:])
    assert "preflight 5/5: trial 4 (sampled) ..." in result.stdout
    assert not run_dir.exists()


def test_a_space_that_does_not_build_is_shown_and_refused_before_anything_is_written(tmp_path, shapes_dataset,
                                                                                     monkeypatch) -> None:
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # as a user runs it (a test process may have set it)
    space = tmp_path / "bad.yaml"
    space.write_text(BAD_SPACE)
    run_dir = tmp_path / "run"
    args = ["--base", str(_base(tmp_path, "ssd_mobilenet_v2_fpnlite_320x320")), *_data(shapes_dataset),
            "--space", str(space), "--seed", "0", "--no-fit-anchors", "--run-dir", str(run_dir)]
    dry = run_study(*args, "--dry-run", "2", timeout=600)
    assert dry.returncode == 1, dry.stdout[-3000:] + dry.stderr[-3000:]
    rows = [line for line in dry.stdout.splitlines() if line[:1].isdigit()]
    assert rows[0].split()[:3] == ["0", "baseline", "yes"]
    for row in rows[1:]:
        assert row.split()[1:3] == ["sampled", "NO"] and "fpn_min_level=4" in row
        assert "the OD API cannot build it at 320x320: ValueError: Number of feature maps" in row
    assert "preflight: 0 of 2 sampled variants build; baseline builds" in dry.stdout
    study = run_study(*args, "--n-trials", "2", timeout=600)
    assert study.returncode == 2 and study.stdout.count("[trial") == 0
    assert study.stderr.startswith("error: the first variant the space samples (trial 1: fpn_min_level=4) does not "
                                   "build: the OD API cannot build it") and len(study.stderr.splitlines()) == 1
    assert not run_dir.exists()
