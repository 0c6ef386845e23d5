"""An output directory that appears complete or not at all.

:func:`staged_directory` hands out a hidden directory beside the target
(``.<name>.partial-<pid>-<random>``); when the block finishes it is renamed to the target in
one step. On an error or Ctrl-C it is deleted, and the target is as it was. Replacing an
existing target (``overwrite``) renames the old one aside first and deletes it only after the
new one is in place; only a directory a previous run wrote (holding ``marker``) or an empty one
is ever replaced, so a mistyped ``--out`` cannot delete unrelated files.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator, Sequence

from tuner.data.issues import DatasetError


def check_target(out: Path, overwrite: bool, marker: str, keep: Sequence[Path] = ()) -> None:
    """Refuse an output directory that cannot or must not be (re)written.

    Args:
        out: the target directory.
        overwrite: whether an existing target may be replaced.
        marker: the file a previous run leaves in its output (``dataset.json``).
        keep: inputs the target must not contain or be (the source data).

    Raises:
        DatasetError: ``out`` exists and ``overwrite`` is off; or it exists but is not a
            directory, or holds other files than a previous run's; or it contains an input;
            or its nearest existing parent is not a directory.
    """
    target = out.resolve()
    for path in keep:
        inside = path.resolve()
        if inside == target or target in inside.parents:
            raise DatasetError(f"--out {out} contains the source data ({path}); write the output elsewhere")
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise DatasetError(f"--out {out} exists; choose another directory or add --overwrite (replaces it)")
        if not out.is_dir() or out.is_symlink():
            raise DatasetError(f"--out {out} exists and is not a directory; remove it or choose another --out")
        if any(out.iterdir()) and not (out / marker).is_file():
            raise DatasetError(f"--out {out} holds files but no {marker}, so it was not written by this command; "
                               "refusing to replace it (remove it yourself or choose another --out)")
    nearest = next(d for d in (target, *target.parents) if d.exists())
    if nearest != target and not nearest.is_dir():
        raise DatasetError(f"--out {out}: {nearest} is not a directory; choose another --out")


@contextlib.contextmanager
def staged_directory(out: Path, overwrite: bool, marker: str) -> Iterator[Path]:
    """Yield an empty staging directory that becomes ``out`` when the block ends normally.

    Raises:
        DatasetError: ``out`` appeared meanwhile (and ``overwrite`` is off), or cannot be
            created where it is.
    """
    target = out.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = target.parent / f".{target.name}.partial-{token}"
    staging.mkdir()
    try:
        yield staging
        if target.exists() and overwrite:
            check_target(out, overwrite, marker)
            old = target.parent / f".{target.name}.old-{token}"
            os.rename(target, old)
            try:
                os.rename(staging, target)
            except OSError:
                os.rename(old, target)  # put the previous output back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.rename(staging, target)
            except OSError as exc:
                raise DatasetError(f"cannot create --out {out} ({exc.strerror or exc}); it may have been created "
                                   "meanwhile: choose another directory or add --overwrite") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone after the rename
