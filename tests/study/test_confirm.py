"""The confirmation phase's bookkeeping on real Optuna storage (no training): leaders, repeat
slots claimed once, repeats left out of --n-trials and of the sampler's view, the pick and the
verdict."""
from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from tuner.runinfo import Attr, StudyAttr
from tuner.study import confirm
from tuner.study.report import summary
from tuner.study.sampling import BlindToRepeats
from tuner.study.storage import count_finished, recover

DIST = {"lr": FloatDistribution(0.001, 0.5, log=True)}


def _study(tmp_path: Any, name: str = "s") -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(study_name=name, storage=f"sqlite:///{tmp_path / 'c.db'}", direction="maximize")


def _add(study: optuna.Study, value: float | None, lr: float | None = 0.01, state: TrialState = TrialState.COMPLETE,
         **attrs: Any) -> None:
    params = {} if lr is None else {"lr": lr}
    study.add_trial(create_trial(state=state, value=value if state is TrialState.COMPLETE else None, params=params,
                                 distributions={k: DIST[k] for k in params}, user_attrs=attrs))


def _searched(study: optuna.Study) -> None:
    """Trial 0 baseline 0.30; 1: 0.45 (lucky); 2: 0.40; 3: 0.35; 4 pruned; 5 failed."""
    _add(study, 0.30, lr=None, **{Attr.BASELINE: True})
    _add(study, 0.45, lr=0.02)
    _add(study, 0.40, lr=0.03)
    _add(study, 0.35, lr=0.04)
    _add(study, None, lr=0.2, state=TrialState.PRUNED)
    _add(study, None, lr=0.3, state=TrialState.FAIL, **{Attr.FAILURE: "crash"})


