"""The base config a study or a trial starts from: found by name or path, pointed at its data
and checkpoint, sized, linted.

``--base`` is a path or a name in ``pipelines/``. A base config with placeholder paths
(``PATH_TO_BE_CONFIGURED``, as the zoo ships them) and no data given on the command line trains
on the synthetic shapes dataset (:func:`tuner.data.demo.ensure_demo_dataset`); the caller is told
so. A placeholder ``fine_tune_checkpoint`` is cleared (the model trains from scratch, and the
caller is told so) unless a checkpoint is given. The config is parsed once by the caller and
prepared in place (:func:`prepare_loaded`).
"""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from object_detection.protos import train_pb2

from tuner import paths
from tuner.data import demo
from tuner.data.demo import DataError

PLACEHOLDER = "PATH_TO_BE_CONFIGURED"
#: Above this batch size a base trained on the demo data gets a note pointing at the CPU-sized base.
DEMO_BATCH_HINT = 64
#: Type given to a --fine-tune-checkpoint when the base config names none.
DEFAULT_CHECKPOINT_TYPE = "detection"

__all__ = ["DEFAULT_CHECKPOINT_TYPE", "DataError", "PLACEHOLDER", "check_checkpoint", "prepare_config",
           "prepare_loaded", "resolve_base", "set_fine_tune_checkpoint"]


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


def check_checkpoint(prefix: str) -> None:
    """A TF checkpoint is given by its prefix (``.../ckpt-0``), whose ``.index`` file must exist.

    Raises:
        DataError: no ``<prefix>.index``.
    """
    if not Path(f"{prefix}.index").is_file():
        hint = f"; give the prefix {prefix[: -len('.index')]}" if prefix.endswith(".index") else \
            "; give a checkpoint prefix such as DIR/ckpt-0 (DIR/ckpt-0.index must exist)"
        raise DataError(f"--fine-tune-checkpoint {prefix}: no checkpoint there ({prefix}.index not found){hint}")


def set_fine_tune_checkpoint(cfg: Any, checkpoint: str | None) -> str:
    """Point ``cfg`` at ``checkpoint``, or clear a placeholder checkpoint; return a note ('' if none).

    With ``checkpoint``, ``fine_tune_checkpoint`` is set to it (checked to exist) and its type is
    kept if the config sets one, else :data:`DEFAULT_CHECKPOINT_TYPE`. Without it, a placeholder
    ``fine_tune_checkpoint`` is removed together with its type: the model trains from scratch.

    Raises:
        DataError: ``checkpoint`` does not exist.
    """
    train = cfg.train_config
    if checkpoint:
        check_checkpoint(checkpoint)
        train.fine_tune_checkpoint = str(Path(checkpoint).absolute())  # trials may run from elsewhere
        if not train.fine_tune_checkpoint_type:
            train.fine_tune_checkpoint_type = DEFAULT_CHECKPOINT_TYPE
        train.fine_tune_checkpoint_version = train_pb2.CheckpointVersion.V2  # the TF2 trainer refuses V1, the proto's default
        return ""
    if PLACEHOLDER in train.fine_tune_checkpoint:
        train.ClearField("fine_tune_checkpoint")
        train.ClearField("fine_tune_checkpoint_type")
        return "fine_tune_checkpoint is a placeholder: training from scratch; set it in the base config to fine-tune"
    return ""


def prepare_config(base: str, train_data: str | None, eval_data: str | None, label_map: str | None,
                   steps: int | None = None, fine_tune_checkpoint: str | None = None) -> tuple[str, str]:
    """Load ``base`` and :func:`prepare_loaded` it; return (config text, note).

    Raises:
        DataError: see :func:`prepare_loaded`.
        tuner.config.ConfigError: the base config itself is invalid.
    """
    from tuner import config as cfgmod

    base_path = resolve_base(base)
    cfg, note = prepare_loaded(cfgmod.load(base_path), base_path, train_data, eval_data, label_map, steps=steps,
                               fine_tune_checkpoint=fine_tune_checkpoint)
    return cfgmod.dumps(cfg), note


def prepare_loaded(cfg: Any, base_path: Path, train_data: str | None, eval_data: str | None, label_map: str | None,
                   steps: int | None = None, fine_tune_checkpoint: str | None = None) -> tuple[Any, str]:
    """Point the parsed base ``cfg`` (read from ``base_path``) at data, optionally set ``num_steps``;
    return (``cfg``, edited in place; note).

    Data rules: all three of ``train_data``, ``eval_data``, ``label_map`` or none. With none,
    the config's own paths are used, unless they are placeholders: then the demo dataset is.
    Checkpoint rules: see :func:`set_fine_tune_checkpoint`. The note (one line per fact, ''
    if nothing to say) tells the user what was substituted.

    Raises:
        DataError: missing or partial data arguments, missing files, placeholders left, or a
            lint error (the first, with its fix).
    """
    from tuner import config as cfgmod

    given = [train_data, eval_data, label_map]
    notes = []
    if any(given) and not all(given):
        raise DataError("give all of --train-data, --eval-data and --label-map, or none of them")
    if all(given):
        from tuner.config.records import expand_input_paths
        from tuner.config.remote import is_remote

        for flag, value in zip(("--train-data", "--eval-data", "--label-map"), given):
            if is_remote(str(value)):
                continue  # read through tf.io.gfile by TensorFlow; lint warns that it was not checked here
            if flag == "--label-map" or not glob.has_magic(str(value)):
                if not Path(value).exists():  # type: ignore[arg-type]
                    raise DataError(f"{flag} {value}: no such file")
            elif not expand_input_paths(str(value)):  # a shard glob, as input_path allows
                raise DataError(f"{flag} {value}: no file matches the pattern")
    if fine_tune_checkpoint:
        check_checkpoint(fine_tune_checkpoint)
    if all(given):
        cfgmod.point_to_dataset(cfg, train_data, eval_data, label_map)
    else:
        readers = [cfg.train_input_reader, *cfg.eval_input_reader]
        if any(PLACEHOLDER in cfgmod.dumps(reader) for reader in readers):
            dataset = demo.ensure_demo_dataset()
            cfgmod.point_to_dataset(cfg, dataset.train_record, dataset.eval_record, dataset.label_map)
            notes.append(f"{base_path.name} has placeholder paths and no data was given: using the generated demo "
                         f"dataset in {dataset.root} (shapes, {dataset.spec.train} train / {dataset.spec.eval} "
                         "eval images)")
            if cfg.train_config.batch_size > DEMO_BATCH_HINT:
                notes.append(f"{base_path.name} trains batches of {cfg.train_config.batch_size} (sized for "
                             "accelerators): on a CPU that is slow; --base ssd_mobilenet_v2_shapes is sized "
                             "for the demo data, or set batch_size in the base config")
    checkpoint_note = set_fine_tune_checkpoint(cfg, fine_tune_checkpoint)
    if checkpoint_note:
        notes.append(checkpoint_note)
    if steps is not None:
        cfgmod.set_num_steps(cfg, steps)
    errors = [f for f in cfgmod.lint(cfg) if f.severity.name == "ERROR"]
    if errors:
        first = errors[0]
        raise DataError(f"{base_path}: {first.path}: {first.message}; fix: {first.fix}"
                        + (f" (and {len(errors) - 1} more: run python -m tuner.config lint)" if len(errors) > 1 else ""))
    return cfg, "\n".join(notes)
