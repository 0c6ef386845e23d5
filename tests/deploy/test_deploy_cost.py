"""measure_cost: the untrained tiny shapes model measured once (module fixture), then served from
the cache without a measuring process; the hash decides what is measured again; errors are one
line. Tests that measure use the ``odapi`` fixture (the real OD API and TFLite converter)."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from tuner import config as cfgmod
from tuner.deploy import cost as costmod
from tuner.deploy import CostError, arch_hash, cache_path, measure_cost
from tuner.paths import PIPELINES_DIR
from tuner.space.knobs import KNOBS

SHAPES = PIPELINES_DIR / "ssd_mobilenet_v2_shapes.config"
RUNS = 20


def _no_child(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise AssertionError("a measuring process was started")


def _fake_cost(cfg, **changes):  # type: ignore[no-untyped-def]
    data = dict(arch_hash=arch_hash(cfg), variant="int8", threads=2, size_kb=800.0, size_bytes=819200,
                latency_ms=1.5, latency_p90_ms=2.0, latency_runs=50, measure_seconds=40.0, cpu_seconds=60.0,
                stage_seconds={"export": 20.0}, input_size=[128, 128], tf_version=costmod.tf_version(),
                machine=costmod.machine(), measured_at="2026-12-02T00:00:00+00:00",
                method_version=costmod.METHOD_VERSION)
    data.update(changes)
    return data


# -- the cache and the contract, without TensorFlow -------------------------------------------------

def test_a_cached_cost_is_returned_without_a_measuring_process(tmp_path, monkeypatch) -> None:
    cfg = cfgmod.load(SHAPES)
    path = cache_path(tmp_path, arch_hash(cfg), "int8", 2)
    path.write_text(json.dumps(_fake_cost(cfg)))
    monkeypatch.setattr(costmod, "_run_child", _no_child)
    got = measure_cost(cfg, variant="int8", threads=2, cache_dir=tmp_path)
    assert got.from_cache and got.size_kb == 800.0 and got.latency_ms == 1.5 and got.input_size == (128, 128)
    KNOBS["learning_rate"](cfg, 0.01)  # not part of the architecture: the same entry
    assert measure_cost(cfg, variant="int8", threads=2, cache_dir=tmp_path).size_bytes == 819200


@pytest.mark.parametrize("stale", [{"machine": "another CPU, 64 CPUs, x86_64"}, {"tf_version": "2.14.0"},
                                   {"method_version": 0}, {"size_bytes": "garbage"}])
def test_a_cost_from_another_machine_tf_or_method_is_measured_again(tmp_path, monkeypatch, stale) -> None:
    cfg = cfgmod.load(SHAPES)
    cache_path(tmp_path, arch_hash(cfg), "int8", 2).write_text(json.dumps(_fake_cost(cfg, **stale)))
    assert costmod.cached_cost(cfg, variant="int8", threads=2, cache_dir=tmp_path) is None


def test_variant_and_threads_are_part_of_the_key(tmp_path) -> None:
    cfg = cfgmod.load(SHAPES)
    cache_path(tmp_path, arch_hash(cfg), "int8", 2).write_text(json.dumps(_fake_cost(cfg)))
    assert costmod.cached_cost(cfg, variant="int8", threads=2, cache_dir=tmp_path) is not None
    assert costmod.cached_cost(cfg, variant="fp32", threads=2, cache_dir=tmp_path) is None
    assert costmod.cached_cost(cfg, variant="int8", threads=1, cache_dir=tmp_path) is None


@pytest.mark.parametrize("kwargs, message", [
    ({"variant": "int4"}, "unknown deploy variant 'int4': use one of int8, fp16, fp32, dynamic"),
    ({"threads": 0}, r"threads must be a positive integer \(got 0\)"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, kwargs, message) -> None:
    with pytest.raises(CostError, match=message):
        measure_cost(cfgmod.load(SHAPES), cache_dir=tmp_path, **{"variant": "int8", "threads": 2, **kwargs})


def test_a_model_the_exporter_cannot_take_is_refused_before_any_work(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(costmod, "_run_child", _no_child)
    cfg = cfgmod.load(SHAPES)
    cfg.model.ssd.image_resizer.keep_aspect_ratio_resizer.min_dimension = 128
    with pytest.raises(CostError, match="image_resizer keep_aspect_ratio_resizer is not supported by the OD API "
                                        "TFLite exporter") as info:
        measure_cost(cfg, variant="fp32", threads=2, cache_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_int8_without_training_records_says_how_to_fix_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(costmod, "_run_child", _no_child)
    with pytest.raises(CostError, match=r"int8 calibration needs training images, and "
                                        r"train_input_reader.tf_record_input_reader.input_path names no existing "
                                        r"TFRecord; .*or measure another variant \(fp32, fp16\)"):
        measure_cost(cfgmod.load(SHAPES), variant="int8", threads=2, cache_dir=tmp_path)
    empty = tmp_path / "empty.record"
    empty.write_bytes(b"")
    with pytest.raises(CostError, match="hold no example"):
        measure_cost(cfgmod.load(SHAPES), variant="int8", threads=2, cache_dir=tmp_path,
                     calibration_records=[empty])


# -- real measurements ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shapes_cfg(make_config):  # type: ignore[no-untyped-def]
    """The tiny shapes config, pointed at the session's shapes dataset (its train records calibrate int8)."""
    return cfgmod.loads(make_config(10))


