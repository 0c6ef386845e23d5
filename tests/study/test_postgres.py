"""Two worker processes share one PostgreSQL-backed study: every trial runs once."""
from __future__ import annotations

import os
import subprocess
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from studyhelpers import study_cmd
from tuner.runinfo import Attr

PG_URL = os.environ.get("ODAPI_TUNER_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def pg_url() -> str:
    try:
        storage = optuna.storages.RDBStorage(PG_URL)
        storage.remove_session()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); set ODAPI_TUNER_PG_URL")
    return PG_URL


@pytest.mark.postgres
def test_two_workers_run_trials_without_duplicates(pg_url, tmp_path, small_base, extractor_space) -> None:
    name = f"pg-two-workers-{uuid.uuid4().hex[:8]}"
    run_dir = tmp_path / "run"
    args = ["--base", str(small_base), "--space", str(extractor_space), "--steps", "10", "--eval-every", "10",
            "--n-trials", "3", "--sampler", "random", "--seed", "1", "--pruner", "none",
            "--study-name", name, "--storage", pg_url, "--run-dir", str(run_dir)]
    workers = [subprocess.Popen(study_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=1200)[0] for w in workers]
    try:
        for worker, out in zip(workers, outputs):
            assert worker.returncode in (0, 1), out[-3000:]
        trials = optuna.load_study(study_name=name, storage=pg_url).get_trials()
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)]
        assert 3 <= len(finished) <= 4, "each worker stops once 3 trials are done (one may be mid-trial)"
        assert all(t.state is not TrialState.RUNNING for t in trials)
        numbers = [t.number for t in trials]
        assert len(numbers) == len(set(numbers))
        dirs = [t.user_attrs[Attr.TRIAL_DIR] for t in trials]
        assert len(dirs) == len(set(dirs)), "no trial directory used twice"
        assert sum(bool(t.user_attrs.get(Attr.BASELINE)) for t in trials) == 1
        workers_seen = {t.user_attrs[Attr.WORKER] for t in trials}
        assert len(workers_seen) == 2, "both workers ran trials"
        for t in trials:
            assert (run_dir / os.path.basename(t.user_attrs[Attr.TRIAL_DIR]) / "result.json").exists()
    finally:
        optuna.delete_study(study_name=name, storage=pg_url)
