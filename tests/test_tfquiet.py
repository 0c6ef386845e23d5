"""tfquiet: TensorFlow's start-up noise kept off the terminal, unless a CLI's --verbose lets it through."""
from __future__ import annotations

import os
import warnings

import pytest

from tuner import tfquiet
from tuner.paths import PIPELINES_DIR

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"


@pytest.fixture(autouse=True)
def _restore_verbosity(monkeypatch):
    monkeypatch.setattr(tfquiet, "_verbose", False)  # set_verbose is process-wide: no test leaks it
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)


def test_quietly_silences_tensorflow_and_warnings_then_restores_the_environment() -> None:
    with tfquiet.quietly():
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("noise", FutureWarning, stacklevel=1)  # ignored inside quietly() (the filter is set there)
        assert caught == []
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ


def test_after_set_verbose_quietly_changes_nothing() -> None:
    tfquiet.set_verbose(True)
    assert tfquiet.is_verbose()
    with tfquiet.quietly():
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    tfquiet.set_verbose(False)
    with tfquiet.quietly():
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


@pytest.mark.parametrize("argv, verbose", [([], False), (["--verbose"], True)])
def test_the_study_cli_accepts_verbose(argv, verbose, monkeypatch, capsys) -> None:
    from tuner.study import __main__ as cli
    from tuner.study.inputs import StudyInputError

    seen = []

    def capture(settings, **kwargs):
        seen.append(tfquiet.is_verbose())
        raise StudyInputError("captured")

    monkeypatch.setattr(cli, "resolve", capture)
    assert cli.main(["--base", "any.config", *argv]) == 2
    assert capsys.readouterr().err.strip() == "error: captured"
    assert seen == [verbose]


def test_the_lint_and_anchors_clis_accept_verbose(capsys) -> None:
    from tuner.anchors.__main__ import _parser as anchors_parser
    from tuner.config.__main__ import main as config_main

    assert config_main(["lint", str(SHAPES), "--no-files", "--no-anchors", "--verbose"]) == 1  # placeholder paths
    assert tfquiet.is_verbose()
    out, err = capsys.readouterr()
    assert "unrecognized arguments" not in err and "placeholder path" in out
    assert anchors_parser().parse_args(["analyze", "--config", str(SHAPES), "--verbose"]).verbose is True
    assert anchors_parser().parse_args(["fit", "--config", str(SHAPES), "-o", "x.config"]).verbose is False
