"""Anchors of a set of anchor parameters on a model's feature maps: the OD API's own, and their shapes.

Contracts:
    * :func:`anchor_shapes` is pure numpy (no TensorFlow import), takes a few microseconds, and
      equals the heights/widths of :func:`grid_anchors_by_layer` (the OD API's own generator) per
      layer, in the generator's order of boxes per cell (tested to 1e-5 relative; TF is float32).
    * :func:`grid_anchors` returns normalised ``ymin, xmin, ymax, xmax`` as float64, concatenated
      over layers in order: the same anchors ``SSDMetaArch.predict`` generates (tested).
    * TensorFlow and the OD API's generator code are imported lazily, through :mod:`tuner.odapi`
      (which applies :mod:`tuner.compat` first); importing this module is cheap.

The parameters themselves (types, config read/write, :func:`describe`) live in :mod:`.params`,
the model's feature maps (:func:`feature_map_shapes`) in :mod:`.probe`; both are re-exported here
so ``from tuner.anchors.generators import ...`` keeps working.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from tuner.anchors.errors import AnchorError
from tuner.anchors.params import (GENERATOR_PATH, MULTISCALE_KIND, SSD_KIND, AnchorParams, MultiscaleAnchorParams,
                                  SsdAnchorParams, generator_proto)
# Re-exported: these names lived here before params.py and probe.py were split out (see __all__).
from tuner.anchors.params import SUPPORTED_KINDS, apply_params, describe, params_from_config
from tuner.anchors.probe import RESIZER_PATH, feature_map_shapes, input_size, model_anchors  # noqa: F401


def _check_layers(params: AnchorParams, feature_maps: Sequence[Sequence[int]]) -> None:
    if len(feature_maps) != params.num_layers:
        where = (f"{GENERATOR_PATH}.{SSD_KIND}.num_layers" if isinstance(params, SsdAnchorParams)
                 else f"{GENERATOR_PATH}.{MULTISCALE_KIND}.min_level/max_level")
        raise AnchorError(f"{params.num_layers} anchor layers for {len(feature_maps)} feature maps: {where}; "
                          "make the generator's layers match the feature extractor's feature maps")


def grid_anchors_by_layer(params: AnchorParams, feature_maps: Sequence[Sequence[int]],
                          frame_hw: tuple[int, int], *, cfg: Any = None) -> list[np.ndarray]:
    """Per layer, the (h * w * k, 4) float64 anchors the OD API's generator makes: normalised
    ymin, xmin, ymax, xmax; within a layer boxes-per-cell vary fastest, then x, then y.

    ``anchor_generator_builder.build`` on the proto of ``params`` (:func:`generator_proto`), then
    ``.generate(feature_maps, im_height=H, im_width=W)`` with Python ints, as SSDMetaArch calls it.
    Both generators already emit normalised anchors (the SSD one always; the multiscale one with
    ``normalize_coordinates``); pixel anchors of ``normalize_coordinates: false`` are divided by
    the frame here. With ``cfg``, its generator's position fields (strides/offsets) apply.
    """
    _check_layers(params, feature_maps)
    import tuner.odapi  # noqa: F401  (applies the compat shims before the OD API loads)
    from object_detection.builders import anchor_generator_builder

    height, width = int(frame_hw[0]), int(frame_hw[1])
    generator = anchor_generator_builder.build(generator_proto(params, cfg))
    boxlists = generator.generate([(int(h), int(w)) for h, w in feature_maps], im_height=height, im_width=width)
    layers = []
    for boxlist in boxlists:
        boxes = np.asarray(boxlist.get(), dtype=np.float64).reshape(-1, 4)
        if isinstance(params, MultiscaleAnchorParams) and not params.normalize_coordinates:
            boxes = boxes / np.array([height, width, height, width], dtype=np.float64)
        layers.append(boxes)
    return layers


def grid_anchors(params: AnchorParams, feature_maps: Sequence[Sequence[int]], frame_hw: tuple[int, int],
                 *, cfg: Any = None) -> np.ndarray:
    """(A, 4) float64 normalised ymin, xmin, ymax, xmax: :func:`grid_anchors_by_layer`
    concatenated over layers in order (SSDMetaArch's ``anchors``)."""
    return np.concatenate(grid_anchors_by_layer(params, feature_maps, frame_hw, cfg=cfg), axis=0)


def anchor_shapes(params: AnchorParams, feature_maps: Sequence[Sequence[int]],
                  frame_hw: tuple[int, int]) -> list[np.ndarray]:
    """Per layer, the (k, 2) float64 distinct anchor (height, width) in input pixels, in the
    generator's order of boxes per cell. Pure numpy; ``feature_maps`` only fixes the layer count.

    SSD (``tile_anchors`` with base size ``base * min(H, W) / (H, W)``, normalised): height
    ``scale / sqrt(ar) * base_anchor_height * min(H, W)``, width ``scale * sqrt(ar) *
    base_anchor_width * min(H, W)`` pixels for each (scale, ar) of :meth:`SsdAnchorParams.box_specs`.
    Multiscale (``GridAnchorGenerator`` per level): base ``anchor_scale * 2**level`` pixels; boxes
    ordered ratio-major, octave scale fastest; height ``base * s / sqrt(ar)``, width
    ``base * s * sqrt(ar)``, independent of the frame.
    """
    if len(feature_maps) != params.num_layers:
        _check_layers(params, feature_maps)
    flat: list[float] = []
    counts: list[int] = []
    sqrt = math.sqrt
    if isinstance(params, SsdAnchorParams):
        side = float(min(frame_hw[0], frame_hw[1]))
        base_h = params.base_anchor_height * side
        base_w = params.base_anchor_width * side
        for layer in params.box_specs():
            counts.append(len(layer))
            for scale, ratio in layer:
                root = sqrt(ratio)
                flat += (scale / root * base_h, scale * root * base_w)
    else:
        octaves = params.octave_scales()
        roots = [sqrt(r) for r in params.aspect_ratios]
        for level in range(params.min_level, params.max_level + 1):
            base = params.anchor_scale * 2 ** level
            counts.append(len(roots) * len(octaves))
            for root in roots:
                for scale in octaves:
                    flat += (scale / root * base, scale * root * base)
    table = np.array(flat, dtype=np.float64).reshape(-1, 2)
    out = []
    start = 0
    for count in counts:
        out.append(table[start:start + count])
        start += count
    return out


__all__ = [
    "AnchorParams", "GENERATOR_PATH", "MULTISCALE_KIND", "MultiscaleAnchorParams", "SSD_KIND",
    "SUPPORTED_KINDS", "SsdAnchorParams", "anchor_shapes", "apply_params", "describe",
    "feature_map_shapes", "generator_proto", "grid_anchors", "grid_anchors_by_layer", "input_size",
    "model_anchors", "params_from_config",
]
