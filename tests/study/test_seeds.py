"""Seeds of a study: a sampler seed and a training seed per trial, each a pure function of --seed
and the trial's number (whole studies: test_fake_study.py)."""
from __future__ import annotations

import optuna

from tuner.study.seeds import sampler_seed, trial_seed


def _draws(seed: int, n: int = 5) -> list[float]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [study.ask().suggest_float("x", 0.0, 1.0) for _ in range(n)]


def test_each_trial_gets_its_own_sampler_seed_and_draws() -> None:
    seeds = [sampler_seed(1, number) for number in range(50)]
    assert len(set(seeds)) == len(seeds) and all(0 <= seed < 2**32 for seed in seeds)
    assert sampler_seed(1, 4) == sampler_seed(1, 4) != sampler_seed(2, 4)
    assert sampler_seed(0, 0) == 2747676545  # pinned: a change would re-draw every resumed study
    draws = {tuple(_draws(seed)) for seed in seeds[:10]}
    assert len(draws) == 10, "no two trials (threads, processes, resumes) replay the same draws"


def test_a_trial_seed_is_a_pure_function_of_the_study_seed_and_the_number() -> None:
    assert trial_seed(0, 3) == 1030145264  # pinned, as the next: the same study seed and number, the same seed
    assert trial_seed(0, 0) == 177799908  # pinned: a change would re-seed every resumed study
    seeds = [trial_seed(study, number) for study in (0, 1, 2) for number in range(50)]
    assert len(set(seeds)) == len(seeds), "trials of one study, and the same trial of two studies, differ"
    assert all(0 <= seed < 2**31 for seed in seeds)
    assert trial_seed(-5, 0) != trial_seed(5, 0) and 0 <= trial_seed(-5, 0) < 2**31


def test_training_seeds_are_not_the_sampler_seeds() -> None:
    assert {trial_seed(1, n) for n in range(50)}.isdisjoint({sampler_seed(1, n) for n in range(50)})
