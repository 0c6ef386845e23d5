"""The on-disk contract of a study run directory (read by ``tflite.convert`` and notebooks).

Layout of ``<run dir>`` (one per study)::

    study.json            RunInfo: study name, storage URL, base config, data, budget, space hash
    study.log             tracebacks of unexpected errors (the CLI prints one line and points here)
    study.db              the default SQLite Optuna storage (absent when --storage is given)
    base.config           the base config as trained by trial 0 (data paths resolved)
    trial-0000/ ...       one directory per Optuna trial number (see tuner.trial)

Each Optuna trial carries these user attributes (keys in :class:`Attr`): the trial directory,
its training seed, the best step, its checkpoint, all COCO metrics at the best step, the config
diff against the base, and for failures the failure class and reason.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tuner import atomic
from tuner.trial.spec import every_multiple

RUN_INFO_FILE = "study.json"
BASE_CONFIG_FILE = "base.config"
SQLITE_FILE = "study.db"
LOG_FILE = "study.log"


class Attr:
    """Optuna user-attribute keys written for every trial."""

    TRIAL_DIR = "trial_dir"
    BASELINE = "baseline"            # True on trial 0, the unmodified base config
    BEST_STEP = "best_step"
    BEST_CHECKPOINT = "best_checkpoint"
    METRICS = "metrics"              # {COCO tag: value} at the best step
    DIFF = "diff"                    # [[path, old, new], ...] against base.config
    FAILURE = "failure_class"        # a tuner.outcome.FailureClass value (interrupted/orphaned/duplicate included)
    REASON = "reason"
    WORKER = "worker"                # "host:pid" of the process that ran it
    DEVICE = "device"                # CUDA_VISIBLE_DEVICES given to it ("" = inherited)
    RETRY_OF = "retry_of"            # number of the orphaned trial this one re-runs
    SEED = "train_seed"              # the trainer's seed: tuner.study.seeds.trial_seed(--seed, number)
    STEPS = "steps_trained"          # training steps the trial ran (fewer than --steps when pruned or failed)
    WALL_SECONDS = "wall_seconds"    # wall time of the trial's OD API processes, start to end
    FITTED_ANCHORS = "fitted_anchors"  # True on the trial that runs the base config with fitted anchors
    ANCHOR_COVERAGE = "anchor_coverage"  # {shape_coverage, grid_coverage, mean_best_iou} of its anchors
    REPEAT_OF = "repeat_of"          # number of the leader this confirmation repeat trains again (new seed)
    ARCH = "arch_hash"               # tuner.deploy.arch.arch_hash of its config (costed trials only)
    TFLITE_SIZE_KB = "tflite_size_kb"        # size of its architecture as the deploy variant (before training)
    TFLITE_LATENCY_MS = "tflite_latency_ms"  # median latency of that model at the budget's threads
    INFEASIBLE = "infeasible"        # why it is over the deployment budget (it ended without training)


class StudyAttr:
    """Optuna study user-attribute keys (written at the end of every run of the study)."""

    CONFIRMED_PICK = "confirmed_pick"  # tuner.study.confirm.Confirmation.to_json(): the leaders' runs, the pick
    BASELINE_NOISE = "baseline_noise"  # tuner.study.verdict.Noise: {sd, df, configs, leaders: {trial: fresh mAPs}}
    TEST_METRICS = "test_metrics"      # {trial number: {records, metrics}} on --test-data (tuner.study.holdout)
    TEST_LIFT = "test_lift"            # tuner.study.verdict.Interval.to_json() + verdict: the lift on test images


def trial_dir_name(number: int) -> str:
    return f"trial-{number:04d}"


def map_value(trial: Any) -> float | None:
    """A finished trial's mAP: its objective value, the first of its values in a multi-objective
    study (``--objectives map,latency``: mAP, then latency; Optuna's ``trial.value`` refuses a
    multi-objective trial). ``None`` for a trial without values (pruned, failed, running)."""
    values = trial.values
    return None if not values else float(values[0])


def sqlite_url(run_dir: str | Path) -> str:
    return f"sqlite:///{(Path(run_dir) / SQLITE_FILE).resolve()}"


def sqlite_path(url: str) -> str | None:
    """The database path of a ``sqlite:///PATH[?query]`` URL (may be ``:memory:``), else ``None``."""
    if not url.startswith("sqlite:///"):
        return None
    return url[len("sqlite:///"):].split("?", 1)[0]


def is_run_dir_sqlite(url: str) -> bool:
    """Whether ``url`` is the default storage of some run directory (``sqlite:///.../study.db``)."""
    path = sqlite_path(url)
    return path is not None and path.endswith(f"/{SQLITE_FILE}")


class RunInfoError(ValueError):
    """``study.json`` exists but cannot be read (not JSON, or fields missing)."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a run directory holds a study of."""

    study_name: str
    storage: str
    base: str                  # the user's --base as resolved to a file
    train_data: str
    eval_data: str
    label_map: str
    steps: int
    eval_every: int
    objective: str
    space: str = ""            # the search-space file (absolute path) ...
    space_sha256: str = ""     # ... and the SHA-256 of its content ("" in run dirs of older versions)
    eval_steps: tuple[int, ...] = ()  # the evaluated steps (() in run dirs of older versions: every eval_every-th)

    def evaluated_steps(self) -> tuple[int, ...]:
        """The steps the study's trials evaluate."""
        return tuple(self.eval_steps) or every_multiple(self.steps, self.eval_every)

    def save(self, run_dir: str | Path) -> None:
        atomic.write_json(Path(run_dir) / RUN_INFO_FILE, dataclasses.asdict(self))

    @classmethod
    def load(cls, run_dir: str | Path) -> RunInfo:
        """Read ``<run_dir>/study.json`` (fields added later take their defaults).

        Raises:
            FileNotFoundError: ``run_dir`` holds no study.
            RunInfoError: the file is unreadable, not JSON, or lacks a required field.
        """
        path = Path(run_dir) / RUN_INFO_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} is not a study run directory (no {RUN_INFO_FILE})")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunInfoError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
        if not isinstance(data, dict):
            raise RunInfoError(f"{path}: expected a JSON object")
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise RunInfoError(f"{path}: missing field {missing[0]!r}")
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        if "eval_steps" in values:
            values["eval_steps"] = tuple(values["eval_steps"])
        return cls(**values)
