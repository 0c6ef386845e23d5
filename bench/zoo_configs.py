"""The config commands and the study's preflight on the model zoo's own configs, as users have them.

The configs are not in this repository: fetch them (tensorflow/models,
research/object_detection/configs/tf2 and samples/configs) into directories and name those:

    .venv/bin/python bench/zoo_configs.py --zoo /tmp/zoo/tf2 --zoo /tmp/zoo/tf1
    .venv/bin/python bench/zoo_configs.py --zoo /tmp/zoo/tf2 --dry-run 2 --data DIR   # + build every SSD

For each config it runs, in-process and as the CLI does (``tuner.config.__main__.main``):
``lint --no-files``, ``set train_config.num_steps=1234 -o OUT`` (and counts the changed lines),
``diff`` of the two and ``edit --num-steps 1000 --learning-rate 0.01 -o OUT``; a config that does not
parse gets one line (exit 2) from each. With ``--dry-run N`` and ``--data DIR`` (train.record,
eval.record, label_map.pbtxt), every SSD config, its batch size set to 8, also runs
``python -m tuner.study --dry-run N`` (the default space; builds the models: minutes per large config).
Prints one row per config and the outcome counts.
"""
from __future__ import annotations

import contextlib
import difflib
import io
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuner.cli import OneLineParser, text_table  # noqa: E402


def _cli(*args: object) -> tuple[int, str, str]:
    from tuner.config.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _changed(a: str, b: str) -> int:
    return sum(1 for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _dry_run(config: Path, n: int, data: Path, work: Path) -> str:
    from tuner import config as cfgmod

    cfg = cfgmod.load(config)
    if cfg.model.WhichOneof("model") != "ssd":
        return "-"
    cfg.train_config.batch_size = 8
    base = work / config.name
    base.write_text(cfgmod.dumps(cfg))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "tuner.study", "--base", str(base), "--train-data",
                             str(data / "train.record"), "--eval-data", str(data / "eval.record"), "--label-map",
                             str(data / "label_map.pbtxt"), "--dry-run", str(n), "--seed", "0",
                             "--run-dir", str(work / "run")], cwd=ROOT, capture_output=True, text=True)
    summary = next((line for line in result.stdout.splitlines() if line.startswith("preflight:")),
                   (result.stderr.strip().splitlines() or ["?"])[-1][:80])
    return f"exit {result.returncode} ({time.monotonic() - started:.0f} s): {summary.removeprefix('preflight: ')}"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="bench/zoo_configs.py", description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", action="append", required=True, help="a directory of *.config files (repeatable)")
    parser.add_argument("--dry-run", type=int, metavar="N", help="also run the study's --dry-run N on every SSD config")
    parser.add_argument("--data", type=Path, help="with --dry-run: a dataset directory (tuner.data.shapes writes one)")
    args = parser.parse_args(argv)
    if args.dry_run and not args.data:
        parser.error("--dry-run needs --data DIR")
    configs = sorted(p for d in args.zoo for p in Path(d).glob("*.config"))
    if not configs:
        parser.error(f"no *.config in {', '.join(args.zoo)}")
    rows, counts = [], Counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i, config in enumerate(configs, 1):
            print(f"[{i}/{len(configs)}] {config.name}", file=sys.stderr, flush=True)
            out = work / "out.config"
            lint, _, lint_err = _cli("lint", config, "--no-files")
            code, _, set_err = _cli("set", config, "train_config.num_steps=1234", "-o", out)
            lines = _changed(config.read_text(), out.read_text()) if code == 0 else None
            diff_code, diff_out, _ = _cli("diff", config, out) if code == 0 else (None, "", "")
            edit_code, _, _ = _cli("edit", config, "--num-steps", "1000", "--learning-rate", "0.01", "-o", out)
            crashed = 3 in (lint, code, diff_code, edit_code)
            counts["configs"] += 1
            counts["a traceback or exit 3 (a bug)"] += crashed
            counts["parse error (one line, exit 2)"] += lint == 2
            counts["lint exit 0"] += lint == 0
            counts["lint exit 1 (errors found)"] += lint == 1
            counts["set: a 2-line change"] += lines == 2
            counts["diff names the one change"] += bool(re.fullmatch(r"train_config\.num_steps: \d+ -> 1234\n", diff_out))
            counts["edit exit 0"] += edit_code == 0
            note = (lint_err or set_err).strip().split(" (fix:")[0][-70:] if lint == 2 else ""
            dry = _dry_run(config, args.dry_run, args.data, work) if args.dry_run and lint != 2 else ""
            rows.append((config.parent.name + "/" + config.stem[:48], str(lint), str(code),
                         "-" if lines is None else str(lines), "-" if diff_code is None else str(diff_code),
                         str(edit_code), note or dry))
    print("\n".join(text_table(("config", "lint", "set", "lines", "diff", "edit", "note / dry run"), rows)))
    print()
    print("\n".join(text_table(("outcome", "configs"), [(k, str(v)) for k, v in counts.items()])))
    return 1 if counts["a traceback or exit 3 (a bug)"] else 0


if __name__ == "__main__":
    sys.exit(main())
