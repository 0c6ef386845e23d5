"""bench/anchors.py: the fit-speed table (real fit on the demo model's feature maps) and the
trials table on hand-made rows. Its trial part runs real studies (docs/benchmarks.md gives the measured table)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchload import load_bench

REPO = Path(__file__).resolve().parents[2]


def test_fit_only_prints_both_objectives_with_their_coverages() -> None:
    result = subprocess.run([sys.executable, str(REPO / "bench" / "anchors.py"), "--fit-only", "--fit-boxes", "3000",
                             "--out", "/tmp/odapi-tuner-bench-anchors-test"], capture_output=True, text=True,
                            timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("3000 ")]
    assert [r[1] for r in rows] == ["shape", "grid"]
    for row in rows:  # shape coverage "before -> after" (after "N s" wall and the candidates): raised by both
        assert row[6] == "->" and float(row[5]) < float(row[7])


def test_trials_table_gives_lifts_and_medians() -> None:
    bench = load_bench("anchors")
    cov = {"shape_coverage": 0.5, "grid_coverage": 0.2}
    rows = [[21, (0.20, cov, 300, 150.0), (0.25, cov, 300, 160.0), (0.19, cov, 300, 155.0)],
            [22, (0.30, cov, 300, 150.0), (0.28, cov, 300, 160.0), (None, {}, 0, 0.0)]]
    lines = bench.trials_table(rows)
    assert "+0.0500" in lines[2] and "-0.0100" in lines[2] and "7.8 min" in lines[2]
    assert lines[3].split()[:2] == ["22", "0.50"] and "-0.0200" in lines[3]
    assert lines[-2] == "grid fit (the default): median lift +0.0150 over 2 seeds, won 1 of 2"
    assert lines[-1] == "shape fit: median lift -0.0100 over 1 seeds, won 0 of 1"
