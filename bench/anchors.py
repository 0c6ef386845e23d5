"""Do fitted anchors train better detectors? And how fast is the fit? Printed as tables.

Part 1 (``fit speed``): the anchor fit on ``--fit-boxes`` boxes (default 50,000, drawn like the
shapes data: log-uniform sizes, every shape's aspect-ratio range) for the demo model's feature
maps; prints the wall time and the coverage before/after.

Part 2 (``trials``): for each ``--data-seeds`` seed, a generated shapes dataset the defaults were
not chosen on (``--classes``, default thin bars ``rod`` (about 1:6) and ``stick`` (6:1) beside
circles and squares, objects ``--min-object``..``--max-object`` of the image side) and one study run
exactly as a user would::

    python -m tuner.study --base ssd_mobilenet_v2_shapes --train-data ... --fine-tune-checkpoint \\
        pipelines/checkpoints/shapes_pretrained/ckpt --n-trials 2 --steps 300 --pruner none --fit-anchors

so trial 0 trains the base anchors and trial 1 the fitted ones (the default, grid objective), with
everything else equal. A third run per seed trains the anchors of the shape objective
(``python -m tuner.anchors fit --objective shape`` on trial 0's config, then ``python -m
tuner.trial``), so the two objectives are compared on the same data and budget. The table gives
per seed the shape and grid coverage of each, the mAPs, the lifts over the base, steps and wall
time; then the median lifts and how many seeds each fit won. Each study's output goes to
``OUT/seed-S.log``; running the bench again resumes (nothing finished is redone).

Usage::

    .venv/bin/python bench/anchors.py [--data-seeds 21,22,23] [--steps 300] [--eval-every 150] \\
        [--classes rod,stick,circle,square] [--min-object 0.08] [--max-object 0.45] [--out runs/bench-anchors] \\
        [--fit-only] [--quick]

``--quick``: one seed, 3 runs of 20 steps on a 64-image dataset, 5,000 fit boxes (a smoke run).
``--fit-only``: part 1 only (no training; the bench test runs it).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tuner.data import shapes  # noqa: E402
from tuner.cli import text_table  # noqa: E402

CHECKPOINT = REPO / "pipelines" / "checkpoints" / "shapes_pretrained" / "ckpt"
BASE = "ssd_mobilenet_v2_shapes"


def synthetic_boxes(n: int, frame: int, seed: int) -> Any:
    """(n, 2) box heights and widths in pixels, drawn like the shapes generator draws objects."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ranges = np.array(list(shapes.SHAPES.values()))[rng.integers(len(shapes.SHAPES), size=n)]
    aspect = np.exp(rng.uniform(np.log(ranges[:, 0]), np.log(ranges[:, 1])))
    scale = np.exp(rng.uniform(np.log(0.05), np.log(0.5), size=n)) * frame
    return np.stack([np.clip(scale / np.sqrt(aspect), 3, frame), np.clip(scale * np.sqrt(aspect), 3, frame)], axis=1)


def fit_speed(n: int) -> list[str]:
    """Fit the demo config's anchors to ``n`` synthetic boxes with each objective; the table lines."""
    import numpy as np

    from tuner import config as cfgmod
    from tuner.anchors import coverage, fit as fitmod
    from tuner.anchors.generators import feature_map_shapes, grid_anchors_by_layer, params_from_config
    from tuner.paths import PIPELINES_DIR

    cfg = cfgmod.load(PIPELINES_DIR / f"{BASE}.config")
    frame = cfg.model.ssd.image_resizer.fixed_shape_resizer.height
    maps = feature_map_shapes(cfg)
    base = params_from_config(cfg)
    box_hw = synthetic_boxes(n, frame, seed=0)
    rng = np.random.default_rng(1)
    top_left = rng.uniform(0, 1, size=(n, 2)) * (frame - box_hw) / frame
    boxes = np.concatenate([top_left, top_left + box_hw / frame], axis=1)
    grid = fitmod.Grid.of(grid_anchors_by_layer(base, maps, (frame, frame)))
    rows = []
    for objective in fitmod.Objective:
        start = time.perf_counter()
        result = fitmod.fit(base, box_hw, maps, (frame, frame), coverage.matched_threshold(cfg), objective=objective,
                            boxes=boxes, grid=grid)
        seconds = time.perf_counter() - start
        b, a = result.before, result.after
        rows.append([str(n), objective.value, f"{seconds:.1f} s", str(result.evaluations),
                     f"{b.shape_coverage:.3f} -> {a.shape_coverage:.3f}", f"{b.grid_coverage:.3f} -> {a.grid_coverage:.3f}",
                     f"{b.mean_best_iou:.3f} -> {a.mean_best_iou:.3f}"])
    return text_table(["boxes", "objective", "fit wall", "candidates", "shape coverage", "grid coverage",
                       "mean best IoU"], rows)


