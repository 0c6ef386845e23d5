"""The error every knob raises (its own module so that the knob modules share it without a cycle)."""
from __future__ import annotations

from tuner.config.errors import ConfigValueError


class KnobError(ConfigValueError):
    """A knob does not apply to this config (e.g. momentum with an Adam optimizer)."""
