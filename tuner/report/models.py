"""The models a verdict covers: the trial's checkpoint, and the TFLite variants of its conversion.

A :class:`ModelSource` names one model; :func:`tflite_sources` reads them from a conversion's
``report.json`` (``python -m tflite.convert`` writes it, by default into
``RUN_DIR/tflite-trial-NNNN``) and checks that the conversion is of the same trial and
checkpoint. :func:`open_detector` turns a source into a detector through a table by
:class:`Kind`; every detector maps one decoded eval example to normalized boxes, scores and
0-based classes (``tflite.measure.Detections``). The TFLite models take the checkpoint model's
own preprocessing (``CheckpointModel.preprocess``), as ``tflite.convert`` measures them.
"""
from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tflite.errors import DataError, StudyError
from tuner.report.verdict import CHECKPOINT

if TYPE_CHECKING:
    from tflite.measure import Detections
    from tflite.model import CheckpointModel
    from tflite.records import Example
    from tflite.select import Selection

Detector = Callable[["Example"], "Detections"]


class Kind(enum.StrEnum):
    CHECKPOINT = "checkpoint"
    TFLITE = "tflite"


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """One model to judge: its name in the verdict, its kind, its file (``None`` for the checkpoint)."""

    name: str
    kind: Kind
    path: Path | None = None


CHECKPOINT_SOURCE = ModelSource(CHECKPOINT, Kind.CHECKPOINT)


def tflite_sources(directory: Path, selection: Selection) -> list[ModelSource]:
    """The TFLite variants listed in ``directory/report.json``, in the report's order.

    Raises:
        DataError: no readable ``report.json``; a listed ``.tflite`` file is missing.
        StudyError: the conversion is of another trial or checkpoint.
    """
    from tflite import report

    path = directory / report.REPORT_JSON
    try:
        converted = report.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"no readable TFLite conversion report ({type(exc).__name__}: {exc})", str(path),
                        f"run python -m tflite.convert --study ... --trial {selection.number}, or pass the "
                        "--tflite-dir it wrote") from exc
    if (converted.trial, converted.checkpoint) != (selection.number, selection.checkpoint):
        raise StudyError(f"the TFLite files are of trial {converted.trial} {converted.checkpoint}, the verdict is "
                         f"for trial {selection.number} {selection.checkpoint}", str(path),
                         "re-run python -m tflite.convert --overwrite for this trial, or pass the matching --tflite-dir")
    sources = []
    for row in converted.rows:
        if row.file is None:
            continue
        file = directory / row.file
        if not file.is_file():
            raise DataError(f"the TFLite file of variant {row.variant} is missing", str(file),
                            "re-run python -m tflite.convert --overwrite")
        sources.append(ModelSource(row.variant, Kind.TFLITE, file))
    return sources


def _checkpoint(source: ModelSource, model: CheckpointModel, inputs: Callable[[Example], object],
                threads: int) -> Detector:
    return lambda e: model.detect(e.image)


def _tflite(source: ModelSource, model: CheckpointModel, inputs: Callable[[Example], object],
            threads: int) -> Detector:
    from tflite.measure import TfliteDetector

    if source.path is None:
        raise ValueError(f"TFLite model {source.name!r} has no file")
    detector = TfliteDetector(source.path, threads)
    return lambda e: detector(inputs(e))  # type: ignore[arg-type]


_OPENERS = {Kind.CHECKPOINT: _checkpoint, Kind.TFLITE: _tflite}


def open_detector(source: ModelSource, model: CheckpointModel, inputs: Callable[[Example], object],
                  threads: int) -> Detector:
    """A detector for ``source``.

    Args:
        source: the model.
        model: the trial's checkpoint model (detects for the checkpoint; preprocesses for TFLite).
        inputs: example -> its preprocessed input (cached by the caller).
        threads: TFLite interpreter threads.

    Raises:
        ModelError: a TFLite file cannot be loaded or its outputs identified.
        ValueError: a kind without an opener.
    """
    opener = _OPENERS.get(source.kind)
    if opener is None:
        raise ValueError(f"no detector for model kind {source.kind!r}; known: {', '.join(_OPENERS)}")
    return opener(source, model, inputs, threads)
