"""How long after an eval scalar is written does EventDirReader see it?

A writer thread appends eval-like events (the twelve COCO metrics as TF2 float32 tensor
summaries, like the OD API's evaluation) to an event file in a temporary directory at irregular
intervals, flushing after each evaluation. The main thread runs an EventDirReader poll loop
every 0.2 s, as the trial runner does. Latency = time the reader first returns the mAP of an
evaluation - time that evaluation's write+flush returned.

Usage: python bench/event_latency.py [--samples 20] [--poll 0.2]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tuner import events

TARGET_S = 2.0


def _eval_event(tag: str, value: float, step: int, first: bool) -> event_pb2.Event:
    content = np.array(value, "<f4").tobytes()
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=content)
    summary_value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if first:
        summary_value.metadata.plugin_data.plugin_name = "scalars"
    summary = summary_pb2.Summary(value=[summary_value])
    return event_pb2.Event(wall_time=time.time(), step=step, summary=summary)


def _writer(path: str, samples: int, flushed_at: dict[int, float], stop: threading.Event) -> None:
    rng = random.Random(0)
    with open(path, "ab") as f:
        records = RecordWriter(f)
        header = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        records.write(header.SerializeToString())
        records.flush()
        for i in range(samples):
            time.sleep(rng.uniform(0.15, 0.45))  # not in phase with the poll loop
            step = (i + 1) * 100
            # mAP last, so seeing it means the whole evaluation is visible.
            for tag in (*events.COCO_TAGS[1:], events.MAP):
                records.write(_eval_event(tag, rng.random(), step, first=i == 0).SerializeToString())
            records.flush()
            flushed_at[step] = time.monotonic()
            if stop.is_set():
                return


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints a table; exit code 1 if the max latency misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.2, help="poll interval in seconds")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        eval_dir = os.path.join(tmp, "model_dir", "eval")
        # The reader starts before the directory exists, as it does for a fresh trial.
        reader = events.EventDirReader(eval_dir, tags=[events.MAP])
        flushed_at: dict[int, float] = {}
        seen_at: dict[int, float] = {}
        poll_costs: list[float] = []
        stop = threading.Event()

        os.makedirs(eval_dir)
        path = os.path.join(eval_dir, f"events.out.tfevents.{int(time.time()):010d}.bench.{os.getpid()}.0.v2")
        writer = threading.Thread(target=_writer, args=(path, args.samples, flushed_at, stop), daemon=True)
        writer.start()
        deadline = time.monotonic() + args.samples * 0.5 + 10 * TARGET_S
        while len(seen_at) < args.samples and time.monotonic() < deadline:
            started = time.monotonic()
            new = reader.poll()
            now = time.monotonic()
            poll_costs.append(now - started)
            for event in new:
                seen_at.setdefault(event.step, now)
            time.sleep(args.poll)
        stop.set()
        writer.join(timeout=5)

    latencies = [max(0.0, seen_at[s] - flushed_at[s]) for s in sorted(seen_at) if s in flushed_at]
    missed = args.samples - len(latencies)
    rows = [
        ("median", statistics.median(latencies)),
        ("p90", _percentile(latencies, 0.9)),
        ("max", max(latencies)),
    ]
    print(f"EventDirReader latency, write+flush -> returned by poll() "
          f"(poll every {args.poll:g} s, {len(latencies)} samples, {missed} missed)")
    print(f"{'stat':<8}{'latency [s]':>12}  target")
    for name, value in rows:
        print(f"{name:<8}{value:>12.3f}  < {TARGET_S:g} s {'ok' if value < TARGET_S else 'MISSED'}")
    print(f"mean poll() cost: {1000 * statistics.mean(poll_costs):.2f} ms over {len(poll_costs)} polls")
    return 0 if not missed and max(latencies) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
