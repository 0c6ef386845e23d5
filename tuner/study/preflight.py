"""Preflight: the variants a study would train, checked without training.

A config that the OD API refuses to build fails its trial only after the trial's process has
started (on a GPU box, after minutes of start-up; on a search space that breaks every sampled
variant, after the baseline has trained). The preflight finds that first:

* :func:`plan_variants` draws the variants exactly as the study draws them: the same sampler
  (``--sampler``, seeded per trial from ``--seed``), the baseline and the fitted-anchors trial
  enqueued first, each config made by the study's own :class:`~tuner.study.planner.Planner`. The random
  sampler's draws are the very ones the study makes; TPE's too until 3 trials have finished
  (the baseline included: TPE starts at random), after which they depend on the measured mAPs,
  which a preflight has not.
* a :data:`BuildCheck` then checks each config: :class:`ModelBuild` lints it and builds the
  model with the OD API's ``model_builder``, runs ``preprocess``, ``predict`` and ``loss`` on one
  zero image with one box (no training, nothing written); the fake in :mod:`tuner.testing`
  accepts or refuses by a rule.

``python -m tuner.study ... --dry-run N`` prints the table (:func:`table`); every study runs
the check on its base config and on its first sampled variant before it writes or trains
anything (:func:`check_start`).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Sequence

import optuna
from optuna.trial import TrialState

from tuner import config as cfgmod
from tuner import space as spacemod
from tuner.cli import text_table
from tuner.study.anchors import AnchorPlan
from tuner.study.planner import Planner, Role, Variant


@dataclasses.dataclass(frozen=True)
class Check:
    """The preflight of one variant.

    Attributes:
        variant: What was checked.
        built: Whether it lints clean and the OD API built it and computed a finite loss.
        reason: Why not ('' when built).
        seconds: Wall time of the check.
    """

    variant: Variant
    built: bool
    reason: str
    seconds: float


#: Checks one config: None when it builds, else the reason (one line).
BuildCheck = Callable[[Any], "str | None"]


def plan_variants(base_cfg: Any, space: spacemod.SearchSpace, *, anchors: AnchorPlan, sampler: optuna.samplers.BaseSampler,
                  n_sampled: int, steps: int,
                  directions: Sequence[optuna.study.StudyDirection] = (optuna.study.StudyDirection.MAXIMIZE,),
                  baseline_params: dict[str, Any] | None = None, fitted_params: dict[str, Any] | None = None,
                  ) -> list[Variant]:
    """The baseline, the fitted-anchors trial (when ``anchors`` has a fit) and the first
    ``n_sampled`` sampled variants, as a new study with ``sampler`` would draw them.

    Uses an in-memory Optuna study (nothing is stored) and the study's own :class:`Planner` for
    the configs; the trials are told as failed, so they teach the sampler nothing.
    """
    from tuner.study.storage import create_or_load

    planner = Planner(base_cfg, space, steps=steps, anchors=anchors, trial0_is_baseline=True)
    study, _ = create_or_load("preflight", optuna.storages.InMemoryStorage(), sampler, optuna.pruners.NopPruner(),
                              fitted_anchors=anchors.fitted is not None, directions=directions,
                              baseline_params=baseline_params, fitted_params=fitted_params)
    variants: list[Variant] = []
    while sum(v.role is Role.SAMPLED for v in variants) < n_sampled:
        trial = study.ask()
        variants.append(planner.plan(trial))
        study.tell(trial, state=TrialState.FAIL)
    return variants


def run_checks(variants: Sequence[Variant], build: BuildCheck, progress: Callable[[str], None] | None = None
               ) -> list[Check]:
    """Check each variant with ``build`` (a variant whose values did not apply fails as it is)."""
    checks = []
    for i, variant in enumerate(variants, 1):
        if progress is not None:
            progress(f"preflight {i}/{len(variants)}: trial {variant.number} ({variant.role}) ...")
        started = time.monotonic()
        reason = variant.error or build(variant.cfg) or ""
        checks.append(Check(variant, not reason, reason, round(time.monotonic() - started, 1)))
    return checks


def _changes(variant: Variant) -> str:
    if variant.role is Role.BASELINE:
        return "(the base config)"
    if variant.role is Role.FITTED_ANCHORS:
        return "(the base config with the fitted anchors)"
    shown = []
    for name, value in variant.values.items():
        text = f"{value:.4g}" if isinstance(value, float) else (
            "[" + ", ".join(f"{v:g}" for v in value) + "]" if isinstance(value, tuple) else str(value))
        shown.append(f"{name}={text}")
    return " ".join(shown) or "(no value sampled)"


def table(checks: Sequence[Check]) -> list[str]:
    """The preflight table: trial, role, built, seconds, reason, changes (the long column last)."""
    rows = [(str(c.variant.number), str(c.variant.role), "yes" if c.built else "NO", f"{c.seconds:.1f}",
             c.reason or "-", _changes(c.variant)) for c in checks]
    return text_table(("trial", "role", "built", "s", "reason", "changes"), rows)


def summary(checks: Sequence[Check]) -> str:
    """One line: how many built, of the sampled variants and in all."""
    sampled = [c for c in checks if c.variant.role is Role.SAMPLED]
    others = [c for c in checks if c.variant.role is not Role.SAMPLED]
    parts = [f"{sum(c.built for c in sampled)} of {len(sampled)} sampled variants build"]
    parts += [f"{c.variant.role} {'builds' if c.built else 'does NOT build'}" for c in others]
    return "preflight: " + "; ".join(parts)


# -- the real check: lint, then the OD API's model builder


def _input_shape(model: Any) -> tuple[int, int]:
    """(height, width) of one test image for ``model``'s image resizer."""
    kind = model.WhichOneof("model")
    resizer = getattr(model, kind).image_resizer if kind in ("ssd", "faster_rcnn", "center_net") else None
    which = resizer.WhichOneof("image_resizer_oneof") if resizer is not None else None
    if which == "fixed_shape_resizer":
        return int(resizer.fixed_shape_resizer.height), int(resizer.fixed_shape_resizer.width)
    if which == "keep_aspect_ratio_resizer":
        side = int(resizer.keep_aspect_ratio_resizer.max_dimension or 640)
        return side, side
    return 320, 320


