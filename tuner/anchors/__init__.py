"""Anchors from the data: read ground-truth boxes, build the config's anchors with the OD API's
own generators, measure how well they cover the boxes, and fit better ones.

Modules, in the order the data flows: :mod:`.boxes` (ground truth from TFRecords),
:mod:`.frame` (the boxes in the model's input frame), :mod:`.params` (anchor parameters of a
config: read, write, describe), :mod:`.probe` (the feature maps the model really has),
:mod:`.generators` (the OD API's anchors and their shapes), :mod:`.coverage` (shape and grid
coverage), :mod:`.fit` (fitted anchor parameters), :mod:`.analysis` (one config against its
data: the steps the callers share), :mod:`.plot` (PNG), ``python -m tuner.anchors analyze|fit``
(CLI).
"""
from tuner.anchors.errors import AnchorError

__all__ = ["AnchorError"]
