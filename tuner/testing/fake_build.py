"""A fake of the preflight's build check (:data:`tuner.study.preflight.BuildCheck`).

:class:`FakeBuild` builds nothing: it accepts every config, or refuses those a rule picks with a
given reason, and records what it was asked, so studies on the fake runner pass their
preflight in milliseconds and tests can make a base or a variant "not build".
"""
from __future__ import annotations

from typing import Any, Callable

from tuner import config as cfgmod


class FakeBuild:
    """``FakeBuild()`` accepts everything; ``FakeBuild(refuse=lambda cfg: ..., reason="...")``
    refuses the configs ``refuse`` picks. ``checked`` holds the text of every config asked about."""

    def __init__(self, refuse: Callable[[Any], bool] | None = None, reason: str = "refused by the fake build") -> None:
        self.refuse = refuse
        self.reason = reason
        self.checked: list[str] = []

    def __call__(self, cfg: Any) -> str | None:
        self.checked.append(cfgmod.dumps(cfg))
        if self.refuse is not None and self.refuse(cfg):
            return self.reason
        return None
