"""A :data:`tuner.study.budget.CostMeter` that builds nothing: a cost computed from the config.

:class:`FakeCostMeter` stands in for :func:`tuner.study.budget.real_meter` (which exports,
converts and times each architecture, about a minute each) in tests of the study's deployment
budget: the latency grows with the input's pixels and the backbone's width, the size with the
width, so the architecture knobs (``input_size``, ``depth_multiplier``) move a variant in and out
of a budget exactly as a test chooses. The ``arch_hash`` is the real one.
"""
from __future__ import annotations

import threading
from typing import Any

from tuner.deploy.arch import arch_hash
from tuner.deploy.cost import Cost


class FakeCostMeter:
    """Cost = ``ms_per_kilopixel * height * width / 1000 * depth_multiplier`` ms and
    ``kb_at_width_1 * depth_multiplier`` KB. Thread-safe.

    Attributes:
        costed: ``arch_hash`` of every call, in order.
    """

    def __init__(self, ms_per_kilopixel: float = 0.1, kb_at_width_1: float = 4000.0, variant: str = "int8",
                 threads: int = 2) -> None:
        self.ms_per_kilopixel = ms_per_kilopixel
        self.kb_at_width_1 = kb_at_width_1
        self.variant = variant
        self.threads = threads
        self.costed: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, cfg: Any) -> Cost:
        ssd = cfg.model.ssd
        resizer = ssd.image_resizer.fixed_shape_resizer
        height, width = int(resizer.height), int(resizer.width)
        multiplier = float(ssd.feature_extractor.depth_multiplier or 1.0)
        arch = arch_hash(cfg)
        with self._lock:
            self.costed.append(arch)
        size_kb = round(self.kb_at_width_1 * multiplier, 2)
        latency = round(self.ms_per_kilopixel * height * width / 1000 * multiplier, 4)
        return Cost(arch_hash=arch, variant=self.variant, threads=self.threads, size_kb=size_kb,
                    size_bytes=int(size_kb * 1024), latency_ms=latency, latency_p90_ms=latency, latency_runs=1,
                    measure_seconds=0.0, cpu_seconds=0.0, stage_seconds={}, input_size=(height, width),
                    tf_version="fake", machine="fake", measured_at="1970-01-01T00:00:00+00:00")
