"""Resolve: a study's settings become one complete, immutable :class:`StudyPlan`, every check done.

The study runs in three stages (docs/design.md): **resolve** (here) checks every input and reads
what the study needs (the base config parsed once, the data, the space, the anchor fit, the
evaluation and pruning plans, the storage and run directory, the budget); **decide**
(:mod:`tuner.study.planner`) turns each Optuna trial into a variant; **execute**
(:mod:`tuner.study.executor`) runs it. :func:`resolve` writes nothing but the demo dataset
(when the base needs it); any problem is a :class:`~tuner.study.inputs.StudyInputError` with a
one-line message, before a run directory, a storage or a trial exists.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from tuner import space as spacemod, tfquiet
from tuner.anchors.errors import AnchorError
from tuner.runinfo import BASE_CONFIG_FILE
from tuner.study import preflight
from tuner.study.anchors import AnchorPlan
from tuner.study.anchors import plan as anchor_plan
from tuner.study.inputs import Prepared, StudyInputError, StudySettings, prepare
from tuner.study.planner import Planner, Variant
from tuner.study.sampling import study_sampler


@dataclasses.dataclass(frozen=True)
class StudyPlan(Prepared):
    """Everything a study runs from, checked (:func:`resolve`). Not changed once made.

    The fields of :class:`~tuner.study.inputs.Prepared` (settings with names turned into enums,
    ``study.json``'s record, the run directory, the base config parsed once with its data, steps
    and checkpoint filled in and its text, the validated space, the base resolver's note, the
    pruning and evaluation plans, the checked ``--test-data`` records), and:

    Attributes:
        anchors: the anchor analysis and fit of the training boxes.
        baseline_params / fitted_params: the baseline and the fitted-anchors trial in the space's
            terms (Optuna's stored form), what they are enqueued with.
        new: whether the run directory held no study yet (the preflight ran; one is created).
    """

    anchors: AnchorPlan
    baseline_params: dict[str, Any]
    fitted_params: dict[str, Any]
    new: bool

    def planner(self) -> Planner:
        """The study's :class:`Planner` (trial 0 is the baseline; seeds from ``--seed``)."""
        s = self.settings
        return Planner(self.base_cfg, self.space, steps=s.steps, anchors=self.anchors, trial0_is_baseline=True,
                       seed=s.seed if s.seed is not None else 0)


def resolve(settings: StudySettings, *, build_check: preflight.BuildCheck | None = None,
            preflight_check: bool = True) -> StudyPlan:
    """Check every input and read what the study needs; write nothing but the demo dataset.

    A new study (its run directory holds no ``base.config``) also builds what it would train
    first, the base config and the first sampled variant, with ``build_check`` (default:
    :func:`tuner.study.preflight.build_error`, the OD API's model builder; tests on the fake
    runner pass :class:`tuner.testing.FakeBuild`), unless ``preflight_check`` is off (``--dry-run``
    checks its own variants).

    Raises:
        StudyInputError: the first problem, as one line with the fix.
    """
    prepared = prepare(settings)
    anchors = plan_anchors(prepared)  # reads the training data: bad boxes stop the study here
    baseline_params, fitted_params = described(prepared.space, prepared.base_cfg, anchors)
    plan = StudyPlan(**{f.name: getattr(prepared, f.name) for f in dataclasses.fields(prepared)}, anchors=anchors,
                     baseline_params=baseline_params, fitted_params=fitted_params,
                     new=not (prepared.run_dir / BASE_CONFIG_FILE).exists())
    if plan.new and preflight_check:
        with tfquiet.quietly():
            problem = preflight.check_start(preflight_variants(plan, 1), build_check or preflight.build_error)
        if problem:
            raise StudyInputError(problem)
    return plan


def plan_anchors(prepared: Prepared) -> AnchorPlan:
    """The study's anchor plan (:mod:`tuner.study.anchors`): reads the training boxes, so it runs
    once the cheap checks of :func:`~tuner.study.inputs.prepare` passed.

    Raises:
        StudyInputError: the training records hold no boxes or invalid ones (file and record named).
    """
    try:
        with tfquiet.quietly():  # the first TensorFlow import of the study process
            return anchor_plan(prepared.base_cfg, fit=prepared.settings.fit_anchors, seed=prepared.settings.seed)
    except AnchorError as exc:
        raise StudyInputError(str(exc)) from None


def described(space: spacemod.SearchSpace, base: Any, anchors: AnchorPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameter values (Optuna's stored form) that describe the baseline and the
    fitted-anchors trial in the space's terms (:func:`tuner.space.values_of`): the sampled
    trials start from the fit when the space has an ``anchors`` knob and there is a fit."""
    centred = anchors.fitted is not None and any(
        p.target is spacemod.Target.KNOB and p.ref == "anchors" for p in space.params)
    baseline = spacemod.to_optuna_params(space, spacemod.values_of(space, base, anchors_at_start=not centred))
    fitted = spacemod.to_optuna_params(space, spacemod.values_of(space, anchors.with_fit(base), anchors_at_start=centred)) \
        if anchors.fitted is not None else {}
    return baseline, fitted


def preflight_variants(plan: StudyPlan, n_sampled: int) -> list[Variant]:
    """The baseline, fitted-anchors and first ``n_sampled`` sampled variants this study would
    train, drawn with its own sampler and seeds (:func:`tuner.study.preflight.plan_variants`)."""
    s = plan.settings
    return preflight.plan_variants(plan.base_cfg, plan.space, anchors=plan.anchors,
                                   sampler=study_sampler(s.sampler, s.seed), n_sampled=n_sampled, steps=s.steps,
                                   directions=s.objectives.directions, baseline_params=plan.baseline_params,
                                   fitted_params=plan.fitted_params)
