"""The compat shims: each is needed (the OD API fails without it) and works (it runs with it).

Each check runs in a fresh interpreter so that one process sees the stack with the shims and
another without them. Deleting a shim from tuner/compat.py makes its ``with_shims`` test fail.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tuner import compat

DECODE = textwrap.dedent("""
    import io, numpy as np, tensorflow as tf
    from PIL import Image
    {prelude}
    from object_detection.data_decoders import tf_example_decoder
    buf = io.BytesIO(); Image.new("RGB", (32, 32), (200, 10, 10)).save(buf, format="JPEG")
    f = lambda **kw: tf.train.Feature(**kw)
    example = tf.train.Example(features=tf.train.Features(feature={{
        "image/encoded": f(bytes_list=tf.train.BytesList(value=[buf.getvalue()])),
        "image/format": f(bytes_list=tf.train.BytesList(value=[b"jpeg"])),
        "image/object/bbox/xmin": f(float_list=tf.train.FloatList(value=[0.1])),
        "image/object/bbox/xmax": f(float_list=tf.train.FloatList(value=[0.5])),
        "image/object/bbox/ymin": f(float_list=tf.train.FloatList(value=[0.1])),
        "image/object/bbox/ymax": f(float_list=tf.train.FloatList(value=[0.5])),
        "image/object/class/label": f(int64_list=tf.train.Int64List(value=[1])),
    }}))
    decoded = tf_example_decoder.TfExampleDecoder().decode(tf.constant(example.SerializeToString()))
    print("DECODED", decoded["image"].shape, decoded["groundtruth_classes"].numpy().tolist())
""")

DRAW = textwrap.dedent("""
    import numpy as np
    {prelude}
    from object_detection.utils import visualization_utils as vu
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    vu.draw_bounding_box_on_image_array(image, 0.1, 0.1, 0.6, 0.6, display_str_list=["circle: 90%"])
    print("DRAWN", int(image.sum() > 0))
""")

WITH_SHIMS = "import tuner.odapi"
WITHOUT_SHIMS = ""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.usefixtures("odapi")
def test_tf_example_decoder_runs_with_shims() -> None:
    result = _run(DECODE.format(prelude=WITH_SHIMS))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DECODED (32, 32, 3) [1]" in result.stdout


@pytest.mark.usefixtures("odapi")
def test_tf_example_decoder_fails_without_shims() -> None:
    """Proves the tf-slim shim is needed on the pinned stack (see odapi-stack.md #1)."""
    result = _run(DECODE.format(prelude=WITHOUT_SHIMS))
    assert result.returncode != 0
    assert "AttributeError" in result.stderr and "control_flow_ops" in result.stderr


@pytest.mark.usefixtures("odapi")
def test_visualization_runs_with_shims() -> None:
    result = _run(DRAW.format(prelude=WITH_SHIMS))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DRAWN 1" in result.stdout


@pytest.mark.usefixtures("odapi")
def test_visualization_fails_without_shims() -> None:
    """Proves the Pillow shim is needed on the pinned stack (see odapi-stack.md #2)."""
    result = _run(DRAW.format(prelude=WITHOUT_SHIMS))
    assert result.returncode != 0
    assert "getsize" in result.stderr


def test_pillow_shim_leaves_an_existing_getsize_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFont

    def original(self, text):  # type: ignore[no-untyped-def]
        return (1, 2)

    for name in ("ImageFont", "FreeTypeFont", "TransposedFont"):
        monkeypatch.setattr(getattr(ImageFont, name), "getsize", original, raising=False)
    result = compat._shim_pillow_getsize()
    assert result.applied is False
    assert ImageFont.FreeTypeFont.getsize is original


@pytest.mark.usefixtures("odapi")
def test_tf_slim_shim_leaves_existing_control_flow_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorflow.python.ops import control_flow_ops

    originals = {name: (lambda *a, _name=name, **k: _name) for name in ("case", "cond", "while_loop")}
    for name, fn in originals.items():
        monkeypatch.setattr(control_flow_ops, name, fn, raising=False)
    result = compat._shim_tf_slim_control_flow()
    assert result.applied is False
    assert all(getattr(control_flow_ops, name) is fn for name, fn in originals.items())
    monkeypatch.delattr(control_flow_ops, "cond")  # only the missing one is added
    result = compat._shim_tf_slim_control_flow()
    assert result.applied is True and result.detail == "added control_flow_ops.cond for tf-slim"
    assert control_flow_ops.case is originals["case"]


def test_pillow_getsize_matches_bbox() -> None:
    from PIL import ImageFont

    font = ImageFont.load_default()
    left, top, right, bottom = font.getbbox("hello")
    assert compat._getsize(font, "hello") == (right - left, bottom - top)


def test_apply_is_idempotent_and_reports_each_shim() -> None:
    first = compat.apply()
    second = compat.apply()
    assert first == second
    assert set(first) == {"tf_slim_control_flow", "pillow_getsize"}
