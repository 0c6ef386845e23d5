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


def test_the_pick_is_the_best_fresh_mean_and_its_lift_gets_an_interval(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    for value, parent, lr in ((0.20, 1, 0.02), (0.22, 1, 0.02), (0.41, 2, 0.03), (0.39, 2, 0.03),
                              (0.31, 0, None), (0.29, 0, None)):
        _add(study, value, lr=lr, **{Attr.REPEAT_OF: parent, **({Attr.BASELINE: True} if parent == 0 else {})})
    found = confirm.confirm(study.get_trials(), 2, 2)
    assert found.complete
    assert [(leader.number, len(leader.runs), len(leader.fresh)) for leader in found.leaders] == [
        (0, 3, 3), (1, 3, 2), (2, 3, 2)]
    one = found.leaders[1]
    assert one.selecting is not None and one.selecting.value == pytest.approx(0.45)  # the lucky search run ...
    assert one.mean == pytest.approx(0.21)  # ... is not in its estimate
    assert found.pick is not None and found.pick.number == 2
    assert found.pick.mean == pytest.approx(0.40) and found.pick.best_run.value == pytest.approx(0.41)
    # by hand: fresh runs base [.30 .31 .29] (s^2 1e-4), 1 [.20 .22] (2e-4), 2 [.41 .39] (2e-4); pooled
    # s^2 = (2e-4 + 2e-4 + 2e-4) / 4 = 1.5e-4, df 4; t(.95, 4) = 2.131847; half = 2.131847 * sqrt(1.5e-4)
    # * sqrt(1/2 + 1/3) = 0.023835
    assert found.noise is not None and (found.noise.df, found.noise.configs) == (4, 3)
    assert found.noise.sd == pytest.approx(0.0122474, abs=1e-6)
    interval = found.interval
    assert interval is not None and interval.lift == pytest.approx(0.10)
    assert (interval.low, interval.high) == (pytest.approx(0.076165, abs=1e-5), pytest.approx(0.123835, abs=1e-5))
    assert confirm.verdict(found) == "+10.0 pts (90 % interval +7.6 to +12.4; 2 fresh runs vs 3): a lift"
    confirm.record(study, found)
    stored = optuna.load_study(study_name="s", storage=study._storage).user_attrs
    assert stored[StudyAttr.CONFIRMED_PICK]["trial"] == 2
    assert stored[StudyAttr.CONFIRMED_PICK]["best_run"] == 8
    assert stored[StudyAttr.CONFIRMED_PICK]["interval"]["low"] == pytest.approx(0.076165, abs=1e-5)
    assert stored[StudyAttr.BASELINE_NOISE]["df"] == 4
    assert stored[StudyAttr.BASELINE_NOISE]["leaders"]["0"] == pytest.approx([0.30, 0.31, 0.29])
    text = summary(study, steps=10, confirmation=found)
    assert "pick: trial 2 (best fresh mean 0.4000); +10.0 pts (90 % interval +7.6 to +12.4" in text
    assert "noise: run-to-run std 1.2 pts, pooled over 3 configuration(s) with 2+ fresh runs (4 degree(s) of " \
           "freedom)" in text
    assert "1: 0.4500" in text.split("confirmation:")[1]  # the selecting run is shown beside the fresh ones
    top = text.split("\n")[2]  # first row of the search table: the repeats (0.41) are not search trials
    assert top.startswith("1 ") and "0.4500" in top


def test_a_leader_that_only_its_selecting_run_made_loses_to_the_base(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    for value, parent in ((0.36, 0), (0.28, 1)):
        _add(study, value, lr=None if parent == 0 else 0.02,
             **{Attr.REPEAT_OF: parent, **({Attr.BASELINE: True} if parent == 0 else {})})
    found = confirm.confirm(study.get_trials(), 1, 1)
    # with its search run trial 1 would read (0.45 + 0.28) / 2 = 0.365 > 0.33; its fresh run says 0.28
    assert found.pick is not None and found.pick.baseline and found.pick.mean == pytest.approx(0.33)
    assert confirm.verdict(found).startswith("the base config has the best fresh mean (0.3300 over 2 runs)")
    assert not confirm.confirm(study.get_trials(), 1, 2).complete
    study2 = _study(tmp_path, "s2")
    _add(study2, 0.30, lr=None, **{Attr.BASELINE: True})
    _add(study2, 0.50, lr=0.02)
    _add(study2, 0.40, lr=None, **{Attr.BASELINE: True, Attr.REPEAT_OF: 0})
    _add(study2, 0.45, lr=0.02, **{Attr.REPEAT_OF: 1})
    found2 = confirm.confirm(study2.get_trials(), 1, 1)
    assert found2.pick is not None and found2.pick.number == 1
    # base [0.30, 0.40]: s = 0.0707 (df 1, the only configuration with 2 fresh runs); lift 0.10;
    # half = t(.95, 1) * 0.0707 * sqrt(1 + 1/2) = 6.3138 * 0.08660 = 0.5468. Runs to resolve it: the
    # smallest n with t(.95, 1 + 2(n - 1)) * 0.0707 * sqrt(2/n) < 0.10: n = 3 gives 2.015 * 0.0577 = 0.116,
    # n = 4 gives 1.895 * 0.0500 = 0.0947
    assert confirm.verdict(found2) == ("+10.0 pts (90 % interval -44.7 to +64.7; 1 fresh runs vs 2): not "
                                       "established; about 4 runs each would resolve a lift of this size at this "
                                       "noise")


def test_no_noise_estimate_is_said_not_guessed(tmp_path) -> None:
    study = _study(tmp_path)
    _add(study, 0.30, lr=None, **{Attr.BASELINE: True})
    _add(study, 0.50, lr=0.02)
    _add(study, 0.45, lr=0.02, **{Attr.REPEAT_OF: 1})
    found = confirm.confirm(study.get_trials(), 1, 1)
    assert found.pick is not None and found.pick.number == 1 and found.noise is None
    assert "not established; no configuration has 2 fresh runs" in confirm.verdict(found)
    assert confirm.lines(found)[-1] == "noise: not estimated (no configuration has 2 fresh runs)"


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
        loaded = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=sampler)
        proposals.append(loaded.ask({"lr": DIST["lr"]}).params["lr"])
    assert proposals[0] == proposals[1]
    bare = optuna.load_study(study_name="repeated", storage=repeated._storage,
                             sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=2))
    assert bare.ask({"lr": DIST["lr"]}).params["lr"] != proposals[0]  # the view is what made them equal


def test_lines_table(tmp_path) -> None:
    study = _study(tmp_path)
    _searched(study)
    found = confirm.confirm(study.get_trials(), 1, 2)
    block = confirm.lines(found)
    assert block[0].startswith("confirmation: the baseline and the top 1 trained 2 more times with other seeds; each "
                               "is judged on its fresh runs")
    assert block[1].split() == ["trial", "fresh", "runs", "fresh", "mean", "std", "selecting", "run", "each", "fresh",
                                "run", "(trial:", "mAP)"]
    assert block[3].split()[:4] == ["0", "(base)", "1", "0.3000"] and "- (not selected)" in block[3]
    assert block[4].split()[:2] == ["1", "0"] and "1: 0.4500" in block[4]
    assert "  (some repeats are missing: run the same command again to finish them)" in block
    assert block[-2].startswith("pick: trial 0 (best fresh mean 0.3000)")  # trial 1 has no fresh run yet
