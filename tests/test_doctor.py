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


def test_python_check_wants_exactly_3_11(monkeypatch) -> None:
    from tuner import doctor

    for version in ((3, 10, 12), (3, 12, 1), (3, 9, 18)):
        check = doctor.check_python(version)
        assert not check.ok and check.detail.startswith(".".join(map(str, version)))
        assert "needs Python 3.11" in check.fix and "rm -rf .venv" in check.fix
    assert doctor.check_python((3, 11, 7)).ok


class _BrokenTensorflow:
    """A meta-path finder whose tensorflow import fails the way a numpy 2 upgrade breaks it."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise AttributeError("_ARRAY_API not found")
        return None


def test_broken_tensorflow_is_a_failed_check_not_a_traceback(tmp_path, capsys, monkeypatch) -> None:
    from tuner import doctor

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")  # main() sets it; keep the change to this test
    # tensorflow is installed (metadata says 2.15) but its import fails, e.g. after a stray upgrade
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenTensorflow(), *sys.meta_path])
    check = doctor.check_gpus()
    assert not check.ok
    assert "TensorFlow fails to import (AttributeError: _ARRAY_API not found)" in check.detail
    assert check.fix == doctor.SETUP_FIX
    ok = doctor.Check("stub", True, "ok")
    for name in ("check_python", "check_tensorflow", "check_protobuf"):
        monkeypatch.setattr(doctor, name, lambda: ok)
    assert doctor.main(["--run-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] gpus" in out and "fix: run `make setup`" in out
    assert out.rstrip().splitlines()[-1].startswith("doctor: ")  # every check ran, none raised


@pytest.mark.parametrize("user_level, expected", [(None, "2"), ("0", "0")])
def test_doctor_quiets_tensorflow_logging_unless_the_user_chose(user_level, expected, tmp_path,
                                                                 monkeypatch) -> None:
    import os

    from tuner import doctor

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "placeholder")  # so the test's changes are undone
    if user_level is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", user_level)
    seen = []
    monkeypatch.setattr(doctor, "run_checks", lambda run_dir: seen.append(
        os.environ.get("TF_CPP_MIN_LOG_LEVEL")) or [doctor.Check("stub", True, "ok")])
    assert doctor.main(["--run-dir", str(tmp_path)]) == 0
    assert seen == [expected]
