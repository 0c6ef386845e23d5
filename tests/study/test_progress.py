"""The live progress lines, on a fake clock: step, last mAP, i/N, best so far, ETA."""
from __future__ import annotations

import io
from types import SimpleNamespace

from tuner.outcome import FailureClass
from tuner.study.objective import EndState
from tuner.study.progress import Progress


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_status_line_shows_step_last_map_position_and_a_computed_eta() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress(total=4, done=1, steps=200, jobs=1, out=out, clock=clock, history=[60.0])
    trial = SimpleNamespace(last_train_step=0, log_dir="/runs/x/trial-0001/logs")
    progress.started(1, trial)
    assert _lines(out)[-1] == "[trial 1] started (2/4); logs in /runs/x/trial-0001/logs"
    clock.now += 20
    trial.last_train_step = 100
    progress.evaluated(1, 100, 0.25)
    assert _lines(out)[-1] == "[trial 1] step 100/200: mAP 0.2500"
    # mean duration 60 s: 2 trials not started (120 s) + trial 1's remaining 40 s
    assert progress.status_line() == "[study] 1/4 done | best mAP - | ETA 2m40s | trial 1: step 100/200 mAP 0.2500"
    clock.now += 50
    progress.ended(1, EndState.COMPLETE, 0.3, 200, 70.0)
    # durations 60 (history) and 70 s: mean 65 s for each of the 2 trials left
    assert _lines(out)[-3:] == ["[trial 1] complete, mAP 0.3000 after 200/200 steps, 1m10s",
                                "[study] 2/4 done | best mAP 0.3000 (trial 1) | ETA 2m10s",
                                "[compute] completed 1 (200 steps, 1m10s), pruned 0 (0 steps, 0m00s), failed 0 "
                                "(0 steps, 0m00s); pruning saved nothing yet"]


def test_eta_divides_by_jobs_and_waits_for_a_first_duration() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress(total=10, done=0, steps=100, jobs=2, out=out, clock=clock, best=0.2, best_number=0)
    assert progress.eta() is None
    assert progress.status_line() == "[study] 0/10 done | best mAP 0.2000 (trial 0) | ETA -"
    for number in (1, 2):
        progress.started(number, SimpleNamespace(last_train_step=0, log_dir="logs"))
    clock.now += 3600
    progress.ended(1, EndState.PRUNED, None)
    # 1 h per trial: 8 not started + trial 2 (due now), on 2 jobs: 4 h
    assert progress.eta() == 4 * 3600
    assert "| ETA 4h00m |" in progress.status_line()
    assert progress.status_line().endswith("trial 2: step 0/100 mAP -")


def test_fast_failures_only_count_when_nothing_ran_to_the_end() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress(total=3, done=0, steps=100, out=out, clock=clock)
    progress.started(0, SimpleNamespace(last_train_step=0, log_dir="logs"))
    clock.now += 5
    progress.ended(0, EndState.FAILED, None, failure=FailureClass.CONFIG)
    assert progress.eta() == 10.0
    progress.started(1, SimpleNamespace(last_train_step=0, log_dir="logs"))
    clock.now += 100
    progress.ended(1, EndState.COMPLETE, 0.1)
    assert progress.eta() == 100.0


def test_an_interrupted_trial_is_not_counted_as_done() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress(total=3, done=1, steps=100, jobs=1, out=out, clock=clock)
    progress.started(1, SimpleNamespace(last_train_step=0, log_dir="logs"))
    clock.now += 10
    progress.ended(1, EndState.INTERRUPTED, None)
    assert progress.done == 1
    assert _lines(out)[-2].startswith("[study] 1/3 done")
    progress.started(2, SimpleNamespace(last_train_step=0, log_dir="logs"))
    progress.ended(2, EndState.FAILED, None, failure=FailureClass.NAN)
    assert progress.done == 2
    assert _lines(out)[-3] == "[trial 2] failed (nan)"


def test_the_compute_line_splits_steps_and_time_by_outcome_and_states_what_pruning_saved() -> None:
    clock, out = FakeClock(), io.StringIO()
    progress = Progress(total=4, done=0, steps=300, out=out, clock=clock)
    for number, state, value, steps, seconds, failure in [
            (0, EndState.COMPLETE, 0.2, 300, 120.0, None), (1, EndState.PRUNED, None, 150, 80.0, None),
            (2, EndState.FAILED, None, 100, 50.0, FailureClass.NAN)]:
        progress.started(number, SimpleNamespace(last_train_step=0, log_dir="logs"))
        progress.ended(number, state, value, steps, seconds, failure)
    # steps saved are exact (300 - 150); time saved is the completed trial's 120 s minus the pruned one's 80 s
    assert _lines(out)[-1] == ("[compute] completed 1 (300 steps, 2m00s), pruned 1 (150 steps, 1m20s), failed 1 "
                               "(100 steps, 0m50s); pruning saved 150 steps (50% of the pruned trials' budget), "
                               "~0m40s of wall time")
