"""``notebooks/study_report.ipynb`` runs clean, headless (nbclient), on small real studies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "study_report.ipynb"


def _execute(run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("ODAPI_TUNER_RUN_DIR", str(run_dir))
    monkeypatch.delenv("ODAPI_TUNER_TFLITE_DIR", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    markdown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    return text, images, markdown


def test_notebook_on_the_converted_study(converted, monkeypatch) -> None:
    """History, intermediate values, importances, best vs baseline and the TFLite table."""
    assert converted.proc.returncode == 0, converted.proc.stderr[-2000:]
    text, images, markdown = _execute(converted.run_dir, monkeypatch)
    assert "study 'tiny'" in text and "pruned trials: [2]" in text
    assert images >= 5  # history, intermediate, importances, best vs baseline, TFLite size/mAP
    assert "importances need" not in text
    for variant in ("checkpoint", "fp32", "fp16", "dynamic", "int8"):
        assert f"| {variant} |" in markdown
    assert "mAP drop" in markdown


def test_notebook_guards_a_study_without_enough_trials(study_factory, trial_entry, tmp_path, monkeypatch) -> None:
    run = study_factory(tmp_path / "run", [trial_entry(tmp_path / "trial-0000", value=0.2, baseline=True, params={})])
    text, _, _ = _execute(run, monkeypatch)
    assert "importances need >= 2 completed trials" in text
    assert "no TFLite report" in text


def test_notebook_plots_each_leaders_runs(study_factory, trial_entry, tmp_path, monkeypatch) -> None:
    import optuna

    from tuner.runinfo import Attr, sqlite_url
    from tuner.study import confirm

    run = study_factory(tmp_path / "run", [
        trial_entry(tmp_path / "t0", value=0.30, baseline=True, params={}),
        trial_entry(tmp_path / "t1", value=0.45, params={"lr": 0.02}),
        trial_entry(tmp_path / "t2", value=0.20, params={"lr": 0.02}, attrs={Attr.REPEAT_OF: 1}),
        trial_entry(tmp_path / "t3", value=0.31, baseline=True, params={}, attrs={Attr.REPEAT_OF: 0})])
    study = optuna.load_study(study_name="s", storage=sqlite_url(run))
    confirm.record(study, confirm.confirm(study.get_trials(), 1, 1))
    report = run / "report-trial-0001"  # a per-class verdict as python -m tuner.report writes it
    report.mkdir()
    point = {"threshold": 0.41, "precision": 0.93, "recall": 0.81}
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for name in ("checkpoint_pr_curves.png", "checkpoint_images.png"):  # the files tuner.report writes
        plt.figure(figsize=(1, 1))
        plt.savefig(report / name)
        plt.close()
    (report / "verdict.json").write_text(json.dumps({"trial": 1, "checkpoint": "ckpt-1", "images": 16, "rule": "max_f1",
        "models": [{"model": "checkpoint", "metrics": {"map": 0.5, "map50": 0.8, "map75": 0.45, "map_small": None,
                                                       "map_medium": 0.5, "map_large": 0.6},
                    "files": {"pr_curves": "checkpoint_pr_curves.png", "images": "checkpoint_images.png"},
                    "classes": [{"name": "circle", "boxes": 11, "ap": 0.5, "ap50": 0.8, "ap_drop": None,
                                 "operating_point": point}]}]}))
    text, images, _ = _execute(run, monkeypatch)
    assert "trial 1 (ckpt-1), 16 images, operating points: max_f1" in text
    assert "checkpoint: pr curves" in text and "checkpoint: images" in text
    # trial 1's only fresh run (0.20) is below the baseline's (0.30, 0.31): its lucky search run (0.45) is left out
    assert "pick: trial 0; the base config has the best fresh mean (0.3050 over 2 runs)" in text
    assert "noise: run-to-run std 0.7 pts, pooled over 1 configuration(s) (1 degree(s) of freedom)" in text
    assert images == 6  # history, intermediate values, best vs baseline, the leaders' runs, the verdict's 2 PNGs
    plain, _, _ = _execute(study_factory(tmp_path / "plain", [trial_entry(tmp_path / "t0", value=0.2)], name="p"),
                           monkeypatch)
    assert "no confirmation in this study" in plain and "no per-class verdict in" in plain


def test_notebook_without_a_run_dir_says_so_instead_of_raising(tmp_path, monkeypatch) -> None:
    text, images, _ = _execute(tmp_path / "no-such-run", monkeypatch)
    assert f"no study run directory at {tmp_path / 'no-such-run'} (no study.json)" in text
    assert "ODAPI_TUNER_RUN_DIR" in text and "no TFLite report" in text and images == 0


def test_notebook_on_a_multi_objective_study_plots_map_and_the_front(study_factory, trial_entry, tmp_path,
                                                                       monkeypatch) -> None:
    run = study_factory(tmp_path / "run", [
        trial_entry(tmp_path / "t0", value=0.30, cost=2.0, baseline=True, params={}),
        trial_entry(tmp_path / "t1", value=0.45, cost=3.0, params={"lr": 0.02}),
        trial_entry(tmp_path / "t2", value=0.25, cost=1.0, params={"lr": 0.2}),
        trial_entry(tmp_path / "t3", value=0.20, cost=2.5, params={"lr": 0.1})], objectives="map,latency")
    text, images, _ = _execute(run, monkeypatch)
    assert "objectives mAP, latency ms" in text
    assert images == 5  # mAP history, the Pareto front, importances, best vs baseline and its bar chart
