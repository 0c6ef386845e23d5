"""The held-out test split: the chosen model and the baseline evaluated once on ``--test-data``.

The study selects on its eval split (every evaluation, the pruner, the sampler and the pick read
it), so the eval mAP of the pick is biased upward. ``--test-data RECORDS`` names records the
selection never sees: when the study ends, the chosen run's best checkpoint (the confirmed pick's
best run, else the best single run) and the baseline's are evaluated once on them, with the OD
API's own COCO evaluator (:func:`tflite.measure.coco_accuracy` on the checkpoint model), and the
summary shows eval (selection) and test mAP side by side.

Each evaluation runs as ``python -m tuner.study.holdout`` in a subprocess (TensorFlow's output goes
to ``<trial dir>/logs/test_eval.log``), written to ``<trial dir>/test_eval.json`` and stored on the
study (:data:`StudyAttr.TEST_METRICS`: ``{trial number: {records, metrics}}``; a finished trial's
own attributes cannot change): a resumed study does not evaluate a trial twice on the same records.
The subprocess also writes every test image's ground truth and detections
(``<trial dir>/test_detections.json``), so the lift on test gets its own interval: a paired
bootstrap over the test images (:func:`test_lift`: the same resampled images scored by both models
with pycocotools' own matching and accumulation, :class:`tuner.report.coco.Resampled`;
:data:`tuner.study.verdict.BOOTSTRAP_RESAMPLES` seeded resamples), which shows
the evaluation set's noise apart from the training noise of the confirmation's interval. It is
stored on the study as :data:`StudyAttr.TEST_LIFT`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.config.errors import ConfigError
from tuner.config.records import expand_input_paths
from tuner.runinfo import Attr, StudyAttr, map_value, trial_dir_name
from tuner.study.confirm import is_repeat
from tuner.study.verdict import BOOTSTRAP_RESAMPLES, Interval, paired_bootstrap, words
from tuner.trial import CONFIG_FILE, LOG_DIR, MODEL_DIR

MAP = "DetectionBoxes_Precision/mAP"
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
LOG_FILE = "test_eval.log"
RESULT_FILE = "test_eval.json"
DETECTIONS_FILE = "test_detections.json"


class HoldoutError(ValueError):
    """``--test-data`` names no readable records, or records the study selects on."""


def check_test_data(pattern: str, train_data: str, eval_data: str) -> list[str]:
    """The test records of ``pattern`` (a path or glob; comma-separated patterns allowed).

    Raises:
        HoldoutError: no such file, a remote path, or a file that is also training or eval data.
    """
    paths: list[str] = []
    for part in (p.strip() for p in pattern.split(",") if p.strip()):
        try:
            found = expand_input_paths(part)
        except ConfigError as exc:
            raise HoldoutError(f"--test-data {part}: {exc}") from None
        if not found:
            raise HoldoutError(f"--test-data {part}: no such file; give the held-out TFRecord(s) (a path or a glob)")
        paths += found
    used = {str(Path(p).resolve()) for data in (train_data, eval_data) for part in data.split(",") if part
            for p in _expand_quietly(part)}
    shared = [p for p in paths if str(Path(p).resolve()) in used]
    if shared:
        raise HoldoutError(f"--test-data {shared[0]} is also the study's training or eval data; a test split must be "
                           "records the selection never reads (python -m tuner.data convert --split ... makes one)")
    return paths


def _expand_quietly(pattern: str) -> list[str]:
    try:
        return expand_input_paths(pattern)
    except ConfigError:
        return []


@dataclasses.dataclass(frozen=True)
class HeldOutResult:
    """One trial's checkpoint evaluated on the test split."""

    number: int
    role: str            # "pick" or "baseline"
    eval_map: float      # its best eval mAP (what the selection read)
    test_map: float
    test_map50: float
    images: int
    detections: Path = Path()  # every test image's ground truth and detections (DETECTIONS_FILE)


def evaluate(trial: FrozenTrial, run_dir: Path, records: list[str], label_map: str, timeout: float = 1800) -> dict:
    """Evaluate ``trial``'s best checkpoint on ``records`` in a subprocess; the metrics dict.

    Raises:
        RuntimeError: the evaluation failed (the log file is named).
    """
    trial_dir = _trial_dir(trial, run_dir)
    checkpoint = trial_dir / MODEL_DIR / str(trial.user_attrs[Attr.BEST_CHECKPOINT])
    (trial_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
    log, out = trial_dir / LOG_DIR / LOG_FILE, trial_dir / RESULT_FILE
    cmd = [sys.executable, "-m", "tuner.study.holdout", "--config", str(trial_dir / CONFIG_FILE), "--checkpoint",
           str(checkpoint), "--label-map", label_map, "--out", str(out), *records]
    with log.open("w") as fh:
        code = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout).returncode
    if code != 0 or not out.is_file():
        raise RuntimeError(f"the test evaluation of trial {trial.number} failed (exit {code}); see {log}")
    return json.loads(out.read_text())