def _trial_row(study: Any, number: int) -> tuple[float | None, dict[str, Any], int, float]:
    trial = next((t for t in study.trials if t.number == number), None)
    if trial is None:
        return None, {}, 0, 0.0
    attrs = trial.user_attrs
    return trial.value, attrs.get("anchor_coverage") or {}, int(attrs.get("steps_trained") or 0), \
        float(attrs.get("wall_seconds") or 0.0)


def run_seed(seed: int, args: argparse.Namespace, out: Path) -> list[Any]:
    """Generate the data of ``seed``, run (or resume) its 2-trial study, return its table row."""
    import optuna

    spec = shapes.DatasetSpec(train=args.train, eval=args.eval, seed=seed, classes=tuple(args.classes.split(",")),
                              min_object=args.min_object, max_object=args.max_object)
    data = shapes.generate(out / f"data-{seed}", spec)
    run_dir = out / f"seed-{seed}"
    cmd = [sys.executable, "-m", "tuner.study", "--base", BASE, "--train-data", str(data.train_record),
           "--eval-data", str(data.eval_record), "--label-map", str(data.label_map),
           "--fine-tune-checkpoint", str(CHECKPOINT), "--n-trials", "2", "--steps", str(args.steps),
           "--eval-every", str(args.eval_every), "--pruner", "none", "--confirm", "0", "--seed", str(seed), "--fit-anchors",
           "--run-dir", str(run_dir), "--study-name", f"anchors-{seed}"]
    log = out / f"seed-{seed}.log"
    print(f"[bench] seed {seed}: study in {run_dir} (output in {log})", flush=True)
    with log.open("a") as fh:
        code = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    if code != 0:
        print(f"[bench] seed {seed}: the study exited {code}; see {log}", flush=True)
    study = optuna.load_study(study_name=f"anchors-{seed}", storage=f"sqlite:///{run_dir / 'study.db'}")
    return [seed, _trial_row(study, 0), _trial_row(study, 1), shape_fit_run(seed, args, out, run_dir)]


