"""The verdict's statistics (tuner.study.verdict) with fixed numbers, scipy, and simulated studies."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tuner.study.confirm import Confirmation, Leader, Run, verdict
from tuner.study.verdict import (Interval, Noise, lift_interval, paired_bootstrap, pooled_noise, runs_needed,
                                 words)


def test_pooled_noise_by_hand() -> None:
    # groups [1, 3] (s^2 = 2) and [2, 4, 6] (s^2 = 4), a single run left out: (1*2 + 2*4) / 3 = 10/3
    noise = pooled_noise([[1.0, 3.0], [2.0, 4.0, 6.0], [9.0]])
    assert noise is not None and (noise.df, noise.configs) == (3, 2)
    assert noise.sd == pytest.approx(math.sqrt(10 / 3))
    assert pooled_noise([[1.0], [2.0]]) is None


def test_the_interval_by_hand_and_by_scipy() -> None:
    pick, base = [0.25, 0.27, 0.26], [0.20, 0.23]
    noise = pooled_noise([pick, base])
    interval = lift_interval(pick, base, noise)
    # by hand: s^2 = (2 * 1e-4 + 1 * 4.5e-4) / 3 = 2.1667e-4; se = sqrt(2.1667e-4 * (1/3 + 1/2)) = 0.013437;
    # t(.95, 3) = 2.353363; lift = 0.26 - 0.215 = 0.045
    se = math.sqrt((2 * 1e-4 + 4.5e-4) / 3 * (1 / 3 + 1 / 2))
    assert interval.lift == pytest.approx(0.045)
    assert interval.low == pytest.approx(0.045 - 2.353363 * se, abs=1e-6)
    assert interval.high == pytest.approx(0.045 + 2.353363 * se, abs=1e-6)
    reference = stats.ttest_ind(pick, base, equal_var=True).confidence_interval(confidence_level=0.90)
    assert (interval.low, interval.high) == (pytest.approx(reference.low), pytest.approx(reference.high))
    assert words(interval, noise) == "+4.5 pts (90 % interval +1.3 to +7.7; 3 fresh runs vs 2): a lift"


def test_words_follow_the_interval_only() -> None:
    noise = Noise(0.02, 4, 3)
    undecided = Interval(0.015, -0.02, 0.05, 0.9, "pooled t", 2, 2)
    assert words(undecided, noise) == ("+1.5 pts (90 % interval -2.0 to +5.0; 2 fresh runs vs 2): not established; "
                                       f"about {runs_needed(0.015, noise)} runs each would resolve a lift of this size "
                                       "at this noise")
    worse = Interval(-0.05, -0.08, -0.02, 0.9, "pooled t", 3, 3)
    assert words(worse, noise).endswith(": worse than the baseline")
    test = Interval(0.03, 0.01, 0.05, 0.9, "paired bootstrap", 64, 64)
    assert words(test, None) == "+3.0 pts (90 % interval +1.0 to +5.0; 64 test images, paired bootstrap): a lift"


def test_runs_needed_is_the_smallest_that_resolves() -> None:
    noise = Noise(0.02, 4, 3)
    n = runs_needed(0.015, noise)
    half = lambda k: stats.t.ppf(0.95, 4 + 2 * (k - 1)) * 0.02 * math.sqrt(2 / k)  # noqa: E731
    assert half(n) < 0.015 <= half(n - 1)
    assert runs_needed(-0.01, noise) is None


def _leader(number: int, baseline: bool, values: list[float]) -> Leader:
    return Leader(number, baseline, tuple(Run(number * 100 + i, v, i, None) for i, v in enumerate(values)))


def _simulated(rng: np.random.Generator, lifts: list[float], search: int, k: int, fresh: int) -> str:
    """One study: a baseline and ``search`` sampled configs (true lift ``lifts[i]`` in noise SDs), one
    search run each; the ``k`` best search runs lead and get ``fresh`` repeats, the baseline ``fresh``
    runs in all. Returns the verdict."""
    search_runs = [lifts[i] + rng.normal() for i in range(search)]
    top = sorted(range(search), key=lambda i: -search_runs[i])[:k]
    leaders = [_leader(0, True, list(rng.normal(size=fresh)))]
    leaders += [_leader(i + 1, False, [search_runs[i], *(lifts[i] + rng.normal(size=fresh))]) for i in top]
    return verdict(Confirmation(tuple(leaders), fresh))


def test_equal_configs_are_not_called_a_lift_in_2_vs_2_runs() -> None:
    rng = np.random.default_rng(0)
    verdicts = [_simulated(rng, [0.0] * 4, search=4, k=2, fresh=2) for _ in range(200)]
    lifts = sum(v.endswith(": a lift") for v in verdicts)
    assert lifts <= 40, f"{lifts} of 200 equal-config studies were called a lift"  # "not established" >= 80 %


def test_a_lift_of_5_noise_sds_is_found_with_3_runs_each() -> None:
    rng = np.random.default_rng(1)
    verdicts = [_simulated(rng, [5.0, 0.0, 0.0, 0.0], search=4, k=2, fresh=3) for _ in range(200)]
    found = sum(v.endswith(": a lift") for v in verdicts)
    assert found >= 160, f"only {found} of 200 studies with a 5-SD lift found it"


def test_the_paired_bootstrap_repeats_and_centres_on_the_lift() -> None:
    rng = np.random.default_rng(2)
    per_image_pick, per_image_base = rng.uniform(0.3, 0.7, 50), rng.uniform(0.2, 0.6, 50)

    def score(idx: np.ndarray) -> tuple[float, float]:
        return float(per_image_pick[idx].mean()), float(per_image_base[idx].mean())

    a = paired_bootstrap(score, 50, resamples=200, seed=3)
    b = paired_bootstrap(score, 50, resamples=200, seed=3)
    assert a == b and a.method == "paired bootstrap" and a.n_pick == 50
    assert a.lift == pytest.approx(per_image_pick.mean() - per_image_base.mean())
    assert a.low < a.lift < a.high
    diffs = per_image_pick - per_image_base  # the bootstrap of a mean difference: about 1.645 standard errors
    se = diffs.std(ddof=1) / math.sqrt(50)
    assert a.high - a.low == pytest.approx(2 * 1.645 * se, rel=0.2)
