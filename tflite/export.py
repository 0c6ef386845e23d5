"""Export one specific checkpoint with the OD API's TFLite exporter (a TFLite-ready SavedModel).

``export_tflite_graph_lib_tf2.export_tflite_model`` restores the *latest* checkpoint of the
directory it is given. To export the trial's best checkpoint instead, its files are copied
into a private directory whose ``checkpoint`` state file names only that checkpoint; the
trial's own directory is never touched.

Import :mod:`tuner.odapi` before this module.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tflite.errors import ModelError, StudyError
from tflite.model import check_exportable
from tuner.cli import first_line


def stage_checkpoint(checkpoint_prefix: str | Path, work_dir: str | Path) -> Path:
    """Copy one checkpoint into ``work_dir/checkpoint`` and make it that directory's latest.

    Returns:
        The staged checkpoint directory.

    Raises:
        StudyError: the checkpoint's files are missing.
    """
    prefix = Path(checkpoint_prefix)
    files = sorted(prefix.parent.glob(prefix.name + ".*"))
    if not any(f.suffix == ".index" for f in files) or not any(".data-" in f.name for f in files):
        raise StudyError(f"checkpoint {prefix.name} is incomplete (need .index and .data-* files)",
                         str(prefix.parent), "restore the trial's model/ directory or choose another --trial")
    staged = Path(work_dir) / "checkpoint"
    staged.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, staged / f.name)
    (staged / "checkpoint").write_text(
        f'model_checkpoint_path: "{prefix.name}"\nall_model_checkpoint_paths: "{prefix.name}"\n')
    return staged


def export_saved_model(cfg: Any, checkpoint_prefix: str | Path, work_dir: str | Path,
                       max_detections: int, use_regular_nms: bool = False) -> Path:
    """Export ``checkpoint_prefix`` of the model ``cfg`` describes as a TFLite-ready SavedModel.

    Args:
        cfg: the trial's ``TrainEvalPipelineConfig``.
        checkpoint_prefix: the checkpoint to export (``.../ckpt-N``).
        work_dir: private scratch directory (created).
        max_detections: detections the TFLite model returns.
        use_regular_nms: the exporter's multi-class NMS (slower) instead of the fast one.

    Returns:
        The SavedModel directory.

    Raises:
        ModelError: the model is not exportable, or the exporter failed.
        StudyError: the checkpoint is missing.
    """
    from object_detection import export_tflite_graph_lib_tf2 as exporter

    check_exportable(cfg, str(checkpoint_prefix))
    staged = stage_checkpoint(checkpoint_prefix, work_dir)
    out = Path(work_dir) / "export"
    config = type(cfg)()
    config.CopyFrom(cfg)
    try:
        exporter.export_tflite_model(config, str(staged), str(out), max_detections, use_regular_nms)
    except (AssertionError, ValueError) as exc:
        raise ModelError(f"the OD API TFLite exporter failed ({first_line(exc, limit=200)})",
                         str(checkpoint_prefix), "check that the checkpoint was trained with this config") from exc
    return out / "saved_model"
