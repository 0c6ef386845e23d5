"""tuner.protocol: the lines and files a trial's processes leave for the supervisor and the bench."""
from __future__ import annotations

import subprocess
import sys

from tuner import protocol


def test_phase_lines_are_read_back_with_their_time_and_cpu() -> None:
    code = ("import time\nfrom tuner import protocol\nprotocol.phase('imported')\n"
            "t = time.process_time()\nwhile time.process_time() - t < 0.2: pass\nprotocol.phase('exit')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    phases = protocol.read_phases("noise before\n" + out + "PHASE broken\n")
    assert list(phases) == ["imported", "exit"]
    (t0, cpu0), (t1, cpu1) = phases["imported"], phases["exit"]
    assert t1 >= t0 and cpu1 - cpu0 >= 0.15, phases  # the busy loop shows as CPU time


def test_a_ledger_line_being_written_is_not_read(tmp_path) -> None:
    protocol.append_ledger(tmp_path, {"step": 10, "checkpoint": "ckpt-2", "seconds": 1.0})
    with protocol.ledger_path(tmp_path).open("a") as fh:
        fh.write('{"step": 20, "checkp')  # a writer mid-line
    assert protocol.read_ledger(tmp_path) == [{"step": 10, "checkpoint": "ckpt-2", "seconds": 1.0}]
