"""``python -m tuner.anchors analyze|fit`` on generated thin-bar data, and its bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from tuner import config as cfgmod
from tuner.anchors.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def _json(capsys, *argv: str) -> dict:
    assert main(["analyze", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_analyze_reports_low_shape_coverage_and_fit_raises_it(bars, tmp_path, capsys):
    before = _json(capsys, "--config", str(bars), "--png", str(tmp_path / "base.png"))
    assert before["boxes"] > 100 and before["shape_coverage"] < 0.7
    assert all(0 <= before[k] <= 1 for k in ("shape_coverage", "grid_coverage", "mean_best_iou"))
    assert {g["name"] for g in before["by_class"]} == {"rod", "stick", "circle"}
    assert (tmp_path / "base.png").read_bytes()[:4] == b"\x89PNG"

    out = tmp_path / "fitted.config"
    assert main(["fit", "--config", str(bars), "-o", str(out), "--objective", "shape"]) == 0
    printed = capsys.readouterr().out
    assert "shape base" in printed and "shape fit" in printed and f"wrote {out}" in printed
    after = _json(capsys, "--config", str(out))
    assert after["shape_coverage"] >= 0.95
    changed = {c.path.split(".")[-1] for c in cfgmod.diff(cfgmod.load(bars), cfgmod.load(out))}
    assert changed and changed <= {"min_scale", "max_scale", "aspect_ratios"}  # only the anchors changed
    assert (tmp_path / "fitted.anchors.png").is_file()


def test_fit_refuses_to_overwrite_and_writes_nothing_on_bad_input(bars, tmp_path, capsys):
    out = tmp_path / "exists.config"
    out.write_text("mine")
    assert main(["fit", "--config", str(bars), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--overwrite" in err
    assert out.read_text() == "mine"

    cfg = cfgmod.load(bars)
    cfg.model.ssd.anchor_generator.ClearField("ssd_anchor_generator")
    cfg.model.ssd.anchor_generator.grid_anchor_generator.SetInParent()
    cfgmod.save(cfg, tmp_path / "grid.config")
    assert main(["fit", "--config", str(tmp_path / "grid.config"), "-o", str(tmp_path / "new.config")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.ssd.anchor_generator" in err
    assert not (tmp_path / "new.config").exists() and not (tmp_path / "new.anchors.png").exists()


def test_boxes_outside_the_image_name_the_file_and_record(bars, tmp_path, capsys):
    import tensorflow as tf

    record = tmp_path / "bad.record"
    with tf.io.TFRecordWriter(str(record)) as writer:
        for ymax in (0.5, 0.6, 1.7):
            floats = lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=v))  # noqa: E731
            ints = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=v))  # noqa: E731
            feature = {"image/height": ints([128]), "image/width": ints([128]),
                       "image/object/bbox/ymin": floats([0.1]), "image/object/bbox/xmin": floats([0.1]),
                       "image/object/bbox/ymax": floats([ymax]), "image/object/bbox/xmax": floats([0.5]),
                       "image/object/class/label": ints([1])}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    assert main(["analyze", "--config", str(bars), "--data", str(record), "--png", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(record) in err and "record 2" in err
    assert not (tmp_path / "x.png").exists()


def test_cli_process_prints_our_lines_only(bars, tmp_path):
    result = subprocess.run([sys.executable, "-m", "tuner.anchors", "analyze", "--config", str(bars), "--png",
                             str(tmp_path / "a.png")], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})  # as a user runs it
    assert result.returncode == 0, result.stderr
    assert "shape" in result.stdout and "advice:" in result.stdout and "python -m tuner.anchors fit" in result.stdout
    assert "external/local_xla" not in result.stderr + result.stdout


def test_fit_grows_the_fitted_sizes_by_default_and_growth_1_keeps_them(bars, tmp_path, capsys):
    from tuner.anchors.fit import TRAINING_GROWTH
    from tuner.anchors.params import grown, params_from_config

    exact, default = tmp_path / "exact.config", tmp_path / "default.config"
    assert main(["fit", "--config", str(bars), "-o", str(exact), "--growth", "1"]) == 0
    assert "sizes x" not in capsys.readouterr().out
    assert main(["fit", "--config", str(bars), "-o", str(default)]) == 0
    assert f"sizes x{TRAINING_GROWTH:g}" in capsys.readouterr().out

    def read(path):  # the config holds 32-bit floats
        p = params_from_config(cfgmod.load(path))
        return (round(p.min_scale, 6), round(p.max_scale, 6), tuple(round(r, 6) for r in p.aspect_ratios))

    optimum = params_from_config(cfgmod.load(exact))
    assert read(exact) != read(bars)
    want = grown(optimum, TRAINING_GROWTH)
    assert read(default) == (round(want.min_scale, 6), round(want.max_scale, 6), read(exact)[2])
    assert read(default)[0] > read(exact)[0]

    assert main(["fit", "--config", str(bars), "-o", str(tmp_path / "bad.config"), "--growth", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--growth" in err and not (tmp_path / "bad.config").exists()
