"""One config against its data: the boxes in the input frame, the anchors, their coverage, a fit.

The steps every caller (CLI, lint, study) shares: read the training boxes (:mod:`.boxes`),
map them into the model's input frame (:mod:`.frame`), read the config's anchor parameters
(:mod:`.params`), derive the feature-map shapes from the model itself (:mod:`.probe`) and build
the anchors with the OD API's generators (:mod:`.generators`), then measure (:mod:`.coverage`)
and optionally fit (:mod:`.fit`).
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Sequence

import numpy as np

from tuner.anchors import coverage as cov
from tuner.anchors import fit as fitmod
from tuner.anchors.boxes import GroundTruth, read_ground_truth
from tuner.anchors.errors import AnchorError
from tuner.anchors.frame import InputFrame, to_input_frame
from tuner.anchors.generators import anchor_shapes, grid_anchors, grid_anchors_by_layer
from tuner.anchors.params import AnchorParams, apply_params, grown, params_from_config
from tuner.anchors.probe import feature_map_shapes


@dataclasses.dataclass(frozen=True)
class Subject:
    """A config's ground truth in its input frame, and what its model dictates about anchors."""

    frame: InputFrame
    feature_maps: tuple[tuple[int, int], ...]
    threshold: float
    truth: GroundTruth
    boxes: np.ndarray  # (N, 4) normalised in the input frame

    @property
    def frame_hw(self) -> tuple[int, int]:
        return (self.frame.height, self.frame.width)

    @property
    def box_hw(self) -> np.ndarray:
        """(N, 2) box heights and widths in input pixels."""
        return np.stack([(self.boxes[:, 2] - self.boxes[:, 0]) * self.frame.height,
                         (self.boxes[:, 3] - self.boxes[:, 1]) * self.frame.width], axis=1)

    def measure(self, params: AnchorParams) -> cov.Coverage:
        """Coverage of the boxes by the anchors ``params`` builds on this model's feature maps."""
        shapes = anchor_shapes(params, self.feature_maps, self.frame_hw)
        grid = grid_anchors(params, self.feature_maps, self.frame_hw)
        return cov.measure(self.boxes, self.frame_hw, shapes, grid, self.threshold, classes=self.truth.classes,
                           class_names=self.truth.class_names)


def data_paths(cfg: Any, data: Sequence[str] | None = None) -> list[str]:
    """``data`` if given, else the config's training input paths.

    Raises:
        AnchorError: neither names any file.
    """
    if data:
        return list(data)
    paths = list(cfg.train_input_reader.tf_record_input_reader.input_path)
    if not paths:
        raise AnchorError("train_input_reader.tf_record_input_reader.input_path is empty: no training data to read; "
                          "give --data RECORDS or set the path in the config")
    return paths


def subject(cfg: Any, data: Sequence[str] | None = None, max_records: int | None = None) -> Subject:
    """Read the boxes and derive the model's feature maps for ``cfg``.

    Raises:
        AnchorError: unreadable or invalid records, an unsupported resizer or generator.
    """
    params_from_config(cfg)  # an unsupported generator fails before any record is read
    truth = read_ground_truth(data_paths(cfg, data), max_records=max_records)
    frame, boxes = to_input_frame(truth, cfg.model)
    return Subject(frame, tuple(feature_map_shapes(cfg)), cov.matched_threshold(cfg), truth, boxes)


@dataclasses.dataclass(frozen=True)
class Fitted:
    """A fit: the base and fitted parameters (the search's result grown by ``params_growth``),
    their coverages, and the search's own numbers (``result.params``: the coverage optimum)."""

    base: AnchorParams
    params: AnchorParams
    before: cov.Coverage
    after: cov.Coverage
    result: fitmod.FitResult
    params_growth: float = 1.0  # the factor on the fit's sizes that gave ``params``


def fit(cfg: Any, sub: Subject, *, seed: int = 0, ratios: int | None = None,
        objective: fitmod.Objective = fitmod.DEFAULT_OBJECTIVE, growth: float = fitmod.TRAINING_GROWTH) -> Fitted:
    """Fit ``cfg``'s anchors to ``sub``'s boxes, then grow their sizes by ``growth`` (see
    :data:`.fit.TRAINING_GROWTH`; 1.0 keeps the coverage optimum). ``cfg`` is not changed (see
    :func:`fitted_config`). When the fit keeps the base anchors, they are not grown either:
    ``params`` is then ``base``. ``after`` is the coverage of ``params`` (grown)."""
    base = params_from_config(cfg)
    grid = fitmod.Grid.of(grid_anchors_by_layer(base, sub.feature_maps, sub.frame_hw, cfg=cfg))
    result = fitmod.fit(base, sub.box_hw, sub.feature_maps, sub.frame_hw, sub.threshold, seed=seed, ratios=ratios,
                        objective=objective, boxes=sub.boxes, grid=grid)
    params = result.params if result.params == base or growth == 1.0 else grown(result.params, growth)
    return Fitted(base, params, sub.measure(base), sub.measure(params), result,
                  growth if params != result.params else 1.0)


def fitted_config(cfg: Any, params: AnchorParams) -> Any:
    """A copy of ``cfg`` with its anchor generator set to ``params``."""
    out = copy.deepcopy(cfg)
    apply_params(out, params)
    return out


def _pct(x: float) -> str:
    return f"{x:.2f}"


def table(coverages: Sequence[tuple[str, cov.Coverage]]) -> str:
    """A text table of one or more labelled coverages side by side: all boxes, per size bucket,
    per class; for each coverage its shape coverage, grid coverage and mean best IoU."""
    from tuner.cli import text_table

    header = ["boxes", "n"]
    for label, _ in coverages:
        suffix = f" {label}" if label else ""
        header += [f"shape{suffix}", f"grid{suffix}", f"IoU{suffix}"]
    groups: list[tuple[str, list[Any]]] = [("all", [c for _, c in coverages])]
    first = coverages[0][1]
    groups += [(f"size {g.name}", [c.by_size[i] for _, c in coverages]) for i, g in enumerate(first.by_size)]
    groups += [(f"class {g.name}", [c.by_class[i] for _, c in coverages]) for i, g in enumerate(first.by_class)]
    rows = []
    for name, measured in groups:
        row = [name, str(measured[0].boxes)]
        for g in measured:
            row += [_pct(g.shape_coverage), _pct(g.grid_coverage), _pct(g.mean_best_iou)]
        rows.append(row)
    return "\n".join(text_table(header, rows))
