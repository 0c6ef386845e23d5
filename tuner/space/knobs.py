"""Semantic knobs: search-space entries that make coupled config edits via :mod:`tuner.config`.

A knob is a name a search space can use instead of a raw config path, for edits where one
number changes several fields (the learning rate rescales a whole schedule, the L2 weight is
set in every regularizer, momentum lives in whichever optimizer the config uses).

Each knob is ``apply(cfg, value)``; it raises :class:`tuner.config.ConfigError` (or
:class:`KnobError`) when it cannot apply to the given config.
"""
from __future__ import annotations

from typing import Any, Callable

from tuner import config as cfgmod
from tuner.config.errors import ConfigValueError
from tuner.space.backbones import BACKBONE_PATTERNS, backbone_patterns

Apply = Callable[[Any, Any], None]


class KnobError(ConfigValueError):
    """A knob does not apply to this config (e.g. momentum with an Adam optimizer)."""


def _optimizer(cfg: Any) -> tuple[str, Any]:
    kind = cfg.train_config.optimizer.WhichOneof("optimizer")
    if kind is None:
        raise KnobError("train_config.optimizer has no optimizer set", path="train_config.optimizer",
                        fix="set one, e.g. momentum_optimizer")
    return kind, getattr(cfg.train_config.optimizer, kind)


def set_momentum(cfg: Any, value: Any) -> None:
    """Momentum of a momentum or RMSProp optimizer (``momentum_optimizer_value``)."""
    kind, optimizer = _optimizer(cfg)
    if kind == "momentum_optimizer":
        optimizer.momentum_optimizer_value = float(value)
    elif kind == "rms_prop_optimizer":
        optimizer.momentum_optimizer_value = float(value)
    else:
        raise KnobError(f"knob 'momentum' needs a momentum or rms_prop optimizer; the config uses {kind}",
                        path=f"train_config.optimizer.{kind}", fix="remove the momentum entry from the space")


def set_warmup_fraction(cfg: Any, value: Any) -> None:
    """Warmup length of a cosine schedule as a fraction of its ``total_steps``
    (:func:`tuner.config.set_warmup_fraction`)."""
    lr = cfgmod.learning_rate_message(cfg)
    if lr.WhichOneof("learning_rate") != "cosine_decay_learning_rate":
        raise KnobError("knob 'warmup_fraction' applies to cosine_decay_learning_rate only; the schedule is "
                        f"{lr.WhichOneof('learning_rate')}", path=cfgmod.schedule_path(cfg),
                        fix="make it conditional: when: {schedule: cosine}")
    try:
        cfgmod.set_warmup_fraction(cfg, float(value))
    except ConfigValueError as exc:
        raise KnobError(exc.message, path=exc.path, fix=exc.fix) from None


def set_matcher_iou(cfg: Any, value: Any) -> None:
    """IoU threshold of the SSD argmax matcher: ``matched_threshold`` = ``unmatched_threshold``
    = value (the SSD convention; the OD API rejects unmatched > matched)."""
    if cfg.model.WhichOneof("model") != "ssd" or cfg.model.ssd.matcher.WhichOneof("matcher_oneof") != "argmax_matcher":
        raise KnobError("knob 'matcher_iou' needs an SSD model with an argmax_matcher", path="model.ssd.matcher",
                        fix="remove the matcher_iou entry from the space")
    cfgmod.set_value(cfg, "model.ssd.matcher.argmax_matcher.matched_threshold", float(value))
    cfgmod.set_value(cfg, "model.ssd.matcher.argmax_matcher.unmatched_threshold", float(value))


FREEZE_CHOICES = ("none", "backbone")


def set_freeze(cfg: Any, value: Any) -> None:
    """What a fine-tuning run freezes: ``none`` clears ``train_config.freeze_variables``;
    ``backbone`` sets it to the regexes of the SSD Keras extractor's backbone
    (:mod:`tuner.space.backbones`), so only the feature-map/FPN layers and the box predictor train.

    Usable only when the base config sets ``train_config.fine_tune_checkpoint``: freezing randomly
    initialised weights trains nothing useful. odapi-tuner's trainer honours the field
    (:mod:`tuner.odapi.freeze`); the OD API's own TF2 trainer ignores it.
    """
    choice = str(value).strip().lower()
    if choice not in FREEZE_CHOICES:
        raise KnobError(f"knob 'freeze' takes none or backbone (got {value!r})", path="freeze",
                        fix="use choices: [none, backbone]")
    if not cfg.train_config.fine_tune_checkpoint:
        raise KnobError("knob 'freeze' needs a fine-tune checkpoint, and train_config.fine_tune_checkpoint is not "
                        "set: it would freeze randomly initialised weights",
                        path="train_config.fine_tune_checkpoint",
                        fix="set train_config.fine_tune_checkpoint (and fine_tune_checkpoint_type) in the base "
                            "config, or remove the freeze entry from the space")
    kind = cfg.model.WhichOneof("model")
    extractor = cfg.model.ssd.feature_extractor.type if kind == "ssd" else ""
    patterns = backbone_patterns(extractor)
    if patterns is None:
        model = f"an SSD with feature extractor {extractor!r}" if kind == "ssd" else f"a {kind} model"
        raise KnobError(f"knob 'freeze' knows the backbones of the SSD Keras feature extractors only; the config "
                        f"has {model}", path="model.ssd.feature_extractor.type" if kind == "ssd" else "model",
                        fix=f"use one of {', '.join(BACKBONE_PATTERNS)}, or set train_config.freeze_variables "
                            "in the base config instead")
    cfg.train_config.ClearField("freeze_variables")
    if choice == "backbone":
        cfg.train_config.freeze_variables.extend(patterns)


