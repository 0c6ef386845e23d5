"""Per-class operating points: the score threshold a deployment should use for each class.

Chosen on a class's precision-recall curve (:func:`tuner.report.matching.pr_curve`, detections
matched at IoU .5) by one of two rules (:class:`Rule`):

* ``target_precision`` (``--target-precision P``): the lowest score threshold whose precision
  on these images is at least ``P``, i.e. the most recall that still meets the target. When no
  threshold reaches ``P`` the class gets no threshold (``null``) and a note saying the best
  precision seen: deploying it at that precision is not supported by the data;
* ``max_f1`` (no target): the threshold with the highest F1 (ties: the higher threshold).

A class without ground truth on the images, without detections, or (max-F1) without a single
true positive gets ``threshold: null`` with a note. A deployment keeps a detection of class
``c`` when ``score >= threshold[c]`` and drops the class when the threshold is ``null``.

``operating_points.json`` (:func:`write`, read back with :func:`load_thresholds`)::

    {"circle": {"threshold": 0.41, "precision": 0.93, "recall": 0.81, "f1": 0.87,
                "label_id": 1, "rule": "target_precision", "target_precision": 0.9,
                "iou": 0.5, "ground_truth": 16, "detections_kept": 14, "note": ""}, ...}

Keys are the label map's class names (``name_<id>`` when two classes share a name). The file
is strict JSON (no NaN): unknown values are ``null``.
"""
from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tuner.report.detections import Category
from tuner.report.matching import IOU, PrCurve


class Rule(enum.StrEnum):
    """How a class's threshold is chosen."""

    TARGET_PRECISION = "target_precision"
    MAX_F1 = "max_f1"


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """One class's chosen threshold and what it gives on the images it was chosen on.

    Attributes:
        category: the class.
        rule: how it was chosen.
        target_precision: the target (``None`` for max-F1).
        threshold: keep detections with ``score >= threshold``; ``None``: no usable threshold (see ``note``).
        precision, recall, f1: measured at the threshold (``None`` without one).
        ground_truth: ground-truth boxes of the class.
        detections_kept: detections with ``score >= threshold``.
        note: why there is no threshold, if there is none.
    """

    category: Category
    rule: Rule
    target_precision: float | None
    threshold: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    ground_truth: int
    detections_kept: int = 0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "precision": self.precision, "recall": self.recall, "f1": self.f1,
                "label_id": self.category.id, "rule": self.rule.value, "target_precision": self.target_precision,
                "iou": IOU, "ground_truth": self.ground_truth, "detections_kept": self.detections_kept,
                "note": self.note}


def choose(curve: PrCurve, category: Category, target_precision: float | None = None) -> OperatingPoint:
    """The class's operating point on ``curve`` (see the module docstring for the rules).

    Raises:
        ValueError: ``target_precision`` outside ``(0, 1]``.
    """
    if target_precision is not None and not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target precision must be in (0, 1], got {target_precision}")
    rule = Rule.MAX_F1 if target_precision is None else Rule.TARGET_PRECISION

    def none(note: str) -> OperatingPoint:
        return OperatingPoint(category, rule, target_precision, None, None, None, None, curve.n_gt, 0, note)

    if not curve.n_gt:
        return none("no ground truth of this class on these images")
    if not len(curve.thresholds):
        return none("no detections of this class")
    if target_precision is not None:
        meets = np.nonzero(curve.precision >= target_precision)[0]
        if not len(meets):
            best = int(np.argmax(curve.precision))
            return none(f"no threshold reaches precision {target_precision:g} (best {curve.precision[best]:.3f} "
                        f"at threshold {curve.thresholds[best]:.3f}, recall {curve.recall[best]:.3f})")
        i = int(meets[-1])
    else:
        f1 = curve.f1
        i = int(np.argmax(f1))
        if f1[i] <= 0:
            return none("no true positive at any threshold")
    return OperatingPoint(category, rule, target_precision, float(curve.thresholds[i]), float(curve.precision[i]),
                          float(curve.recall[i]), float(curve.f1[i]), curve.n_gt, int(curve.tp[i] + curve.fp[i]))


def keys(categories: Sequence[Category]) -> dict[int, str]:
    """Class id -> its key in ``operating_points.json`` (the name; ``name_<id>`` for shared names)."""
    names = [c.name for c in categories]
    return {c.id: c.name if names.count(c.name) == 1 else f"{c.name}_{c.id}" for c in categories}


def to_json(points: Sequence[OperatingPoint]) -> dict[str, Any]:
    by_key = keys([p.category for p in points])
    return {by_key[p.category.id]: p.to_json() for p in points}


def write(points: Sequence[OperatingPoint], path: Path) -> None:
    """Write ``operating_points.json`` (strict JSON)."""
    path.write_text(json.dumps(to_json(points), indent=2, allow_nan=False) + "\n")


def load_thresholds(path: str | Path) -> dict[str, float | None]:
    """Class name -> score threshold from an ``operating_points.json`` (``None``: drop the class).

    Raises:
        ValueError: the file is not an operating-points file.
    """
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "threshold" in v for v in data.values()):
        raise ValueError(f"{path}: not an operating_points.json ({{class: {{threshold, ...}}}} expected)")
    return {name: (None if v["threshold"] is None else float(v["threshold"])) for name, v in data.items()}
