"""A config expressed in a space's terms: the values a sampler would have had to draw to get it.

The study's baseline (the base config) and its fitted-anchors trial are not sampled, so Optuna
records no parameters for them: optuna-dashboard's slice, contour and importance plots leave
them out, and TPE learns nothing from them. :func:`values_of` reads, for every entry of a
space, the value the config already has (the learning rate knob reads the schedule's base rate,
an augmentation entry whether the augmentation is there, a path its field), keeps it only when
the entry's distribution holds it (inside the range, one of the choices, on the step) and the
entry is active under the values read before it (``when``), and returns the rest: the study
enqueues those trials with them, so they are recorded as ordinary parameter values.

Each knob's reader is the inverse of its edit in :mod:`tuner.space.knobs`; a knob whose value
cannot be read from a config (``fpn`` on an FPN extractor's head, say) reads None and is left out.
The ``anchors`` knob and ``anchor_aspect_ratios``' ``keep`` describe a config relative to the
anchors the sampled trials start from (the study's fit, when it fits): the caller says whether
the config is that starting point (``anchors_at_start``).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from tuner import config as cfgmod
from tuner.config.errors import ConfigError
from tuner.space.apply import active
from tuner.space.backbones import backbone_patterns
from tuner.space._knob_error import KnobError
from tuner.space.anchor_knobs import KEEP_RATIOS, anchor_generator
from tuner.space.knobs import FPN_VARIANTS
from tuner.space.model import Kind, Param, SearchSpace, Target


def _schedule(cfg: Any) -> Any:
    lr = cfgmod.learning_rate_message(cfg)
    kind = lr.WhichOneof("learning_rate")
    return kind, getattr(lr, kind) if kind else None


def _schedule_type(cfg: Any) -> str | None:
    kind, _ = _schedule(cfg)
    return next((name for name, member in cfgmod.SCHEDULE_KINDS.items() if member == kind), None)


def _warmup_fraction(cfg: Any) -> float | None:
    kind, sched = _schedule(cfg)
    if kind != "cosine_decay_learning_rate" or not sched.total_steps:
        return None
    return sched.warmup_steps / sched.total_steps


def _decay_factor(cfg: Any) -> float | None:
    kind, sched = _schedule(cfg)
    return sched.decay_factor if kind == "exponential_decay_learning_rate" else None


def _l2_weight(cfg: Any) -> float | None:
    weights = {float(f"{v.regularizer.l2_regularizer.weight:.7g}") for path in cfgmod.hyperparams_paths(cfg)
               for v in [cfgmod.get_value(cfg, path)] if v.regularizer.WhichOneof("regularizer_oneof") == "l2_regularizer"}
    return weights.pop() if len(weights) == 1 else None


def _momentum(cfg: Any) -> float | None:
    kind = cfg.train_config.optimizer.WhichOneof("optimizer")
    if kind not in ("momentum_optimizer", "rms_prop_optimizer"):
        return None
    return getattr(cfg.train_config.optimizer, kind).momentum_optimizer_value


def _matcher_iou(cfg: Any) -> float | None:
    if cfg.model.WhichOneof("model") != "ssd" or cfg.model.ssd.matcher.WhichOneof("matcher_oneof") != "argmax_matcher":
        return None
    argmax = cfg.model.ssd.matcher.argmax_matcher
    return argmax.matched_threshold if argmax.matched_threshold == argmax.unmatched_threshold else None


def _freeze(cfg: Any) -> str | None:
    frozen = tuple(cfg.train_config.freeze_variables)
    if not frozen:
        return "none"
    kind = cfg.model.WhichOneof("model")
    patterns = backbone_patterns(cfg.model.ssd.feature_extractor.type) if kind == "ssd" else None
    return "backbone" if patterns is not None and frozen == tuple(patterns) else None


def _generator(cfg: Any) -> Any:
    try:
        return anchor_generator(cfg, "anchors")[1]
    except KnobError:
        return None


def _scales_per_octave(cfg: Any) -> int | None:
    gen = _generator(cfg)
    return gen.scales_per_octave if gen is not None and hasattr(gen, "scales_per_octave") else None


def _input_size(cfg: Any) -> int | None:
    if cfg.model.WhichOneof("model") != "ssd":
        return None
    resizer = cfg.model.ssd.image_resizer
    if resizer.WhichOneof("image_resizer_oneof") != "fixed_shape_resizer":
        return None
    size = resizer.fixed_shape_resizer
    return size.height if size.height == size.width else None


def _depth_multiplier(cfg: Any) -> float | None:
    return cfg.model.ssd.feature_extractor.depth_multiplier if cfg.model.WhichOneof("model") == "ssd" else None


def _use_depthwise(cfg: Any) -> bool | None:
    if cfg.model.WhichOneof("model") != "ssd":
        return None
    predictor = cfg.model.ssd.box_predictor
    kind = predictor.WhichOneof("box_predictor_oneof")
    if kind not in ("convolutional_box_predictor", "weight_shared_convolutional_box_predictor"):
        return None
    return getattr(predictor, kind).use_depthwise


def _fpn(cfg: Any) -> bool | None:
    if cfg.model.WhichOneof("model") != "ssd":
        return None
    extractor = cfg.model.ssd.feature_extractor.type
    return False if extractor in FPN_VARIANTS else None  # an FPN base cannot be expressed as "fpn on" of its head


#: Each knob's reader: the value the config has in the knob's terms, or None.
READERS: dict[str, Callable[[Any], Any]] = {
    "learning_rate": cfgmod.base_learning_rate,
    "schedule_type": _schedule_type,
    "warmup_fraction": _warmup_fraction,
    "decay_factor": _decay_factor,
    "l2_weight": _l2_weight,
    "momentum": _momentum,
    "batch_size": lambda cfg: cfg.train_config.batch_size,
    "matcher_iou": _matcher_iou,
    "freeze": _freeze,
    "scales_per_octave": _scales_per_octave,
    "input_size": _input_size,
    "depth_multiplier": _depth_multiplier,
    "use_depthwise": _use_depthwise,
    "fpn": _fpn,
}


def _read(param: Param, cfg: Any, anchors_at_start: bool) -> Any:
    if param.target is Target.AUGMENTATION:
        return any(e.WhichOneof("preprocessing_step") == param.ref for e in cfg.train_config.data_augmentation_options)
    if param.target is Target.PATH:
        value = cfgmod.get_value(cfg, param.ref)
        return tuple(value) if isinstance(value, list) else value
    if param.ref == "anchors":
        return 1.0 if anchors_at_start else None
    if param.ref == "anchor_aspect_ratios":
        if anchors_at_start and KEEP_RATIOS in param.choices:
            return KEEP_RATIOS
        gen = _generator(cfg)
        return tuple(round(r, 4) for r in gen.aspect_ratios) if gen is not None else None
    reader = READERS.get(param.ref)
    return reader(cfg) if reader is not None else None


def _fits(param: Param, value: Any) -> Any:
    """``value`` as the entry's distribution holds it, or None when it does not."""
    if value is None or isinstance(value, Mapping):
        return None
    if param.kind is Kind.CATEGORICAL:
        for choice in param.choices:
            if choice == value or (isinstance(choice, tuple) and isinstance(value, tuple) and len(choice) == len(value)
                                   and all(math.isclose(a, b, rel_tol=1e-4) for a, b in zip(choice, value))):
                return choice
            if isinstance(choice, (int, float)) and not isinstance(choice, bool) and isinstance(value, (int, float)) \
                    and not isinstance(value, bool) and math.isclose(choice, value, rel_tol=1e-6):
                return choice
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    low, high = float(param.low), float(param.high)  # type: ignore[arg-type]
    if param.kind is Kind.INT:
        if int(value) != value or not low <= value <= high or (param.step and (value - low) % param.step):
            return None
        return int(value)
    value = float(f"{float(value):.7g}")  # a float32 field's 0.8999999761 is the 0.9 the file says
    if not low <= value <= high:
        return None
    if param.step:
        steps = (value - low) / param.step
        if not math.isclose(steps, round(steps), abs_tol=1e-6):
            return None
    return value


def values_of(space: SearchSpace, cfg: Any, *, anchors_at_start: bool) -> dict[str, Any]:
    """The space's values that describe ``cfg``: every active entry whose distribution holds the
    config's own value (categorical list choices as tuples, as :func:`tuner.space.sample` gives).

    Args:
        anchors_at_start: ``cfg`` has the anchors the sampled trials start from (the base config
            in a study without a fit; the fitted-anchors trial in one with it): the ``anchors``
            knob then reads 1.0 and ``anchor_aspect_ratios`` ``keep``; otherwise they are read
            only where the config's value is one of the choices.
    """
    values: dict[str, Any] = {}
    for param in space.params:
        if not active(param, values):
            continue
        try:
            value = _fits(param, _read(param, cfg, anchors_at_start))
        except (ConfigError, AttributeError, ValueError):
            continue
        if value is not None:
            values[param.name] = value
    return values
