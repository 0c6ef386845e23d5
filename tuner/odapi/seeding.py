"""The trainer's seed: one seed makes a training run a function of it; op determinism makes it exact.

The OD API's config has no seed field and its code sets none. :func:`seed_training` (called by
:mod:`tuner.odapi.train` before the model and the input pipeline are built) does:

* ``tf.keras.utils.set_random_seed(seed)``: Python's, NumPy's and TensorFlow's global seeds.
  Every unseeded random op then takes an operation seed derived from the global one: the
  filename and record shuffles of ``dataset_builder._read_dataset_internal``, the Keras
  initialisers of layers not restored from a checkpoint, random ops in the traced train step.
* :func:`seed_legacy_functions`, one of two things the global seed does not reach. The OD API
  builds ``tf.compat.v1`` datasets, so ``dataset_builder.build`` maps the decoder and the
  transform of ``inputs.train_input`` (data augmentation such as ``random_horizontal_flip``,
  and the random source id of records without one) with ``Dataset.map_with_legacy_function``.
  That traces a ``function.Defun`` graph (``_FuncGraph``), and TensorFlow never gives such a
  graph the eager global seed (its ``FuncGraph`` does): the augmentation stays unseeded
  whatever the seed, and with op determinism on it fails ("Random ops require a seed to be set
  when determinism is enabled"). The patch gives every legacy function graph the global seed
  set in eager mode; with no global seed set it changes nothing.
* :func:`seed_random_crops`: the OD API's crops (``random_crop_image``, ``ssd_random_crop`` and the
  crops built on them) call ``tf.compat.v1.image.sample_distorted_bounding_box``, which never reads
  the global seed: without its own ``seed`` it draws from a random one, so no seed reproduced a
  crop, and under op determinism it raises ("requires "seed" or "seed2" to be non-zero"). The
  preprocessor's ``tf`` becomes a view (:class:`tuner.odapi.moduleview.ModuleView`) whose
  ``image.sample_distorted_bounding_box`` takes the global and operation seeds as every other
  random op does (``random_seed.get_seed``); with no global seed set it changes nothing.
* With ``deterministic``: ``tf.config.experimental.enable_op_determinism()``. A seed alone fixes
  the random streams but not which element draws which number: the OD API's maps run
  ``batch_size * num_parallel_batches`` calls at once that share each random op's state, and
  ``parallel_interleave(sloppy=shuffle)`` emits the records of several input files in arrival
  order. Op determinism runs a map whose function holds stateful ops serially, overrides
  ``sloppy`` (checked on TF 2.15: four files, the same order every run) and picks deterministic
  kernels. ``tf.data.Options().deterministic`` needs no setting: it is on by default and does
  not override either of those.

What each step is needed for and that they suffice is tested in ``tests/odapi/test_seeding.py``.
"""
from __future__ import annotations

import functools
from typing import Any

_PATCHED = "_odapi_tuner_seeded"


def seed_legacy_functions() -> bool:
    """Make legacy (``Defun``) function graphs take the global seed set in eager mode.

    Idempotent; returns True when it patched, False when already patched.
    """
    from tensorflow.python.eager import context
    from tensorflow.python.framework import function

    graph_class = function._FuncGraph  # noqa: SLF001 - the one class that lacks the seed
    init = graph_class.__init__
    if getattr(init, _PATCHED, False):
        return False

    @functools.wraps(init)
    def seeded_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if self.seed is None:  # traced under graph_mode() even from eager code: no eager check
            self.seed = context.global_seed()  # None when no global seed is set: unchanged

    setattr(seeded_init, _PATCHED, True)
    graph_class.__init__ = seeded_init
    return True


def _seeded(sample: Any) -> Any:
    """``sample`` (``sample_distorted_bounding_box``) given the global and operation seeds when
    its caller gives none."""

    @functools.wraps(sample)
    def seeded(*args: Any, seed: Any = None, seed2: Any = None, **kwargs: Any) -> Any:
        if not seed and not seed2:
            from tensorflow.python.framework import random_seed

            seed, seed2 = random_seed.get_seed(None)  # (None, None) without a global seed: unchanged
        return sample(*args, seed=seed, seed2=seed2, **kwargs)

    return seeded


def seed_random_crops() -> bool:
    """Make the OD API preprocessor's crops take the global seed (module docstring). Idempotent;
    returns True when it patched, False when already patched."""
    from object_detection.core import preprocessor

    from tuner.odapi.moduleview import ModuleView

    if getattr(preprocessor.tf, _PATCHED, False):
        return False
    real = preprocessor.tf
    image = ModuleView(real.image, sample_distorted_bounding_box=_seeded(real.image.sample_distorted_bounding_box))
    preprocessor.tf = ModuleView(real, image=image, **{_PATCHED: True})
    return True


def seed_training(seed: int, deterministic: bool = False) -> str:
    """Seed this process's training (see the module docstring); return the log line.

    Call it once, before any model, dataset or op is built.

    Returns:
        ``SEED: <seed> (op determinism on|off)``.
    """
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    seed_legacy_functions()
    seed_random_crops()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return f"SEED: {seed} (op determinism {'on' if deterministic else 'off'})"
