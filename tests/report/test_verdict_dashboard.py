"""The report's artifacts read back through optuna-dashboard's HTTP API (fast: a synthetic study, no TensorFlow).

The dashboard is ``optuna_dashboard.wsgi(storage, artifact_store=FileSystemArtifactStore(dir))``, the
app ``optuna-dashboard URL --artifact-dir DIR`` serves, on a local port (wsgiref, in a thread). Routes
used (optuna-dashboard 0.21.0): ``GET /api/studies`` (ids), ``GET /api/studies/<study_id>`` (trials
with their ``artifacts``), ``GET /artifacts/<study_id>/<trial_id>/<artifact_id>`` (the file).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from verdicthelpers import Entry, dashboard, dashboard_trial_artifacts, http_get, make_run_dir

from tflite.errors import StudyError
from tuner.report import artifacts
from tuner.runinfo import sqlite_url

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def study_files(tmp_path: Path) -> tuple[Path, list[Path]]:
    run_dir = make_run_dir(tmp_path / "run", [Entry(tmp_path / "t0"), Entry(tmp_path / "t1", value=0.3)], name="dash")
    out = tmp_path / "report"
    out.mkdir()
    files = [out / "verdict.json", out / "verdict.txt", out / "fp32_pr_curves.png", out / "fp32_operating_points.json"]
    files[0].write_text(json.dumps({"study": "dash", "trial": 1}))
    files[1].write_text("verdict table\n")
    files[2].write_bytes(PNG)
    files[3].write_text(json.dumps({"circle": {"threshold": 0.4, "precision": 0.9, "recall": 0.5, "f1": 0.64}}))
    return run_dir, files


def test_optuna_refuses_to_attach_to_a_finished_trial(study_files: tuple[Path, list[Path]]) -> None:
    """Why tuner.report.artifacts links files through a study attribute: Optuna's own upload_artifact
    cannot attach to a finished trial. If this starts passing the upload, switch to the public API."""
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError

    run_dir, files = study_files
    study = optuna.load_study(study_name="dash", storage=sqlite_url(run_dir))
    (run_dir / "artifacts").mkdir()
    store = optuna.artifacts.FileSystemArtifactStore(run_dir / "artifacts")
    with pytest.raises(UpdateFinishedTrialError):
        optuna.artifacts.upload_artifact(artifact_store=store, file_path=str(files[0]), study_or_trial=study.trials[1],
                                         storage=study._storage)


def test_dashboard_lists_and_serves_the_files_on_the_trial(study_files: tuple[Path, list[Path]]) -> None:
    run_dir, files = study_files
    url, store = sqlite_url(run_dir), run_dir / "artifacts"
    manifest = artifacts.upload(url, "dash", 1, files, store)
    assert [a.filename for a in manifest.artifacts] == [f.name for f in files]
    with dashboard(url, store) as base:
        study_id, trial_id, listed = dashboard_trial_artifacts(base, "dash", 1)
        assert trial_id == manifest.trial_id
        assert sorted(a["filename"] for a in listed) == sorted(f.name for f in files)
        assert dashboard_trial_artifacts(base, "dash", 0)[2] == []  # only the chosen trial
        by_name = {a["filename"]: a for a in listed}
        for f in files:
            status, content_type, body = http_get(f"{base}/artifacts/{study_id}/{trial_id}/{by_name[f.name]['artifact_id']}")
            assert status == 200 and body == f.read_bytes(), f
            assert content_type == {".json": "application/json", ".txt": "text/plain", ".png": "image/png"}[f.suffix]
    assert sorted(a.filename for a in artifacts.trial_artifacts(url, "dash", 1)) == sorted(f.name for f in files)


def test_withdrawn_artifacts_are_gone_from_the_dashboard(study_files: tuple[Path, list[Path]], tmp_path: Path) -> None:
    run_dir, files = study_files
    url, store = sqlite_url(run_dir), run_dir / "artifacts"
    old = artifacts.upload(url, "dash", 1, files[:2], store)
    old.save(tmp_path / "report")
    new = artifacts.upload(url, "dash", 1, files[2:], store)
    assert artifacts.withdraw(artifacts.Manifest.load(tmp_path / "report")) == 2
    assert sorted(p.name for p in store.iterdir()) == sorted(a.artifact_id for a in new.artifacts)
    with dashboard(url, store) as base:
        study_id, trial_id, listed = dashboard_trial_artifacts(base, "dash", 1)
        assert sorted(a["filename"] for a in listed) == sorted(f.name for f in files[2:])
        status, _, _ = http_get(f"{base}/artifacts/{study_id}/{trial_id}/{old.artifacts[0].artifact_id}")
        assert status == 404
    assert artifacts.withdraw(old) == 0  # twice is harmless


def test_upload_refuses_duplicate_names_and_unknown_trials(study_files: tuple[Path, list[Path]]) -> None:
    run_dir, files = study_files
    url = sqlite_url(run_dir)
    with pytest.raises(ValueError, match="artifact file names must be unique"):
        artifacts.upload(url, "dash", 1, [files[0], files[0]], run_dir / "artifacts")
    with pytest.raises(StudyError, match="the study or trial to attach the report to does not exist"):
        artifacts.upload(url, "dash", 9, files, run_dir / "artifacts")
    assert not (run_dir / "artifacts").exists()  # nothing stored for a refused upload
