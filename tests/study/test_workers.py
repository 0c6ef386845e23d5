"""WorkerPool (tuner.study.workers): a trial that could not even be created (SQLite's "database is
locked" on the insert) is retried; an error once the trial exists reaches the caller. Real SQLite
storage; the conflict is injected where Optuna would raise it."""
from __future__ import annotations

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from tuner.study import workers
from tuner.study.storage import redact


def _locked() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("INSERT INTO trials ...", {}, Exception("database is locked"))


def _pool(tmp_path, fail_on, monkeypatch, n_trials: int = 2) -> tuple[workers.WorkerPool, list[int], str]:
    """A pool whose study's ``ask`` raises "database is locked" on the calls in ``fail_on``: before
    the trial is created (``"before"``) or after (``"after"``)."""
    monkeypatch.setattr(workers.time, "sleep", lambda seconds: None)
    storage = f"sqlite:///{tmp_path / 'w.db'}"
    optuna.create_study(study_name="w", storage=storage)
    calls: list[int] = []

    class Flaky(workers.SerializedAsk):
        def ask(self, fixed_distributions=None):  # type: ignore[no-untyped-def]
            calls.append(len(self.get_trials(deepcopy=False)))
            when = fail_on.pop(0) if fail_on else None
            if when == "before":
                raise _locked()
            trial = super().ask(fixed_distributions)
            if when == "after":
                raise _locked()
            return trial

    def open_study(ask_lock) -> workers.SerializedAsk:
        return Flaky(ask_lock=ask_lock, study_name="w", storage=storage)

    pool = workers.WorkerPool(open_study, lambda trial: trial.suggest_float("x", 0, 1),  # type: ignore[arg-type]
                              jobs=1, n_trials=n_trials, timeout=None)
    return pool, calls, storage


def test_a_trial_that_could_not_be_created_is_retried(tmp_path, monkeypatch) -> None:
    pool, calls, storage = _pool(tmp_path, ["before", "before"], monkeypatch)
    pool.run()
    trials = optuna.load_study(study_name="w", storage=storage).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert calls == [0, 0, 0, 1]  # two refused creations of trial 0, then trial 0, then trial 1


def test_a_conflict_after_the_trial_exists_reaches_the_caller(tmp_path, monkeypatch) -> None:
    pool, calls, storage = _pool(tmp_path, ["after"], monkeypatch)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
        pool.run()
    assert calls == [0] and len(optuna.load_study(study_name="w", storage=storage).get_trials()) == 1


def test_too_many_refusals_reach_the_caller(tmp_path, monkeypatch) -> None:
    pool, calls, _ = _pool(tmp_path, ["before"] * workers._CREATE_RETRIES, monkeypatch)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        pool.run()
    assert len(calls) == workers._CREATE_RETRIES


@pytest.mark.parametrize("url, shown", [
    ("postgresql://tuner:s3cret@db:5432/optuna", "postgresql://tuner:***@db:5432/optuna"),
    ("postgresql+psycopg://u:p%40ss:word@10.0.0.1/test", "postgresql+psycopg://u:***@10.0.0.1/test"),
    ("mysql://user@host/db", "mysql://user@host/db"),  # no password: unchanged
    ("sqlite:////tmp/run/study.db", "sqlite:////tmp/run/study.db"),
])
def test_storage_urls_are_shown_without_their_password(url, shown) -> None:
    assert redact(url) == shown


def test_an_unreachable_storage_names_it_without_the_password(tmp_path) -> None:
    from tuner.study.storage import StorageError, open_storage

    with pytest.raises(StorageError) as caught:
        open_storage("postgresql://tuner:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(caught.value) and "tuner:***@127.0.0.1:1" in str(caught.value)
