"""Search spaces: YAML files mapping config paths and semantic knobs to distributions.

Parsed and range-checked by :mod:`.model`, validated against a base config and sampled with
Optuna by :mod:`.apply`; a config read back in a space's terms by :mod:`.express`; knobs (coupled edits) live in :mod:`.knobs`, the backbone variable patterns
the ``freeze`` knob writes in :mod:`.backbones`.
"""
from __future__ import annotations

from tuner.space.apply import (active, apply, apply_param, condition_setups, from_optuna_params, lint_errors,
                               record_fixed, sample, to_optuna_params, validate)
from tuner.space.express import values_of
from tuner.space.knobs import KNOBS, KnobError
from tuner.space.model import Kind, Param, SearchSpace, SpaceError, Target, load_space, parse_space

__all__ = ["KNOBS", "Kind", "KnobError", "Param", "SearchSpace", "SpaceError", "Target", "active", "apply",
           "apply_param", "condition_setups", "from_optuna_params", "lint_errors", "load_space", "parse_space",
           "record_fixed", "sample", "to_optuna_params", "validate", "values_of"]
