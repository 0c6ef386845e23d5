"""Sampler wrappers: :class:`BlindToRepeats` hides the confirmation repeats from the sampler it
wraps; :class:`SeededPerTrial` draws each trial with a sampler seeded from the trial's number.

A repeat (:func:`tuner.study.confirm.is_repeat`) trains its parent's parameters again with
another seed. Shown to TPE it would be a second observation of an old point, weighting the
search toward the leaders by their luck; so the wrapped sampler sees the study without them.
Everything else (the trials' states, system attributes, the storage) it sees unchanged.
"""
from __future__ import annotations

import enum
from typing import Any, Callable, Sequence

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from tuner.study.confirm import is_repeat
from tuner.study.seeds import sampler_seed


def _search(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if not is_repeat(t)]


class _SearchView:
    """``study`` as the sampler should see it: every attribute passed through, except that
    the trial lists leave the repeats out."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    def get_trials(self, deepcopy: bool = True, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        return _search(self._study.get_trials(deepcopy=deepcopy, states=states))

    def _get_trials(self, deepcopy: bool = True, states: Sequence[TrialState] | None = None,
                    use_cache: bool = False) -> list[FrozenTrial]:
        return _search(self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache))  # noqa: SLF001


class Delegating(BaseSampler):
    """Passes every call to ``inner``; the sampling calls see the study through :meth:`view`
    (the study itself here: the subclasses change what the inner sampler sees or which it is)."""

    def __init__(self, inner: BaseSampler) -> None:
        self.inner = inner

    def view(self, study: optuna.Study) -> optuna.Study:
        return study

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.inner.infer_relative_search_space(self.view(study), trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self.inner.sample_relative(self.view(study), trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self.inner.sample_independent(self.view(study), trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


class BlindToRepeats(Delegating):
    """Delegates to ``inner``, which samples from the study without its confirmation repeats."""

    def view(self, study: optuna.Study) -> optuna.Study:
        return _SearchView(study)  # type: ignore[return-value]


class SeededPerTrial(Delegating):
    """Delegates to a sampler built afresh for each trial by ``build(sampler_seed(seed, number))``.

    Optuna's samplers keep their state in the storage (the finished trials) apart from their
    random generator, so a trial's values depend only on ``seed``, its number and the trials
    finished when it started, not on which worker thread or process drew it, nor on what that
    thread drew before. With ``seed`` ``None`` one unseeded sampler serves every trial.

    One instance per worker thread (as ``tuner.study.runner`` opens the study once per thread):
    :meth:`before_trial`, which Optuna calls first for every trial, swaps the inner sampler.
    """

    def __init__(self, build: Callable[[int | None], BaseSampler], seed: int | None) -> None:
        super().__init__(build(seed))
        self._build = build
        self.seed = seed

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.seed is not None:
            self.inner = self._build(sampler_seed(self.seed, trial.number))
        super().before_trial(study, trial)


class SamplerName(enum.StrEnum):
    """The ``--sampler`` choices."""

    TPE = "tpe"
    RANDOM = "random"


#: One sampler per :class:`SamplerName`, built from a seed (``None``: unseeded). TPE reads the
#: deployment budget's constraints from the trials themselves (``Trial.set_constraint``).
_SAMPLERS: dict[SamplerName, Callable[[int | None], BaseSampler]] = {
    SamplerName.RANDOM: lambda seed: optuna.samplers.RandomSampler(seed=seed),
    SamplerName.TPE: lambda seed: optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
}


def sampler(name: SamplerName, seed: int | None) -> BaseSampler:
    """The sampler ``name``, seeded with ``seed``.

    Raises:
        ValueError: ``name`` has no sampler here (a bug: every member must be in the table).
    """
    build = _SAMPLERS.get(name)
    if build is None:
        raise ValueError(f"no sampler for {name!r}; known: {', '.join(_SAMPLERS)}")
    return build(seed)


def study_sampler(name: SamplerName, seed: int | None) -> BaseSampler:
    """The sampler of one study worker: ``name`` (``--sampler``), seeded per trial from ``seed``
    (``--seed``; :class:`SeededPerTrial`), blind to the confirmation repeats (:class:`BlindToRepeats`)."""
    return BlindToRepeats(SeededPerTrial(lambda trial_seed: sampler(name, trial_seed), seed))
