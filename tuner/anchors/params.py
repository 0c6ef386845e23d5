"""Anchor parameters of an SSD config: their types, read from and written to the config, in one line.

Two anchor generators are supported, the two an SSD uses (``model.ssd.anchor_generator``):

* ``ssd_anchor_generator`` (``MultipleGridAnchorGenerator`` via ``create_ssd_anchors``):
  :class:`SsdAnchorParams`;
* ``multiscale_anchor_generator`` (``MultiscaleGridAnchorGenerator``, FPN/RetinaNet style):
  :class:`MultiscaleAnchorParams`.

``grid_anchor_generator`` (Faster R-CNN's) and ``flexible_grid_anchor_generator`` raise
:class:`~tuner.anchors.errors.AnchorError`, as does any non-SSD model.

Contracts:
    * The params hold only what changes anchor *shapes*. Anchor *positions*
      (``height_stride``/``width_stride``/``height_offset``/``width_offset`` of the SSD generator)
      stay in the config: :func:`apply_params` never touches them, and
      :func:`~tuner.anchors.generators.grid_anchors` uses them only when given the config (``cfg=``).
    * Proto work only: no TensorFlow import (the ``object_detection`` protos are imported lazily,
      by :func:`generator_proto`). Building anchors is :mod:`.generators`; the model's feature
      maps are :mod:`.probe`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Union

from tuner.anchors.errors import AnchorError

if TYPE_CHECKING:  # pragma: no cover
    from object_detection.protos import anchor_generator_pb2

__all__ = [
    "AnchorParams", "GENERATOR_PATH", "MULTISCALE_KIND", "MultiscaleAnchorParams", "SSD_KIND",
    "SUPPORTED_KINDS", "SsdAnchorParams", "apply_params", "describe", "generator_proto", "params_from_config",
]

#: Config path of the anchor generator.
GENERATOR_PATH = "model.ssd.anchor_generator"
SSD_KIND = "ssd_anchor_generator"
MULTISCALE_KIND = "multiscale_anchor_generator"
#: The anchor generators supported, by their ``anchor_generator_oneof`` name.
SUPPORTED_KINDS = (SSD_KIND, MULTISCALE_KIND)

_SUPPORTED_TEXT = f"supported: {SSD_KIND} or {MULTISCALE_KIND}"


def _positive(value: float, path: str, what: str) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise AnchorError(f"{what} must be positive and finite, got {value!r}: {path}; "
                          "set a positive value")


@dataclasses.dataclass(frozen=True)
class SsdAnchorParams:
    """The shape parameters of an ``ssd_anchor_generator`` (``create_ssd_anchors``).

    Contract: tuples of floats (lists are converted); validated on construction (AnchorError):
    every scale, ratio and base size positive; ``len(scales) >= num_layers`` when scales are set
    (fewer scales make fewer layers than the model's feature maps); ``num_layers >= 2`` without
    explicit scales (the OD API divides by ``num_layers - 1``); at least one box per cell.
    Hashable, so it can key caches.

    Layer scales are ``scales`` when set, else ``min_scale + (max_scale - min_scale) * i /
    (num_layers - 1)``; see :meth:`box_specs` for the boxes per cell.
    """

    num_layers: int
    min_scale: float
    max_scale: float
    aspect_ratios: tuple[float, ...]
    scales: tuple[float, ...] = ()
    interpolated_scale_aspect_ratio: float = 1.0
    reduce_boxes_in_lowest_layer: bool = True
    base_anchor_height: float = 1.0
    base_anchor_width: float = 1.0

    def __post_init__(self) -> None:
        path = f"{GENERATOR_PATH}.{SSD_KIND}"
        set_ = object.__setattr__
        set_(self, "num_layers", int(self.num_layers))
        for name in ("min_scale", "max_scale", "interpolated_scale_aspect_ratio",
                     "base_anchor_height", "base_anchor_width"):
            set_(self, name, float(getattr(self, name)))
        set_(self, "aspect_ratios", tuple(float(r) for r in self.aspect_ratios))
        set_(self, "scales", tuple(float(s) for s in self.scales))
        set_(self, "reduce_boxes_in_lowest_layer", bool(self.reduce_boxes_in_lowest_layer))
        if self.num_layers < 1:
            raise AnchorError(f"num_layers must be >= 1, got {self.num_layers}: {path}.num_layers; "
                              "set it to the number of feature maps of the model")
        if self.scales:
            if len(self.scales) < self.num_layers:
                raise AnchorError(f"{len(self.scales)} scales for {self.num_layers} layers: {path}.scales; "
                                  "give one scale per layer (or none, to use min_scale/max_scale)")
            for scale in self.scales:
                _positive(scale, f"{path}.scales", "every scale")
        else:
            if self.num_layers < 2:
                raise AnchorError(f"num_layers 1 needs explicit scales (the OD API divides by num_layers - 1): "
                                  f"{path}.num_layers; set {path}.scales")
            _positive(self.min_scale, f"{path}.min_scale", "min_scale")
            _positive(self.max_scale, f"{path}.max_scale", "max_scale")
        for ratio in self.aspect_ratios:
            _positive(ratio, f"{path}.aspect_ratios", "every aspect ratio")
        if not math.isfinite(self.interpolated_scale_aspect_ratio):
            raise AnchorError(f"interpolated_scale_aspect_ratio must be finite: "
                              f"{path}.interpolated_scale_aspect_ratio; set a ratio > 0 or 0 (off)")
        _positive(self.base_anchor_height, f"{path}.base_anchor_height", "base_anchor_height")
        _positive(self.base_anchor_width, f"{path}.base_anchor_width", "base_anchor_width")
        if not self.aspect_ratios and self.interpolated_scale_aspect_ratio <= 0 and (
                self.num_layers > 1 or not self.reduce_boxes_in_lowest_layer):
            raise AnchorError(f"no anchors per cell (no aspect_ratios and no interpolated box): "
                              f"{path}.aspect_ratios; add at least one aspect ratio")

    @property
    def kind(self) -> str:
        return SSD_KIND

    def layer_scales(self) -> tuple[float, ...]:
        """The ``num_layers + 1`` scales ``create_ssd_anchors`` zips over: one per layer, then the
        "next" scale of the last layer (``scales[num_layers]`` when more scales are given, else 1.0)."""
        if self.scales:
            full = self.scales + (1.0,)
        else:
            full = tuple(self.min_scale + (self.max_scale - self.min_scale) * i / (self.num_layers - 1)
                         for i in range(self.num_layers)) + (1.0,)
        return full[:self.num_layers + 1]

    def box_specs(self) -> list[list[tuple[float, float]]]:
        """Per layer, the (scale, aspect ratio) of each box per cell, in the generator's order
        (mirrors ``create_ssd_anchors``: layer 0 with ``reduce_boxes_in_lowest_layer`` is
        ``(0.1, 1), (s0, 2), (s0, 0.5)``; other layers the ratios at their scale, then, when
        ``interpolated_scale_aspect_ratio > 0``, one box of that ratio at ``sqrt(s_i * s_{i+1})``)."""
        full = self.layer_scales()
        specs: list[list[tuple[float, float]]] = []
        for layer in range(self.num_layers):
            scale, scale_next = full[layer], full[layer + 1]
            if layer == 0 and self.reduce_boxes_in_lowest_layer:
                specs.append([(0.1, 1.0), (scale, 2.0), (scale, 0.5)])
                continue
            boxes = [(scale, ratio) for ratio in self.aspect_ratios]
            if self.interpolated_scale_aspect_ratio > 0.0:
                boxes.append((math.sqrt(scale * scale_next), self.interpolated_scale_aspect_ratio))
            specs.append(boxes)
        return specs

    @property
    def anchors_per_location(self) -> tuple[int, ...]:
        """Boxes per feature-map cell, per layer (``num_anchors_per_location()``)."""
        return tuple(len(layer) for layer in self.box_specs())


@dataclasses.dataclass(frozen=True)
class MultiscaleAnchorParams:
    """The parameters of a ``multiscale_anchor_generator`` (``MultiscaleGridAnchorGenerator``).

    Contract: validated on construction (AnchorError): ``0 <= min_level <= max_level``,
    ``scales_per_octave >= 1``, ``anchor_scale`` and every ratio positive, at least one ratio.
    One layer per level ``min_level..max_level``; the level-``l`` anchors have base size
    ``anchor_scale * 2**l`` pixels, stride ``2**l``, octave scales ``2**(i / scales_per_octave)``.
    ``normalize_coordinates`` false makes the OD API emit pixel anchors (which SSDMetaArch uses
    as they are, against normalised ground truth); :func:`grid_anchors` always normalises.
    """

    min_level: int
    max_level: int
    anchor_scale: float
    aspect_ratios: tuple[float, ...]
    scales_per_octave: int
    normalize_coordinates: bool = True

    def __post_init__(self) -> None:
        path = f"{GENERATOR_PATH}.{MULTISCALE_KIND}"
        set_ = object.__setattr__
        set_(self, "min_level", int(self.min_level))
        set_(self, "max_level", int(self.max_level))
        set_(self, "anchor_scale", float(self.anchor_scale))
        set_(self, "aspect_ratios", tuple(float(r) for r in self.aspect_ratios))
        set_(self, "scales_per_octave", int(self.scales_per_octave))
        set_(self, "normalize_coordinates", bool(self.normalize_coordinates))
        if not 0 <= self.min_level <= self.max_level:
            raise AnchorError(f"levels {self.min_level}..{self.max_level} are not 0 <= min_level <= max_level: "
                              f"{path}.min_level; match the feature extractor's fpn min_level/max_level")
        if self.scales_per_octave < 1:
            raise AnchorError(f"scales_per_octave must be >= 1, got {self.scales_per_octave}: "
                              f"{path}.scales_per_octave; set 1 or more")
        _positive(self.anchor_scale, f"{path}.anchor_scale", "anchor_scale")
        if not self.aspect_ratios:
            raise AnchorError(f"no aspect ratios: {path}.aspect_ratios; add at least one (e.g. 1.0)")
        for ratio in self.aspect_ratios:
            _positive(ratio, f"{path}.aspect_ratios", "every aspect ratio")

    @property
    def kind(self) -> str:
        return MULTISCALE_KIND

    @property
    def num_layers(self) -> int:
        return self.max_level - self.min_level + 1

    def octave_scales(self) -> tuple[float, ...]:
        return tuple(2 ** (float(i) / self.scales_per_octave) for i in range(self.scales_per_octave))

    @property
    def anchors_per_location(self) -> tuple[int, ...]:
        """Boxes per feature-map cell, per layer (``num_anchors_per_location()``)."""
        return (len(self.aspect_ratios) * self.scales_per_octave,) * self.num_layers


AnchorParams = Union[SsdAnchorParams, MultiscaleAnchorParams]


# -- config <-> params ---------------------------------------------------------------------------
def _ssd_generator(cfg: Any) -> Any:
    """``cfg.model.ssd.anchor_generator``; AnchorError for a non-SSD model."""
    kind = cfg.model.WhichOneof("model")
    if kind != "ssd":
        raise AnchorError(f"the model is {kind or 'not set'}, not ssd: {GENERATOR_PATH} does not exist; "
                          f"anchor analysis supports SSD models ({_SUPPORTED_TEXT})")
    return cfg.model.ssd.anchor_generator


def _generator_kind(generator: Any) -> str:
    kind = generator.WhichOneof("anchor_generator_oneof")
    if kind not in SUPPORTED_KINDS:
        what = f"anchor generator {kind}" if kind else "no anchor generator"
        raise AnchorError(f"{what} is not supported: {GENERATOR_PATH}{'.' + kind if kind else ''}; "
                          f"use an {_SUPPORTED_TEXT}")
    return kind


def params_from_config(cfg: Any) -> AnchorParams:
    """The anchor parameters of ``cfg`` (a ``TrainEvalPipelineConfig``).

    Proto defaults apply to unset fields (as in the OD API). Raises AnchorError for a non-SSD
    model, no or an unsupported generator, or invalid values (see the params' contracts).
    """
    generator = _ssd_generator(cfg)
    kind = _generator_kind(generator)
    if kind == SSD_KIND:
        g = generator.ssd_anchor_generator
        return SsdAnchorParams(
            num_layers=g.num_layers, min_scale=g.min_scale, max_scale=g.max_scale,
            aspect_ratios=tuple(g.aspect_ratios), scales=tuple(g.scales),
            interpolated_scale_aspect_ratio=g.interpolated_scale_aspect_ratio,
            reduce_boxes_in_lowest_layer=g.reduce_boxes_in_lowest_layer,
            base_anchor_height=g.base_anchor_height, base_anchor_width=g.base_anchor_width)
    g = generator.multiscale_anchor_generator
    return MultiscaleAnchorParams(
        min_level=g.min_level, max_level=g.max_level, anchor_scale=g.anchor_scale,
        aspect_ratios=tuple(g.aspect_ratios), scales_per_octave=g.scales_per_octave,
        normalize_coordinates=g.normalize_coordinates)


_SSD_SCALARS = ("num_layers", "min_scale", "max_scale", "interpolated_scale_aspect_ratio",
                "reduce_boxes_in_lowest_layer", "base_anchor_height", "base_anchor_width")
_MULTISCALE_SCALARS = ("min_level", "max_level", "anchor_scale", "scales_per_octave", "normalize_coordinates")


def _write(generator: Any, params: AnchorParams) -> None:
    """Write ``params`` into an ``AnchorGenerator`` proto of the same kind (or an empty one).

    Minimal edits: a scalar equal to its current value is not touched (an unset field stays
    unset); a repeated field is replaced only when it differs. Position fields are kept.
    """
    current = generator.WhichOneof("anchor_generator_oneof")
    if current is not None and current != params.kind:
        raise AnchorError(f"cannot write {params.kind} parameters into a {current}: {GENERATOR_PATH}.{current}; "
                          f"fit parameters of the generator the config has ({current})")
    msg = getattr(generator, params.kind)
    msg.SetInParent()
    if isinstance(params, SsdAnchorParams):
        scalars, repeated = _SSD_SCALARS, ("aspect_ratios", "scales")
    else:
        scalars, repeated = _MULTISCALE_SCALARS, ("aspect_ratios",)
    for name in scalars:
        value = getattr(params, name)
        if getattr(msg, name) != value:
            setattr(msg, name, value)
    for name in repeated:
        values = list(getattr(params, name))
        field = getattr(msg, name)
        if list(field) != values:
            del field[:]
            field.extend(values)


def apply_params(cfg: Any, params: AnchorParams) -> None:
    """Write ``params`` into ``cfg.model.ssd.anchor_generator`` in place.

    The generator must already be of the params' kind (AnchorError otherwise: switching kinds
    changes what the feature extractor must produce). Fields not in the params (strides,
    offsets) and values already equal are left as they are, so
    ``params_from_config(cfg) == params`` afterwards (up to float32 rounding of the proto).
    The layer count is not checked against the model here (:func:`feature_map_shapes` does).
    """
    generator = _ssd_generator(cfg)
    _generator_kind(generator)
    _write(generator, params)


def generator_proto(params: AnchorParams, cfg: Any = None) -> "anchor_generator_pb2.AnchorGenerator":
    """An ``AnchorGenerator`` proto of ``params``; with ``cfg``, a copy of its generator (keeping
    its position fields) with ``params`` written into it."""
    from object_detection.protos import anchor_generator_pb2

    proto = anchor_generator_pb2.AnchorGenerator()
    if cfg is not None:
        generator = _ssd_generator(cfg)
        _generator_kind(generator)
        proto.CopyFrom(generator)
    _write(proto, params)
    return proto


#: The size factors accepted on anchors: the space's ``anchors`` knob and ``tuner.anchors fit --growth``.
SIZE_FACTOR_RANGE = (0.25, 4.0)


def grown(params: AnchorParams, factor: float) -> AnchorParams:
    """``params`` with every anchor size times ``factor`` and the aspect ratios and grid kept:
    ``min_scale``/``max_scale`` (``max_scale`` capped at 1.0) or explicit ``scales`` of an
    ``ssd_anchor_generator``, ``anchor_scale`` of a ``multiscale_anchor_generator``; rounded to
    3 decimals, as the fit writes them. The space's ``anchors`` knob applies the same factor to a
    config (``tuner.space.knobs.set_anchors``, which rounds to 4 decimals).

    Raises:
        ValueError: ``factor`` is not positive.
    """
    if not factor > 0:
        raise ValueError(f"an anchor size factor must be > 0 (got {factor})")
    if isinstance(params, SsdAnchorParams):
        scales = tuple(round(s * factor, 3) for s in params.scales)
        low = round(params.min_scale * factor, 3)
        high = round(min(1.0, params.max_scale * factor), 3)
        return dataclasses.replace(params, min_scale=low, max_scale=max(high, low), scales=scales)
    return dataclasses.replace(params, anchor_scale=round(params.anchor_scale * factor, 3))


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def describe(params: AnchorParams) -> str:
    """One short line, e.g. ``min_scale 0.10, max_scale 0.95, ratios 1, 2, 0.5, 3, 0.33``;
    non-default extras (explicit scales, interpolated ratio, full lowest layer, base size,
    pixel coordinates) are appended."""
    ratios = "ratios " + ", ".join(_fmt(r) for r in params.aspect_ratios)
    if isinstance(params, SsdAnchorParams):
        if params.scales:
            parts = ["scales " + ", ".join(f"{s:.2f}" for s in params.scales), ratios]
        else:
            parts = [f"min_scale {params.min_scale:.2f}", f"max_scale {params.max_scale:.2f}", ratios]
        if params.interpolated_scale_aspect_ratio <= 0:
            parts.append("no interpolated box")
        elif params.interpolated_scale_aspect_ratio != 1.0:
            parts.append(f"interpolated ratio {_fmt(params.interpolated_scale_aspect_ratio)}")
        if not params.reduce_boxes_in_lowest_layer:
            parts.append("full lowest layer")
        if (params.base_anchor_height, params.base_anchor_width) != (1.0, 1.0):
            parts.append(f"base {_fmt(params.base_anchor_height)}x{_fmt(params.base_anchor_width)}")
        return ", ".join(parts)
    parts = [f"levels {params.min_level}-{params.max_level}", f"anchor_scale {_fmt(params.anchor_scale)}",
             f"{params.scales_per_octave} scales/octave", ratios]
    if not params.normalize_coordinates:
        parts.append("pixel coordinates")
    return ", ".join(parts)
