"""``python -m tuner.doctor``: is this machine ready to tune OD API models?

Checks the pinned stack (TensorFlow, the OD API, protobuf and its implementation), whether
each compat shim applied, visible GPUs and a writable run directory. Every failed check
prints its fix. Exit code 0 when all pass, 1 when any fails. TensorFlow's C++ start-up
logging is quieted (``TF_CPP_MIN_LOG_LEVEL=2`` unless the caller set it) so the report stays
readable.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from tuner.cli import example
from tuner.paths import DEFAULT_RUN_DIR

SETUP_FIX = "run `make setup` (it installs the pinned stack into .venv) and use .venv/bin/python"
#: The one Python the pinned stack (requirements/constraints.txt) runs on.
PYTHON_VERSION = (3, 11)


@dataclasses.dataclass(frozen=True)
class Check:
    """One doctor check: ``ok`` with what was seen, and the fix when not ok."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python(version: tuple[int, int, int] | None = None) -> Check:
    """Python must be exactly :data:`PYTHON_VERSION` (``version``: major, minor, micro; default: ours)."""
    major, minor, micro = version or tuple(sys.version_info[:3])
    ok = (major, minor) == PYTHON_VERSION
    want = ".".join(map(str, PYTHON_VERSION))
    return Check("python", ok, f"{major}.{minor}.{micro} ({sys.executable})",
                 "" if ok else f"the pinned stack (TensorFlow 2.15) needs Python {want}; rebuild the venv "
                               f"with it: rm -rf .venv && PYTHON=/path/to/python{want} make setup")


def check_tensorflow() -> Check:
    version = _version("tensorflow") or _version("tensorflow-cpu")
    if version is None:
        return Check("tensorflow", False, "not installed", SETUP_FIX)
    ok = version.startswith("2.15.")
    return Check("tensorflow", ok, version,
                 "" if ok else f"the OD API runs on TensorFlow 2.15 only (found {version}); " + SETUP_FIX)


def check_protobuf() -> Check:
    version = _version("protobuf")
    if version is None:
        return Check("protobuf", False, "not installed", SETUP_FIX)
    try:
        from google.protobuf.internal import api_implementation

        impl = api_implementation.Type()
    except Exception as exc:  # noqa: BLE001
        return Check("protobuf", False, f"{version}, import failed: {type(exc).__name__}: {exc}", SETUP_FIX)
    ok = version.split(".")[0] == "4"
    return Check("protobuf", ok, f"{version} (implementation: {impl})",
                 "" if ok else "the stack runs on protobuf 4, with the OD API's *_pb2 modules rewritten "
                               "for it; " + SETUP_FIX)


def check_odapi() -> Check:
    version = _version("tf-models-research-object-detection")
    if version is None:
        return Check("object_detection", False, "not installed", SETUP_FIX)
    try:
        import tuner.odapi  # noqa: F401
        from object_detection import model_lib_v2  # noqa: F401
        from object_detection.protos import pipeline_pb2  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return Check("object_detection", False, f"{version}, import failed: {type(exc).__name__}: {exc}",
                     SETUP_FIX)
    return Check("object_detection", True, f"{version}, model_lib_v2 imports")


def check_shims() -> list[Check]:
    try:
        import tuner.odapi
    except Exception as exc:  # noqa: BLE001
        return [Check("compat shims", False, f"could not apply: {exc}", SETUP_FIX)]
    checks = []
    for result in tuner.odapi.SHIMS.values():
        state = "applied" if result.applied else "not needed"
        checks.append(Check(f"shim {result.name}", True, f"{state}: {result.detail}"))
    # After applying, the attributes the OD API needs must exist.
    try:
        from PIL import ImageFont
        from tensorflow.python.ops import control_flow_ops
    except Exception as exc:  # noqa: BLE001
        return checks + [Check("shims effective", False, f"cannot check: {type(exc).__name__}: {exc}",
                               SETUP_FIX)]

    missing = [n for n in ("case", "cond", "while_loop") if not hasattr(control_flow_ops, n)]
    if not hasattr(ImageFont.FreeTypeFont, "getsize"):
        missing.append("PIL.ImageFont.FreeTypeFont.getsize")
    if missing:
        checks.append(Check("shims effective", False, "still missing: " + ", ".join(missing),
                            "report this: the installed stack differs from the pinned one; " + SETUP_FIX))
    return checks


def check_gpus() -> Check:
    """Visible GPUs as TensorFlow sees them; a failed check (not a traceback) if TF cannot import."""
    try:
        import tensorflow as tf
    except Exception as exc:  # noqa: BLE001 - installed but broken: the import failure is the finding
        return Check("gpus", False, f"cannot list devices: TensorFlow fails to import "
                                    f"({type(exc).__name__}: {exc})", SETUP_FIX)
    gpus = tf.config.list_physical_devices("GPU")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    detail = f"{len(gpus)} GPU(s)" + (f": {', '.join(g.name for g in gpus)}" if gpus else
                                       " (training runs on the CPU; `make setup GPU=1` for CUDA)")
    if visible is not None:
        detail += f"; CUDA_VISIBLE_DEVICES={visible!r}"
    return Check("gpus", True, detail)


def check_run_dir(run_dir: Path) -> Check:
    target = run_dir if run_dir.exists() else next((p for p in run_dir.parents if p.exists()), Path("."))
    try:
        with tempfile.NamedTemporaryFile(dir=target, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("run directory", False, f"{run_dir}: not writable ({exc.strerror})",
                     f"choose a writable --run-dir or fix the permissions of {target}")
    return Check("run directory", True, f"{run_dir} (writable)")


def run_checks(run_dir: Path) -> list[Check]:
    """All checks, in order; later ones are skipped when the stack itself is missing."""
    checks = [check_python(), check_tensorflow(), check_protobuf()]
    stack_ok = all(c.ok for c in checks)
    steps: list[Callable[[], Check | list[Check]]] = [check_odapi, check_shims, check_gpus] if stack_ok else []
    for step in steps:
        result = step()
        checks.extend(result if isinstance(result, list) else [result])
    checks.append(check_run_dir(run_dir))
    return checks


def quiet_tensorflow_logging() -> None:
    """Hide TensorFlow's C++ INFO/WARNING start-up lines, unless the user chose a level.

    Must run before TensorFlow is imported; a ``TF_CPP_MIN_LOG_LEVEL`` already set is kept.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: Sequence[str] | None = None) -> int:
    """Run every check and print one line each (and the fix of each failure).

    Returns:
        0 when all checks pass, 1 when any fails.
    """
    parser = argparse.ArgumentParser(prog="python -m tuner.doctor", description=__doc__.split("\n\n")[0],
                                     epilog=example("doctor"))
    parser.add_argument("--run-dir", default=str(DEFAULT_RUN_DIR), help="where studies are written")
    args = parser.parse_args(argv)
    quiet_tensorflow_logging()
    checks = run_checks(Path(args.run_dir))
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"[{'ok' if c.ok else 'FAIL'}] {c.name.ljust(width)}  {c.detail}")
        if not c.ok:
            print(f"       fix: {c.fix}")
    failed = [c for c in checks if not c.ok]
    print(f"doctor: {len(checks) - len(failed)} of {len(checks)} checks ok"
          + (f"; {len(failed)} failed (fixes above)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
