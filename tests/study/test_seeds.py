"""Seeds of a study: sampler seeds per worker (reproducible for a fresh run, distinct across
resumes and workers) and training seeds per trial (a pure function of --seed and the number)."""
from __future__ import annotations

import optuna

from tuner.study.runner import worker_seed
from tuner.study.seeds import trial_seed


def _draws(seed: int, n: int = 5) -> list[float]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [study.ask().suggest_float("x", 0.0, 1.0) for _ in range(n)]


def test_a_fresh_single_process_run_uses_the_seed_itself() -> None:
    assert worker_seed(7, trials_before=0, worker=0) == 7
    assert worker_seed(7, trials_before=0, worker=1) == worker_seed(7, trials_before=0, worker=1)


def test_resumes_threads_and_processes_get_their_own_seeds() -> None:
    seeds = {
        "fresh": worker_seed(1, trials_before=0, worker=0),
        "second thread": worker_seed(1, trials_before=0, worker=1),
        "resume after 3 trials": worker_seed(1, trials_before=3, worker=0, process=4242),
        "resume after 5 trials": worker_seed(1, trials_before=5, worker=0, process=4242),
        "second worker process": worker_seed(1, trials_before=1, worker=0, process=4243),
        "third worker process": worker_seed(1, trials_before=1, worker=0, process=4244),
    }
    assert len(set(seeds.values())) == len(seeds)
    assert all(0 <= seed < 2**32 for seed in seeds.values())
    draws = {label: tuple(_draws(seed)) for label, seed in seeds.items()}
    assert len(set(draws.values())) == len(draws), "no two workers/resumes replay the same draws"


def test_a_trial_seed_is_a_pure_function_of_the_study_seed_and_the_number() -> None:
    assert trial_seed(0, 3) == trial_seed(0, 3)
    assert trial_seed(0, 0) == 177799908  # pinned: a change would re-seed every resumed study
    seeds = [trial_seed(study, number) for study in (0, 1, 2) for number in range(50)]
    assert len(set(seeds)) == len(seeds), "trials of one study, and the same trial of two studies, differ"
    assert all(0 <= seed < 2**31 for seed in seeds)
    assert trial_seed(-5, 0) != trial_seed(5, 0) and 0 <= trial_seed(-5, 0) < 2**31


def test_training_seeds_are_not_the_sampler_seeds() -> None:
    assert {trial_seed(1, n) for n in range(5)}.isdisjoint(
        {worker_seed(1, trials_before=n, worker=0, process=1) for n in range(5)})
