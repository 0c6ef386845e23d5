"""Anchors from the data: read ground-truth boxes, build the config's anchors with the OD API's
own generators, measure how well they cover the boxes, and fit better ones.

Modules: :mod:`.boxes` (ground truth from TFRecords, in the model's input frame),
:mod:`.generators` (anchor parameters of a config, feature-map shapes, the OD API's anchors),
:mod:`.coverage` (shape and grid coverage), :mod:`.fit` (fitted anchor parameters),
:mod:`.plot` (PNG), ``python -m tuner.anchors analyze|fit`` (CLI).
"""
from tuner.anchors.errors import AnchorError

__all__ = ["AnchorError"]
