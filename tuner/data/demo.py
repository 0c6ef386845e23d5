"""Resolve which data a config trains on: the user's TFRecords, or the generated demo dataset.

A base config with placeholder paths (``PATH_TO_BE_CONFIGURED``, as the zoo ships them) and no
data given on the command line trains on the synthetic shapes dataset, generated once under
:data:`tuner.paths.DEMO_DATA_DIR`; the caller is told so.
"""
from __future__ import annotations

import os
from pathlib import Path

from tuner import paths
from tuner.data import shapes

PLACEHOLDER = "PATH_TO_BE_CONFIGURED"


class DataError(ValueError):
    """The data a config should train on is missing or inconsistent (message says the fix)."""


def resolve_base(name_or_path: str) -> Path:
    """``--base`` accepts a path or the name of a config in ``pipelines/`` (with or without .config).

    Raises:
        DataError: neither exists; the message lists the bundled names.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (paths.PIPELINES_DIR / name_or_path, paths.PIPELINES_DIR / f"{name_or_path}.config"):
        if candidate.is_file():
            return candidate
    bundled = sorted(p.stem for p in paths.PIPELINES_DIR.glob("*.config"))
    raise DataError(f"config {name_or_path!r} not found (neither a file nor a name in pipelines/: "
                    f"{', '.join(bundled)})")


def ensure_demo_dataset(root: str | os.PathLike[str] | None = None) -> shapes.Dataset:
    """Generate the demo dataset once (reused afterwards); return its paths."""
    return shapes.generate(root or paths.DEMO_DATA_DIR, shapes.DatasetSpec())


def prepare_config(base: str, train_data: str | None, eval_data: str | None, label_map: str | None,
                   steps: int | None = None) -> tuple[str, str]:
    """Load ``base``, point it at data, optionally set ``num_steps``; return (config text, note).

    Data rules: all three of ``train_data``, ``eval_data``, ``label_map`` or none. With none,
    the config's own paths are used, unless they are placeholders: then the demo dataset is.

    Raises:
        DataError: missing or partial data arguments, missing files, placeholders left.
        tuner.config.ConfigError: the base config itself is invalid.
    """
    from tuner import config as cfgmod

    base_path = resolve_base(base)
    cfg = cfgmod.load(base_path)
    given = [train_data, eval_data, label_map]
    note = ""
    if any(given) and not all(given):
        raise DataError("give all of --train-data, --eval-data and --label-map, or none of them")
    if all(given):
        for flag, value in zip(("--train-data", "--eval-data", "--label-map"), given):
            if not Path(value).exists():  # type: ignore[arg-type]
                raise DataError(f"{flag} {value}: no such file")
        cfgmod.point_to_dataset(cfg, train_data, eval_data, label_map)
    elif PLACEHOLDER in cfgmod.dumps(cfg):
        dataset = ensure_demo_dataset()
        cfgmod.point_to_dataset(cfg, dataset.train_record, dataset.eval_record, dataset.label_map)
        note = (f"{base_path.name} has placeholder paths and no data was given: using the generated "
                f"demo dataset in {dataset.root} (shapes, {dataset.spec.train} train / {dataset.spec.eval} eval images)")
    if steps is not None:
        cfgmod.set_num_steps(cfg, steps)
    errors = [f for f in cfgmod.lint(cfg) if f.severity.name == "ERROR"]
    if errors:
        first = errors[0]
        raise DataError(f"{base_path}: {first.path}: {first.message}; fix: {first.fix}"
                        + (f" (and {len(errors) - 1} more: run python -m tuner.config lint)" if len(errors) > 1 else ""))
    return cfgmod.dumps(cfg), note
