"""Apply the mechanical fixes lint knows: ``python -m tuner.config lint CONFIG --fix``.

A lint finding whose fix is mechanical carries a :class:`~tuner.config.findings.Repair` (the
rules in :mod:`.lint` and :mod:`.lint_schedule` attach them): num_classes set from the label
map, ``fine_tune_checkpoint_version`` V1 -> V2 when a checkpoint is set, 1.0 added to SSD aspect
ratios that lack it, a cosine ``total_steps`` brought in step with ``num_steps`` (warmup and hold
scaled in proportion), and a warmup or burn-in that never ends cut short.

:func:`apply_fixes` works on a copy: lint, apply one repair, lint again, until no repair is left
that has not been applied; errors are repaired before warnings (cutting a warmup that outlasts
its schedule comes before stretching that schedule). Each repair is applied at most once, so the
loop ends. The input is never modified; writing the result is the caller's business.
"""
from __future__ import annotations

import dataclasses
import os

from tuner.config.diff import Change, diff
from tuner.config.findings import Config, Finding, Severity
from tuner.config.io import PathLike
from tuner.config.lint import lint

__all__ = ["FixResult", "apply_fixes"]

#: Repairs applied at most per call (a safety bound; the rules need far fewer).
MAX_REPAIRS = 50


@dataclasses.dataclass(frozen=True)
class FixResult:
    """What :func:`apply_fixes` did.

    Attributes:
        config: The fixed copy.
        applied: The findings whose repair was applied, in order.
        changes: Field-by-field changes from the input to :attr:`config`.
        remaining: Lint of :attr:`config`: what needs a human.
    """

    config: Config
    applied: tuple[Finding, ...]
    changes: tuple[Change, ...]
    remaining: tuple[Finding, ...]


def apply_fixes(cfg: Config, *, base_dir: PathLike | None = None, check_files: bool = True,
                check_anchors: bool = False) -> FixResult:
    """Apply every repair lint offers for ``cfg`` to a copy, then lint the copy.

    Args:
        cfg: Config to fix (not modified).
        base_dir: As for :func:`~tuner.config.lint.lint`.
        check_files: As for :func:`~tuner.config.lint.lint`; without it the repairs that need
            files (num_classes from the label map) are not offered.
        check_anchors: Measure the anchor coverage in the final lint (no repair depends on it,
            so the repair rounds skip it).

    Returns:
        The fixed copy, the findings repaired, the changes and the remaining findings.

    Raises:
        ConfigError: A repair could not be applied (a bug in its rule: repairs use the same
            checked edits as the CLI).
    """
    fixed = Config()
    fixed.CopyFrom(cfg)
    base = os.fspath(base_dir) if base_dir is not None else None
    applied: list[Finding] = []
    done: set[tuple[str, str]] = set()
    while len(applied) < MAX_REPAIRS:
        pending = [(f, f.repair) for f in lint(fixed, base_dir=base, check_files=check_files)
                   if f.repair is not None and (f.path, f.repair.what) not in done]
        if not pending:
            break
        finding, repair = min(pending, key=lambda item: item[0].severity is not Severity.ERROR)  # errors first
        done.add((finding.path, repair.what))
        repair.apply(fixed)
        applied.append(finding)
    remaining = lint(fixed, base_dir=base, check_files=check_files, check_anchors=check_anchors)
    return FixResult(fixed, tuple(applied), tuple(diff(cfg, fixed)), tuple(remaining))
