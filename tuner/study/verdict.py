"""The statistics of a study's verdict: run-to-run noise, an interval for the lift, words that follow it.

A leader of the search was chosen because one of its runs was the highest of many: that run is
biased upward (the winner's curse) and says nothing about noise. Only the runs that were not
selected, its *fresh* runs (the confirmation's repeats; every run of the baseline, which is a
leader by rule), estimate what the config scores. From them:

* :func:`pooled_noise`: the run-to-run standard deviation pooled over every config with two or
  more fresh runs, ``s_p^2 = sum (n_i - 1) s_i^2 / sum (n_i - 1)``, with its degrees of freedom;
* :func:`lift_interval`: the pick's fresh mean minus the baseline's, with the pooled-variance
  Student t interval ``d +- t(1 - a/2, df) s_p sqrt(1/n_pick + 1/n_base)`` (90 % by default);
* :func:`words`: the verdict, from the interval only: ``a lift`` when it lies above 0, ``not
  established`` otherwise, with how many runs each would resolve a lift of that size;
* :func:`paired_bootstrap`: the lift on a test split, resampling its images (the same images for
  both models), so evaluation-set noise is seen apart from training noise.

Pure functions of numbers (scipy's t quantiles); no Optuna, no TensorFlow.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Callable, Sequence

import numpy as np
from scipy import stats

#: The interval's confidence level.
LEVEL = 0.90


@dataclasses.dataclass(frozen=True)
class Noise:
    """Run-to-run standard deviation of mAP pooled over configs (fresh runs only).

    Attributes:
        sd: The pooled standard deviation (mAP units).
        df: Its degrees of freedom, ``sum (n_i - 1)``.
        configs: How many configs contributed (each with >= 2 fresh runs).
    """

    sd: float
    df: int
    configs: int

    def to_json(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def pooled_noise(groups: Sequence[Sequence[float]]) -> Noise | None:
    """The pooled standard deviation of ``groups`` (each a config's fresh runs); None when no
    group has two runs."""
    usable = [list(g) for g in groups if len(g) >= 2]
    if not usable:
        return None
    df = sum(len(g) - 1 for g in usable)
    variance = sum((len(g) - 1) * statistics.variance(g) for g in usable) / df
    return Noise(math.sqrt(variance), df, len(usable))


@dataclasses.dataclass(frozen=True)
class Interval:
    """A lift (pick minus baseline, mAP units) with its interval.

    Attributes:
        lift: The point estimate.
        low, high: The interval's ends.
        level: Its confidence level.
        method: ``pooled t`` (training noise) or ``paired bootstrap`` (test images).
        n_pick, n_base: The runs (or images) behind each side.
    """

    lift: float
    low: float
    high: float
    level: float
    method: str
    n_pick: int
    n_base: int

    @property
    def established(self) -> bool:
        """Whether the interval lies above 0 (the verdict "a lift")."""
        return self.low > 0

    def pts(self, basis: str = "") -> str:
        """``+4.7 pts (90 % interval +1.2 to +8.2)``, or with ``basis``:
        ``+4.7 pts (90 % interval +1.2 to +8.2; 2 fresh runs vs 2)``."""
        return (f"{100 * self.lift:+.1f} pts ({100 * self.level:.0f} % interval {100 * self.low:+.1f} to "
                f"{100 * self.high:+.1f}{'; ' + basis if basis else ''})")

    def to_json(self) -> dict[str, float | int | str]:
        return dataclasses.asdict(self)


def lift_interval(pick: Sequence[float], base: Sequence[float], noise: Noise, level: float = LEVEL) -> Interval:
    """The pooled-variance t interval of ``mean(pick) - mean(base)`` (fresh runs of each).

    Raises:
        ValueError: a side without runs.
    """
    if not pick or not base:
        raise ValueError("the pick and the baseline need at least one fresh run each")
    lift = statistics.fmean(pick) - statistics.fmean(base)
    half = float(stats.t.ppf(0.5 + level / 2, noise.df)) * noise.sd * math.sqrt(1 / len(pick) + 1 / len(base))
    return Interval(lift, lift - half, lift + half, level, "pooled t", len(pick), len(base))


def runs_needed(lift: float, noise: Noise, level: float = LEVEL, limit: int = 1000) -> int | None:
    """Fresh runs of each side for which a true lift of ``lift`` would give an interval whose
    half-width is below it (the t quantile at the degrees of freedom those runs would add);
    None when the lift is not positive or more than ``limit`` runs would be needed."""
    if lift <= 0 or noise.sd <= 0:
        return None if lift <= 0 else 2
    for n in range(2, limit + 1):
        df = noise.df + 2 * (n - 1)
        if float(stats.t.ppf(0.5 + level / 2, df)) * noise.sd * math.sqrt(2 / n) < lift:
            return n
    return None


def words(interval: Interval, noise: Noise | None) -> str:
    """The verdict in words, following the interval only.

    ``+4.7 pts (90 % interval +1.2 to +8.2; 2 fresh runs vs 2): a lift`` or
    ``+1.5 pts (90 % interval -2.0 to +5.0; ...): not established; about N runs each would
    resolve a lift of this size at this noise``.
    """
    if interval.method == "pooled t":
        basis = f"{interval.n_pick} fresh runs vs {interval.n_base}"
    else:
        basis = f"{interval.n_pick} test images, paired bootstrap"
    head = interval.pts(basis)
    if interval.established:
        return f"{head}: a lift"
    if interval.high < 0:
        return f"{head}: worse than the baseline"
    needed = runs_needed(interval.lift, noise, interval.level) if noise is not None else None
    more = ""
    if needed is not None and interval.method == "pooled t":
        more = f"; about {needed} runs each would resolve a lift of this size at this noise"
    elif interval.lift <= 0 and interval.method == "pooled t":
        more = "; no lift to resolve"
    return f"{head}: not established{more}"


# -- the test split: a paired bootstrap over its images

#: Resamples of the test images (a few hundred: the interval's ends move by well under a point).
BOOTSTRAP_RESAMPLES = 300


def paired_bootstrap(score: Callable[[np.ndarray], tuple[float, float]], n_images: int, *,
                     resamples: int = BOOTSTRAP_RESAMPLES, level: float = LEVEL, seed: int = 0) -> Interval:
    """The lift on a test split with its percentile interval from a paired bootstrap.

    Args:
        score: Given an array of image indices (with repeats), the (pick, baseline) mAP on those
            images; called once on all images, then on each resample. Both models are scored on
            the same images, so the spread is that of the images, not of two samples.
        n_images: The test split's size.
        resamples: Bootstrap resamples (seeded with ``seed``: the interval repeats exactly).
    """
    if n_images < 2:
        raise ValueError("a bootstrap needs at least 2 test images")
    pick, base = score(np.arange(n_images))
    rng = np.random.default_rng(seed)
    lifts = np.empty(resamples)
    for b in range(resamples):
        p, q = score(rng.integers(0, n_images, n_images))
        lifts[b] = p - q
    tail = (1 - level) / 2
    low, high = np.quantile(lifts, [tail, 1 - tail])
    return Interval(pick - base, float(low), float(high), level, "paired bootstrap", n_images, n_images)
