"""tuner.study.anchors.plan on generated thin-bar data: what it reports, and that it measures the
base anchors once (the fit's own measurement of them is reused)."""
from __future__ import annotations

import pytest

from tuner import config as cfgmod
from tuner.anchors import analysis
from tuner.anchors.params import params_from_config
from tuner.study.anchors import plan


@pytest.fixture()
def measured(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The params of every ``Subject.measure`` call, in order."""
    calls: list[object] = []
    original = analysis.Subject.measure

    def counting(self, params):  # type: ignore[no-untyped-def]
        calls.append(params)
        return original(self, params)

    monkeypatch.setattr(analysis.Subject, "measure", counting)
    return calls


def test_plan_with_a_fit_measures_the_base_anchors_once(bars, measured) -> None:
    cfg = cfgmod.load(bars)
    base_params = params_from_config(cfg)
    result = plan(cfg, fit=True, seed=0)
    assert result.fitted is not None and result.fitted != base_params
    assert measured.count(base_params) == 1 and len(measured) == 2  # base once, the fitted anchors once
    assert result.base == result.subject.measure(base_params)
    assert result.fitted_coverage == result.subject.measure(result.fitted)
    lines = result.note.splitlines()
    assert lines[0].startswith(f"anchors of the base config ({len(result.subject.boxes)} training boxes")
    assert f"shape coverage {result.base.shape_coverage:.2f}" in lines[0]
    assert lines[-1].startswith("fitted anchors (") and lines[-1].endswith(
        f"run as trial 1: shape coverage {result.fitted_coverage.shape_coverage:.2f}, grid coverage "
        f"{result.fitted_coverage.grid_coverage:.2f}, mean best IoU {result.fitted_coverage.mean_best_iou:.2f}")


def test_plan_without_a_fit_measures_the_base_anchors_only(bars, measured) -> None:
    cfg = cfgmod.load(bars)
    result = plan(cfg, fit=False, seed=None)
    assert measured == [params_from_config(cfg)]
    assert result.fitted is None and result.fitted_coverage is None and result.base is not None
    assert result.note.startswith("anchors of the base config") and "fitted anchors" not in result.note


def test_plan_of_an_unsupported_generator_is_a_note() -> None:
    cfg = cfgmod.loads("model { faster_rcnn { num_classes: 1 } }")
    result = plan(cfg, fit=True, seed=0)
    assert result.subject is None and result.base is None
    assert result.note.startswith("anchors: not analysed (the model is faster_rcnn, not ssd")
