"""odapi-tuner: measured hyper-parameter search over TF Object Detection API pipeline configs."""
from __future__ import annotations

import os

__version__ = "0.1.0"

#: protobuf's implementation in our processes unless started with another: the pure-Python one.
#: The compiled one (upb, protobuf 4) crashes TensorFlow 2.15's TFLite full-integer calibration
#: (SIGSEGV, seen 2026-12-07); the trainer processes, which it speeds, are started with it
#: (:func:`tuner.trial.process.trial_env`). Set before anything imports protobuf.
PROTOBUF_IMPLEMENTATION = "python"
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", PROTOBUF_IMPLEMENTATION)