@pytest.fixture(scope="module")
def measured(shapes_cfg, tmp_path_factory):  # type: ignore[no-untyped-def]
    """(cache dir, cost) of the shapes config as int8 on 2 threads, measured once for the module,
    from a copy whose training records are a path relative to the working directory (as the demo
    config's data/shapes/...: the measuring child runs elsewhere, so it must be given them absolute)."""
    cache = tmp_path_factory.mktemp("cost-cache")
    before = costmod.MEASUREMENTS
    relative = cfgmod.loads(cfgmod.dumps(shapes_cfg))
    paths = relative.train_input_reader.tf_record_input_reader.input_path
    records = Path(paths[0])
    paths[:] = [records.name]
    with contextlib.chdir(records.parent):
        cost = measure_cost(relative, variant="int8", threads=2, cache_dir=cache, latency_runs=RUNS)
    assert costmod.MEASUREMENTS == before + 1
    return cache, cost


def test_the_untrained_model_is_measured(odapi, measured, shapes_cfg) -> None:
    cache, cost = measured
    assert not cost.from_cache
    assert cost.arch_hash == arch_hash(shapes_cfg) and cost.variant == "int8" and cost.threads == 2
    # SSD MobileNet V2 x0.35 at 128 px, int8: about 0.85 MB (odapi-stack.md: 0.88 MB trained)
    assert 500 < cost.size_kb < 1500 and cost.size_bytes == pytest.approx(cost.size_kb * 1024, abs=10)
    assert 0 < cost.latency_ms <= cost.latency_p90_ms and cost.latency_runs == RUNS
    assert cost.input_size == (128, 128)
    assert set(cost.stage_seconds) == {"import", "build", "export", "convert", "time"}
    assert cost.measure_seconds >= sum(cost.stage_seconds.values())
    files = sorted(p.name for p in cache.iterdir())
    assert files == [f"{cost.arch_hash}-int8-2t.json"]  # no work directory or log left behind
    assert json.loads((cache / files[0]).read_text())["size_bytes"] == cost.size_bytes


def test_second_call_and_irrelevant_edits_come_from_the_cache(odapi, measured, shapes_cfg, monkeypatch) -> None:
    cache, cost = measured
    path = cache_path(cache, cost.arch_hash, "int8", 2)
    stamp = path.stat().st_mtime_ns
    monkeypatch.setattr(costmod, "_run_child", _no_child)
    again = measure_cost(shapes_cfg, variant="int8", threads=2, cache_dir=cache, latency_runs=RUNS)
    assert again.from_cache and again.size_bytes == cost.size_bytes and again.latency_ms == cost.latency_ms
    edited = cfgmod.loads(cfgmod.dumps(shapes_cfg))
    KNOBS["learning_rate"](edited, 0.01)
    KNOBS["anchors"](edited, 1.2)
    cfgmod.set_value(edited, "model.ssd.post_processing.batch_non_max_suppression.score_threshold", 0.3)
    assert measure_cost(edited, variant="int8", threads=2, cache_dir=cache).from_cache
    assert path.stat().st_mtime_ns == stamp


def test_a_failed_measurement_is_one_line_keeps_its_log_and_prints_nothing(odapi, shapes_cfg, tmp_path,
                                                                            capfd) -> None:
    broken = cfgmod.loads(cfgmod.dumps(shapes_cfg))
    broken.model.ssd.feature_extractor.type = "ssd_mobilenet_v9_keras"
    with pytest.raises(CostError) as info:
        measure_cost(broken, variant="fp32", threads=2, cache_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot measure the cost of architecture {arch_hash(broken)}-fp32-2t: the OD API "
                              "cannot build the trial's model")
    log = tmp_path / f"{arch_hash(broken)}-fp32-2t.log"
    assert f"(log: {log})" in message and log.is_file()
    assert not list(tmp_path.glob(".work-*")) and not list(tmp_path.glob("*.json"))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
