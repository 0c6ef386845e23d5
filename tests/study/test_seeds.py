"""Sampler seeds per worker: reproducible for a fresh run, distinct across resumes and workers."""
from __future__ import annotations

import optuna

from tuner.study.runner import worker_seed


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
