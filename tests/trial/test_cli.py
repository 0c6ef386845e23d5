"""python -m tuner.trial end to end on the real OD API, and its bad-input exits."""
from __future__ import annotations

import json
import subprocess
import sys


def _trial_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuner.trial", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_prints_each_evaluated_step_and_the_best(tmp_path, make_config) -> None:
    config = tmp_path / "tiny.config"
    config.write_text(make_config(20))
    result = _trial_cli("--config", str(config), "--steps", "20", "--eval-every", "10", "--out", str(tmp_path / "t"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    steps = [ln for ln in lines if ln.startswith("step ")]
    assert [ln.split()[1] for ln in steps] == ["10", "20"]
    assert all("mAP " in ln and "mAP@.50 " in ln for ln in steps)
    assert any(ln.startswith("completed: trained 20 steps, 2 evaluations") for ln in lines)
    best = next(ln for ln in lines if ln.startswith("best: step "))
    result_json = json.loads((tmp_path / "t" / "result.json").read_text())
    assert best.startswith(f"best: step {result_json['best']['step']} ")


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, make_config) -> None:
    config = tmp_path / "tiny.config"
    config.write_text(make_config(20))
    broken = tmp_path / "broken.config"
    broken.write_text("model {\n  ssd { num_classes: three }\n}\n")
    cases = {
        ("--config", str(tmp_path / "missing.config"), "--steps", "20", "--eval-every", "10"): "not found",
        ("--config", str(config), "--steps", "25", "--eval-every", "10"): "not a multiple of --eval-every",
        ("--config", str(config), "--steps", "20", "--eval-every", "10", "--train-data", "x"):
            "give all of --train-data, --eval-data and --label-map",
        ("--config", str(broken), "--steps", "20", "--eval-every", "10"): "broken.config:2:",
    }
    for args, expected in cases.items():
        result = _trial_cli(*args, "--out", str(tmp_path / "never"))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
        assert expected in result.stderr
        assert not (tmp_path / "never").exists()


def test_cli_bad_seed_is_one_line_and_exit_2_before_any_data_is_read(tmp_path, capsys) -> None:
    from tuner.trial.__main__ import main

    common = ["--config", str(tmp_path / "missing.config"), "--steps", "20", "--eval-every", "10",
              "--out", str(tmp_path / "never")]
    cases = {("--seed", "-3"): "error: --seed must be an integer in [0, 2**31) (got -3)",
             ("--seed", str(2**31)): "error: --seed must be an integer in [0, 2**31) (got 2147483648)",
             ("--deterministic",): "error: --deterministic needs --seed"}
    for args, expected in cases.items():
        assert main([*common, *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(expected), err  # checked before the missing config
        assert not (tmp_path / "never").exists()
