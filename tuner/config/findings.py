"""Lint findings and what a lint rule receives; shared by :mod:`.lint` and :mod:`.lint_schedule`.

A rule is a function ``(cfg, context) -> Iterable[Finding]``; each finding names the path of
the offending field, what is wrong and the fix. The fix names a command a CLI user can run
(:func:`cli`); a finding whose fix is mechanical also carries a :class:`Repair`, which
``python -m tuner.config lint CONFIG --fix`` (:func:`tuner.config.autofix.apply_fixes`) applies.
"""
from __future__ import annotations

import dataclasses
import enum
import os
from typing import Callable, Iterable

from object_detection.protos import pipeline_pb2

from tuner.config.remote import is_remote

Config = pipeline_pb2.TrainEvalPipelineConfig
PLACEHOLDER = "PATH_TO_BE_CONFIGURED"
#: How a user runs the config CLI; fix texts name commands of it.
CLI = "python -m tuner.config"
#: The command that applies every :class:`Repair` (named by the fix texts of repairable findings).
LINT_FIX = f"{CLI} lint CONFIG --fix -o OUT"


def cli(command: str, *args: str) -> str:
    """A config CLI command line for a fix text: ``cli("set", "a.b=1")`` is
    ``python -m tuner.config set CONFIG a.b=1 -o OUT``."""
    return " ".join((CLI, command, "CONFIG", *args, "-o", "OUT"))


class Severity(enum.Enum):
    """How bad a finding is: errors make ``lint`` exit non-zero."""

    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True)
class Repair:
    """A mechanical fix for one finding, applied in place by ``lint --fix``.

    Attributes:
        what: What it does, e.g. ``sets model.ssd.num_classes=3`` (ends the finding's fix text).
        apply: Edits the config in place through the library's own edits; raises
            :class:`~tuner.config.errors.ConfigError` if it cannot.
    """

    what: str
    apply: Callable[[Config], None]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One lint finding.

    Attributes:
        severity: ERROR or WARNING.
        path: Dotted path of the offending field.
        message: What is wrong.
        fix: How to fix it: a command a CLI user can run.
        repair: The mechanical fix ``lint --fix`` applies, or None. Not part of equality.
    """

    severity: Severity
    path: str
    message: str
    fix: str
    repair: Repair | None = dataclasses.field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.path}: {self.message} (fix: {self.fix})"


@dataclasses.dataclass(frozen=True)
class LintContext:
    """What every rule may consult besides the config.

    Attributes:
        base_dir: Directory relative paths are resolved from (None: the current directory).
        check_files: Whether file-system rules run.
        check_anchors: Whether the anchor-coverage rule runs (reads the training boxes and
            builds the model once: seconds, so only the lint CLI asks for it).
    """

    base_dir: str | None
    check_files: bool
    check_anchors: bool = False

    def resolve(self, path: str) -> str:
        """``path`` made absolute against :attr:`base_dir` (unchanged if absolute, remote or no
        base)."""
        if os.path.isabs(path) or is_remote(path) or self.base_dir is None:
            return path
        return os.path.join(self.base_dir, path)


Rule = Callable[[Config, LintContext], Iterable[Finding]]


def _with_repair(fix: str, repair: Repair | None) -> str:
    if repair is None:
        return fix
    return f"{LINT_FIX} {repair.what}" + (f"; or {fix}" if fix else "")


def error(path: str, message: str, fix: str, repair: Repair | None = None) -> Finding:
    """An ERROR finding; with a ``repair``, the fix text leads with ``lint --fix`` and what it does."""
    return Finding(Severity.ERROR, path, message, _with_repair(fix, repair), repair)


def warning(path: str, message: str, fix: str, repair: Repair | None = None) -> Finding:
    """A WARNING finding; with a ``repair``, the fix text leads with ``lint --fix`` and what it does."""
    return Finding(Severity.WARNING, path, message, _with_repair(fix, repair), repair)
