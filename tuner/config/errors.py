"""Exceptions raised by :mod:`tuner.config`.

Every message says what was expected, what was received and how to fix it, on one line, so the
CLI can print ``error: <message>`` and nothing else.

Tree::

    ConfigError
    ├── ConfigSyntaxError   text-format syntax/schema errors, with file:line:column and token
    ├── ConfigFileError     a file that cannot be read or written
    ├── PathError           a dotted path that does not exist in the schema or in the config
    │   └── OneofSwitchError  a path that would replace the member a oneof holds (the user's model)
    └── ConfigValueError    a value of the wrong type or out of range (also a ``ValueError``)
"""
from __future__ import annotations

from typing import Sequence


class ConfigError(Exception):
    """Base class of every error raised by :mod:`tuner.config`.

    Args:
        message: What went wrong and where.
        fix: How to fix it; appended to the message as ``(fix: ...)``.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} (fix: {fix})" if fix else message)


class ConfigSyntaxError(ConfigError):
    """A text-format file could not be parsed against the OD API schema.

    Attributes:
        source: File name (or ``<string>``).
        line: 1-based line number, or None when unknown.
        column: 1-based column number, or None when unknown.
        token: The offending token as it appears in the text ('' at end of input).
    """

    def __init__(self, detail: str, *, source: str, line: int | None, column: int | None,
                 token: str, fix: str | None = None) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.token = token
        self.detail = detail
        where = source if line is None else f"{source}:{line}:{column}"
        shown = repr(token) if token else "end of input"
        super().__init__(f"{where}: {detail} (at {shown})", fix=fix)


class ConfigFileError(ConfigError):
    """A config, label map or record file could not be read or written."""


class PathError(ConfigError):
    """A dotted path does not name a field of the schema, or names something that is not set.

    Attributes:
        path: The full dotted path.
        segment: The failing segment.
        valid: Valid names at that level (may be empty when the problem is not a name).
        suggestion: Closest valid name, if any.
    """

    def __init__(self, message: str, *, path: str, segment: str, valid: Sequence[str] = (),
                 suggestion: str | None = None, fix: str | None = None) -> None:
        self.path = path
        self.segment = segment
        self.valid = tuple(valid)
        self.suggestion = suggestion
        super().__init__(message, fix=fix)


class OneofSwitchError(PathError):
    """An edit would switch a oneof away from the member the config has set (protobuf would
    silently clear that member: a Faster R-CNN model, the anchor generator, the schedule ...).

    Attributes:
        oneof: The oneof's name (``model``, ``anchor_generator_oneof``, ...).
        held: The member the config has set.
        wanted: The member the path names.
    """

    def __init__(self, message: str, *, path: str, segment: str, oneof: str, held: str, wanted: str,
                 fix: str | None = None) -> None:
        self.oneof = oneof
        self.held = held
        self.wanted = wanted
        super().__init__(message, path=path, segment=segment, fix=fix)


class ConfigValueError(ConfigError, ValueError):
    """A value has the wrong type or is outside the allowed range.

    Attributes:
        path: The dotted path the value was meant for ('' when not tied to a path).
    """

    def __init__(self, message: str, *, path: str = "", fix: str | None = None) -> None:
        self.path = path
        super().__init__(message, fix=fix)
