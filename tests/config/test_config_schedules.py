"""Learning-rate semantic edits over all four schedule types."""
from __future__ import annotations

import pytest
from configfixtures import COSINE

from tuner.config import (ConfigValueError, base_learning_rate, get_value, learning_rate_at, loads,
                          schedule_path, set_base_learning_rate, set_num_steps, set_schedule_type)
from tuner.config import lint_schedule
from tuner.config.schedules import learning_rate_message

EXP = "train_config.optimizer.rms_prop_optimizer.learning_rate.exponential_decay_learning_rate"


def _with(schedule: str, num_steps: int = 1000) -> object:
    return loads(f"train_config {{ num_steps: {num_steps} optimizer {{ momentum_optimizer {{ "
                 f"learning_rate {{ {schedule} }} }} }} }}")


MANUAL = ("manual_step_learning_rate { initial_learning_rate: 0.01 warmup: true "
          "schedule { step: 500 learning_rate: 0.001 } schedule { step: 800 learning_rate: 0.0001 } }")
CONSTANT = "constant_learning_rate { learning_rate: 0.02 }"


def test_set_base_learning_rate_cosine_scales_warmup(zoo):
    set_base_learning_rate(zoo, 0.4)
    assert get_value(zoo, f"{COSINE}.learning_rate_base") == 0.4
    assert get_value(zoo, f"{COSINE}.warmup_learning_rate") == pytest.approx(0.066665, rel=1e-5)
    assert get_value(zoo, f"{COSINE}.total_steps") == 50000


def test_set_base_learning_rate_exponential_scales_burnin_and_min(tf1):
    learning_rate_message(tf1).exponential_decay_learning_rate.burnin_learning_rate = 0.002
    learning_rate_message(tf1).exponential_decay_learning_rate.min_learning_rate = 0.0004
    set_base_learning_rate(tf1, 0.008)
    assert base_learning_rate(tf1) == 0.008
    assert get_value(tf1, f"{EXP}.burnin_learning_rate") == pytest.approx(0.004)
    assert get_value(tf1, f"{EXP}.min_learning_rate") == pytest.approx(0.0008)
    assert get_value(tf1, f"{EXP}.decay_factor") == 0.95


def test_set_base_learning_rate_manual_scales_every_step():
    cfg = _with(MANUAL)
    set_base_learning_rate(cfg, 0.1)
    sched = learning_rate_message(cfg).manual_step_learning_rate
    assert base_learning_rate(cfg) == 0.1
    assert [pytest.approx(s.learning_rate) for s in sched.schedule] == [0.01, 0.001]
    assert [s.step for s in sched.schedule] == [500, 800]


def test_set_base_learning_rate_constant_and_errors():
    cfg = _with(CONSTANT)
    set_base_learning_rate(cfg, 0.5)
    assert base_learning_rate(cfg) == 0.5
    for bad in (0, -1, float("inf"), "0.1", True):
        with pytest.raises(ConfigValueError, match="learning rate must be a finite number > 0"):
            set_base_learning_rate(cfg, bad)
    with pytest.raises(ConfigValueError, match="has no optimizer set"):
        set_base_learning_rate(loads(""), 0.1)
    with pytest.raises(ConfigValueError, match="no learning-rate schedule"):
        set_base_learning_rate(loads("train_config { optimizer { adam_optimizer { } } }"), 0.1)


def test_set_num_steps_cosine(zoo):
    set_num_steps(zoo, 10000)
    assert zoo.train_config.num_steps == 10000
    assert get_value(zoo, f"{COSINE}.total_steps") == 10000
    assert get_value(zoo, f"{COSINE}.warmup_steps") == 400
    assert learning_rate_at(zoo, 10000) == pytest.approx(0.0, abs=1e-9)


def test_set_num_steps_cosine_keeps_warmup_below_total():
    cfg = _with("cosine_decay_learning_rate { learning_rate_base: 0.1 total_steps: 1000 "
                "warmup_steps: 999 hold_base_rate_steps: 100 }")
    set_num_steps(cfg, 10)
    sched = learning_rate_message(cfg).cosine_decay_learning_rate
    assert (sched.total_steps, sched.warmup_steps, sched.hold_base_rate_steps) == (10, 9, 0)


def test_set_num_steps_exponential(tf1):
    set_num_steps(tf1, 50000)
    assert get_value(tf1, f"{EXP}.decay_steps") == 200180
    assert tf1.train_config.num_steps == 50000


def test_set_num_steps_manual_keeps_boundaries_increasing():
    cfg = _with(MANUAL)
    set_num_steps(cfg, 2000)
    assert [s.step for s in learning_rate_message(cfg).manual_step_learning_rate.schedule] == [1000, 1600]
    set_num_steps(cfg, 3)
    # squeezed into 3 steps: >= 1, strictly increasing, below num_steps
    assert [s.step for s in learning_rate_message(cfg).manual_step_learning_rate.schedule] == [1, 2]
    assert _schedule_errors(cfg) == []