def test_leaders_are_the_baseline_then_the_best_search_trials(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    _add(study, 0.99, lr=0.04, **{Attr.REPEAT_OF: 3})  # a repeat never leads
    assert [t.number for t in confirm.leaders(study.get_trials(), 2)] == [0, 1, 2]
    assert [t.number for t in confirm.leaders(study.get_trials(), 0)] == [0]


def test_repeats_carry_their_parents_parameters_and_are_enqueued_once(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    enqueued = confirm.enqueue_repeats(study, 2, 2)
    assert enqueued == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert confirm.enqueue_repeats(study, 2, 2) == []  # claimed: a resume or a second worker adds nothing
    assert confirm.enqueue_repeats(study, 2, 3) == [(0, 2), (1, 2), (2, 2)]  # more --repeats: only the new slots
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert confirm.pending(study) == len(waiting) == 9
    base_repeats = [t for t in waiting if t.user_attrs[Attr.REPEAT_OF] == 0]
    assert all(t.user_attrs.get(Attr.BASELINE) is True for t in base_repeats)
    one = [t for t in waiting if t.user_attrs[Attr.REPEAT_OF] == 1]
    assert all(t.system_attrs["fixed_params"] == {"lr": 0.02} for t in one)
    assert count_finished(study) == 6 and count_finished(study, repeats=True) == 6


def test_repeats_do_not_count_toward_n_trials(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    _add(study, 0.2, lr=0.02, **{Attr.REPEAT_OF: 1})
    assert count_finished(study) == 6
    assert count_finished(study, repeats=True) == 7


def test_an_interrupted_repeat_is_rerun_as_a_repeat(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    _add(study, None, lr=0.02, state=TrialState.FAIL, **{Attr.REPEAT_OF: 1, Attr.FAILURE: "interrupted"})
    assert recover(study) == [6]
    rerun = study.get_trials(states=(TrialState.WAITING,))[0]
    assert rerun.user_attrs[Attr.REPEAT_OF] == 1 and rerun.user_attrs[Attr.RETRY_OF] == 6
    assert confirm.pending(study) == 1


def test_the_pick_is_the_best_mean_not_the_luckiest_run(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    for value, parent, lr in ((0.20, 1, 0.02), (0.22, 1, 0.02), (0.41, 2, 0.03), (0.39, 2, 0.03),
                              (0.31, 0, None), (0.29, 0, None)):
        _add(study, value, lr=lr, **{Attr.REPEAT_OF: parent, **({Attr.BASELINE: True} if parent == 0 else {})})
    found = confirm.confirm(study.get_trials(), 2, 2)
    assert found.complete
    assert [(leader.number, len(leader.runs)) for leader in found.leaders] == [(0, 3), (1, 3), (2, 3)]
    assert found.pick is not None and found.pick.number == 2
    assert found.pick.mean == pytest.approx(0.40) and found.pick.best_run.value == pytest.approx(0.41)
    assert found.base is not None and found.base.spread == pytest.approx(0.02)
    assert confirm.verdict(found) == "+10.0 pts vs baseline, 3 runs each, ranges do not overlap: a real lift"
    confirm.record(study, found)
    stored = optuna.load_study(study_name="s", storage=study._storage).user_attrs  # noqa: SLF001
    assert stored[StudyAttr.CONFIRMED_PICK]["trial"] == 2
    assert stored[StudyAttr.CONFIRMED_PICK]["best_run"] == 8
    assert stored[StudyAttr.BASELINE_NOISE]["runs"] == pytest.approx([0.30, 0.31, 0.29])
    text = summary(study, steps=10, confirmation=found)
    assert "pick: trial 2 (best mean 0.4000); +10.0 pts vs baseline" in text
    assert "noise: the baseline's 3 runs spread 2.0 pts" in text
    top = text.split("\n")[2]  # first row of the search table: the repeats (0.41) are not search trials
    assert top.startswith("1 ") and "0.4500" in top


def test_overlapping_runs_are_within_noise_and_a_base_pick_says_so(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    for value, parent in ((0.36, 0), (0.28, 1)):
        _add(study, value, lr=None if parent == 0 else 0.02,
             **{Attr.REPEAT_OF: parent, **({Attr.BASELINE: True} if parent == 0 else {})})
    found = confirm.confirm(study.get_trials(), 1, 1)
    assert found.pick is not None and found.pick.number == 1  # mean 0.365 vs base 0.33
    assert "within noise (ranges overlap; the baseline's runs spread 6.0 pts)" in confirm.verdict(found)
    assert not confirm.confirm(study.get_trials(), 1, 2).complete
    study2 = _study(tmp_path, "s2")
    _add(study2, 0.30, lr=None, **{Attr.BASELINE: True})
    _add(study2, 0.50, lr=0.02)
    _add(study2, 0.31, lr=None, **{Attr.BASELINE: True, Attr.REPEAT_OF: 0})
    _add(study2, 0.10, lr=0.02, **{Attr.REPEAT_OF: 1})
    found2 = confirm.confirm(study2.get_trials(), 1, 1)
    assert found2.pick is not None and found2.pick.baseline
    assert confirm.verdict(found2).startswith("the base config has the best mean")


def test_the_sampler_never_sees_a_repeat(tmp_path) -> None:
    """TPE proposes the same point for a study whether or not it holds repeats of its trials."""
    plain, repeated = _study(tmp_path, "plain"), _study(tmp_path, "repeated")
    for i, (lr, value) in enumerate(((0.01, 0.1), (0.02, 0.2), (0.05, 0.5), (0.1, 0.3), (0.2, 0.2))):
        for study in (plain, repeated):
            _add(study, value, lr=lr)
        _add(repeated, 0.9 if i == 0 else 0.0, lr=lr, **{Attr.REPEAT_OF: i})  # repeats that would mislead TPE
    proposals = []
    for study in (plain, repeated):
        sampler = BlindToRepeats(optuna.samplers.TPESampler(seed=3, n_startup_trials=2))
        loaded = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=sampler)  # noqa: SLF001
        proposals.append(loaded.ask({"lr": DIST["lr"]}).params["lr"])
    assert proposals[0] == proposals[1]
    bare = optuna.load_study(study_name="repeated", storage=repeated._storage,  # noqa: SLF001
                             sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=2))
    assert bare.ask({"lr": DIST["lr"]}).params["lr"] != proposals[0]  # the view is what made them equal


def test_lines_table(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    found = confirm.confirm(study.get_trials(), 1, 2)
    block = confirm.lines(found)
    assert block[0] == "confirmation: the baseline and the top 1 trained 2 more times with other seeds"
    assert "  (some repeats are missing: run the same command again to finish them)" in block
    assert block[-1].startswith("pick: trial 1 (best mean 0.4500); +15.0 pts vs baseline, single runs")
