"""Two worker processes share one PostgreSQL-backed study: every trial runs once."""
from __future__ import annotations

import os
import re
import subprocess
import threading
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from studyhelpers import study_cmd
from tuner.runinfo import Attr, trial_dir_name

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
def test_two_workers_run_trials_without_duplicates(pg_url, tmp_path, small_base, rejected_space) -> None:
    name = f"pg-two-workers-{uuid.uuid4().hex[:8]}"
    run_dir = tmp_path / "run"
    args = ["--base", str(small_base), "--space", str(rejected_space), "--steps", "10", "--eval-every", "10",
            "--n-trials", "3", "--sampler", "random", "--seed", "1", "--pruner", "none", "--no-fit-anchors",
            "--study-name", name, "--storage", pg_url, "--run-dir", str(run_dir)]
    # The second worker joins once the first has started the baseline (which trains for about a
    # minute), so both are sure to take trials; started together, the first could finish the
    # whole study before the second got going, and nothing would be shared. (Two workers racing
    # to create one study: tests/study/test_storage.py and test_objective_units.py.)
    workers: list[subprocess.Popen[str]] = []
    lines: list[list[str]] = []
    readers: list[threading.Thread] = []
    baseline_started = threading.Event()

    def start_worker() -> None:
        worker = subprocess.Popen(study_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        own: list[str] = []

        def read() -> None:
            for line in worker.stdout:  # type: ignore[union-attr]
                own.append(line)
                if line.startswith("[trial 0] started"):
                    baseline_started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        workers.append(worker)
        lines.append(own)
        readers.append(reader)

    start_worker()
    assert baseline_started.wait(timeout=600), "".join(lines[0])[-3000:]
    start_worker()
    for worker, reader in zip(workers, readers):
        worker.wait(timeout=1200)
        reader.join(timeout=30)
    outputs = ["".join(own) for own in lines]
    try:
        for worker, out in zip(workers, outputs):
            # 1 is also "no trial of mine completed" (a worker that only drew rejected variants)
            assert worker.returncode in (0, 1) and "error: unexpected" not in out, out[-3000:]
        trials = optuna.load_study(study_name=name, storage=pg_url).get_trials()
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)]
        assert 3 <= len(finished) <= 4, "each worker stops once 3 trials are done (one may be mid-trial)"
        assert all(t.state is not TrialState.RUNNING for t in trials)
        assert trials[0].user_attrs.get(Attr.BASELINE) is True and trials[0].params == {"freeze": "[]"}, \
            "trial 0 is the baseline (recorded with the space's value for the base: no freezing)"
        assert sum(bool(t.user_attrs.get(Attr.BASELINE)) for t in trials) == 1
        # Each worker's own log names the trials it started; no trial was started by both, and
        # the worker recorded on each trial is the one whose log started it.
        started = {w.pid: {int(n) for n in re.findall(r"^\[trial (\d+)\] started", out, re.M)}
                   for w, out in zip(workers, outputs)}
        first, second = started.values()
        assert first and second, f"both workers ran trials: {started}\n" + "\n=====\n".join(o[-2500:] for o in outputs)
        assert not first & second, f"a trial was started by both workers: {started}"
        assert first | second == {t.number for t in trials}
        for t in trials:
            pid = int(t.user_attrs[Attr.WORKER].rsplit(":", 1)[1])
            assert t.number in started[pid], f"trial {t.number} records worker {pid}, whose log did not start it"
            trial_dir = run_dir / trial_dir_name(t.number)
            assert t.user_attrs[Attr.TRIAL_DIR] == str(trial_dir)
            assert (trial_dir / "result.json").exists()
            # each event directory was written once, by one writer (the trainer evaluates its last
            # checkpoint itself: these trials read no checkpoint before their last)
            if t.state is TrialState.COMPLETE:
                for events_dir in ("train", "eval"):
                    writers = list((trial_dir / "model" / events_dir).glob("events.out.tfevents.*"))
                    assert len(writers) == 1, f"trial {t.number}: {len(writers)} {events_dir} event writers"
                assert list(t.intermediate_values) == [10]
            else:  # the rejected freeze pattern: each process reports the rejection at most once
                counts = [log.read_text().count("CONFIG_REJECTED:") for log in (trial_dir / "logs").glob("*.log")]
                assert max(counts) == 1 and sum(counts) >= 1, f"trial {t.number}: rejections logged {counts}"
                assert t.user_attrs[Attr.FAILURE] == "config"
    finally:
        optuna.delete_study(study_name=name, storage=pg_url)
