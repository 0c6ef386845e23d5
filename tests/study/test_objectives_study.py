"""A multi-objective study (--objectives map,latency) on the real OD API and TFLite converter,
then ``tflite.convert --trial N`` on a member of its Pareto front.

Space {64, 128} px: the study costs both architectures itself (the real export, conversion and
timing, :func:`tuner.deploy.measure_cost`), trains every trial to its end (no pruning: Optuna
cannot prune a multi-objective study), returns (mAP, latency) and prints its front. The 64 px
model is the front's fastest member (a quarter of the pixels); it is converted after training
and its int8 file must be the size the pre-training cost said (within 1 %: the weights change,
the graph does not). Latency is not asserted here (timing belongs in benchmarks); the closing
notes and docs/benchmarks.md give the measured agreement. Decisions and edge cases: test_objectives.py.
"""
from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pytest
from optuna.study import StudyDirection
from optuna.trial import TrialState

from studyhelpers import run_study
from tuner.runinfo import Attr
from tuner.study.objectives import pareto_front

SPACE = "params:\n  size:\n    knob: input_size\n    choices: [64, 128]\n"
#: With --sampler random --seed 1 the space gives trial 1 128 px and trial 2 64 px (as in test_budget_study.py).
SEED = "1"


def test_a_map_latency_study_trains_every_trial_and_converts_a_front_member(tmp_path, small_base) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    run_dir = tmp_path / "run"
    result = run_study("--base", str(small_base), "--space", str(space), "--steps", "10",
                       "--n-trials", "3", "--sampler", "random", "--seed", SEED, "--no-fit-anchors",
                       "--objectives", "map,latency", "--study-name", "mo", "--run-dir", str(run_dir), timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    study = optuna.load_study(study_name="mo", storage=f"sqlite:///{run_dir / 'study.db'}")
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    assert study.metric_names == ["mAP", "latency ms"]
    trials = study.get_trials()
    assert [t.params.get("size") for t in trials] == [128, 128, 64]  # the baseline recorded at its own size
    for t in trials:
        assert t.state is TrialState.COMPLETE and t.user_attrs[Attr.STEPS] == 10  # none pruned
        assert t.values[1] == t.user_attrs[Attr.TFLITE_LATENCY_MS] and t.intermediate_values == {}
    assert trials[0].user_attrs[Attr.ARCH] == trials[1].user_attrs[Attr.ARCH] != trials[2].user_attrs[Attr.ARCH]
    assert trials[2].values[1] < trials[0].values[1]  # a quarter of the pixels
    front = pareto_front(trials, study.directions)
    assert trials[2] in front  # nothing is faster
    out = result.stdout
    assert "pruning is off: Optuna cannot prune a multi-objective study" in out
    assert "Pareto front (" in out and f"--study {run_dir} --trial N" in out

    small = trials[2]
    out_dir = tmp_path / "tflite"
    converted = subprocess.run(
        [sys.executable, "-m", "tflite.convert", "--study", str(run_dir), "--trial", str(small.number), "--variants",
         "int8", "--eval-count", "4", "--representative-count", "8", "--latency-runs", "20", "--out", str(out_dir)],
        capture_output=True, text=True, timeout=900)
    assert converted.returncode == 0, converted.stdout[-3000:] + converted.stderr[-3000:]
    report = json.loads((out_dir / "report.json").read_text())
    assert report["trial"] == small.number
    int8 = next(row for row in report["rows"] if row["variant"] == "int8")
    assert int8["size_bytes"] / 1024 == pytest.approx(small.user_attrs[Attr.TFLITE_SIZE_KB], rel=0.01)
    print(f"64 px int8: size {int8['size_bytes'] / 1024:.1f} KB trained vs {small.user_attrs[Attr.TFLITE_SIZE_KB]} KB "
          f"costed; latency {int8['latency_median_ms']:.2f} ms trained vs {small.values[1]:.2f} ms costed")
