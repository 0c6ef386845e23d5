"""The verdict's data types: per model (the checkpoint, each TFLite variant), per class; as JSON and as a table.

``verdict.json`` (:meth:`Verdict.to_json`)::

    {"study": ..., "trial": N, "checkpoint": "ckpt-N", "why": ..., "images": 16, "records": [...],
     "iou": 0.5, "rule": "max_f1" | "target_precision", "target_precision": null | 0.9,
     "tflite_dir": ... | null, "notes": [...],
     "models": [{"model": "checkpoint", "file": null, "map_drop": null,
                 "metrics": {"map": ..., "map50": ..., "map75": ..., "map_small": null, ...},
                 "files": {"operating_points": "checkpoint_operating_points.json", ...},
                 "classes": [{"id": 1, "name": "circle", "images": 8, "boxes": 8, "ap": ..., "ap50": ...,
                              "ap_drop": null, "ap50_drop": null, "operating_point": {...}}, ...]},
                {"model": "fp32", "file": "model_fp32.tflite", "map_drop": 0.001, ...}]}

Drops are the checkpoint's value minus the variant's (positive: the variant lost accuracy);
``null`` for the checkpoint itself, or where either side has no value (no ground truth).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from tuner.report.coco import CocoMetrics
from tuner.report.detections import Category
from tuner.report.matching import IOU
from tuner.report.operating import OperatingPoint, Rule

CHECKPOINT = "checkpoint"


def _drop(reference: float | None, value: float | None) -> float | None:
    return None if reference is None or value is None else reference - value


@dataclasses.dataclass(frozen=True)
class ClassVerdict:
    """One class under one model.

    Attributes:
        category: the class.
        images, boxes: images holding the class and its ground-truth boxes.
        ap, ap50: COCO AP@[.5:.95] and AP@.50 (``None``: no ground truth).
        point: the operating point.
        ap_drop, ap50_drop: the checkpoint's AP minus this one (``None`` for the checkpoint).
    """

    category: Category
    images: int
    boxes: int
    ap: float | None
    ap50: float | None
    point: OperatingPoint
    ap_drop: float | None = None
    ap50_drop: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.category.id, "name": self.category.name, "images": self.images, "boxes": self.boxes,
                "ap": self.ap, "ap50": self.ap50, "ap_drop": self.ap_drop, "ap50_drop": self.ap50_drop,
                "operating_point": self.point.to_json()}


@dataclasses.dataclass(frozen=True)
class ModelVerdict:
    """One model's verdict.

    Attributes:
        model: ``checkpoint`` or the TFLite variant's name.
        file: the ``.tflite`` file (``None`` for the checkpoint).
        metrics: COCO summary.
        classes: per class, in label-map order.
        files: role (``operating_points``, ``pr_curves``, ``images``) -> file name in the output directory.
        map_drop: the checkpoint's mAP minus this one (``None`` for the checkpoint).
    """

    model: str
    file: str | None
    metrics: CocoMetrics
    classes: tuple[ClassVerdict, ...]
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    map_drop: float | None = None

    def against(self, reference: ModelVerdict) -> ModelVerdict:
        """This verdict with its drops against ``reference`` (the checkpoint) filled in."""
        ref = {c.category.id: c for c in reference.classes}
        classes = tuple(dataclasses.replace(c, ap_drop=_drop(ref[c.category.id].ap, c.ap),
                                            ap50_drop=_drop(ref[c.category.id].ap50, c.ap50))
                        if c.category.id in ref else c for c in self.classes)
        return dataclasses.replace(self, classes=classes, map_drop=_drop(reference.metrics.map, self.metrics.map))

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "file": self.file, "map_drop": self.map_drop,
                "metrics": dataclasses.asdict(self.metrics), "files": dict(self.files),
                "classes": [c.to_json() for c in self.classes]}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The whole report: the chosen trial, the data it was measured on, every model."""

    study: str
    trial: int
    checkpoint: str
    images: int
    records: tuple[str, ...]
    rule: Rule
    target_precision: float | None
    models: tuple[ModelVerdict, ...]
    why: str = ""
    tflite_dir: str | None = None
    notes: tuple[str, ...] = ()

    def model(self, name: str) -> ModelVerdict:
        """Raises:
            KeyError: no model of that name.
        """
        for m in self.models:
            if m.model == name:
                return m
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"study": self.study, "trial": self.trial, "checkpoint": self.checkpoint, "why": self.why,
                "images": self.images, "records": list(self.records), "iou": IOU, "rule": self.rule.value,
                "target_precision": self.target_precision, "tflite_dir": self.tflite_dir, "notes": list(self.notes),
                "models": [m.to_json() for m in self.models]}

    def to_text(self) -> str:
        """The printed verdict: per model a summary line, then one row per class."""
        rule = (f"the lowest threshold with precision >= {self.target_precision:g}" if self.rule is Rule.TARGET_PRECISION
                else "the max-F1 threshold")
        out = [f"verdict: study {self.study!r}, trial {self.trial}, checkpoint {self.checkpoint}, "
               f"{self.images} eval images; operating point per class: {rule} (detections matched at IoU {IOU:g})"]
        for m in self.models:
            out += ["", _summary(m)] + _class_table(m)
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "-" if value is None else format(value, fmt)


def _summary(m: ModelVerdict) -> str:
    x = m.metrics
    name = f"{m.model} ({m.file})" if m.file else f"{m.model} (TF)"
    drop = f"  (mAP drop {_num(m.map_drop, '+.4f')})" if m.map_drop is not None else ""
    return (f"{name}: mAP {_num(x.map)}  mAP@.50 {_num(x.map50)}  mAP@.75 {_num(x.map75)}  "
            f"small {_num(x.map_small)}  medium {_num(x.map_medium)}  large {_num(x.map_large)}{drop}")


def _class_table(m: ModelVerdict) -> list[str]:
    from tuner.cli import text_table

    variant = m.model != CHECKPOINT
    header = ["class", "images", "boxes", "AP", "AP@.50"] + (["AP drop"] if variant else []) + \
        ["threshold", "precision", "recall"]
    rows, notes = [], []
    for c in m.classes:
        p = c.point
        rows.append([c.category.name, str(c.images), str(c.boxes), _num(c.ap), _num(c.ap50)]
                    + ([_num(c.ap_drop, "+.4f")] if variant else [])
                    + [_num(p.threshold, ".3f"), _num(p.precision, ".3f"), _num(p.recall, ".3f")])
        if p.note:
            notes.append(f"  {c.category.name}: {p.note}")
    return text_table(header, rows) + notes