def chosen(study: optuna.Study) -> FrozenTrial | None:
    """The trial whose checkpoint the study hands back: the confirmed pick's best run, else the
    best completed search trial."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    pick = (study.user_attrs.get(StudyAttr.CONFIRMED_PICK) or {}).get("best_run")
    if pick in trials:
        return trials[pick]
    done = [t for t in trials.values() if t.state is TrialState.COMPLETE and t.values
            and not is_repeat(t) and t.user_attrs.get(Attr.BEST_CHECKPOINT)]
    return max(done, key=lambda t: (map_value(t) or 0.0, -t.number)) if done else None


def _baseline(study: optuna.Study) -> FrozenTrial | None:
    found = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
             if t.user_attrs.get(Attr.BASELINE) and not is_repeat(t)
             and t.user_attrs.get(Attr.BEST_CHECKPOINT)]
    return found[-1] if found else None


def run(study: optuna.Study, run_dir: Path, records: list[str], label_map: str) -> list[HeldOutResult]:
    """Evaluate the chosen trial and the baseline on ``records`` (each once per set of records)."""
    results = []
    targets = [("pick", chosen(study)), ("baseline", _baseline(study))]
    seen: set[int] = set()
    for role, trial in targets:
        if trial is None or trial.number in seen:
            continue
        seen.add(trial.number)
        stored = (study.user_attrs.get(StudyAttr.TEST_METRICS) or {}).get(str(trial.number)) or {}
        if stored.get("records") != records:
            metrics = evaluate(trial, run_dir, records, label_map)
            stored = {"records": records, "metrics": metrics}
            # a finished trial's attributes cannot change (Optuna raises UpdateFinishedTrialError): kept on the study
            study.set_user_attr(StudyAttr.TEST_METRICS, {**(study.user_attrs.get(StudyAttr.TEST_METRICS) or {}),
                                                          str(trial.number): stored})
        metrics = stored["metrics"]
        value = map_value(trial)
        selected = math.nan if value is None else value
        results.append(HeldOutResult(trial.number, role, selected, float(metrics[MAP]),
                                     float(metrics.get(MAP50, math.nan)), int(metrics.get("images", 0)),
                                     _trial_dir(trial, run_dir) / DETECTIONS_FILE))
    return results


def _trial_dir(trial: FrozenTrial, run_dir: Path) -> Path:
    return Path(trial.user_attrs.get(Attr.TRIAL_DIR) or run_dir / trial_dir_name(trial.number))


def load_detections(path: Path) -> tuple[list[Any], list[Any]]:
    """The images (:class:`tuner.report.detections.ImageResult`) and categories a holdout
    evaluation wrote.

    Raises:
        OSError, ValueError, KeyError: the file is missing or not one of ours.
    """
    from tuner.report.detections import Category, ImageResult

    data = json.loads(Path(path).read_text())
    images = [ImageResult(**image) for image in data["images"]]
    return images, list(Category.of(data["categories"]))


def test_lift(results: Sequence[HeldOutResult], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Interval | None:
    """The pick's lift over the baseline on the test images, with a paired-bootstrap interval;
    None without both results or their detection files."""
    from tuner.report import coco

    by_role = {r.role: r for r in results}
    if "pick" not in by_role or "baseline" not in by_role:
        return None
    try:
        pick, categories = load_detections(by_role["pick"].detections)
        base, _ = load_detections(by_role["baseline"].detections)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(pick) != len(base) or len(pick) < 2:
        return None

    pick_map, base_map = coco.Resampled(pick, categories), coco.Resampled(base, categories)

    def score(indices: Any) -> tuple[float, float]:
        return pick_map.map(indices), base_map.map(indices)

    return paired_bootstrap(score, len(pick), resamples=resamples, seed=seed)


def lines(results: Sequence[HeldOutResult], lift: Interval | None = None) -> list[str]:
    """The summary's held-out block: eval (selection) and test mAP side by side, and the lift on
    test with its paired-bootstrap interval when there is one."""
    if not results:
        return []
    out = ["held-out test split (never used for selection): mAP on eval (what selected it) vs on test"]
    for r in results:
        out.append(f"  trial {r.number} ({r.role}): eval {r.eval_map:.4f}, test {r.test_map:.4f} "
                   f"(test mAP@.50 {r.test_map50:.4f}, {r.images} images)")
    by_role = {r.role: r for r in results}
    if "pick" in by_role and "baseline" in by_role:
        on_eval = f"{100 * (by_role['pick'].eval_map - by_role['baseline'].eval_map):+.1f} pts"
        if lift is not None:
            out.append(f"  lift on test: {words(lift, None)} (the selecting eval runs read {on_eval})")
        else:
            diff = by_role["pick"].test_map - by_role["baseline"].test_map
            out.append(f"  lift on test: {100 * diff:+.1f} pts (no interval: the detections were not kept; on eval: "
                       f"{on_eval})")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tuner.study.holdout``: one checkpoint's COCO metrics on some records, as JSON."""
    p = argparse.ArgumentParser(prog="python -m tuner.study.holdout")
    p.add_argument("--config", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--label-map", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("records", nargs="+")
    args = p.parse_args(argv)
    import tuner.odapi  # noqa: F401  (the compat shims, before any OD API decoder or model code)
    from tflite import measure, records as recordsmod
    from tflite.model import CheckpointModel, load_config
    from tuner import atomic

    from tuner.report.detections import ImageResult

    cfg = load_config(args.config)
    model = CheckpointModel(cfg, args.checkpoint, args.config)
    examples = recordsmod.load_examples(list(args.records), 0, "test")
    categories = recordsmod.categories(args.label_map)
    images: list[dict] = []

    def detect(example: Any) -> Any:
        boxes, scores, classes = model.detect(example.image)
        image = ImageResult.from_normalized(example.width, example.height, example.boxes, example.classes, boxes,
                                            scores, classes)
        images.append({"width": image.width, "height": image.height, "gt_boxes": image.gt_boxes.tolist(),
                       "gt_classes": image.gt_classes.tolist(), "boxes": image.boxes.tolist(),
                       "scores": image.scores.tolist(), "classes": image.classes.tolist()})
        return boxes, scores, classes

    accuracy = measure.coco_accuracy(detect, examples, categories)
    atomic.write_json(Path(args.out).with_name(DETECTIONS_FILE), {"images": images, "categories": categories})
    atomic.write_json(args.out, {**accuracy.metrics, "images": accuracy.images})
    return 0


if __name__ == "__main__":
    sys.exit(main())