@pytest.mark.parametrize("n", [1, 2])
def test_set_num_steps_manual_merges_steps_that_no_longer_fit(n):
    cfg = _with(MANUAL)
    set_num_steps(cfg, n)
    sched = learning_rate_message(cfg).manual_step_learning_rate
    # two boundaries cannot both lie in [1, n - 1]: they merge into one, the later rate winning
    assert [(s.step, pytest.approx(s.learning_rate)) for s in sched.schedule] == [(1, 0.0001)]
    assert _schedule_errors(cfg) == []


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1000])
def test_set_schedule_type_manual_step_is_valid_for_any_length(zoo, n):
    set_num_steps(zoo, n)
    set_schedule_type(zoo, "manual_step")
    steps = [s.step for s in learning_rate_message(zoo).manual_step_learning_rate.schedule]
    assert steps and steps[0] >= 1 and steps == sorted(set(steps))
    assert _schedule_errors(zoo) == []


def _schedule_errors(cfg) -> list[str]:
    """The OD API-rejection findings of lint's manual-step rule."""
    return [f.message for f in lint_schedule.manual_steps(cfg, None)]


def test_set_num_steps_constant_and_without_reference():
    cfg = _with(CONSTANT)
    set_num_steps(cfg, 77)
    assert cfg.train_config.num_steps == 77
    forever = _with(MANUAL, num_steps=0)
    set_num_steps(forever, 100)  # no old length: boundaries are left alone
    assert [s.step for s in learning_rate_message(forever).manual_step_learning_rate.schedule] == \
        [500, 800]
    bare = loads("")
    set_num_steps(bare, 5)
    assert bare.train_config.num_steps == 5
    for bad in (0, -1, 2.5, "100"):
        with pytest.raises(ConfigValueError, match="num_steps must be a whole number > 0"):
            set_num_steps(bare, bad)


@pytest.mark.parametrize("kind, member", [
    ("exponential", "exponential_decay_learning_rate"), ("manual_step", "manual_step_learning_rate"),
    ("constant", "constant_learning_rate"), ("cosine_decay_learning_rate", "cosine_decay_learning_rate"),
])
def test_set_schedule_type_carries_base_rate(zoo, kind, member):
    set_schedule_type(zoo, kind)
    assert schedule_path(zoo).endswith(member)
    assert base_learning_rate(zoo) == 0.8
    rates = [learning_rate_at(zoo, step) for step in range(0, 50001, 500)]
    assert max(rates) == pytest.approx(0.8)
    if kind != "constant":
        assert rates[-1] < 0.1 * 0.8  # decays meaningfully within num_steps


def test_set_schedule_type_carries_warmup(zoo):
    set_schedule_type(zoo, "exponential")
    sched = learning_rate_message(zoo).exponential_decay_learning_rate
    assert (sched.burnin_steps, pytest.approx(sched.burnin_learning_rate)) == (2000, 0.13333)
    set_schedule_type(zoo, "cosine")
    sched = learning_rate_message(zoo).cosine_decay_learning_rate
    assert (sched.total_steps, sched.warmup_steps) == (50000, 2000)


def test_set_schedule_type_errors(tf1):
    with pytest.raises(ConfigValueError, match="unknown schedule type 'linear'.*cosine"):
        set_schedule_type(tf1, "linear")
    set_schedule_type(tf1, "exponential")  # already: no-op
    assert get_value(tf1, f"{EXP}.decay_steps") == 800720
    tf1.train_config.num_steps = 0
    with pytest.raises(ConfigValueError, match="num_steps is 0.*set_num_steps"):
        set_schedule_type(tf1, "cosine")
    set_schedule_type(tf1, "constant")
    assert base_learning_rate(tf1) == 0.004


def test_learning_rate_at_matches_od_api_formulas(zoo, tf1):
    assert learning_rate_at(zoo, 0) == pytest.approx(0.13333)
    assert learning_rate_at(zoo, 1000) == pytest.approx((0.13333 + 0.8) / 2)
    assert learning_rate_at(zoo, 2000) == pytest.approx(0.8)
    assert learning_rate_at(zoo, 26000) == pytest.approx(0.4)
    assert learning_rate_at(zoo, 60000) == 0.0
    assert learning_rate_at(tf1, 800720 * 2) == pytest.approx(0.004 * 0.95 ** 2)
    manual = _with(MANUAL)
    assert [pytest.approx(learning_rate_at(manual, s)) for s in (0, 250, 500, 900)] == \
        [0.01, 0.0055, 0.001, 0.0001]
    hold = _with("cosine_decay_learning_rate { learning_rate_base: 1 total_steps: 100 "
                 "warmup_steps: 0 hold_base_rate_steps: 50 }")
    assert learning_rate_at(hold, 40) == 1.0 and learning_rate_at(hold, 75) == pytest.approx(0.5)
