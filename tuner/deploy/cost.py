"""What an architecture costs when deployed, known before training: TFLite size and latency.

:func:`measure_cost` is the contract. For a config it takes the architecture hash
(:func:`tuner.deploy.arch.arch_hash`), and returns the :class:`Cost` cached for that hash,
variant and thread count in ``cache_dir`` when there is one; otherwise it measures it in a child
process (:mod:`tuner.deploy._measure`): the *untrained* model of the config, exported with the
OD API's TFLite exporter (:mod:`tflite.export`, as ``tflite.convert`` exports a trained trial),
converted to the deploy variant (:mod:`tflite.quantize`; int8 calibrated on a few training
images) and timed with the TFLite interpreter (:mod:`tflite.measure`). Size and latency do not
depend on the weights' values, so the untrained model costs what the trained one will.

Cache: one JSON file per (architecture, variant, threads), ``<cache_dir>/<hash>-<variant>-<N>t.json``,
written atomically. A file is reused when it was measured with the same
:data:`METHOD_VERSION`, TensorFlow version and machine (:func:`machine`); otherwise it is
measured again and replaced. Any study can point at the same directory (e.g.
``<run dir>/cost-cache``): the costs are properties of the architecture and the machine only.

Processes: the calling process never imports TensorFlow; the child's output (TensorFlow's C++
logs, converter summaries) goes to a log file, never to the terminal. Several processes may
share a cache directory: a file is replaced atomically, and two that miss the same key at once
both measure it (the last write wins; both results are valid).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from tuner import atomic
from tuner.deploy.arch import arch_hash

#: Bump when the measurement changes (export, conversion, calibration, timing): old cache
#: files stop matching and are measured again.
METHOD_VERSION = 1
#: Training images the int8 variant is calibrated on (a seeded sample, tflite.records).
CALIBRATION_IMAGES = 8
#: Timed interpreter invocations (after 2 warm-up runs); the median is the latency.
LATENCY_RUNS = 50
#: The child process is stopped after this long.
TIMEOUT_SECONDS = 900.0
#: Variants :func:`measure_cost` takes (``tflite.quantize.Variant`` values).
VARIANTS = ("int8", "fp16", "fp32", "dynamic")


class CostError(Exception):
    """The cost cannot be measured: the model is not exportable, calibration data is missing,
    or the export, conversion or timing failed. The message is one line: what, where, how to fix."""


@dataclasses.dataclass(frozen=True)
class Cost:
    """The measured cost of one architecture as one TFLite variant on this machine.

    Attributes:
        arch_hash: :func:`tuner.deploy.arch.arch_hash` of the config.
        variant: ``int8``, ``fp16``, ``fp32`` or ``dynamic``.
        threads: TFLite interpreter threads the latency was timed with.
        size_kb: size of the ``.tflite`` file in KiB (``size_bytes / 1024``).
        size_bytes: size of the ``.tflite`` file in bytes.
        latency_ms: median wall time of one ``invoke`` in milliseconds.
        latency_p90_ms: its 90th percentile.
        latency_runs: timed invocations.
        measure_seconds: wall time of the measurement (the child process, start-up included).
        cpu_seconds: CPU time the child used (less sensitive than wall time to a busy machine).
        stage_seconds: wall time of each stage in the child (import, build, export, convert, time).
        input_size: ``[height, width]`` of the model's input.
        tf_version: TensorFlow version of the measurement.
        machine: :func:`machine` of the measurement.
        measured_at: UTC time of the measurement (ISO 8601).
        from_cache: True when :func:`measure_cost` read it from the cache (not stored).
    """

    arch_hash: str
    variant: str
    threads: int
    size_kb: float
    size_bytes: int
    latency_ms: float
    latency_p90_ms: float
    latency_runs: int
    measure_seconds: float
    cpu_seconds: float
    stage_seconds: dict[str, float]
    input_size: tuple[int, int]
    tf_version: str
    machine: str
    measured_at: str
    method_version: int = METHOD_VERSION
    from_cache: bool = False

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("from_cache")
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], from_cache: bool = False) -> Cost:
        """Raises:
            KeyError, TypeError, ValueError: not a cost record.
        """
        height, width = (int(v) for v in data["input_size"])
        return cls(arch_hash=str(data["arch_hash"]), variant=str(data["variant"]), threads=int(data["threads"]),
                   size_kb=float(data["size_kb"]), size_bytes=int(data["size_bytes"]),
                   latency_ms=float(data["latency_ms"]), latency_p90_ms=float(data["latency_p90_ms"]),
                   latency_runs=int(data["latency_runs"]), measure_seconds=float(data["measure_seconds"]),
                   cpu_seconds=float(data["cpu_seconds"]),
                   stage_seconds={str(k): float(v) for k, v in dict(data["stage_seconds"]).items()},
                   input_size=(height, width), tf_version=str(data["tf_version"]), machine=str(data["machine"]),
                   measured_at=str(data["measured_at"]), method_version=int(data["method_version"]),
                   from_cache=from_cache)


def cache_path(cache_dir: str | os.PathLike[str], arch: str, variant: str, threads: int) -> Path:
    """``<cache_dir>/<hash>-<variant>-<threads>t.json``."""
    return Path(cache_dir) / f"{arch}-{variant}-{threads}t.json"


def machine() -> str:
    """What the latency depends on: CPU model, logical CPU count and architecture."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{model or platform.processor() or 'unknown CPU'}, {os.cpu_count()} CPUs, {platform.machine()}"


