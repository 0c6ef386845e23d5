"""Make the TF2 trainer honour ``train_config.update_trainable_variables`` and ``freeze_variables``.

The OD API's TF2 loop (``model_lib_v2.eager_train_step``) differentiates and updates
``detection_model.trainable_variables``, all of them: it never reads these two fields (only the
TF1 ``model_lib.py`` and ``legacy/trainer.py`` do), so a config that sets them silently trains
everything. :class:`TrainableFilter` restores the TF1 ``model_lib.py`` rule while a
``train_loop`` runs: the variables the optimizer updates are those that

1. match one of ``update_trainable_variables`` (every trainable variable when the list is empty),
2. and then match none of ``freeze_variables``.

A pattern is a Python regex searched (``re.search``) in the TF2 variable name, e.g.
``block_3_expand/kernel:0`` or ``BoxPredictor/ConvolutionalClassHead_0/ClassPredictor/bias:0``,
exactly as ``tf_slim.filter_variables`` (the function TF1 ``model_lib.py`` calls) does; this
module calls that function. The OD API's ``variables_helper.filter_variables`` does not fit: it
reads ``var.op.name``, which eager variables do not have, and anchors with ``re.match``.

Frozen variables get no gradient, no optimizer update and no optimizer slot. Batch-norm moving
statistics are not trainable variables: they keep updating in training unless the model's
``freeze_batchnorm`` is true.

The seam: while installed, ``DetectionModel.trainable_variables`` (the property
``eager_train_step`` reads after the forward pass, when every variable exists) returns the
selection. It is computed on the first such read (when the trainer makes the optimizer's slots
before the first step, :mod:`tuner.odapi.prebuild`; else inside the traced train step), printed once
(``FREEZE: training N of M trainable variables, K frozen ...``) and checked: a pattern that
matches no variable, or a selection that leaves nothing to train, is a config error
(:class:`FreezeError`). TensorFlow wraps exceptions raised while tracing, so the filter records
the error and :meth:`TrainableFilter.__exit__` re-raises it unwrapped.

Not thread-safe, and process-wide while installed (it patches a class attribute): meant for one
trainer process that builds one model, as ``tuner.odapi.train`` does.
"""
from __future__ import annotations

import dataclasses
import re
from types import TracebackType
from typing import Any, Callable, Protocol, Sequence, TypeVar

from tuner.config.errors import ConfigValueError


class Named(Protocol):
    """What the filter needs of a variable: its name (``tf.Variable.name``, e.g. ``Conv1/kernel:0``)."""

    @property
    def name(self) -> str: ...


V = TypeVar("V", bound=Named)
INCLUDE_FIELD = "train_config.update_trainable_variables"
EXCLUDE_FIELD = "train_config.freeze_variables"
#: The prefix of the line printed once the selection is known.
LOG_PREFIX = "FREEZE:"


class FreezeError(ConfigValueError):
    """``update_trainable_variables`` / ``freeze_variables`` cannot be honoured as written."""


@dataclasses.dataclass(frozen=True)
class Selection:
    """The outcome of filtering: variable names trained and frozen, in model order."""

    trained: tuple[str, ...]
    frozen: tuple[str, ...]

    def summary(self, include: Sequence[str], exclude: Sequence[str]) -> str:
        """The one log line, e.g. ``FREEZE: training 48 of 204 trainable variables, 156 frozen (...)``."""
        total = len(self.trained) + len(self.frozen)
        return (f"{LOG_PREFIX} training {len(self.trained)} of {total} trainable variables, "
                f"{len(self.frozen)} frozen (update_trainable_variables: {list(include) or 'all'}; "
                f"freeze_variables: {list(exclude) or 'none'})")


def check_patterns(include: Sequence[str], exclude: Sequence[str]) -> None:
    """Compile every pattern.

    Raises:
        FreezeError: a pattern is not a valid regex (names the field and index).
    """
    for field, patterns in ((INCLUDE_FIELD, include), (EXCLUDE_FIELD, exclude)):
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise FreezeError(f"{field}[{i}] {pattern!r} is not a valid regex: {exc}",
                                  path=f"{field}[{i}]", fix="write a Python regex, e.g. '^BoxPredictor/'") from None


