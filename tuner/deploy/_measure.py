"""The measuring process of :func:`tuner.deploy.cost.measure_cost`: ``python -m tuner.deploy._measure WORK``.

Reads ``WORK/request.json`` (the config text, variant, threads, latency runs, calibration
records) and writes ``WORK/result.json``: ``{"ok": true, "size_bytes", "latency_ms", ...}`` or
``{"ok": false, "error": one line}``. Its stdout and stderr are the parent's log file.

Steps, each reusing :mod:`tflite` (the code ``tflite.convert`` runs on a trained trial):

1. build the config's model untrained (:func:`tflite.model.build_model`), create its variables,
   spread the constant-initialised ones (:func:`spread_constants`) and save them as a checkpoint;
2. export that checkpoint with the OD API's TFLite exporter (:func:`tflite.export.export_saved_model`),
   without Keras' per-layer traces in the SavedModel (:func:`_without_layer_traces`);
3. convert it to the variant (:class:`tflite.quantize.Converter`); int8 is calibrated on a seeded
   sample of training images (:func:`tflite.records.sample_examples`) passed through the model's
   own ``preprocess``;
4. time the ``.tflite`` file with the interpreter (:meth:`tflite.measure.TfliteDetector.latency`)
   on a fixed seeded noise image: latency does not depend on the pixels for the network, and the
   NMS op's work depends on trained scores, which no untrained model can show anyway.

Why spread the constants: an untrained model's biases are zeros and its batch-norm statistics ones
and zeros, so after batch norm is folded into the convolutions many bias tensors are identical,
and the TFLite converter stores identical constants once. A trained model's are all different.
Measured on the shapes model (6 classes, int8): 148 constant tensors in 94 buffers untrained (26 KB
shared) against 149 trained, 888,616 against 916,456 bytes (3% smaller). Spreading those values
slightly, as training does, removes the gap; the weights' values do not matter otherwise.

Why no layer traces: ``tf.saved_model.save`` of a Keras model also traces and stores every
layer's call function (Keras' ``save_traces``), which takes most of the export's time and which
the TFLite converter never reads: it converts the serving signature only. Keras' own option
scope (``keras_option_scope(save_traces=False)``, what ``model.save(save_traces=False)`` uses)
turns that off. Checked on this project's shapes model: the fp32 ``.tflite`` of one checkpoint
came out byte-identical with and without it, and the export took 110 s instead of 190 s on the
same (busy) machine. (Byte-identical needs the same number of models built earlier in the process:
TensorFlow numbers layer names, so tensor names, and the size by a few hundred bytes, depend on
it.) If the Keras module is not found (another Keras), the export runs as is, only slower.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from tuner import atomic

#: Seed of the noise image the latency is timed on, and of :func:`spread_constants`.
LATENCY_SEED = 0
SPREAD_SEED = 0


def spread_constants(variables: Any, seed: int = SPREAD_SEED) -> int:
    """Make every float variable that holds one value repeated (zeros, ones, a bias init) hold
    distinct values near it, as trained values are; signs are kept (a variance stays positive).

    Returns:
        How many variables were changed.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    changed = 0
    for variable in variables:
        value = variable.numpy()
        if value.size < 2 or not np.issubdtype(value.dtype, np.floating) or np.any(value != value.flat[0]):
            continue
        noise = rng.uniform(0.0, 0.1, size=value.shape).astype(value.dtype)
        variable.assign(value * (1 + noise) + np.sign(value.flat[0] or 1.0) * 0.01 * noise)
        changed += 1
    return changed


@contextlib.contextmanager
def _without_layer_traces() -> Iterator[None]:
    try:
        from keras.src.saving.legacy.saved_model.utils import keras_option_scope
    except ImportError:
        yield
        return
    with keras_option_scope(save_traces=False):
        yield


def measure(request: dict[str, Any], work: Path) -> dict[str, Any]:
    """Export, convert and time the untrained model of ``request["config"]``.

    Raises:
        tflite.errors.ConvertError: the model cannot be built, exported or converted; no
            calibration data; the interpreter fails.
    """
    stages: dict[str, float] = {}
    mark = time.monotonic()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        stages[name] = now - mark
        mark = now

    import tuner.odapi  # noqa: F401  (compat shims before any OD API model code)
    import numpy as np
    import tensorflow as tf

    from tflite import export, measure as tfl_measure, quantize, records
    from tflite.model import InputSpec, build_model, check_exportable, max_detections
    from tuner.config import loads

    stage("import")
    cfg = loads(request["config"], source="the config")
    check_exportable(cfg, "the config")
    spec = InputSpec.of(cfg)
    variant = quantize.Variant(request["variant"])
    model = build_model(cfg, is_training=False, where="the config")
    prepared, shapes = model.preprocess(tf.zeros([1, spec.height, spec.width, 3], tf.float32))
    model.predict(prepared, shapes)  # creates the variables
    spread_constants(model.variables)
    prefix = tf.train.Checkpoint(model=model).save(str(work / "untrained" / "ckpt"))

    def preprocess(image: np.ndarray) -> np.ndarray:
        out, _ = model.preprocess(tf.constant(image[None], tf.float32))
        return out.numpy().astype(np.float32)

    stage("build")
    with _without_layer_traces():
        saved_model = export.export_saved_model(cfg, prefix, work / "export", max_detections(cfg))
    stage("export")
    representative = None
    if variant is quantize.Variant.INT8:
        examples = records.sample_examples(list(request["calibration_records"]), int(request["calibration_images"]),
                                           "train")
        representative = quantize.representative_dataset(preprocess(e.image) for e in examples)
    blob = quantize.Converter(saved_model).convert(variant, representative)
    path = work / variant.filename
    path.write_bytes(blob)
    stage("convert")
    noise = np.random.default_rng(LATENCY_SEED).integers(0, 256, size=(spec.height, spec.width, 3)).astype(np.uint8)
    detector = tfl_measure.TfliteDetector(path, int(request["threads"]))
    median, p90 = detector.latency(preprocess(noise), int(request["latency_runs"]))
    stage("time")
    return {"ok": True, "size_bytes": path.stat().st_size, "latency_ms": median, "latency_p90_ms": p90,
            "input_size": [spec.height, spec.width], "stage_seconds": stages, "cpu_seconds": time.process_time()}


def main(argv: list[str] | None = None) -> int:
    """Run one request; 0 when ``result.json`` says ok, 1 otherwise (the error is in it)."""
    args = sys.argv[1:] if argv is None else argv
    work = Path(args[0])
    from tflite.errors import ConvertError
    from tuner.config import ConfigError

    try:
        result = measure(json.loads((work / "request.json").read_text()), work)
    except ConvertError as exc:
        result = {"ok": False, "error": exc.one_line()}
    except ConfigError as exc:
        result = {"ok": False, "error": " ".join(str(exc).split())}
    except Exception as exc:  # noqa: BLE001 - anything else is reported in one line, the traceback in the log
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}
    atomic.write_json(work / "result.json", result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
