"""The one door through which odapi-tuner processes import OD API model and training code.

Importing this package applies :mod:`tuner.compat` before any ``object_detection`` module
that needs it is loaded, so every process of ours that trains, evaluates or exports runs on
the pinned stack. Modules here are entry points and thin adapters around
``object_detection.model_lib_v2`` and the exporters.
"""
from __future__ import annotations

import os

# Keep TensorFlow's C++ start-up chatter out of our logs unless asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tuner import compat as _compat

SHIMS = _compat.apply()
