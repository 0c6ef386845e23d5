"""Process helpers shared by tests (tests/ is on sys.path through tests/conftest.py)."""
from __future__ import annotations

import os


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is still alive."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
