"""Lint rules for what the OD API's TF2 trainer does with a config written for TF1.

The zoo's TF1 sample configs (research/object_detection/samples/configs) and many configs on
the web still carry TF1 settings. Each rule here says what the TF2 trainer
(``model_lib_v2.train_loop``, which ``model_main_tf2.py`` and odapi-tuner's trainer run) really
does with them, read from its code:

* a feature extractor that only the TF1 model builder knows is refused when the model is built
  (``model_builder``: "Unknown ssd feature_extractor"): an error naming the Keras extractor;
* ``load_all_detection_checkpoint_vars`` makes ``train_loop`` raise ("unsupported in TF2"): an
  error, repaired by removing it;
* fields the schema marks deprecated are ignored, or read only in one case, by the TF2 trainer:
  a warning that says which, per field.

:data:`TF2_EXTRACTORS` copies the TF2 model builder's extractor tables so that lint needs no
TensorFlow; a test compares it with ``object_detection.builders.model_builder``.
"""
from __future__ import annotations

import difflib
from typing import Iterator

from tuner.config.findings import Config, Finding, LintContext, Repair, cli, error, warning
from tuner.config.paths import iter_set_fields, remove_value

#: Feature extractor types the TF2 model builder accepts, per model type (its
#: SSD_KERAS_FEATURE_EXTRACTOR_CLASS_MAP, FASTER_RCNN_KERAS_FEATURE_EXTRACTOR_CLASS_MAP and
#: CENTER_NET_EXTRACTOR_FUNCTION_MAP in OD API 2.8).
TF2_EXTRACTORS: dict[str, frozenset[str]] = {
    "ssd": frozenset({
        "ssd_efficientnet-b0_bifpn_keras", "ssd_efficientnet-b1_bifpn_keras", "ssd_efficientnet-b2_bifpn_keras",
        "ssd_efficientnet-b3_bifpn_keras", "ssd_efficientnet-b4_bifpn_keras", "ssd_efficientnet-b5_bifpn_keras",
        "ssd_efficientnet-b6_bifpn_keras", "ssd_efficientnet-b7_bifpn_keras", "ssd_mobilenet_v1_fpn_keras",
        "ssd_mobilenet_v1_keras", "ssd_mobilenet_v2_fpn_keras", "ssd_mobilenet_v2_keras",
        "ssd_resnet101_v1_fpn_keras", "ssd_resnet152_v1_fpn_keras", "ssd_resnet50_v1_fpn_keras"}),
    "faster_rcnn": frozenset({
        "faster_rcnn_inception_resnet_v2_keras", "faster_rcnn_resnet101_fpn_keras", "faster_rcnn_resnet101_keras",
        "faster_rcnn_resnet152_fpn_keras", "faster_rcnn_resnet152_keras", "faster_rcnn_resnet50_fpn_keras",
        "faster_rcnn_resnet50_keras"}),
    "center_net": frozenset({
        "hourglass_10", "hourglass_104", "hourglass_20", "hourglass_32", "hourglass_52", "mobilenet_v2",
        "mobilenet_v2_fpn", "mobilenet_v2_fpn_sep_conv", "resnet_v1_101_fpn", "resnet_v1_18_fpn",
        "resnet_v1_34_fpn", "resnet_v1_50_fpn", "resnet_v2_101", "resnet_v2_50"}),
}


def keras_counterpart(model: str, extractor: str) -> str | None:
    """The TF2 extractor a TF1 one became (``ssd_mobilenet_v1`` -> ``ssd_mobilenet_v1_keras``), if any."""
    known = TF2_EXTRACTORS.get(model, frozenset())
    candidate = f"{extractor}_keras"
    return candidate if candidate in known else None


