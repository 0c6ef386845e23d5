"""Tests for tuner.events: incremental, TensorFlow-free reading of real event files."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

try:  # `python -m pytest` (repo root on sys.path), or tests/ made a package later
    from tests import eventfiles
except ImportError:  # plain `pytest`: pytest puts tests/ itself on sys.path (no __init__.py)
    import eventfiles  # type: ignore[no-redef]
from tuner import events
from tuner.events import (
    MAP,
    MAP50,
    TOTAL_LOSS,
    EventDirReader,
    ScalarEvent,
    group_by_step,
    read_scalars,
)

EventFile = eventfiles.EventFile
event_file_name = eventfiles.event_file_name
image_event = eventfiles.image_event
record_bytes = eventfiles.record_bytes
simple_value_event = eventfiles.simple_value_event
tensor_event = eventfiles.tensor_event
version_event = eventfiles.version_event

REPO = Path(__file__).resolve().parents[1]


def f32(x: float) -> float:
    """What a float32 summary of x reads back as."""
    return float(np.float32(x))


def triples(evs: list[ScalarEvent]) -> list[tuple[str, int, float]]:
    return [(e.tag, e.step, e.value) for e in evs]


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        simple_value_event(MAP, 0.3, step=7, wall_time=12.5),
        tensor_event(MAP, 0.3, step=7, wall_time=12.5, encoding="float_val"),
        tensor_event(MAP, 0.3, step=7, wall_time=12.5, encoding="tensor_content"),
        tensor_event(MAP, 0.3, step=7, wall_time=12.5, metadata=False),
    ],
    ids=["simple_value", "tensor_float_val", "tensor_content", "tensor_no_metadata"],
)
def test_decodes_every_scalar_encoding(tmp_path: Path, event) -> None:
    with EventFile(tmp_path) as f:
        f.append(event)
    assert read_scalars(tmp_path) == [ScalarEvent(MAP, 7, 12.5, f32(0.3))]


def test_nan_and_inf_pass_through_as_floats(tmp_path: Path) -> None:
    with EventFile(tmp_path) as f:
        f.append(
            tensor_event(TOTAL_LOSS, float("nan"), step=1, encoding="tensor_content"),
            tensor_event(TOTAL_LOSS, float("inf"), step=2, metadata=False),
            simple_value_event("Loss/other", float("-inf"), step=3),
        )
    got = read_scalars(tmp_path)
    assert [type(e.value) for e in got] == [float, float, float]
    assert math.isnan(got[0].value)
    assert got[1].value == math.inf
    assert got[2].value == -math.inf


def test_non_scalar_summaries_are_skipped(tmp_path: Path) -> None:
    with EventFile(tmp_path) as f:
        f.append(image_event("eval_side_by_side_0", step=5), tensor_event(MAP, 0.5, step=5))
    assert triples(read_scalars(tmp_path)) == [(MAP, 5, 0.5)]


# --- incremental reading ---------------------------------------------------------------------


def test_poll_returns_only_new_events(tmp_path: Path) -> None:
    reader = EventDirReader(tmp_path)
    with EventFile(tmp_path) as f:
        f.append(tensor_event(TOTAL_LOSS, 2.0, step=100))
        assert triples(reader.poll()) == [(TOTAL_LOSS, 100, 2.0)]
        assert reader.poll() == []
        f.append(tensor_event(TOTAL_LOSS, 1.5, step=200, metadata=False),
                 tensor_event(TOTAL_LOSS, 1.25, step=300, metadata=False))
        assert triples(reader.poll()) == [(TOTAL_LOSS, 200, 1.5), (TOTAL_LOSS, 300, 1.25)]
        assert reader.poll() == []


def test_two_files_in_one_dir_and_a_file_that_appears_later(tmp_path: Path) -> None:
    reader = EventDirReader(tmp_path)
    with EventFile(tmp_path, event_file_name(timestamp=1_000)) as first:
        first.append(tensor_event(MAP, 0.1, step=1))
    with EventFile(tmp_path, event_file_name(timestamp=2_000)) as second:
        second.append(tensor_event(MAP, 0.2, step=2))
    (tmp_path / "not_an_event_file.txt").write_text("ignored")
    (tmp_path / "events.out.tfevents.subdir").mkdir()  # directories are not files
    assert triples(reader.poll()) == [(MAP, 1, f32(0.1)), (MAP, 2, f32(0.2))]

    # A restarted writer opens a third file; an old one may still grow too.
    with EventFile(tmp_path, event_file_name(timestamp=3_000)) as third:
        third.append(tensor_event(MAP, 0.3, step=3))
    with EventFile(tmp_path, event_file_name(timestamp=1_000), header=False) as first:
        first.append(tensor_event(MAP, 0.15, step=4, metadata=False))
    assert triples(reader.poll()) == [(MAP, 4, f32(0.15)), (MAP, 3, f32(0.3))]
    assert reader.poll() == []


def _cut_points(record_len: int, data_len: int) -> list[int]:
    """Byte counts to keep of one record: inside header, header CRC, data and data CRC."""
    return [3, 10, 12 + data_len // 2, record_len - 2]


@pytest.mark.parametrize("part", ["header", "header_crc", "data", "data_crc"])
def test_truncated_last_record_is_returned_once_when_completed(tmp_path: Path, part: str) -> None:
    first = record_bytes(version_event(), tensor_event(MAP, 0.25, step=1))
    last_event = tensor_event(MAP50, 0.5, step=1)
    last = record_bytes(last_event)
    keep = dict(zip(["header", "header_crc", "data", "data_crc"],
                    _cut_points(len(last), last_event.ByteSize())))[part]

    reader = EventDirReader(tmp_path)
    with EventFile(tmp_path, header=False) as f:
        f.append_bytes(first + last[:keep])
        assert triples(reader.poll()) == [(MAP, 1, 0.25)]
        assert reader.poll() == []  # still incomplete: nothing, and no error
        f.append_bytes(last[keep:])
        assert triples(reader.poll()) == [(MAP50, 1, 0.5)]
        assert reader.poll() == []


def test_directory_created_after_the_reader(tmp_path: Path) -> None:
    eval_dir = tmp_path / "model_dir" / "eval"
    reader = EventDirReader(eval_dir)
    assert reader.poll() == []
    with EventFile(eval_dir) as f:
        f.append(tensor_event(MAP, 0.4, step=10))
    assert triples(reader.poll()) == [(MAP, 10, f32(0.4))]
    assert read_scalars(tmp_path / "missing") == []


def test_tag_filter(tmp_path: Path) -> None:
    with EventFile(tmp_path) as f:
        f.append(
            tensor_event(TOTAL_LOSS, 1.0, step=1),
            tensor_event(MAP, 0.5, step=1),
            tensor_event(MAP50, 0.75, step=1),
        )
    assert triples(read_scalars(tmp_path, tags=[MAP, "never/written"])) == [(MAP, 1, 0.5)]
    coco = EventDirReader(tmp_path, tags=events.COCO_TAGS).poll()
    assert triples(coco) == [(MAP, 1, 0.5), (MAP50, 1, 0.75)]
    assert read_scalars(tmp_path, tags=[]) == []


def test_single_string_tag_filter_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"single string 'Loss/total_loss'.*pass \['Loss/total_loss'\]"):
        EventDirReader(tmp_path, tags=TOTAL_LOSS)
    with pytest.raises(TypeError, match="tags must be strings, got 3"):
        EventDirReader(tmp_path, tags=[MAP, 3])  # type: ignore[list-item]


def test_path_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "eval"
    path.write_text("")
    with pytest.raises(NotADirectoryError, match="exists but is not a directory"):
        EventDirReader(path).poll()


# --- grouping and constants ------------------------------------------------------------------


def test_group_by_step_sorts_steps_and_last_value_wins() -> None:
    evs = [
        ScalarEvent(MAP, 200, 3.0, 0.4),
        ScalarEvent(MAP, 100, 1.0, 0.2),
        ScalarEvent(MAP50, 100, 1.0, 0.5),
        ScalarEvent(MAP, 100, 2.0, 0.25),  # the same checkpoint evaluated again
    ]
    grouped = group_by_step(evs)
    assert grouped == {100: {MAP: 0.25, MAP50: 0.5}, 200: {MAP: 0.4}}
    assert list(grouped) == [100, 200]
    assert group_by_step([]) == {}


def test_coco_tag_constants() -> None:
    assert len(events.COCO_TAGS) == len(set(events.COCO_TAGS)) == 12
    assert events.MAP75 == "DetectionBoxes_Precision/mAP@.75IOU"
    assert events.MAP_MEDIUM == "DetectionBoxes_Precision/mAP (medium)"
    assert events.MAP_LARGE == "DetectionBoxes_Precision/mAP (large)"
    assert events.AR10 == "DetectionBoxes_Recall/AR@10"
    assert events.AR100 == "DetectionBoxes_Recall/AR@100"
    assert events.AR100_SMALL == "DetectionBoxes_Recall/AR@100 (small)"
    assert TOTAL_LOSS.startswith(events.LOSS_PREFIX)


# --- TensorFlow stays out --------------------------------------------------------------------


def test_reading_never_imports_tensorflow(tmp_path: Path) -> None:
    whole = record_bytes(
        version_event(), tensor_event(MAP, 0.5, step=1), simple_value_event(MAP50, 0.75, step=1)
    )
    (tmp_path / event_file_name()).write_bytes(whole[:-3])  # end on a truncated record
    script = textwrap.dedent(
        """
        import sys
        import tuner.events as events
        reader = events.EventDirReader(sys.argv[1])
        got = [(e.tag, e.value) for e in reader.poll()]
        assert got == [(events.MAP, 0.5)], got
        with open(sys.argv[2], "rb") as rest, open(sys.argv[3], "ab") as f:
            f.write(rest.read())
        got = [(e.tag, e.value) for e in reader.poll()]
        assert got == [(events.MAP50, 0.75)], got
        leaked = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))
        print("LEAKED", leaked)
        """
    )
    rest = tmp_path.parent / f"{tmp_path.name}.rest"
    rest.write_bytes(whole[-3:])
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(rest), str(tmp_path / event_file_name())],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "LEAKED []" in result.stdout


def test_real_tensorflow_writer_is_decoded_and_tf_summary_still_works(tmp_path: Path) -> None:
    """Files from TF's own ``tf.summary`` decode; and importing tuner.events first (as this test
    module did) must not break ``tf.summary.scalar`` in the same process."""
    tf = pytest.importorskip("tensorflow")
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step, (loss, m) in enumerate([(1.5, 0.125), (0.75, 0.25), (float("nan"), 0.5)], start=1):
            tf.summary.scalar(TOTAL_LOSS, loss, step=step * 100)
            tf.summary.scalar(MAP, m, step=step * 100)
        tf.summary.image("eval_side_by_side_0", tf.zeros([1, 4, 4, 3]), step=100)
    writer.flush()

    got = read_scalars(tmp_path)
    grouped = group_by_step(got)
    assert list(grouped) == [100, 200, 300]
    assert grouped[100] == {TOTAL_LOSS: 1.5, MAP: 0.125}
    assert grouped[200] == {TOTAL_LOSS: 0.75, MAP: 0.25}
    assert math.isnan(grouped[300][TOTAL_LOSS]) and grouped[300][MAP] == 0.5
    assert all(e.wall_time > 1e9 for e in got)
    writer.close()
