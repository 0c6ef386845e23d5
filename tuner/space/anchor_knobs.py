"""The anchor knobs: they read whichever generator the config has (``ssd_anchor_generator`` of SSD
MobileNet V2, ``multiscale_anchor_generator`` of every FPN, FPN-lite and EfficientDet config), so a
space that uses them fits every SSD family of the TF2 model zoo. Part of :data:`tuner.space.knobs.KNOBS`.
"""
from __future__ import annotations

from typing import Any

from tuner.anchors.params import SIZE_FACTOR_RANGE
from tuner.space._knob_error import KnobError

ANCHOR_FACTOR_RANGE = SIZE_FACTOR_RANGE


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
    kind, gen = anchor_generator(cfg, "anchors")
    if kind == "ssd_anchor_generator":
        if gen.scales:
            raise KnobError("knob 'anchors' scales min_scale/max_scale, but ssd_anchor_generator sets explicit "
                            "scales", path="model.ssd.anchor_generator.ssd_anchor_generator.scales",
                            fix="remove the scales field from the base config, or the anchors entry from the space")
        gen.min_scale = round(gen.min_scale * factor, 4)
        gen.max_scale = round(min(1.0, gen.max_scale * factor), 4)
        if gen.max_scale <= gen.min_scale:
            gen.max_scale = round(min(1.0, gen.min_scale + 0.05), 4)
    else:
        gen.anchor_scale = round(gen.anchor_scale * factor, 4)


def anchor_generator(cfg: Any, knob: str) -> tuple[str, Any]:
    """The SSD's anchor generator: (its oneof member, the message).

    Raises:
        KnobError: not an SSD, or another generator than ``ssd_anchor_generator`` or
            ``multiscale_anchor_generator`` (``knob`` is named in the message).
    """
    kind = cfg.model.ssd.anchor_generator.WhichOneof("anchor_generator_oneof") \
        if cfg.model.WhichOneof("model") == "ssd" else None
    if kind not in ("ssd_anchor_generator", "multiscale_anchor_generator"):
        raise KnobError(f"knob {knob!r} needs an SSD with ssd_anchor_generator or multiscale_anchor_generator (the "
                        f"config has {kind or cfg.model.WhichOneof('model')})", path="model.ssd.anchor_generator",
                        fix=f"remove the {knob} entry from the space")
    return kind, getattr(cfg.model.ssd.anchor_generator, kind)


#: ``anchor_aspect_ratios``' choice that keeps the config's ratios (the fitted ones in a study that fits).
KEEP_RATIOS = "keep"


def set_anchor_aspect_ratios(cfg: Any, value: Any) -> None:
    """The anchors' aspect ratios (width / height), in whichever generator the config has:
    ``ssd_anchor_generator`` or ``multiscale_anchor_generator`` (every zoo SSD uses one of them).

    ``keep`` leaves the config's ratios (in a study that fits anchors: the fitted ones, so the
    search is centred on the fit). A list replaces them; every ratio must be > 0. The box
    predictor follows the new anchor count per location (the OD API computes it from the
    generator), so nothing else changes.
    """
    if isinstance(value, str) and value.strip().lower() == KEEP_RATIOS:
        anchor_generator(cfg, "anchor_aspect_ratios")
        return
    if not isinstance(value, (list, tuple)) or not value or not all(
            isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0 for r in value):
        raise KnobError(f"knob 'anchor_aspect_ratios' takes {KEEP_RATIOS!r} or a list of ratios > 0 (got {value!r})",
                        path="anchor_aspect_ratios",
                        fix=f"use e.g. choices: [{KEEP_RATIOS}, [1.0, 2.0, 0.5], [1.0, 2.0, 0.5, 3.0, 0.3333]]")
    _, gen = anchor_generator(cfg, "anchor_aspect_ratios")
    del gen.aspect_ratios[:]
    gen.aspect_ratios.extend(float(r) for r in value)


SCALES_PER_OCTAVE_RANGE = (1, 4)


def set_scales_per_octave(cfg: Any, value: Any) -> None:
    """Anchor sizes per pyramid level of a ``multiscale_anchor_generator`` (FPN, EfficientDet)."""
    low, high = SCALES_PER_OCTAVE_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise KnobError(f"knob 'scales_per_octave' is an integer in [{low}, {high}] (got {value!r})",
                        path="scales_per_octave", fix="use e.g. choices: [1, 2, 3]")
    kind, gen = anchor_generator(cfg, "scales_per_octave")
    if kind != "multiscale_anchor_generator":
        raise KnobError("knob 'scales_per_octave' applies to multiscale_anchor_generator (FPN and EfficientDet SSDs); "
                        "the config has ssd_anchor_generator", path="model.ssd.anchor_generator.ssd_anchor_generator",
                        fix="use the anchors (size) and anchor_aspect_ratios knobs, which read either generator")
    gen.scales_per_octave = value
