"""Warm trainers (tuner.trial.host) as a trial drives them, with a TensorFlow-free stand-in for
``tuner.odapi.host`` that speaks its protocol (a JSON request per line on stdin, the trial's output
pointed at its log, ``HOST_END <code>`` on the control output). The real warm trainer is tested in
``test_runner.py`` (two trials in one process train as two fresh processes do)."""
from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest
from procutil import group_alive, install_stand_in

from tuner.outcome import FailureClass, Status
from tuner.trial import Trial, TrialSpec
from tuner.trial.host import WarmHost
from tuner.trial.process import trial_env

#: The stand-in: the trial's config text names what it does (ok, crash, sleep).
FAKE_HOST = textwrap.dedent('''
    import json, os, sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from eventfiles import EventFile, tensor_event
    from tuner import protocol

    control = os.fdopen(os.dup(1), "w", buffering=1)
    max_trials = int(sys.argv[sys.argv.index("--max-trials") + 1])
    for _ in range(max_trials):
        line = sys.stdin.readline()
        if not line:
            break
        request = json.loads(line)
        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        argv = request["argv"]
        model_dir = Path(argv[argv.index("--model-dir") + 1])
        mode = Path(argv[argv.index("--config") + 1]).read_text().strip().lstrip("# ")
        print(f"fake host {{os.getpid()}}: {{mode}}", flush=True)
        code = 0
        if mode == "sleep":
            time.sleep(600)
        elif mode == "crash":
            print("RuntimeError: boom in the input pipeline", flush=True)
            code = 1
        else:
            with EventFile(model_dir / "eval") as fh:
                fh.append(tensor_event("DetectionBoxes_Precision/mAP", 0.5, 20, metadata=True))
            protocol.append_ledger(model_dir, {{"step": 20, "checkpoint": "ckpt-2", "seconds": 0.0}})
        print(f"HOST_END {{code}}", file=control)
        if code:
            break
''')


class FakeHost(WarmHost):
    module = "fake_host"


@pytest.fixture()
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    install_stand_in(tmp_path, monkeypatch, "fake_host", FAKE_HOST)
    made = FakeHost(trial_env(None, 0), max_trials=3)
    yield made
    made.close()


def _trial(tmp_path: Path, name: str, mode: str, host: WarmHost, **spec) -> Trial:
    spec = {"seed": 1, "eval_every": 20, **spec}
    return Trial(TrialSpec(f"# {mode}\n", tmp_path / name, steps=20, **spec), host=host)


def _pid(trial: Trial) -> int:
    return int((trial.log_dir / "train.log").read_text().split()[2].rstrip(":"))


def test_successive_trials_share_one_warm_process_until_it_is_recycled(tmp_path, host) -> None:
    trials = [_trial(tmp_path, f"t{i}", "ok", host) for i in range(4)]
    for trial in trials:
        assert [e.value("DetectionBoxes_Precision/mAP") for e in trial.evaluations()] == [0.5]
        assert trial.outcome.status is Status.COMPLETED
    pids = [_pid(t) for t in trials]
    assert pids[0] == pids[1] == pids[2] != pids[3]  # max_trials 3: the fourth trial gets a new process
    assert host.started == 2
    assert group_alive(pids[3])  # kept for the next trial ...
    host.close()
    assert not group_alive(pids[3])  # ... until the study closes it


def test_a_stopped_trial_takes_its_warm_process_with_it(tmp_path, host) -> None:
    sleeping = _trial(tmp_path, "t0", "sleep", host)
    threading.Timer(1.5, sleeping.stop, kwargs={"reason": "pruned at step 10"}).start()
    assert list(sleeping.evaluations()) == []
    assert sleeping.outcome.status is Status.STOPPED and sleeping.outcome.reason == "pruned at step 10"
    assert not group_alive(_pid(sleeping))
    after = _trial(tmp_path, "t1", "ok", host)
    assert len(list(after.evaluations())) == 1 and after.outcome.status is Status.COMPLETED
    assert host.started == 2 and _pid(after) != _pid(sleeping)


def test_a_crash_fails_its_trial_only_and_the_next_trial_gets_a_fresh_process(tmp_path, host) -> None:
    crashed = _trial(tmp_path, "t0", "crash", host)
    assert list(crashed.evaluations()) == []
    assert crashed.outcome.status is Status.FAILED and crashed.outcome.failure is FailureClass.CRASH
    assert "boom in the input pipeline" in crashed.outcome.reason
    after = _trial(tmp_path, "t1", "ok", host)
    assert len(list(after.evaluations())) == 1 and after.outcome.status is Status.COMPLETED
    assert host.started == 2 and _pid(after) != _pid(crashed)


@pytest.mark.parametrize("spec", [{"seed": None}, {"eval_every": 10}])
def test_only_seeded_one_process_trials_use_a_warm_process(tmp_path, host, spec) -> None:
    # unseeded: it must not inherit the previous trial's global seed; two evaluations: an evaluator runs beside it
    assert _trial(tmp_path, "t0", "ok", host, **spec).host is None
    assert _trial(tmp_path, "t1", "ok", host).host is host


def test_the_trial_env_names_the_device_and_threads(monkeypatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = trial_env("1", 3)
    assert (env["CUDA_VISIBLE_DEVICES"], env["OMP_NUM_THREADS"], env["PYTHONUNBUFFERED"]) == ("1", "3", "1")
    inherited = trial_env(None, 0)
    assert "CUDA_VISIBLE_DEVICES" not in inherited and "OMP_NUM_THREADS" not in inherited
