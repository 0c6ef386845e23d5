"""Fixtures of the conversion tests: shapes images with known boxes, written in each source format."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

import pytest
from convhelpers import ROOT, ROUND_TRIP_SHARDS, ROUND_TRIP_SPLIT, SPEC, cli_args

from tuner.data.export import Exported, ExportedImage, export, shapes_images
from tuner.data.formats import Format


@pytest.fixture(scope="session")
def shapes_items() -> list[ExportedImage]:
    return list(shapes_images(SPEC))


@pytest.fixture
def exported(tmp_path: Path, shapes_items: list[ExportedImage]) -> Callable[..., Exported]:
    """Factory: ``exported(fmt, count=6)`` writes the first ``count`` shapes images in ``fmt``."""

    def make(fmt: Format, count: int = 6) -> Exported:
        return export(fmt, shapes_items[:count], SPEC.classes, tmp_path / f"src-{fmt.value}")

    return make


@pytest.fixture(scope="session", autouse=True)
def _round_trip_started(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                        shapes_items: list[ExportedImage]):
    """Starts the round trip's four CLI conversions when the first test of this directory runs
    (if any selected test needs them), so that they run alongside the in-process tests: each
    spends most of its time starting TensorFlow.

    Returns ``{format: (exported, out_dir, process)}``, or None when no test needs them.
    """
    if not any("round_trip" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    root = tmp_path_factory.mktemp("round_trip")
    runs = {}
    for fmt in Format:
        source = export(fmt, shapes_items, SPEC.classes, root / f"src-{fmt.value}")
        out = root / f"out-{fmt.value}"
        args = ["convert", "--format", fmt.value, source.src, "--out", out, "--split", ROUND_TRIP_SPLIT,
                "--shards", ROUND_TRIP_SHARDS[fmt], "--seed", "7"]
        if source.images is not None:
            args += ["--images", source.images]
        proc = subprocess.Popen(cli_args(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[fmt] = (source, out, proc)
    yield runs
    for _, _, proc in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="session")
def round_trip(_round_trip_started) -> dict[Format, tuple[Exported, Path, subprocess.CompletedProcess]]:
    """All four formats exported, then converted by ``python -m tuner.data convert`` (four
    processes side by side). Returns ``{format: (exported, out_dir, completed process)}``."""
    done = {}
    for fmt, (source, out, proc) in _round_trip_started.items():
        stdout, stderr = proc.communicate(timeout=600)
        done[fmt] = (source, out, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return done