def extractors(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """A feature extractor the TF2 model builder does not know fails the build of every trial."""
    model = cfg.model.WhichOneof("model")
    if model not in TF2_EXTRACTORS:
        return
    extractor = getattr(cfg.model, model).feature_extractor.type
    if not extractor or extractor in TF2_EXTRACTORS[model]:
        return
    path = f"model.{model}.feature_extractor.type"
    keras = keras_counterpart(model, extractor)
    known = ", ".join(sorted(TF2_EXTRACTORS[model]))
    refused = f"the TF2 trainer (model_main_tf2.py, odapi-tuner) refuses to build it ('Unknown {model} feature_extractor')"
    if keras is not None:
        yield error(path, f"feature extractor {extractor!r} exists only in the TF1 OD API: {refused}",
                    cli("set", f"{path}={keras}") + " (its TF2 version; a TF1 fine_tune_checkpoint does not load into "
                    "it: take the matching checkpoint of the TF2 model zoo)")
        return
    close = difflib.get_close_matches(extractor, sorted(TF2_EXTRACTORS[model]), n=1)
    fix = cli("set", f"{path}={close[0]}") if close else f"start from a TF2 zoo config of one of {known}"
    yield error(path, f"feature extractor {extractor!r} is not one the TF2 model builder knows (TF1-only or "
                      f"misspelt{'; did you mean ' + repr(close[0]) + '?' if close else ''}): {refused}", fix)


def load_all_vars(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """``model_lib_v2.train_loop`` raises on ``load_all_detection_checkpoint_vars``."""
    if cfg.train_config.load_all_detection_checkpoint_vars:
        path = "train_config.load_all_detection_checkpoint_vars"
        yield error(path, "load_all_detection_checkpoint_vars is true: the TF2 trainer raises 'unsupported in "
                          "TF2' before the first step (fine_tune_checkpoint_type chooses what is restored)",
                    cli("remove", path), Repair(f"removes {path}", lambda c: remove_value(c, path)))


_TF1_QUEUE = "a TF1 input-queue setting; the TF2 tf.data pipeline ignores it"
_TF1_EVAL = ("a TF1 evaluation setting; the TF2 evaluation (model_main_tf2.py --checkpoint_dir, odapi-tuner's "
             "evaluator) reads the whole eval set and ignores it")
#: What the TF2 trainer does with each deprecated field ({message: field name}).
DEPRECATED_NOTES: dict[tuple[str, str], str] = {
    ("TrainConfig", "max_number_of_boxes"): "ignored by the TF2 trainer, which pads each image's boxes to "
                                            "train_input_reader.max_number_of_boxes (default 100) instead",
    ("TrainConfig", "batch_queue_capacity"): _TF1_QUEUE,
    ("TrainConfig", "num_batch_queue_threads"): _TF1_QUEUE,
    ("TrainConfig", "prefetch_queue_capacity"): _TF1_QUEUE,
    ("InputReader", "queue_capacity"): _TF1_QUEUE,
    ("InputReader", "min_after_dequeue"): _TF1_QUEUE,
    ("InputReader", "prefetch_size"): _TF1_QUEUE,
    ("InputReader", "num_parallel_map_calls"): "deprecated (num_parallel_batches replaces it); the TF2 input "
                                               "pipeline reads it only on its legacy map path",
    ("EvalConfig", "num_examples"): _TF1_EVAL,
    ("EvalConfig", "max_evals"): _TF1_EVAL,
}


def deprecated(cfg: Config, ctx: LintContext) -> Iterator[Finding]:
    """Deprecated fields, each with what the TF2 trainer does with it."""
    for path, field, _ in iter_set_fields(cfg):
        if not field.GetOptions().deprecated:
            continue
        if field.name == "from_detection_checkpoint":
            yield from _from_detection_checkpoint(cfg, path)
            continue
        note = DEPRECATED_NOTES.get((field.containing_type.name, field.name),
                                    "deprecated in the OD API schema; the TF2 trainer ignores it")
        fix = cli("remove", path)
        if field.name == "max_number_of_boxes" and field.containing_type.name == "TrainConfig":
            fix += (" (if images hold more than 100 boxes: "
                    + cli("set", "train_input_reader.max_number_of_boxes=N") + ")")
        yield warning(path, f"{field.name} is {note}", fix)


def _from_detection_checkpoint(cfg: Config, path: str) -> Iterator[Finding]:
    train = cfg.train_config
    fix = cli("remove", path)
    if train.fine_tune_checkpoint_type:
        yield warning(path, f"from_detection_checkpoint is deprecated and ignored here: fine_tune_checkpoint_type "
                            f"{train.fine_tune_checkpoint_type!r} is set, and the TF2 trainer reads that", fix)
        return
    implied = "detection" if train.from_detection_checkpoint else "classification"
    yield warning(path, "from_detection_checkpoint is deprecated; the TF2 trainer still reads it while "
                        f"fine_tune_checkpoint_type is unset ({str(train.from_detection_checkpoint).lower()} "
                        f"means {implied!r})",
                  cli("set", f"train_config.fine_tune_checkpoint_type={implied}") + " and " + fix)
