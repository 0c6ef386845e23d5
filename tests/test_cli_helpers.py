"""tuner/cli.py's helpers: the one line an error or a shortcut not taken is said in."""
from __future__ import annotations

from tuner.cli import first_line


def test_first_line_is_the_type_and_the_messages_first_line() -> None:
    assert first_line(ValueError("bad anchors\n  at line 3")) == "ValueError: bad anchors"


def test_first_line_without_a_message_is_the_type() -> None:
    assert first_line(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert first_line(RuntimeError("  \n")) == "RuntimeError"


def test_first_line_is_cut_at_the_limit() -> None:
    assert first_line(OSError("x" * 500), limit=10) == "OSError: " + "x" * 10
