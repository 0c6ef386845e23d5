"""A real study with the default pruning policy: nothing is pruned before the warm-up, and the
compute each trial spent is recorded and summed up.

The baseline fine-tunes from the shared trained trial's checkpoint, so it detects something
from its first evaluation; the one variant raises the NMS score threshold to 1.0, which no
sigmoid score passes (the NMS keeps scores strictly above it), so it detects nothing and reads
mAP 0.0 at every evaluation: hopeless from the start. (At 0.99 a CI machine's fine-tuned model
once passed it, read 0.004 at step 10, and Optuna's median pruner, which compares a trial's best
value so far, then kept it past the warm-up.) With the
default warm-up (half of 40 steps) it must still run to step 20 before it is pruned (evaluated
every 5 steps, so that --pruner auto has the 3 decisions it needs). The
comparison set is lowered to one completed trial (``--prune-min-trials 1``) so that a
two-trial study can prune at all; everything else is the default (``--pruner auto``).
"""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from studyhelpers import run_study
from tuner.runinfo import Attr

HOPELESS_SPACE = """\
params:
  score_threshold:
    path: model.ssd.post_processing.batch_non_max_suppression.score_threshold
    choices: [1.0]
"""


@pytest.fixture(scope="module")
def pruned_study(tmp_path_factory, small_base, trained_trial):
    trial, _seen, outcome = trained_trial
    root = tmp_path_factory.mktemp("pruning")
    space = root / "space.yaml"
    space.write_text(HOPELESS_SPACE)
    run_dir = root / "run"
    done = run_study("--base", str(small_base), "--space", str(space), "--steps", "40", "--eval-every", "5",
                     "--n-trials", "2", "--prune-min-trials", "1", "--study-name", "prune-test", "--no-fit-anchors",
                     "--fine-tune-checkpoint", str(trial.model_dir / outcome.last_checkpoint),
                     "--run-dir", str(run_dir))
    study = optuna.load_study(study_name="prune-test", storage=f"sqlite:///{run_dir / 'study.db'}")
    return done, study


def test_the_hopeless_variant_is_pruned_at_the_warmup_not_before(pruned_study) -> None:
    done, study = pruned_study
    assert done.returncode == 0, done.stderr[-2000:]
    assert ("pruning: median, from step 20 of 40 once 1 trials have completed (decisions at steps 20, 25, 30, 35)"
            in done.stdout)
    baseline, variant = study.get_trials()
    assert baseline.state is TrialState.COMPLETE and baseline.intermediate_values[20] > 0, baseline.intermediate_values
    assert variant.state is TrialState.PRUNED
    # it read 0.0 from step 5 on, below the baseline; the warm-up kept it until step 20
    assert variant.intermediate_values == {5: 0.0, 10: 0.0, 15: 0.0, 20: 0.0}


def test_every_trial_records_its_steps_and_wall_time_and_the_summary_adds_them_up(pruned_study) -> None:
    done, study = pruned_study
    baseline, variant = study.get_trials()
    assert baseline.user_attrs[Attr.STEPS] == 40
    # trained at least to its pruning evaluation; the trainer may have run ahead of the evaluator
    # (all 40 steps on a busy machine: then pruning saved nothing, and the summary says so)
    assert 20 <= variant.user_attrs[Attr.STEPS] <= 40
    assert baseline.user_attrs[Attr.WALL_SECONDS] > 0 and variant.user_attrs[Attr.WALL_SECONDS] > 0
    assert "[compute] completed 1 (40 steps, " in done.stdout
    saved = 40 - variant.user_attrs[Attr.STEPS]
    assert f"pruning saved {saved} steps" in done.stdout
    summary = done.stdout[done.stdout.index("compute: "):]
    assert summary.splitlines()[2].split()[:4] == ["pruned", "1", "trials", str(variant.user_attrs[Attr.STEPS])]
