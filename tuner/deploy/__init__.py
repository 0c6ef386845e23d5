"""Deployment cost of an architecture, known before training: TFLite size and latency.

:mod:`.arch` says which parts of a config decide the cost (a hash of them, TensorFlow-free);
:mod:`.cost` measures the untrained model of a config once per hash, variant and thread count
and caches the result (:func:`measure_cost`, the contract); :mod:`._measure` is the child
process that does the TensorFlow work. The knobs that change the architecture (input size,
width, depthwise predictor, FPN) are in :mod:`tuner.space.knobs`.
"""
from __future__ import annotations

from tuner.deploy.arch import HASH_VERSION, RULES, Rule, Treat, arch_hash, cost_fields
from tuner.deploy.cost import (CALIBRATION_IMAGES, LATENCY_RUNS, METHOD_VERSION, VARIANTS, Cost, CostError,
                               cache_path, cached_cost, measure_cost)

__all__ = ["CALIBRATION_IMAGES", "HASH_VERSION", "LATENCY_RUNS", "METHOD_VERSION", "RULES", "VARIANTS", "Cost",
           "CostError", "Rule", "Treat", "arch_hash", "cache_path", "cached_cost", "cost_fields", "measure_cost"]
