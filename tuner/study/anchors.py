"""A study's anchors: the base config's coverage at start, a fitted-anchors trial, per-trial coverage.

With fitting on (``--fit-anchors``, the default), :func:`plan` reads the training boxes, measures
the base anchors and fits new ones (:mod:`tuner.anchors`); the study then runs the base config
with the fitted anchors as trial 1, right after the baseline, and a space's ``anchors`` knob
scales the fitted anchors instead of the base's. Every trial records the coverage of its anchors.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any

from tuner.anchors import analysis
from tuner.anchors.coverage import Coverage
from tuner.anchors.errors import AnchorError
from tuner.anchors.params import AnchorParams, apply_params, describe, params_from_config

#: Records read for the study's analysis (enough for stable coverages; reading stays seconds).
MAX_RECORDS = 5000


@dataclasses.dataclass(frozen=True)
class AnchorPlan:
    """What the study knows about its anchors (all fields None when the analysis did not apply).

    Attributes:
        subject: the training boxes in the input frame and the model's feature maps.
        base: coverage of the base config's anchors.
        fitted: the fitted parameters, or None when fitting is off or found nothing better.
        fitted_coverage: their coverage.
        note: lines for the start of the study ('' when nothing to say).
    """

    subject: analysis.Subject | None = None
    base: Coverage | None = None
    fitted: AnchorParams | None = None
    fitted_coverage: Coverage | None = None
    note: str = ""

    def with_fit(self, cfg: Any) -> Any:
        """A copy of ``cfg`` with the fitted anchors (``cfg`` itself when there is no fit)."""
        if self.fitted is None:
            return cfg
        out = copy.deepcopy(cfg)
        apply_params(out, self.fitted)
        return out

    def coverage(self, cfg: Any) -> dict[str, float] | None:
        """The coverage of ``cfg``'s anchors on the study's boxes (None when not measurable)."""
        if self.subject is None:
            return None
        try:
            measured = self.subject.measure(params_from_config(cfg))
        except AnchorError:
            return None
        return {"shape_coverage": round(measured.shape_coverage, 4), "grid_coverage": round(measured.grid_coverage, 4),
                "mean_best_iou": round(measured.mean_best_iou, 4)}


def _line(label: str, c: Coverage) -> str:
    return (f"{label}: shape coverage {c.shape_coverage:.2f}, grid coverage {c.grid_coverage:.2f}, "
            f"mean best IoU {c.mean_best_iou:.2f}")


def plan(cfg: Any, *, fit: bool, seed: int | None) -> AnchorPlan:
    """Measure ``cfg``'s anchors on its training boxes and, with ``fit``, fit better ones.

    A model or anchor generator the analysis does not support gives a plan without analysis
    (and a note saying so); bad training data is an error.

    Raises:
        AnchorError: the training records cannot be read, hold no boxes or invalid boxes.
    """
    try:
        params = params_from_config(cfg)
    except AnchorError as exc:
        return AnchorPlan(note=f"anchors: not analysed ({exc})")
    sub = analysis.subject(cfg, max_records=MAX_RECORDS)
    # the fit measures the base anchors itself (Fitted.before): measure them here only without one
    fitted = analysis.fit(cfg, sub, seed=seed or 0) if fit else None
    base = fitted.before if fitted is not None else sub.measure(params)
    lines = [_line(f"anchors of the base config ({len(sub.boxes)} training boxes, covered = IoU >= "
                   f"{sub.threshold:g})", base)]
    lines += [f"  advice: {a}" for a in base.advice(fitting=fit)]
    if fitted is None:
        return AnchorPlan(sub, base, note="\n".join(lines))
    if fitted.params == fitted.base:
        lines.append("anchors: the fit found nothing better than the base anchors; no fitted-anchors trial")
        return AnchorPlan(sub, base, note="\n".join(lines))
    grew = f"; the fit's sizes x{fitted.params_growth:g}" if fitted.params_growth != 1.0 else ""
    lines.append(_line(f"fitted anchors ({describe(fitted.params)}{grew}), run as trial 1", fitted.after))
    return AnchorPlan(sub, base, fitted.params, fitted.after, "\n".join(lines))
