"""Where the test suite's time goes: each work unit's wall time, as ``tests/conftest.py`` records it.

    ODAPI_TUNER_UNIT_TIMES=/tmp/units.jsonl make test
    .venv/bin/python bench/test_times.py /tmp/units.jsonl

A unit is what one pytest-xdist worker runs as a whole (a module, or a folder whose tests share a
session fixture). Prints the units slowest first with their worker and share of the suite, then
each worker's busy time and the wall time from the first start to the last end.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuner.cli import OneLineParser, text_table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="bench/test_times.py", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="the JSON lines ODAPI_TUNER_UNIT_TIMES pointed at")
    parser.add_argument("--top", type=int, default=25, help="units to list (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        rows = [json.loads(line) for line in args.file.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        parser.error(f"{args.file}: {exc}")
    if not rows:
        parser.error(f"{args.file} holds no unit times")
    total = sum(r["seconds"] for r in rows)
    rows.sort(key=lambda r: -r["seconds"])
    print("\n".join(text_table(("unit", "worker", "tests", "seconds", "share"), [
        (r["unit"], r["worker"], str(r["tests"]), f"{r['seconds']:.0f}", f"{100 * r['seconds'] / total:.1f}%")
        for r in rows[:args.top]])))
    busy: dict[str, float] = defaultdict(float)
    for r in rows:
        busy[r["worker"]] += r["seconds"]
    start = min(r["start"] for r in rows)
    end = max(r["start"] + r["seconds"] for r in rows)
    print(f"\n{len(rows)} units, {sum(r['tests'] for r in rows)} tests, {total / 60:.1f} min of unit time; "
          + ", ".join(f"{w} busy {s / 60:.1f} min" for w, s in sorted(busy.items()))
          + f"; wall {(end - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