def tf_version() -> str:
    """The installed TensorFlow's version, without importing it."""
    from importlib import metadata

    for name in ("tensorflow", "tensorflow-cpu"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def cached_cost(cfg: Any, *, variant: str, threads: int, cache_dir: str | os.PathLike[str]) -> Cost | None:
    """The cost :func:`measure_cost` would return from the cache, or None (nothing is measured)."""
    path = cache_path(cache_dir, arch_hash(cfg), variant, threads)
    try:
        cost = Cost.from_json(json.loads(path.read_text()), from_cache=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (cost.method_version, cost.tf_version, cost.machine) != (METHOD_VERSION, tf_version(), machine()):
        return None
    return cost


def measure_cost(cfg: Any, *, variant: str = "int8", threads: int = 2, cache_dir: str | os.PathLike[str],
                 calibration_records: Sequence[str | os.PathLike[str]] | None = None,
                 latency_runs: int = LATENCY_RUNS, timeout: float = TIMEOUT_SECONDS) -> Cost:
    """The TFLite size and latency of ``cfg``'s architecture, from the cache or measured now.

    Nothing is trained: the untrained model is exported, converted and timed (see the module
    docstring). ``cfg`` is not modified. TensorFlow is not imported in this process.

    Args:
        cfg: a ``TrainEvalPipelineConfig`` with an SSD model and a ``fixed_shape_resizer``.
        variant: the deploy variant: ``int8`` (full-integer, calibrated), ``fp16``, ``fp32``
            or ``dynamic``.
        threads: TFLite interpreter threads for the latency.
        cache_dir: where costs are cached (created); shareable between studies.
        calibration_records: TFRecords the int8 calibration images are sampled from
            (:data:`CALIBRATION_IMAGES` of them); default: the config's ``train_input_reader``.
            Not read for the other variants.
        latency_runs: timed invocations (after 2 warm-up runs) when measured now; not part of
            the cache key (a cached cost states its own ``latency_runs``).
        timeout: seconds after which the measurement is stopped (:class:`CostError`).

    Returns:
        The :class:`Cost`; ``from_cache`` tells whether it was measured now.

    Raises:
        CostError: an unknown variant or thread count; a model the TFLite exporter does not
            take (not SSD, no ``fixed_shape_resizer``); no calibration records for int8; the
            export, conversion or timing failed or timed out (the message names the child's log,
            which is kept).
    """
    if variant not in VARIANTS:
        raise CostError(f"unknown deploy variant {variant!r}: use one of {', '.join(VARIANTS)}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise CostError(f"threads must be a positive integer (got {threads!r})")
    if latency_runs < 1:
        raise CostError(f"latency_runs must be >= 1 (got {latency_runs})")
    cached = cached_cost(cfg, variant=variant, threads=threads, cache_dir=cache_dir)
    if cached is not None:
        return cached
    check_exportable(cfg)
    records = _calibration_paths(cfg, calibration_records) if variant == "int8" else []
    arch = arch_hash(cfg)
    cache = Path(cache_dir)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CostError(f"cannot create the cost cache {cache} ({exc.strerror or exc}); choose another cache "
                        "directory") from None
    request = {"config": _config_text(cfg), "variant": variant, "threads": threads, "latency_runs": latency_runs,
               "calibration_records": [str(p) for p in records], "calibration_images": CALIBRATION_IMAGES}
    result, seconds = _run_child(request, cache, f"{arch}-{variant}-{threads}t", timeout)
    cost = Cost(arch_hash=arch, variant=variant, threads=threads, size_kb=round(result["size_bytes"] / 1024, 2),
                size_bytes=int(result["size_bytes"]), latency_ms=float(result["latency_ms"]),
                latency_p90_ms=float(result["latency_p90_ms"]), latency_runs=latency_runs,
                measure_seconds=round(seconds, 2), cpu_seconds=round(float(result["cpu_seconds"]), 2),
                stage_seconds={k: round(float(v), 2) for k, v in result["stage_seconds"].items()},
                input_size=(int(result["input_size"][0]), int(result["input_size"][1])), tf_version=tf_version(),
                machine=machine(), measured_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    atomic.write_json(cache_path(cache, arch, variant, threads), cost.to_json())
    return cost


def check_exportable(cfg: Any) -> None:
    """Raises :class:`CostError` (one line) when the TFLite exporter cannot take ``cfg`` (not SSD, no
    ``fixed_shape_resizer``): checked without building anything."""
    from tflite.errors import ConvertError
    from tflite.model import check_exportable as exporter_takes

    try:
        exporter_takes(cfg, "the config")
    except ConvertError as exc:
        raise CostError(exc.one_line()) from None


def _calibration_paths(cfg: Any, given: Sequence[str | os.PathLike[str]] | None) -> list[str]:
    from tuner.config import ConfigError, count_records, expand_input_paths

    if given is not None:
        paths = [p for pattern in given for p in expand_input_paths(str(pattern))]
        where = "calibration_records"
    else:
        paths = [p for pattern in cfg.train_input_reader.tf_record_input_reader.input_path
                 for p in expand_input_paths(pattern)]
        where = "train_input_reader.tf_record_input_reader.input_path"
    fix = ("point the config's train_input_reader at the training TFRecords (or pass calibration_records), or "
           "measure another variant (fp32, fp16)")
    if not paths:
        raise CostError(f"int8 calibration needs training images, and {where} names no existing TFRecord; {fix}")
    try:
        total = sum(count_records(p) for p in paths)
    except ConfigError as exc:
        raise CostError(f"int8 calibration records cannot be read ({str(exc).splitlines()[0]}); {fix}") from None
    if total == 0:
        raise CostError(f"int8 calibration records hold no example ({', '.join(paths)}); {fix}")
    # absolute: the measuring child runs in its own work directory (a config's relative data/... paths,
    # as the demo's, are relative to this process's directory)
    return [p if "://" in p else os.path.abspath(p) for p in paths]


def _config_text(cfg: Any) -> str:
    from tuner.config import dumps

    return dumps(cfg)


def _run_child(request: dict[str, Any], cache: Path, key: str, timeout: float) -> tuple[dict[str, Any], float]:
    """Run :mod:`tuner.deploy._measure` on ``request``; return (its result, wall seconds).

    The work directory (under ``cache``) is removed; on failure the child's log is kept as
    ``<cache>/<key>.log``. If this process is interrupted, the child's process group is killed.

    Raises:
        CostError: the child failed, crashed or timed out.
    """
    global MEASUREMENTS
    work = Path(tempfile.mkdtemp(prefix=f".work-{key}-", dir=cache))
    log = work / "measure.log"
    (work / "request.json").write_text(json.dumps(request))
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH", "")]))
    MEASUREMENTS += 1
    start = time.monotonic()
    try:
        with open(log, "wb") as out:
            child = subprocess.Popen([sys.executable, "-m", "tuner.deploy._measure", str(work)], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=work,
                                     start_new_session=True)
        try:
            code = child.wait(timeout=timeout)
        except BaseException as exc:  # the timeout, or Ctrl-C: stop the child and all it started
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise CostError(f"measuring the cost of architecture {key} took over {timeout:.0f} s and was "
                                f"stopped (log: {_keep_log(log, cache, key)}); raise the timeout or check the "
                                "machine's load") from None
            raise
        seconds = time.monotonic() - start
        try:
            result = json.loads((work / "result.json").read_text())
        except (OSError, ValueError):
            result = None
        if code != 0 or not isinstance(result, dict) or not result.get("ok"):
            kept = _keep_log(log, cache, key)
            reason = result.get("error") if isinstance(result, dict) and result.get("error") else \
                f"the measuring process exited with code {code} ({_last_line(kept)})"
            raise CostError(f"cannot measure the cost of architecture {key}: {reason} (log: {kept})")
        return result, seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)


_REPO = Path(__file__).resolve().parent.parent.parent
#: Measurements started by this process (child processes launched), for tests and benches.
MEASUREMENTS = 0


def _keep_log(log: Path, cache: Path, key: str) -> Path:
    kept = cache / f"{key}.log"
    try:
        shutil.copyfile(log, kept)
    except OSError:
        return log
    return kept


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "empty log"
