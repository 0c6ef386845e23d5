"""tuner/odapi/evaluate.py on the real OD API: an evaluation's spent eval-input iterator is kept
(its deletion waits for tf.data's threads), and the evaluation reads the same batches."""
from __future__ import annotations

from pathlib import Path


def test_an_evaluation_pass_keeps_its_iterator_and_reads_every_eval_image(odapi, make_config, tmp_path: Path) -> None:
    import tuner.odapi  # noqa: F401  (compat shims)
    from object_detection import inputs, model_lib_v2
    from object_detection.utils import config_util

    from tuner.odapi import evaluate

    path = tmp_path / "pipeline.config"
    path.write_text(make_config(10))
    configs = config_util.merge_external_params_with_configs(  # as CheckpointEvaluator: one epoch
        config_util.get_configs_from_pipeline_file(str(path)), None, kwargs_dict={"eval_num_epochs": 1})
    model = model_lib_v2.MODEL_BUILD_UTIL_MAP["detection_model_fn_base"](model_config=configs["model"],
                                                                         is_training=True)
    dataset = inputs.eval_input(eval_config=configs["eval_config"], eval_input_config=configs["eval_input_configs"][0],
                                model_config=configs["model"], model=model)

    def keys(iterable) -> list[bytes]:  # as eager_eval_loop iterates its dataset
        return [features[inputs.HASH_KEY].numpy().tobytes() for _, (features, _labels) in enumerate(iterable)]

    kept_before = len(evaluate.KEPT)
    spent = evaluate.SpentIterators(dataset)
    first, second = keys(spent), keys(spent)
    assert len(first) == 16 and first == second == keys(dataset)  # the 16 eval images, each pass whole
    assert len(evaluate.KEPT) == kept_before + 2  # one kept iterator per pass, run out
    assert all(iterator is not None for iterator in evaluate.KEPT[kept_before:])
    assert next(iter(evaluate.KEPT[-1]), None) is None
