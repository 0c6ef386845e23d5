"""A per-class verdict on a study's chosen trial: ``python -m tuner.report --study RUN_DIR``.

For the trial's checkpoint and each TFLite variant of its conversion (``tflite.convert``):
COCO mAP (@[.5:.95], @.50, @.75, small/medium/large), per-class AP and AP@.50 from COCOeval's
precision array, per-class precision-recall curves, per-class operating points (a score
threshold for a target precision, else the max-F1 one) in a JSON a deployment loads, a few
eval images with their detections drawn; all attached to the trial as Optuna artifacts that
optuna-dashboard shows.

Data flow, one module per step::

    detections (ImageResult: ground truth + one model's detections, pixels)
      -> coco (COCOeval once: summary, per-class AP from the precision array)
      -> matching (per class at IoU .5: TP/FP, precision-recall curve)
      -> operating (per class: the threshold for a target precision, else max F1)
      -> judge (one model: the above + its files) -> verdict (all models, drops, table)
    models (checkpoint, TFLite variants) + pipeline (select, check, write, publish) -> artifacts (attach)

Only :mod:`tuner.report.models` and :mod:`tuner.report.pipeline` run TensorFlow; the rest is
numpy, pycocotools and matplotlib.
"""
from __future__ import annotations

from tuner.report.coco import ClassAP, CocoMetrics, CocoResult, class_ap, evaluate
from tuner.report.detections import Category, ImageResult
from tuner.report.matching import ClassMatches, PrCurve, match_class, pr_curve
from tuner.report.operating import OperatingPoint, Rule, choose, load_thresholds
from tuner.report.verdict import ClassVerdict, ModelVerdict, Verdict

__all__ = ["Category", "ClassAP", "ClassMatches", "ClassVerdict", "CocoMetrics", "CocoResult", "ImageResult",
           "ModelVerdict", "OperatingPoint", "PrCurve", "Rule", "Verdict", "choose", "class_ap",
           "evaluate", "load_thresholds", "match_class", "pr_curve"]