def shape_fit_run(seed: int, args: argparse.Namespace, out: Path, run_dir: Path) -> tuple[Any, ...]:
    """Train trial 0's config with the anchors of the shape objective (resumed if done)."""
    from tuner import config as cfgmod
    from tuner.anchors import analysis
    from tuner.anchors.fit import Objective

    trial_dir = out / f"seed-{seed}-shape"
    result = trial_dir / "result.json"
    base_config = run_dir / "trial-0000" / "pipeline.config"
    if not base_config.is_file():
        return None, {}, 0, 0.0
    from tuner import tfquiet

    cfg = cfgmod.load(base_config)
    with tfquiet.quietly():
        sub = analysis.subject(cfg)
        fitted = analysis.fit(cfg, sub, seed=seed, objective=Objective.SHAPE)
    coverage = {"shape_coverage": fitted.after.shape_coverage, "grid_coverage": fitted.after.grid_coverage}
    if not result.is_file():
        config = out / f"seed-{seed}-shape.config"
        cfgmod.save(analysis.fitted_config(cfg, fitted.params), config)
        with (out / f"seed-{seed}-shape.log").open("a") as fh:
            subprocess.call([sys.executable, "-m", "tuner.trial", "--config", str(config), "--steps", str(args.steps),
                             "--eval-every", str(args.eval_every), "--out", str(trial_dir)],
                            stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        done = json.loads(result.read_text())
    except (OSError, ValueError):
        return None, coverage, 0, 0.0
    best = (done.get("best") or {}).get("metrics", {}).get("DetectionBoxes_Precision/mAP")
    return best, coverage, int(done.get("steps_trained") or 0), float(done.get("wall_seconds") or 0.0)


def _cov(c: dict[str, Any]) -> str:
    return f"{c.get('shape_coverage', float('nan')):.2f} / {c.get('grid_coverage', float('nan')):.2f}"


def _map(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _lift(run: tuple[Any, ...], base: tuple[Any, ...]) -> str:
    return "-" if run[0] is None or base[0] is None else f"{run[0] - base[0]:+.4f}"


def trials_table(rows: list[Any]) -> list[str]:
    """Per seed: coverage (shape / grid) and mAP of the base, the grid fit and the shape fit."""
    lines = text_table(
        ["data seed", "base shape/grid", "base mAP", "grid fit shape/grid", "grid fit mAP", "lift",
         "shape fit shape/grid", "shape fit mAP", "lift", "steps", "wall"],
        [[str(seed), _cov(b[1]), _map(b[0]), _cov(g[1]), _map(g[0]), _lift(g, b), _cov(s[1]), _map(s[0]),
          _lift(s, b), f"{b[2]} + {g[2]} + {s[2]}", f"{(b[3] + g[3] + s[3]) / 60:.1f} min"]
         for seed, b, g, s in rows])
    for label, index in (("grid fit (the default)", 2), ("shape fit", 3)):
        lifts = [r[index][0] - r[1][0] for r in rows if r[1][0] is not None and r[index][0] is not None]
        if lifts:
            lines.append(f"{label}: median lift {statistics.median(lifts):+.4f} over {len(lifts)} seeds, won "
                         f"{sum(x > 0 for x in lifts)} of {len(lifts)}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-seeds", default="21,22,23")
    p.add_argument("--classes", default="rod,stick,circle,square")
    p.add_argument("--min-object", type=float, default=0.08)
    p.add_argument("--max-object", type=float, default=0.45)
    p.add_argument("--train", type=int, default=512)
    p.add_argument("--eval", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=150)
    p.add_argument("--fit-boxes", type=int, default=50000)
    p.add_argument("--out", default=str(REPO / "runs" / "bench-anchors"))
    p.add_argument("--fit-only", action="store_true", help="only part 1 (no training)")
    p.add_argument("--quick", action="store_true", help="smoke scale for tests")
    p.add_argument("--json", action="store_true", help="also print the rows as one JSON line")
    args = p.parse_args(argv)
    if args.quick:
        args.data_seeds, args.train, args.eval, args.steps, args.eval_every, args.fit_boxes = "21", 64, 16, 20, 10, 5000
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from tuner import tfquiet

    print(f"fit speed ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)")
    with tfquiet.quietly():
        print("\n".join(fit_speed(args.fit_boxes)), flush=True)
    if args.fit_only:
        return 0
    rows = [run_seed(int(s), args, out) for s in args.data_seeds.split(",")]
    print(f"\nbase vs fitted anchors, {args.steps} steps each, fine-tuned from {CHECKPOINT.relative_to(REPO)}")
    print("\n".join(trials_table(rows)))
    if args.json:
        print(json.dumps([{"seed": seed, "base": b[0], "grid_fit": g[0], "shape_fit": s[0], "base_coverage": b[1],
                           "grid_fit_coverage": g[1], "shape_fit_coverage": s[1]} for seed, b, g, s in rows]))
    return 0 if all(r[i][0] is not None for r in rows for i in (1, 2, 3)) else 1


if __name__ == "__main__":
    sys.exit(main())
