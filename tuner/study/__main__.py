"""``python -m tuner.study --base CONFIG ...``: a measured, resumable search over a pipeline.config.

Exit codes: 0 done; 1 no trial completed, or an unexpected error (one line; the traceback is
in ``<run dir>/study.log``); 2 bad input (nothing was trained or changed; also a base config or
a first sampled variant that the OD API cannot build); 130 interrupted (run the same command
again to resume). With ``--dry-run N``: 0 when every variant builds, 1 when one does not.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Sequence

import optuna

from tuner import tfquiet
from tuner.cli import example, first_line, OneLineParser
from tuner.runinfo import LOG_FILE
from tuner.study.budget import DeployVariant
from tuner.study.confirm import CONFIRM, REPEATS
from tuner.study.objectives import Objectives, ObjectivesError
from tuner.study.pruning import MIN_DECISIONS, PrunerKind
from tuner.study.inputs import SamplerName
from tuner.study import preflight
from tuner.study.inputs import StudyInputError, StudySettings
from tuner.study.plan import StudyPlan, preflight_variants, resolve
from tuner.study.runner import run


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m tuner.study", description=__doc__.splitlines()[0],
                      epilog=example("study"))
    p.add_argument("--base", required=True, help="base pipeline.config: a path or a name in pipelines/")
    p.add_argument("--space", help="search-space YAML (default: pipelines/spaces/ssd.yaml)")
    p.add_argument("--train-data", help="training TFRecord(s); with --eval-data and --label-map")
    p.add_argument("--eval-data", help="evaluation TFRecord(s)")
    p.add_argument("--label-map", help="label_map.pbtxt")
    p.add_argument("--fine-tune-checkpoint", metavar="PATH",
                   help="checkpoint prefix to fine-tune from (PATH.index must exist); type 'detection' unless "
                        "the base config sets one (default: the base config's own; a placeholder trains from scratch)")
    p.add_argument("--dry-run", type=int, metavar="N",
                   help="train nothing: draw the baseline, the fitted anchors and N sampled variants exactly as the "
                        "study would (same sampler and seeds), lint each and build it with the OD API (one forward pass "
                        "and loss on a test image); print a table and exit 0 when all build, 1 when one does not. "
                        "Writes no run directory and no storage")
    p.add_argument("--steps", type=int, default=200, help="training steps per trial (default %(default)s)")
    p.add_argument("--eval-every", type=int, default=None,
                   help="evaluate every K steps (default: only where a reading decides something: the last "
                        "checkpoint, plus the pruner's rungs when the study prunes; said at start)")
    p.add_argument("--n-trials", type=int, help="total trials in the study, the baseline included")
    p.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    p.add_argument("--trial-timeout", type=float, metavar="S",
                   help="fail a trial (class 'timeout') that runs longer than S seconds, so a hung trial "
                        "cannot stall the study (default: no limit)")
    p.add_argument("--status-every", type=float, default=30.0, metavar="S",
                   help="seconds between the study's status lines while trials run (default %(default)g)")
    p.add_argument("--study-name", help="default: the base config's name")
    p.add_argument("--storage", help="Optuna RDB URL (default: SQLite file in the run directory)")
    p.add_argument("--run-dir", help="default: runs/<study name>")
    p.add_argument("--sampler", default=SamplerName.TPE.value, choices=[n.value for n in SamplerName])
    p.add_argument("--pruner", default=PrunerKind.AUTO.value, choices=[k.value for k in PrunerKind],
                   help="auto (default): median pruning when the study's shape leaves room for it (at least "
                        f"{MIN_DECISIONS} evaluations between the warm-up and the last step), else none, said at start")
    p.add_argument("--prune-after", type=float, metavar="F",
                   help="warm-up: never prune before this fraction of --steps (default 0.5)")
    p.add_argument("--prune-min-trials", type=int, metavar="N",
                   help="never prune before N trials have completed (default 4)")
    p.add_argument("--jobs", type=int, default=1, help="trials at once on this machine")
    p.add_argument("--devices", default="", help="comma-separated CUDA devices, one per job (e.g. 0,1)")
    p.add_argument("--seed", type=int, help="sampler seed, and the base of every trial's training seed (default: "
                                            "an unseeded sampler; training seeds from 0)")
    p.add_argument("--deterministic", action="store_true",
                   help="TensorFlow op determinism in every trial: the same config and training seed give the same "
                        "weights (training is slower; measure it with bench/seeds.py)")
    p.add_argument("--verbose", action="store_true",
                   help="let TensorFlow's start-up lines and warnings through in this process (they are hidden by "
                        "default; trials always log them to their own logs/)")
    p.add_argument("--fit-anchors", action=argparse.BooleanOptionalAction, default=True,
                   help="measure the base anchors on the training boxes, fit better ones, run them as trial 1 and "
                        "centre a space's anchors knob on them (default: on; --no-fit-anchors turns it off)")
    p.add_argument("--confirm", type=int, default=CONFIRM, metavar="K",
                   help="after the search, train the baseline and the K best trials --repeats more times with other "
                        "seeds; the pick is the best mean of the runs that did not select it, its lift gets a 90 %% interval (default "
                        "%(default)s; 0: no confirmation)")
    p.add_argument("--repeats", type=int, default=REPEATS, metavar="R",
                   help="extra runs of each confirmed trial (default %(default)s: (K+1)*R more trials)")
    p.add_argument("--test-data", metavar="RECORDS",
                   help="held-out TFRecord(s) (path or glob) the selection never reads: when the study ends, the "
                        "chosen trial's and the baseline's best checkpoints are evaluated on them once")
    budget = p.add_argument_group("deployment budget (costed before training; see docs/usage/study.md)")
    budget.add_argument("--max-latency-ms", type=float, metavar="MS",
                        help="end a variant whose TFLite model's median latency is over MS as infeasible, before "
                             "it trains; the sampler learns to avoid them")
    budget.add_argument("--max-size-kb", type=float, metavar="KB", help="likewise for the .tflite file's size")
    budget.add_argument("--deploy-variant", default=DeployVariant.INT8.value, choices=[v.value for v in DeployVariant],
                        help="the TFLite variant the budget is measured on (default %(default)s)")
    budget.add_argument("--deploy-threads", type=int, default=2, metavar="N",
                        help="TFLite interpreter threads for the latency (default %(default)s)")
    budget.add_argument("--objectives", default="map", type=_objectives, metavar="map|map,latency|map,size",
                        help="map (default): maximize mAP; map,latency or map,size: a multi-objective study that also "
                             "minimizes the deployed model's latency or size (costed before training), ends with a "
                             "Pareto front and cannot prune (Optuna cannot prune multi-objective studies)")
    budget.add_argument("--cost-cache", metavar="DIR",
                        help="where each architecture's cost is cached (default: <run dir>/cost-cache); share one "
                             "directory between studies on the same machine to measure each architecture once")
    return p


def _objectives(text: str) -> Objectives:
    try:
        return Objectives.parse(text)
    except ObjectivesError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--objectives ")) from None


def _log_unexpected(exc: BaseException, run_dir: Path | None) -> Path:
    """Append the traceback to ``<run dir>/study.log`` (a temporary file if there is no run
    directory yet); return its path."""
    text = f"--- {datetime.datetime.now().isoformat(timespec='seconds')} {' '.join(sys.argv)}\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))
    candidates = []
    if run_dir is not None and run_dir.is_dir():
        candidates.append(run_dir / LOG_FILE)
    candidates.append(Path(tempfile.gettempdir()) / f"odapi-tuner-study-{datetime.datetime.now():%Y%m%d-%H%M%S}.log")
    for path in candidates:
        try:
            with path.open("a") as fh:
                fh.write(text)
            return path
        except OSError:
            continue
    return candidates[-1]


def _dry_run(plan: StudyPlan, n_sampled: int) -> int:
    """``--dry-run N``: the preflight table of the variants the study would train (nothing written)."""
    for note in (plan.note, plan.anchors.note):
        if note:
            print(note)
    with tfquiet.quietly():
        variants = preflight_variants(plan, n_sampled)
        checks = preflight.run_checks(variants, preflight.build_error, progress=lambda line: print(line, flush=True))
    print("\n".join(preflight.table(checks)))
    print(preflight.summary(checks))
    return 0 if all(c.built for c in checks) else 1


def main(argv: Sequence[str] | None = None) -> int:
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines say what happened
    parser = build_parser()
    args, code = parser.parse_or_exit_code(argv)
    if args is None:
        return code
    if args.n_trials is None and args.timeout is None:
        args.n_trials = 10
    tfquiet.set_verbose(args.verbose)
    settings = StudySettings(
        base=args.base, space=args.space, train_data=args.train_data, eval_data=args.eval_data,
        label_map=args.label_map, fine_tune_checkpoint=args.fine_tune_checkpoint, steps=args.steps,
        eval_every=args.eval_every, n_trials=args.n_trials, timeout=args.timeout,
        trial_timeout=args.trial_timeout, status_every=args.status_every, study_name=args.study_name,
        storage=args.storage, run_dir=args.run_dir, sampler=SamplerName(args.sampler), pruner=PrunerKind(args.pruner),
        prune_after=args.prune_after, prune_min_trials=args.prune_min_trials, jobs=args.jobs,
        devices=tuple(d.strip() for d in args.devices.split(",") if d.strip()), seed=args.seed,
        fit_anchors=args.fit_anchors, deterministic=args.deterministic, confirm=args.confirm, repeats=args.repeats,
        test_data=args.test_data, max_latency_ms=args.max_latency_ms, max_size_kb=args.max_size_kb,
        deploy_variant=DeployVariant(args.deploy_variant), deploy_threads=args.deploy_threads,
        cost_cache=args.cost_cache, objectives=args.objectives)
    plan = None
    try:
        if args.dry_run is not None and args.dry_run < 1:
            raise StudyInputError(f"--dry-run takes the number of sampled variants to check, >= 1 (got {args.dry_run})")
        with tfquiet.quietly():  # generating the demo data imports TensorFlow: its start-up lines stay off ours
            plan = resolve(settings, preflight_check=args.dry_run is None)
        if args.dry_run is not None:
            return _dry_run(plan, args.dry_run)
        study = run(plan)
    except StudyInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - anything else is a bug or an environment failure: one line
        log = _log_unexpected(exc, plan.run_dir if plan is not None else None)
        print(f"error: unexpected {first_line(exc)}; the traceback is in {log} (please report it "
              "with that file)", file=sys.stderr)
        return 1
    completed = [t for t in study.get_trials(deepcopy=False) if t.values]
    return 0 if completed else 1


if __name__ == "__main__":
    sys.exit(main())