ANCHOR_FACTOR_RANGE = (0.25, 4.0)


def set_anchors(cfg: Any, value: Any) -> None:
    """Scale the anchor sizes by a factor: ``min_scale`` and ``max_scale`` of an
    ``ssd_anchor_generator`` (``max_scale`` capped at 1.0), ``anchor_scale`` of a
    ``multiscale_anchor_generator``; the aspect ratios stay. 1.0 leaves the anchors as they are.

    A study that fits anchors (``tuner.study``, on by default) applies the fitted anchors before
    this knob, so the search is centred on the fit; without a fit it scales the base's anchors.
    """
    factor = float(value)
    if not ANCHOR_FACTOR_RANGE[0] <= factor <= ANCHOR_FACTOR_RANGE[1]:
        raise KnobError(f"knob 'anchors' is a size factor in [{ANCHOR_FACTOR_RANGE[0]}, {ANCHOR_FACTOR_RANGE[1]}] "
                        f"(got {factor:g})", path="anchors", fix="use a range around 1.0, e.g. float: [0.7, 1.4]")
    kind = cfg.model.ssd.anchor_generator.WhichOneof("anchor_generator_oneof") \
        if cfg.model.WhichOneof("model") == "ssd" else None
    if kind == "ssd_anchor_generator":
        gen = cfg.model.ssd.anchor_generator.ssd_anchor_generator
        if gen.scales:
            raise KnobError("knob 'anchors' scales min_scale/max_scale, but ssd_anchor_generator sets explicit "
                            "scales", path="model.ssd.anchor_generator.ssd_anchor_generator.scales",
                            fix="remove the scales field from the base config, or the anchors entry from the space")
        gen.min_scale = round(gen.min_scale * factor, 4)
        gen.max_scale = round(min(1.0, gen.max_scale * factor), 4)
        if gen.max_scale <= gen.min_scale:
            gen.max_scale = round(min(1.0, gen.min_scale + 0.05), 4)
    elif kind == "multiscale_anchor_generator":
        gen = cfg.model.ssd.anchor_generator.multiscale_anchor_generator
        gen.anchor_scale = round(gen.anchor_scale * factor, 4)
    else:
        raise KnobError(f"knob 'anchors' needs an SSD with ssd_anchor_generator or multiscale_anchor_generator "
                        f"(the config has {kind or cfg.model.WhichOneof('model')})", path="model.ssd.anchor_generator",
                        fix="remove the anchors entry from the space")


def set_batch_size(cfg: Any, value: Any) -> None:
    cfgmod.set_value(cfg, "train_config.batch_size", int(value))


def set_learning_rate(cfg: Any, value: Any) -> None:
    cfgmod.set_base_learning_rate(cfg, float(value))


def set_schedule(cfg: Any, value: Any) -> None:
    cfgmod.set_schedule_type(cfg, str(value))


def set_l2(cfg: Any, value: Any) -> None:
    cfgmod.set_l2_weight(cfg, float(value))


KNOBS: dict[str, Apply] = {
    "learning_rate": set_learning_rate,
    "schedule_type": set_schedule,
    "warmup_fraction": set_warmup_fraction,
    "l2_weight": set_l2,
    "momentum": set_momentum,
    "batch_size": set_batch_size,
    "matcher_iou": set_matcher_iou,
    "freeze": set_freeze,
    "anchors": set_anchors,
}

AUGMENTATION_FIELD = "train_config.data_augmentation_options"


def set_augmentation(cfg: Any, name: str, enabled: Any) -> None:
    """Switch the augmentation ``name`` on (an entry with defaults if absent) or off (removed)."""
    path = f"{AUGMENTATION_FIELD}[{name}]"
    present = any(entry.WhichOneof("preprocessing_step") == name
                  for entry in cfg.train_config.data_augmentation_options)
    if _truthy(enabled) and not present:
        cfgmod.add_value(cfg, path)
    elif not _truthy(enabled) and present:
        cfgmod.remove_value(cfg, path)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "on", "yes", "1")
    return bool(value)
