"""odapi-tuner: measured hyper-parameter search over TF Object Detection API pipeline configs."""
from __future__ import annotations

__version__ = "0.1.0"
