"""Fixtures for study tests: a test search space and a CLI runner."""
from __future__ import annotations

from pathlib import Path

import pytest

#: One categorical entry: a valid feature extractor or one the OD API rejects at build time,
#: so a study has completed and failed trials without long training.
EXTRACTOR_SPACE = """\
params:
  extractor:
    path: model.ssd.feature_extractor.type
    choices: [ssd_mobilenet_v2_keras, ssd_mobilenet_v9_keras]
"""


@pytest.fixture()
def no_anchor_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the study's anchor analysis, which would read the data: for whole studies on the fake
    runner, whose placeholder records hold no boxes (use: ``pytestmark = pytest.mark.usefixtures(...)``)."""
    from tuner.study import runner
    from tuner.study.anchors import AnchorPlan

    monkeypatch.setattr(runner, "plan_anchors", lambda prepared: AnchorPlan())


@pytest.fixture(scope="session")
def extractor_space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("space") / "space.yaml"
    path.write_text(EXTRACTOR_SPACE)
    return path


@pytest.fixture(scope="session")
def small_base(tmp_path_factory: pytest.TempPathFactory, make_config) -> Path:
    """The demo config on the tiny test dataset (paths filled in), batch 8."""
    path = tmp_path_factory.mktemp("base") / "small.config"
    path.write_text(make_config(20))
    return path
