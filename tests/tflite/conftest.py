"""Fixtures of the tflite tests: real Optuna studies in run directories, and one real conversion.

``study_factory(run_dir, trials)`` writes ``study.json`` (RunInfo) and a SQLite study whose
trials are ``optuna.trial.create_trial`` entries with the user attributes of
:class:`tuner.runinfo.Attr`. ``converted`` runs ``python -m tflite.convert`` once, as a
subprocess, on a study over the shared ``trained_trial`` (all four variants); ``converted_uint8``
converts the same trial to int8 only with ``--uint8-io`` (outside the run directory, so the
notebook test still finds the four-variant report).
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from tuner.testing.studies import MAP, TrialEntry
from tuner.testing.studies import make_run_dir as make_study

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def trial_entry() -> type[TrialEntry]:
    """The :class:`TrialEntry` class (test modules do not import conftest)."""
    return TrialEntry


@pytest.fixture(scope="session")
def study_factory() -> Callable[..., Path]:
    return make_study


@pytest.fixture(scope="session")
def trained_study(tmp_path_factory: pytest.TempPathFactory, trained_trial) -> Path:
    """A run dir whose study has a baseline, a better trial (both the trained trial), a pruned and a failed one."""
    trial, evaluations, outcome = trained_trial
    assert outcome.best_checkpoint, outcome.reason
    best = outcome.best.value(MAP)
    curve = {e.step: e.value(MAP) for e in evaluations}
    trials = [
        TrialEntry(trial.trial_dir, value=best * 0.5, checkpoint=outcome.best_checkpoint, baseline=True,
                   step=outcome.best.step, params={"lr": 0.08}, intermediate={s: v * 0.5 for s, v in curve.items()}),
        TrialEntry(trial.trial_dir, value=best + 0.01, checkpoint=outcome.best_checkpoint, step=outcome.best.step,
                   params={"lr": 0.03}, intermediate=curve),
        TrialEntry(trial.trial_dir, value=None, checkpoint=None, state="PRUNED", params={"lr": 0.4},
                   intermediate={10: 0.0}),
        TrialEntry(None, value=None, checkpoint=None, state="FAIL", params={"lr": 0.45}),
    ]
    return make_study(tmp_path_factory.mktemp("study") / "run", trials, name="tiny")


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m tflite.convert ARGS`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "tflite.convert", *args], cwd=cwd or REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@dataclasses.dataclass(frozen=True)
class Converted:
    run_dir: Path
    out: Path
    proc: subprocess.CompletedProcess[str]
    seconds: float


@pytest.fixture(scope="session")
def converted(trained_study: Path) -> Converted:
    """One real end-to-end conversion (subprocess) of the trained study's best trial, all variants.

    With ``--regular-nms``: the TFLite files then run the same multi-class NMS as the checkpoint's
    OD API post-processing, so the tests can hold their mAP to the checkpoint's. The default fast
    NMS keeps only each anchor's top class, which on a young model that scores one class high
    everywhere drops the other class's detections (seen: fp32 mAP 0.0013 against the checkpoint's
    0.034). ``converted_uint8`` runs the default fast NMS.
    """
    out = trained_study / "tflite-best"
    start = time.monotonic()
    proc = run_cli("--study", str(trained_study), "--out", str(out), "--eval-count", "16",
                   "--representative-count", "8", "--latency-runs", "5", "--threads", "2", "--regular-nms")
    return Converted(trained_study, out, proc, time.monotonic() - start)


@pytest.fixture(scope="session")
def converted_uint8(trained_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Converted:
    """The same trial, int8 only, with a uint8 input (``--uint8-io``): same eval and calibration images."""
    out = tmp_path_factory.mktemp("uint8") / "tflite-uint8"
    start = time.monotonic()
    proc = run_cli("--study", str(trained_study), "--out", str(out), "--variants", "int8", "--uint8-io",
                   "--eval-count", "16", "--representative-count", "8", "--latency-runs", "3", "--threads", "2")
    return Converted(trained_study, out, proc, time.monotonic() - start)