def build_error(cfg: Any) -> str | None:
    """Lint ``cfg`` (errors that need no files), then build its model with the OD API and run
    ``preprocess``, ``predict`` and (SSD, Faster R-CNN) ``loss`` on one zero image with one
    ground-truth box; None when everything ran and the losses are finite, else the reason.

    Imports TensorFlow and the OD API (through :mod:`tuner.odapi`); the Keras session is
    cleared after each build. Nothing is trained or written.
    """
    errors = [f for f in cfgmod.lint(cfg, check_files=False) if f.severity is cfgmod.Severity.ERROR]
    if errors:
        return f"lint: {errors[0].path}: {errors[0].message}"
    import tuner.odapi  # noqa: F401  (the compat shims before the OD API loads)
    import numpy as np
    import tensorflow as tf
    from object_detection.builders import model_builder

    kind = cfg.model.WhichOneof("model")
    height, width = _input_shape(cfg.model)
    try:
        model = model_builder.build(model_config=cfg.model, is_training=True)
        images, shapes = model.preprocess(tf.zeros([1, height, width, 3], tf.float32))
        predictions = model.predict(images, shapes)
        if kind in ("ssd", "faster_rcnn"):
            classes = getattr(cfg.model, kind).num_classes
            model.provide_groundtruth(groundtruth_boxes_list=[tf.constant([[0.2, 0.2, 0.6, 0.7]], tf.float32)],
                                      groundtruth_classes_list=[tf.one_hot([0], classes, dtype=tf.float32)])
            losses = model.loss(predictions, shapes)
            bad = [name for name, value in losses.items() if not np.all(np.isfinite(np.asarray(value)))]
            if bad:
                return f"the loss {bad[0]} is not finite on a test batch"
    except Exception as exc:  # noqa: BLE001 - whatever the OD API raises is the answer: it does not build
        detail = " ".join(str(exc).split())[:300]
        return f"the OD API cannot build it at {height}x{width}: {type(exc).__name__}: {detail}"
    finally:
        tf.keras.backend.clear_session()
    return None


def check_start(variants: Sequence[Variant], build: BuildCheck) -> str | None:
    """The study's check before it writes or trains anything: the baseline and the first sampled
    variant. Returns None when both build, else one line saying which does not and why."""
    chosen = [v for v in variants if v.role is Role.BASELINE][:1] + \
        [v for v in variants if v.role is Role.SAMPLED][:1]
    for check in run_checks(chosen, build):
        if check.built:
            continue
        if check.variant.role is Role.BASELINE:
            return f"the base config does not build: {check.reason}"
        return (f"the first variant the space samples (trial {check.variant.number}: {_changes(check.variant)}) does "
                f"not build: {check.reason}; narrow the space (see every draw without training: add --dry-run 8)")
    return None
