"""A detection model's variables made before its first traced step, so the step is traced once.

A ``tf.function`` that creates variables on its first call is traced twice: once creating them,
once more without (TensorFlow's ``Function._initialize`` then ``_no_variable_creation_fn``).
``model_lib_v2`` builds the detection model lazily, so the train step (forward, loss, gradients,
the optimizer's slots) and the eval step (each evaluator builds a fresh model) were both traced
twice. Measured on the demo model (one warm trainer alone, 60 steps, 2 cores, 2026-12-06): from
the step-0 checkpoint to the first step 17.6 s, and 10.5 s with the variables made first
(``bench/trial_overhead.py``, docs/benchmarks.md "One trace per step function").

:func:`build_variables` runs the OD API's own loss computation once, eagerly (no trace), on one
batch of the input, as ``model_lib_v2._ensure_model_is_built`` does inside a ``tf.function``: the
model's variables are made (a checkpoint restore waiting for them, such as the fine-tune
checkpoint's, assigns them as they are made) and nothing is trained: ``model._is_training`` and
the Keras learning phase are off, so batch-norm statistics do not move. The train step sets both
back on at every step. :func:`build_slots` makes the optimizer's slots for the variables it will
train. A variable either misses is still made at the first call, traced twice, as before, and
an error while making them is said and left to the step (:func:`build_variables`): this is a
cost, never a correctness, matter.

:class:`TrainInputProbe` records the model and the train input ``model_lib_v2.train_loop``
builds (it patches ``object_detection.inputs.train_input`` while it is entered).

:func:`build_eagerly` does the same for the OD API's own ``_ensure_model_is_built`` (run before a
fine-tune checkpoint is restored, and before a moving-averages evaluation): the OD API makes the
variables there in a ``tf.function``, traced twice, a third graph of the whole model. Measured in
the demo's fine-tuning trials (py-spy, one warm trainer, three 30-step trials, 2026-12-07): 29.5 s
of CPU in three trials, about 10 s a trial.
"""
from __future__ import annotations

from typing import Any

from tuner.cli import first_line

#: The line the trainer prints once the variables are made (tests read it).
LOG_PREFIX = "PREBUILT:"


def build_variables(model: Any, dataset: Any, unpad_groundtruth_tensors: bool) -> str | None:
    """Make ``model``'s variables: one eager loss computation on the first batch of a new
    iterator of ``dataset`` (the iterators the caller already holds are not advanced); nothing
    when the model has them already (a fine-tune restore's build made them). ``None``
    when done; else why not (``ExceptionType: message``), and the model is left to make them at
    its first step, traced twice, as the OD API does: no error of this shortcut fails a trial
    (an error of the model or the data is met again, where it was met before, in the step).

    Call in the distribution strategy's scope the model was built in."""
    if _has_variables(model):
        return None
    import tensorflow as tf
    from object_detection import model_lib, model_lib_v2

    try:
        features, labels = next(iter(dataset))
        model._is_training = False  # noqa: SLF001 - as model_lib_v2._ensure_model_is_built
        tf.keras.backend.set_learning_phase(False)
        labels = model_lib.unstack_batch(labels, unpad_groundtruth_tensors=unpad_groundtruth_tensors)
        model_lib_v2._compute_losses_and_predictions_dicts(model, features, labels, training_step=0)  # noqa: SLF001
    except Exception as exc:  # noqa: BLE001 - a cost, never a correctness, matter (docstring)
        return first_line(exc)
    return None


def build_slots(optimizer: Any, variables: list[Any]) -> None:
    """Make ``optimizer``'s slots (and its step counter) for ``variables``, when it is a Keras
    optimizer that can (``OptimizerV2._create_all_weights``; the newer Keras optimizers'
    ``build``); other optimizers make them at the first step, as before."""
    if hasattr(optimizer, "_create_all_weights"):
        optimizer._create_all_weights(variables)  # noqa: SLF001
    elif hasattr(optimizer, "build") and not getattr(optimizer, "built", True):
        optimizer.build(variables)


def build_eagerly() -> None:
    """Replace ``object_detection.model_lib_v2._ensure_model_is_built`` (see the module's
    docstring) with :func:`build_variables`, in the same context; where that fails (said on
    stdout) the OD API's own traced computation runs, as before. Idempotent."""
    from object_detection import model_lib_v2

    traced = model_lib_v2._ensure_model_is_built  # noqa: SLF001
    if getattr(traced, "builds_eagerly", False):
        return

    def ensure_model_is_built(model: Any, input_dataset: Any, unpad_groundtruth_tensors: bool) -> None:
        failed = build_variables(model, input_dataset, unpad_groundtruth_tensors)
        if failed is not None:
            say_skipped(failed, "the OD API's traced computation")
            traced(model, input_dataset, unpad_groundtruth_tensors)

    ensure_model_is_built.builds_eagerly = True  # type: ignore[attr-defined]
    model_lib_v2._ensure_model_is_built = ensure_model_is_built  # noqa: SLF001


def _has_variables(model: Any) -> bool:
    """Whether ``model`` has made its variables (a Keras model not yet built raises on
    ``.variables``; an object that is no model has none)."""
    try:
        return bool(getattr(model, "variables", None))
    except ValueError:  # "Weights for model ... have not yet been created"
        return False


def say_skipped(reason: str, where: str) -> None:
    """Say on stdout (a :data:`LOG_PREFIX` line) that the variables could not be made ahead, why
    (:func:`build_variables`' reason), and that ``where`` (the first step, the first evaluation)
    makes them."""
    print(f"{LOG_PREFIX} skipped ({reason}); {where} makes the variables", flush=True)


class TrainInputProbe:
    """While entered, records the ``model`` and the dataset of each
    ``object_detection.inputs.train_input`` call (``model_lib_v2.train_loop`` makes one).

    :meth:`build` then makes the model's variables and the optimizer's slots from them, and
    says so on stdout (a :data:`LOG_PREFIX` line)."""

    def __init__(self) -> None:
        self.model: Any = None
        self.dataset: Any = None
        self.unpad_groundtruth_tensors = False
        self._original: Any = None

    def __enter__(self) -> "TrainInputProbe":
        from object_detection import inputs

        self._original = original = inputs.train_input

        def train_input(*args: Any, **kwargs: Any) -> Any:
            dataset = original(*args, **kwargs)
            self.model = kwargs.get("model")
            self.dataset = dataset
            config = kwargs.get("train_config")
            self.unpad_groundtruth_tensors = bool(config and config.unpad_groundtruth_tensors)
            return dataset

        inputs.train_input = train_input
        return self

    def __exit__(self, *exc: object) -> None:
        from object_detection import inputs

        inputs.train_input = self._original

    def build(self, optimizer: Any) -> bool:
        """Make the recorded model's variables (unless it has them) and ``optimizer``'s slots for its trainable
        variables (as the train step reads them: a freeze filter applies, and its
        :class:`tuner.odapi.freeze.FreezeError` propagates); whether they were made (not when no
        model and dataset were recorded, or :func:`build_variables` could not: said on stdout)."""
        if self.model is None or self.dataset is None:
            return False
        failed = build_variables(self.model, self.dataset, self.unpad_groundtruth_tensors)
        if failed is not None:
            say_skipped(failed, "the first step")
            return False
        build_slots(optimizer, list(self.model.trainable_variables))
        made = getattr(optimizer, "variables", [])  # a method of OptimizerV2, a list of the newer ones
        print(f"{LOG_PREFIX} {len(self.model.variables)} model variables and "
              f"{len(made() if callable(made) else made)} optimizer variables made before the first step", flush=True)
        return True
