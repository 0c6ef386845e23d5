"""A module as one client module sees it: the real module's names, some of them replaced.

The OD API reaches TensorFlow through module globals (``tf``, ``tensorflow.compat.v1``); giving one
OD API module a :class:`ModuleView` as its ``tf`` changes what that module calls and nothing else
in the process (:mod:`tuner.odapi.tracing`, :mod:`tuner.odapi.seeding`).
"""
from __future__ import annotations

import types
from typing import Any


class ModuleView(types.ModuleType):
    """``real`` with the names of ``overrides`` replaced; every other name is looked up on ``real``
    (so the view follows later changes of the real module)."""

    def __init__(self, real: types.ModuleType, **overrides: Any) -> None:
        super().__init__(real.__name__, real.__doc__)
        self._real = real
        for name, value in overrides.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
