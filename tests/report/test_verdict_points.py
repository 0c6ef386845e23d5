"""Operating points: the thresholds written to ``operating_points.json`` meet the target on the data they came from.

Precision at a threshold is measured independently of ``tuner.report.matching``: the detections
with ``score >= threshold`` are run through pycocotools' ``COCOeval`` at IoU .5 and its own
per-detection matches (``evalImgs[...]["dtMatches"]``) are counted. Pure and fast.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from verdicthelpers import synthetic_images

from tuner.report import judge, matching, operating
from tuner.report.detections import Category, ImageResult

CATEGORIES = (Category(1, "circle"), Category(2, "square"), Category(3, "triangle"), Category(4, "absent"))


def _kept(images: list[ImageResult], thresholds: dict[int, float]) -> list[ImageResult]:
    out = []
    for im in images:
        keep = np.array([s >= thresholds.get(int(c), np.inf) for s, c in zip(im.scores, im.classes)], bool)
        out.append(ImageResult(im.width, im.height, im.gt_boxes, im.gt_classes, im.boxes[keep], im.scores[keep],
                               im.classes[keep]))
    return out


def _measured(images: list[ImageResult], class_id: int, threshold: float) -> tuple[float, float]:
    """(precision, recall) at IoU .5 of the class's detections with score >= threshold, by COCOeval's matcher."""
    from pycocotools.cocoeval import COCOeval

    from tuner.report.coco import _coco, coco_datasets

    dataset, dets = coco_datasets(_kept(images, {class_id: threshold}), CATEGORIES)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = _coco(dataset)
        dt = gt.loadRes(dets) if dets else _coco({**dataset, "annotations": []})
        ev = COCOeval(gt, dt, "bbox")
        ev.params.catIds, ev.params.iouThrs = [class_id], np.array([0.5])
        ev.params.areaRng, ev.params.areaRngLbl = [ev.params.areaRng[0]], ["all"]
        ev.evaluate()
    entries = [e for e in ev.evalImgs if e is not None]
    tp = sum(int(np.sum(e["dtMatches"][0] > 0)) for e in entries)
    n_det = sum(len(e["dtIds"]) for e in entries)
    n_gt = sum(int(np.sum(images_gt == class_id)) for images_gt in (im.gt_classes for im in images))
    return (tp / n_det if n_det else 0.0), tp / n_gt


def _points(images: list[ImageResult], target: float | None) -> list[operating.OperatingPoint]:
    return [operating.choose(matching.pr_curve(matching.match_class(images, c.id)), c, target) for c in CATEGORIES]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("target", [0.5, 0.75, 0.9])
def test_thresholds_meet_the_target_precision_on_their_data(tmp_path: Path, seed: int, target: float) -> None:
    images = synthetic_images(seed, n_images=20)
    path = tmp_path / "operating_points.json"
    operating.write(_points(images, target), path)
    written = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    thresholds = operating.load_thresholds(path)
    met = 0
    for c in CATEGORIES:
        entry = written[c.name]
        assert set(entry) >= {"threshold", "precision", "recall", "f1"}
        if thresholds[c.name] is None:
            assert entry["note"]
            continue
        met += 1
        precision, recall = _measured(images, c.id, thresholds[c.name])
        assert precision >= target, (c, entry)
        assert precision == pytest.approx(entry["precision"]) and recall == pytest.approx(entry["recall"])
        # the lowest such threshold: every lower score of the class misses the target
        scores = np.unique(np.concatenate([im.scores[im.classes == c.id] for im in images]))
        for lower in scores[scores < thresholds[c.name]]:
            assert _measured(images, c.id, float(lower))[0] < target, (c, lower)
    assert met >= 1  # the fixture reaches the target for some class
    assert written["absent"]["threshold"] is None and "no ground truth" in written["absent"]["note"]


@pytest.mark.parametrize("seed", [0, 5])
def test_without_target_the_threshold_maximizes_f1(seed: int) -> None:
    images = synthetic_images(seed, n_images=20)
    for point in _points(images, None):
        if point.threshold is None:
            continue
        scores = np.unique(np.concatenate([im.scores[im.classes == point.category.id] for im in images]))
        f1s = []
        for s in scores:
            p, r = _measured(images, point.category.id, float(s))
            f1s.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
        assert point.f1 == pytest.approx(max(f1s))
        assert point.rule is operating.Rule.MAX_F1


def test_unreachable_target_gives_no_threshold_and_says_why() -> None:
    gt = np.array([[0, 0, 10, 10], [0, 20, 10, 30]], float)
    image = ImageResult(40, 40, gt, [1, 1], np.array([[20, 20, 30, 30], [0, 0, 10, 10]], float), [0.9, 0.8], [1, 1])
    curve = matching.pr_curve(matching.match_class([image], 1))  # FP first, then TP: precision 0, then 0.5
    point = operating.choose(curve, Category(1, "a"), 0.9)
    assert point.threshold is None and point.precision is None
    assert "no threshold reaches precision 0.9 (best 0.500 at threshold 0.800" in point.note
    reachable = operating.choose(curve, Category(1, "a"), 0.5)
    assert (reachable.threshold, reachable.precision, reachable.recall) == (0.8, 0.5, 0.5)


def test_no_detections_and_no_true_positive() -> None:
    gt = np.array([[0, 0, 10, 10]], float)
    empty = ImageResult(40, 40, gt, [1], np.zeros((0, 4)), [], [])
    point = operating.choose(matching.pr_curve(matching.match_class([empty], 1)), Category(1, "a"))
    assert point.threshold is None and point.note == "no detections of this class"
    wrong = ImageResult(40, 40, gt, [1], np.array([[20, 20, 30, 30]], float), [0.7], [1])
    point = operating.choose(matching.pr_curve(matching.match_class([wrong], 1)), Category(1, "a"))
    assert point.threshold is None and point.note == "no true positive at any threshold"


def test_target_out_of_range_is_refused() -> None:
    curve = matching.pr_curve(matching.ClassMatches(1, np.zeros(0), np.zeros(0, bool), 0))
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"target precision must be in \(0, 1\]"):
            operating.choose(curve, Category(1, "a"), bad)


def test_shared_class_names_get_distinct_keys(tmp_path: Path) -> None:
    cats = (Category(1, "box"), Category(2, "box"), Category(3, "ball"))
    assert operating.keys(cats) == {1: "box_1", 2: "box_2", 3: "ball"}


def test_load_thresholds_refuses_another_file(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps({"study": "s", "models": []}))
    with pytest.raises(ValueError, match="not an operating_points.json"):
        operating.load_thresholds(path)


def test_judge_writes_one_models_files(tmp_path: Path) -> None:
    images = synthetic_images(0)
    judged = judge.judge("fp32", "model_fp32.tflite", images, CATEGORIES, 0.75)
    pictures = [(i, np.full((200, 200, 3), 90, np.uint8)) for i in judge.shown_indices(len(images), 3)]
    judged = judge.write_files(judged, CATEGORIES, tmp_path, "test", pictures)
    assert judged.verdict.files == {"operating_points": "fp32_operating_points.json",
                                    "pr_curves": "fp32_pr_curves.png", "images": "fp32_images.png"}
    for name in judged.verdict.files.values():
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "fp32_pr_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    by_name = {c.category.name: c for c in judged.verdict.classes}
    assert (by_name["circle"].images, by_name["absent"].boxes) == (sum(1 in im.gt_classes for im in images), 0)
    assert judge.shown_indices(16, 4) == [0, 5, 10, 15] and judge.shown_indices(2, 4) == [0, 1]
    assert judge.shown_indices(5, 0) == []
