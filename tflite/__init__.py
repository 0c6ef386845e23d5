"""TFLite conversion and measurement of a study's best trial (``python -m tflite.convert``).

Data flow, one module per step:

* :mod:`tflite.select`: run directory or study name -> the trial and its best-mAP checkpoint.
* :mod:`tflite.model`: the trial's config checked for the exporter (SSD, fixed_shape_resizer);
  the checkpoint restored as the TF reference and the model's own preprocessing.
* :mod:`tflite.export`: that checkpoint through the OD API TFLite exporter.
* :mod:`tflite.quantize`: float32, float16, dynamic-range and full-integer int8 variants.
* :mod:`tflite.records`: eval and representative images decoded as the OD API decodes them.
* :mod:`tflite.measure`: COCO mAP (the OD API's evaluator) and interpreter latency.
* :mod:`tflite.qat`: what tensorflow-model-optimization can (not) do for these models.
* :mod:`tflite.report`: the table, as JSON and markdown.
* :mod:`tflite.pipeline`: all of it, written atomically; :mod:`tflite.convert`: the CLI.

Nothing here imports TensorFlow at import time; modules that need the OD API import
:mod:`tuner.odapi` (the compat shims) first.
"""
import tuner  # noqa: F401  (protobuf's implementation chosen before anything imports it)