def select(variables: Sequence[V], include: Sequence[str], exclude: Sequence[str]) -> list[V]:
    """The variables to train: matching ``include`` (all if empty), then not matching ``exclude``.

    Args:
        variables: Objects with a ``name`` (TF variables), in model order.
        include: ``update_trainable_variables`` regexes.
        exclude: ``freeze_variables`` regexes.

    Returns:
        The kept variables, in the given order.

    Raises:
        FreezeError: a pattern matches none of ``variables`` (a typo would otherwise silently
            freeze or train nothing), or no variable is left to train.
    """
    import tf_slim

    names = [v.name for v in variables]
    examples = ", ".join(repr(n) for n in dict.fromkeys(names[i] for i in (0, len(names) // 2, -1)))
    for field, patterns in ((INCLUDE_FIELD, include), (EXCLUDE_FIELD, exclude)):
        for i, pattern in enumerate(patterns):
            if not any(re.search(pattern, name) for name in names):
                raise FreezeError(f"{field}[{i}] {pattern!r} matches none of the model's {len(names)} trainable "
                                  f"variables (e.g. {examples})",
                                  path=f"{field}[{i}]", fix="fix the regex: it is searched in names like these")
    kept = tf_slim.filter_variables(list(variables), include_patterns=list(include) or None,
                                    exclude_patterns=list(exclude) or None)
    if not kept:
        raise FreezeError(f"{INCLUDE_FIELD} / {EXCLUDE_FIELD} leave none of the model's {len(names)} trainable "
                          "variables to train", path=EXCLUDE_FIELD,
                          fix="freeze less: keep at least the box predictor trainable")
    return kept


class TrainableFilter:
    """Context manager: ``DetectionModel.trainable_variables`` returns the filtered selection.

    Inactive (installs nothing) when both lists are empty.

    Args:
        include: ``update_trainable_variables`` regexes.
        exclude: ``freeze_variables`` regexes.
        log: Receives the one summary line (default: ``print`` to stdout, flushed).

    Attributes:
        selection: What was selected, once the train step has read the variables (else None).
        error: The :class:`FreezeError` raised while tracing, if any.

    Raises:
        FreezeError: on construction, a pattern that is not a valid regex; on exit, the error
            recorded while the train step was traced (replacing TensorFlow's wrapper).
    """

    def __init__(self, include: Sequence[str], exclude: Sequence[str],
                 log: Callable[[str], None] | None = None) -> None:
        check_patterns(include, exclude)
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.selection: Selection | None = None
        self.error: FreezeError | None = None
        self._log = log or (lambda line: print(line, flush=True))
        self._saved: tuple[type, Any] | None = None

    @classmethod
    def from_train_config(cls, train_config: Any, log: Callable[[str], None] | None = None) -> TrainableFilter:
        """Build from a ``TrainConfig`` proto.

        Raises:
            FreezeError: a pattern is not a valid regex.
        """
        return cls(list(train_config.update_trainable_variables), list(train_config.freeze_variables), log)

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def filter(self, variables: Sequence[V]) -> list[V]:
        """Apply :func:`select`, record and log the first selection, record any error.

        An empty list (a model not built yet) is returned unchanged.

        Raises:
            FreezeError: see :func:`select`.
        """
        if not variables:
            return list(variables)
        try:
            kept = select(variables, self.include, self.exclude)
        except FreezeError as exc:
            self.error = exc
            raise
        if self.selection is None:
            kept_ids = {id(v) for v in kept}
            self.selection = Selection(tuple(v.name for v in kept),
                                       tuple(v.name for v in variables if id(v) not in kept_ids))
            self._log(self.selection.summary(self.include, self.exclude))
        return kept

    def __enter__(self) -> TrainableFilter:
        if not self.active:
            return self
        from object_detection.core.model import DetectionModel

        original = DetectionModel.trainable_variables  # the Keras property, found on the MRO
        self._saved = (DetectionModel, DetectionModel.__dict__.get("trainable_variables"))
        chosen = self

        def trainable_variables(model: Any) -> list[Any]:
            return chosen.filter(original.__get__(model, type(model)))

        DetectionModel.trainable_variables = property(trainable_variables, doc=TrainableFilter.__doc__)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._saved is not None:
            cls, previous = self._saved
            if previous is None:
                delattr(cls, "trainable_variables")
            else:
                cls.trainable_variables = previous
            self._saved = None
        if exc is not None and self.error is not None and exc is not self.error:
            raise self.error from None
