"""bench/seeds.py: the table from hand-made runs, bad flags, and a refused OUT of another plan.

The bench itself trains (``python -m tuner.trial``); it is run by hand (see its docstring).
"""
from __future__ import annotations

import types
from pathlib import Path

import pytest
from benchload import load_bench

from tuner import events
from tuner.outcome import Evaluation, FailureClass, Status, TrialOutcome


@pytest.fixture(scope="module")
def bench() -> types.ModuleType:
    return load_bench("seeds")


def _run(bench, key: str, index: int, seed: int, mAP: float | None, wall: float = 100.0):
    setting = next(s for s in bench.SETTINGS if s.key == key)
    if mAP is None:
        outcome = TrialOutcome(Status.FAILED, FailureClass.CRASH, "train process crashed: boom", (), None, None, None,
                               wall)
    else:
        last = Evaluation(300, {events.MAP: mAP}, "ckpt-3")
        outcome = TrialOutcome(Status.COMPLETED, None, "trained", (Evaluation(150, {events.MAP: 0.1}), last), last,
                               "ckpt-3", "ckpt-3", wall, seed=seed, deterministic=setting.deterministic)
    return bench.Run(setting, index, seed, outcome, Path(f"/tmp/{key}-{index + 1}.log"))


def test_the_table_gives_each_run_the_spread_and_the_cost_of_determinism(bench) -> None:
    runs = [_run(bench, "same", 0, 0, 0.25, 100), _run(bench, "same-det", 0, 0, 0.3, 150),
            _run(bench, "diff", 0, 0, 0.25, 90), _run(bench, "same", 1, 0, 0.2, 100),
            _run(bench, "same-det", 1, 0, 0.3, 150), _run(bench, "diff", 1, 1, None, 110)]
    text = bench.render(runs)
    lines = text.splitlines()
    assert lines[0].split() == ["setting", "runs", "ok", "seeds", "mAP", "of", "each", "run", "(last", "step)",
                                "spread", "wall/run"]
    assert lines[2].split() == ["same", "seed", "2/2", "0,0", "0.2500", "0.2000", "0.0500", "100", "s"]
    assert lines[3].split() == ["same", "seed,", "deterministic", "2/2", "0,0", "0.3000", "0.3000", "0.0000", "150",
                                "s"]
    assert lines[4].split() == ["different", "seeds", "1/2", "0,1", "0.2500", "failed", "-", "90", "s"]
    assert "op determinism: 150 s per run against 100 s with the same seed without it (+50%)" in lines
    assert lines[-1] == "different seeds, run 2 (seed 1) did not complete: train process crashed: boom"


def test_seeds_per_setting(bench) -> None:
    same, det, diff = bench.SETTINGS
    assert [same.seed(7, r) for r in range(3)] == [7, 7, 7]
    assert det.deterministic and [det.seed(7, r) for r in range(3)] == [7, 7, 7]
    assert not diff.deterministic and [diff.seed(7, r) for r in range(3)] == [7, 8, 9]


@pytest.mark.parametrize("argv, message", [
    (["--runs", "1"], "error: --runs must be >= 2: a spread needs two runs (got 1)"),
    (["--seed", "-1"], "error: --seed must be an integer in [0, 2**31) (got -1)"),
    (["--seed", str(2**31 - 1)], "error: --seed must be an integer in [0, 2**31) (got 2147483648)"),
    (["--steps", "25", "--eval-every", "10"], "error: --steps 25 is not a multiple of --eval-every 10"),
    (["--runs", "two"], "error: argument --runs: invalid int value: 'two' (see bench/seeds.py --help)"),
])
def test_bad_flags_are_one_line_and_exit_2(bench, tmp_path, capsys, argv, message) -> None:
    if "invalid int" in message:  # argparse's own error exits
        with pytest.raises(SystemExit) as exit_info:
            bench.main([*argv, "--out", str(tmp_path / "out")])
        assert exit_info.value.code == 2
    else:
        assert bench.main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert not (tmp_path / "out").exists()


def test_an_out_of_another_plan_is_refused(bench, tmp_path, make_config, capsys) -> None:
    base = tmp_path / "tiny.config"
    base.write_text(make_config(20))
    out = tmp_path / "out"
    args = ["--base", str(base), "--fine-tune-checkpoint", "none", "--steps", "20", "--eval-every", "10",
            "--out", str(out)]
    plan = bench.make_plan(bench.build_parser().parse_args(args))
    assert (out / "base.config").is_file() and (out / bench.PLAN_FILE).is_file()
    assert plan.command(bench.SETTINGS[1], 1)[-3:] == ["--seed", "0", "--deterministic"]
    assert bench.make_plan(bench.build_parser().parse_args(args + ["--runs", "3"])).runs == 3  # more runs: fine
    assert bench.main(args[:-4] + ["--steps", "40", "--eval-every", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {out} holds runs of another config, budget or seed ({out / bench.PLAN_FILE}); continue "
                   "them with the same flags, or choose another --out"]
