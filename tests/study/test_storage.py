"""Recovery on a real SQLite storage: orphans re-run once, even with several recovering workers."""
from __future__ import annotations

import socket
import subprocess

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from tuner.runinfo import Attr
from tuner.study import storage as storagemod
from tuner.study.storage import count_finished, create_or_load, failure_class, open_storage, recover

EXTRACTOR = {"extractor": CategoricalDistribution(["v2", "v9"])}


def _dead_worker() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def _load(url: str) -> optuna.Study:
    return optuna.load_study(study_name="s", storage=open_storage(url))


def test_a_new_study_has_the_baseline_enqueued_as_trial_0(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study, created = create_or_load("s", open_storage(url), optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
    assert created and [(t.number, t.state, t.user_attrs) for t in study.get_trials()] == [
        (0, TrialState.WAITING, {Attr.BASELINE: True})]
    again, created = create_or_load("s", open_storage(url), optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
    assert not created and len(again.get_trials()) == 1


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # ask() outside optimize()
def test_a_dead_workers_trial_is_rerun_once_by_concurrent_recoveries(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={Attr.FAILURE: "config"}))   # 0: config's fault
    orphan = study.ask()                                                                         # 1: its worker died
    orphan.suggest_categorical("extractor", ["v2", "v9"])
    orphan.set_user_attr(Attr.WORKER, _dead_worker())
    # 2: failed by Optuna's heartbeat check (no failure class recorded)
    study.add_trial(create_trial(state=TrialState.FAIL, params={"extractor": "v2"}, distributions=EXTRACTOR))
    first, second = _load(url), _load(url)
    assert sorted(recover(first)) == [1, 2]
    # the race of two resuming workers: the second listed the trials before the first enqueued
    # the re-runs, so only the claims keep it from enqueuing them again
    stale = [t for t in second.get_trials() if Attr.RETRY_OF not in t.user_attrs]
    monkeypatch.setattr(second, "get_trials", lambda deepcopy=True, states=None: [
        t for t in stale if states is None or t.state in states])
    assert recover(second) == []
    trials = _load(url).get_trials()
    assert [failure_class(t) for t in trials[:3]] == ["config", "orphaned", "orphaned"]
    reason = trials[1].user_attrs[Attr.REASON]
    assert reason.startswith("worker ") and reason.endswith("died while running it")
    reruns = [t for t in trials if Attr.RETRY_OF in t.user_attrs]
    assert sorted(t.user_attrs[Attr.RETRY_OF] for t in reruns) == [1, 2]
    assert all(t.state is TrialState.WAITING for t in reruns)
    assert {t.user_attrs[Attr.RETRY_OF]: t.system_attrs["fixed_params"] for t in reruns} == {
        1: trials[1].params, 2: {"extractor": "v2"}}
    assert recover(_load(url)) == [], "a later resume does not enqueue them again"
    # finished: the config failure only (the orphans do not count; their re-runs will)
    assert count_finished(_load(url)) == 1


def test_a_claim_is_check_and_set(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study, _ = create_or_load("s", open_storage(url), optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={Attr.FAILURE: "interrupted"}))
    trial = study.get_trials()[1]
    assert storagemod._claim_rerun(_load(url), trial) is True
    assert storagemod._claim_rerun(_load(url), trial) is False


def test_duplicates_are_neither_counted_nor_rerun(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={Attr.FAILURE: storagemod.DUPLICATE}))
    study.add_trial(create_trial(state=TrialState.PRUNED))
    assert count_finished(study) == 1
    assert recover(study) == []
