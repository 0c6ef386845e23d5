"""Fixtures for study tests: a test search space and a CLI runner."""
from __future__ import annotations

from pathlib import Path

import pytest

#: One categorical entry: no freezing, or a freeze pattern that matches no variable, which
#: lints clean and builds (the preflight passes it) but which the trainer rejects when it
#: traces the first step (FreezeError, class config): a study has completed and failed trials
#: without long training.
REJECTED_SPACE = """\
params:
  freeze:
    path: train_config.freeze_variables
    choices: [[], ["^NoSuchLayer/"]]
"""


@pytest.fixture()
def no_anchor_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the study's anchor analysis, which would read the data: for whole studies on the fake
    runner, whose placeholder records hold no boxes (use: ``pytestmark = pytest.mark.usefixtures(...)``)."""
    from tuner.study import plan
    from tuner.study.anchors import AnchorPlan

    monkeypatch.setattr(plan, "plan_anchors", lambda prepared: AnchorPlan())


@pytest.fixture(scope="session")
def rejected_space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("space") / "space.yaml"
    path.write_text(REJECTED_SPACE)
    return path


@pytest.fixture(scope="session")
def small_base(tmp_path_factory: pytest.TempPathFactory, make_config) -> Path:
    """The demo config on the tiny test dataset (paths filled in), batch 8."""
    path = tmp_path_factory.mktemp("base") / "small.config"
    path.write_text(make_config(20))
    return path
