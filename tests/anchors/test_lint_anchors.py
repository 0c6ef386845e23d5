"""``tuner.config lint`` measures the anchors when the training data is readable."""
from __future__ import annotations

from tuner import config as cfgmod
from tuner.config import Severity


def _anchor_findings(cfg, **kw):
    return [f for f in cfgmod.lint(cfg, **kw) if "anchor" in f.message or "grid coverage" in f.message]


def test_low_coverage_warns_with_the_fit_command_and_the_grid_cure(bars) -> None:
    findings = _anchor_findings(cfgmod.load(bars), check_anchors=True)
    assert [f.severity for f in findings] == [Severity.WARNING, Severity.WARNING]
    shape, grid = findings
    assert shape.path == "model.ssd.anchor_generator.ssd_anchor_generator" and "python -m tuner.anchors fit" in shape.fix
    assert grid.path == "model.ssd.image_resizer" and "matched_threshold" in grid.fix


def test_not_measured_unless_asked_or_without_files(bars) -> None:
    assert _anchor_findings(cfgmod.load(bars)) == []
    assert _anchor_findings(cfgmod.load(bars), check_anchors=True, check_files=False) == []


def test_fitted_anchors_lint_without_the_shape_warning(bars, tmp_path) -> None:
    from tuner.anchors.__main__ import main

    assert main(["fit", "--config", str(bars), "-o", str(tmp_path / "fit.config"), "--objective", "shape"]) == 0
    findings = _anchor_findings(cfgmod.load(tmp_path / "fit.config"), check_anchors=True)
    assert all("python -m tuner.anchors fit" not in f.fix for f in findings)
