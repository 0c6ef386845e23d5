"""Helpers for the report tests (imported by name; pytest puts this folder on sys.path).

* :func:`make_run_dir` (from :mod:`tuner.testing.studies`): a run directory holding a real Optuna
  study over existing trial directories, as ``tests/tflite/conftest.py`` uses it.
* :func:`synthetic_images`: seeded images of ground truth and noisy detections for the pure tests.
* :func:`run_report`: ``python -m tuner.report`` in a subprocess.
* :func:`dashboard`: optuna-dashboard's WSGI app on a local port, and :func:`dashboard_trial_artifacts`
  to read a trial's artifact list through its HTTP API.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from dashboardhelpers import dashboard, http_get
from tuner.testing.studies import MAP
from tuner.testing.studies import TrialEntry as Entry
from tuner.testing.studies import make_run_dir

REPO = Path(__file__).resolve().parents[2]
__all__ = ["MAP", "REPO", "Entry", "make_run_dir", "synthetic_images", "run_module", "run_report", "dashboard",
           "dashboard_trial_artifacts", "http_get", "cli_env"]


def synthetic_images(seed: int = 0, n_images: int = 12, classes: tuple[int, ...] = (1, 2, 3), size: int = 200,
                     ) -> list[Any]:
    """Seeded :class:`tuner.report.detections.ImageResult` list: 1-4 objects per image; per object a
    jittered true detection (sometimes missed, sometimes with the wrong class), plus false positives and
    duplicates; scores loosely tied to quality, with some exact ties. Class 3 is rare; every image has
    at least one box."""
    from tuner.report.detections import ImageResult

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_images):
        n = int(rng.integers(1, 5))
        gt, gc, boxes, scores, dc = [], [], [], [], []
        for _ in range(n):
            h, w = rng.uniform(10, 90, 2)
            y, x = rng.uniform(0, size - h), rng.uniform(0, size - w)
            cls = int(rng.choice(classes, p=[0.5, 0.4, 0.1][:len(classes)] if len(classes) == 3 else None))
            gt.append([y, x, y + h, x + w])
            gc.append(cls)
            if rng.random() < 0.8:  # detected
                jitter = rng.normal(0, 0.15, 4) * [h, w, h, w]
                boxes.append(np.array([y, x, y + h, x + w]) + jitter)
                scores.append(float(np.clip(0.9 - np.abs(jitter).mean() / 40 + rng.normal(0, 0.1), 0.05, 0.99)))
                dc.append(cls if rng.random() < 0.85 else int(rng.choice(classes)))
            if rng.random() < 0.2:  # duplicate
                boxes.append(np.array([y, x, y + h, x + w]) + rng.normal(0, 3, 4))
                scores.append(float(rng.uniform(0.1, 0.6)))
                dc.append(cls)
        for _ in range(int(rng.integers(0, 3))):  # false positives
            h, w = rng.uniform(10, 60, 2)
            y, x = rng.uniform(0, size - h), rng.uniform(0, size - w)
            boxes.append(np.array([y, x, y + h, x + w]))
            scores.append(float(rng.uniform(0.05, 0.8)))
            dc.append(int(rng.choice(classes)))
        if len(scores) >= 2 and rng.random() < 0.3:
            scores[-1] = scores[0]  # an exact tie
        out.append(ImageResult(size, size, np.array(gt), np.array(gc), np.array(boxes).reshape(-1, 4),
                               np.round(np.array(scores), 3), np.array(dc)))
    return out


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_module(module: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=cli_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def run_report(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m tuner.report ARGS`` in a subprocess."""
    return run_module("tuner.report", *args, timeout=timeout)


def dashboard_trial_artifacts(base: str, study_name: str, number: int) -> tuple[int, int, list[dict[str, Any]]]:
    """Through the dashboard's HTTP API: ``(study_id, trial_id, artifacts)`` of trial ``number``."""
    status, _, body = http_get(f"{base}/api/studies")
    assert status == 200, body[:200]
    studies = json.loads(body)["study_summaries"]
    study_id = next(s["study_id"] for s in studies if s["study_name"] == study_name)
    status, _, body = http_get(f"{base}/api/studies/{study_id}")
    assert status == 200, body[:200]
    trial = next(t for t in json.loads(body)["trials"] if t["number"] == number)
    return study_id, trial["trial_id"], trial["artifacts"]
