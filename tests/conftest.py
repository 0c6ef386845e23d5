"""Shared fixtures and the CI policy.

CI policy: with ``ODAPI_TUNER_CI=1`` (set by ``.ci/run``) a skipped test is a failed test, so
tests that need the real OD API or PostgreSQL cannot silently vanish from CI. On a user's
machine they skip with the reason.

Heavy fixtures (a generated dataset, one real trained trial) are session-scoped and shared.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parent.parent
SHAPES_CONFIG = REPO / "pipelines" / "ssd_mobilenet_v2_shapes.config"
IN_CI = os.environ.get("ODAPI_TUNER_CI") == "1"
#: The shared trained trial (``trained_trial``): steps and checkpoint/evaluation interval.
TRAINED_STEPS, TRAINED_EVERY = 60, 20


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test (ODAPI_TUNER_CI=1): {reason}"


#: Test folders whose tests share an expensive session fixture of the folder's own conftest (a
#: TFLite conversion, a report, the converters' round trip): all their tests go to one worker.
SHARED_FIXTURE_FOLDERS = ("tflite", "report", "data_convert")


#: The slowest work units (:func:`worker_group`), slowest first, as measured on 2026-12-06 (2 cores,
#: two workers: 1-10 min each; docs/benchmarks.md, "Where the suite's time goes"). They start
#: first, so that the last unit to finish is a short one and neither worker idles at the end; the
#: others follow in collection order.
SLOWEST_FIRST = (
    "tests/study/test_confirm_study.py", "tests/trial/test_runner.py", "tests/tflite",
    "tests/study/test_objectives_study.py", "tests/study/test_resume.py", "tests/bench/test_search_bench.py",
    "tests/study/test_pruning_study.py", "tests/study/test_postgres.py", "tests/odapi/test_seeding.py",
    "tests/study/test_anchors_study.py", "tests/report", "tests/study/test_budget_study.py",
    "tests/test_data_pretrain.py", "tests/study/test_converted_study.py", "tests/study/test_jobs.py",
    "tests/trial/test_cli.py", "tests/study/test_preflight_study.py", "tests/study/test_objective.py",
    "tests/odapi/test_freeze.py",
)


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Mark every test that needs the real OD API (it uses the ``odapi`` fixture, directly or
    through a fixture that trains, such as ``trained_trial``) as ``odapi``, so that
    ``make test-fast`` (``-m "not odapi"``) runs the rest. Then put the :data:`SLOWEST_FIRST`
    units first (a stable sort: each unit keeps its tests together and in their order)."""
    for item in items:
        if "odapi" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.odapi)
    rank = {unit: i for i, unit in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(worker_group(item.nodeid), len(rank)))


def worker_group(nodeid: str) -> str:
    """The pytest-xdist work unit of a test: its module (so that a module-scoped fixture, a whole
    study, is built once), or its folder for :data:`SHARED_FIXTURE_FOLDERS`."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 and parts[1] in SHARED_FIXTURE_FOLDERS else path


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: without pytest-xdist it is never called
def pytest_xdist_make_scheduler(config, log):  # type: ignore[no-untyped-def]
    """``make test`` runs two pytest-xdist workers; each gets whole :func:`worker_group` units, in
    the order of the collection (:data:`SLOWEST_FIRST` first).

    (xdist's own ``--dist loadgroup`` cannot be used: it renames the tests' node ids in a way
    pytest 9 ignores, so the groups were silently split and the studies built twice.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    config.option.loadscopereorder = False  # keep our order (xdist's puts the units with most tests first)
    return ByGroup(config, log)


#: Where each work unit's wall time is recorded (``ODAPI_TUNER_UNIT_TIMES=FILE``; one JSON line per
#: unit: worker, unit, seconds from its first test's setup to its last test's teardown, tests);
#: ``bench/test_times.py FILE`` prints the table that SLOWEST_FIRST and CI's budget are read from.
UNIT_TIMES = os.environ.get("ODAPI_TUNER_UNIT_TIMES")
_units: dict[str, list[float]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # type: ignore[no-untyped-def]
    import time

    started = time.time()
    yield
    if UNIT_TIMES:
        unit = _units.setdefault(worker_group(item.nodeid), [started, started, 0])
        unit[1] = time.time()
        unit[2] += 1


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
    if not UNIT_TIMES or not _units:
        return
    import json

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(UNIT_TIMES, "a") as fh:
        for unit, (start, end, tests) in _units.items():
            fh.write(json.dumps({"worker": worker, "unit": unit, "start": start, "seconds": round(end - start, 1),
                                 "tests": tests}) + "\n")


def odapi_available() -> str | None:
    """None when the OD API stack is importable, else the reason it is not."""
    try:
        import object_detection.model_lib_v2  # noqa: F401  (pure import check; shims not needed)
    except Exception as exc:  # noqa: BLE001
        return f"the OD API stack is not installed ({type(exc).__name__}: {exc}); run `make setup`"
    return None


@pytest.fixture(scope="session")
def odapi() -> None:
    """Skip (fail in CI) when the real OD API is not importable."""
    reason = odapi_available()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def shapes_dataset(tmp_path_factory: pytest.TempPathFactory, odapi: None):
    """A tiny real shapes dataset: 64 train / 16 eval images of 128 px.

    Easier than the demo data (one large circle or square per image, no clutter) so that the
    few training steps the tests can afford already give a non-zero mAP (measured: mAP@.50
    about 0.01 after 60 steps at batch 8; the demo data needs far more).
    """
    from tuner.data import shapes

    return shapes.generate(tmp_path_factory.mktemp("shapes"),
                           shapes.DatasetSpec(train=64, eval=16, size=128, seed=1, classes=("circle", "square"),
                                              min_object=0.3, max_object=0.6, max_objects=1, clutter=0))


@pytest.fixture(scope="session")
def make_config(shapes_dataset) -> Callable[..., str]:
    """Factory: the demo SSD config on the tiny dataset, sized for seconds-long tests.

    ``make_config(steps, batch_size=8, lr=None, edit=None)`` returns the config text;
    ``edit`` is a callable receiving the TrainEvalPipelineConfig to change it further.
    """
    from tuner import config as cfgmod

    def build(steps: int, batch_size: int = 8, lr: float | None = None,
              edit: Callable[[object], None] | None = None) -> str:
        cfg = cfgmod.load(SHAPES_CONFIG)
        cfgmod.point_to_dataset(cfg, shapes_dataset.train_record, shapes_dataset.eval_record,
                                shapes_dataset.label_map)
        cfgmod.set_num_steps(cfg, steps)
        cfg.train_config.batch_size = batch_size
        cfg.eval_config.num_visualizations = 2
        if lr is not None:
            cfgmod.set_base_learning_rate(cfg, lr)
        if edit is not None:
            edit(cfg)
        return cfgmod.dumps(cfg)

    return build


@pytest.fixture(scope="session")
def trained_trial(tmp_path_factory: pytest.TempPathFactory, make_config):
    """One real trial shared by many tests: 60 steps, a checkpoint and evaluation every 20.

    Returns (trial, evaluations as yielded, outcome).
    """
    from tuner.trial import Trial, TrialSpec

    trial_dir = tmp_path_factory.mktemp("trained") / "trial-0"
    trial = Trial(TrialSpec(make_config(TRAINED_STEPS), trial_dir, steps=TRAINED_STEPS, eval_every=TRAINED_EVERY))
    seen = list(trial.evaluations())
    return trial, seen, trial.outcome
