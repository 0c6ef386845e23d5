"""Process helpers shared by tests (tests/ is on sys.path through tests/conftest.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The tests directory: stand-in modules import the tests' helpers (eventfiles) from it.
TESTS = Path(__file__).resolve().parent


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is still alive."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def install_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    """Write ``source`` (a TensorFlow-free stand-in for one of the tuner's processes, with a
    ``{tests}`` placeholder for :data:`TESTS`) as module ``name`` under ``tmp_path`` and put it
    on the ``PYTHONPATH`` the trial's processes inherit, beside the project."""
    mod_dir = tmp_path / "fakes"
    mod_dir.mkdir(exist_ok=True)
    (mod_dir / f"{name}.py").write_text(source.format(tests=str(TESTS)))
    monkeypatch.setenv("PYTHONPATH", f"{mod_dir}:{TESTS.parent}")
