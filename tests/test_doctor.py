from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.usefixtures("odapi")
def test_doctor_is_all_green_on_the_installed_stack(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "tuner.doctor", "--run-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("[")]
    assert lines and all(ln.startswith("[ok]") for ln in lines), result.stdout
    for name in ("tensorflow", "protobuf", "object_detection", "shim tf_slim_control_flow",
                 "shim pillow_getsize", "gpus", "run directory"):
        assert any(name in ln for ln in lines), name
    assert "implementation:" in result.stdout


def test_unwritable_run_dir_fails_with_a_fix(tmp_path) -> None:
    from tuner import doctor

    blocked = tmp_path / "ro"
    blocked.mkdir()
    blocked.chmod(0o500)
    try:
        check = doctor.check_run_dir(blocked / "runs")
        if check.ok:  # root ignores permission bits: a file in the way is unwritable for everyone
            check = doctor.check_run_dir(_file_in_the_way(tmp_path) / "runs")
    finally:
        blocked.chmod(0o700)
    assert not check.ok
    assert "writable" in check.detail and check.fix


def _file_in_the_way(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("")
    return f


def test_doctor_exit_code_is_1_when_a_check_fails(tmp_path, capsys, monkeypatch) -> None:
    from tuner import doctor

    monkeypatch.setattr(doctor, "check_tensorflow",
                        lambda: doctor.Check("tensorflow", False, "2.16.1", "install 2.15"))
    assert doctor.main(["--run-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] tensorflow" in out and "fix: install 2.15" in out
