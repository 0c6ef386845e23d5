"""Lint findings and what a lint rule receives; shared by :mod:`.lint` and :mod:`.lint_schedule`.

A rule is a function ``(cfg, context) -> Iterable[Finding]``; each finding names the path of
the offending field, what is wrong and the fix.
"""
from __future__ import annotations

import dataclasses
import enum
import os
from typing import Callable, Iterable

from object_detection.protos import pipeline_pb2

Config = pipeline_pb2.TrainEvalPipelineConfig
PLACEHOLDER = "PATH_TO_BE_CONFIGURED"


class Severity(enum.Enum):
    """How bad a finding is: errors make ``lint`` exit non-zero."""

    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One lint finding.

    Attributes:
        severity: ERROR or WARNING.
        path: Dotted path of the offending field.
        message: What is wrong.
        fix: How to fix it.
    """

    severity: Severity
    path: str
    message: str
    fix: str

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
        """``path`` made absolute against :attr:`base_dir` (unchanged if absolute or no base)."""
        if os.path.isabs(path) or self.base_dir is None:
            return path
        return os.path.join(self.base_dir, path)


Rule = Callable[[Config, LintContext], Iterable[Finding]]


def error(path: str, message: str, fix: str) -> Finding:
    """An ERROR finding."""
    return Finding(Severity.ERROR, path, message, fix)


def warning(path: str, message: str, fix: str) -> Finding:
    """A WARNING finding."""
    return Finding(Severity.WARNING, path, message, fix)
