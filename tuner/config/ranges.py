"""Range rules for numeric fields: values the schema accepts but no one can mean.

:data:`RANGE_RULES` gives fields (matched by name, sometimes by message) an allowed range.
:func:`check_number` checks one value against its field: finite, representable (a ``float``
field is 32-bit, so 1e40 would be stored as inf) and inside the field's rule.
:func:`range_violations` checks every number set anywhere inside a message, for a whole
message given as a value (``'{ iou_threshold: 5 }'``) and for a loaded file (lint).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tuner.config.errors import ConfigValueError

#: The largest finite float32; a ``float`` field given more would store inf.
FLOAT32_MAX = 3.4028234663852886e38
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
_INTS = (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32,
         FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64,
         FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_UINT64,
         FieldDescriptor.TYPE_FIXED64)


@dataclasses.dataclass(frozen=True)
class RangeRule:
    """An allowed numeric range for fields matched by name (and optionally by message).

    Attributes:
        matches: Predicate on ``(message_full_name, field_name)``.
        low: Lower bound (inclusive unless ``low_exclusive``), or None.
        high: Inclusive upper bound, or None.
        what: What the field is, for messages ("a probability", "a learning rate").
        low_exclusive: The value must be strictly above ``low``.
    """

    matches: Callable[[str, str], bool]
    low: float | None
    high: float | None
    what: str
    low_exclusive: bool = False

    def allows(self, value: float) -> bool:
        """True when ``value`` is inside the range."""
        if self.low is not None and (value <= self.low if self.low_exclusive else value < self.low):
            return False
        return self.high is None or value <= self.high

    def bounds(self) -> str:
        """The range as text: ``>= 0``, ``> 0`` or ``in [0, 1]``."""
        if self.high is None:
            return f"{'>' if self.low_exclusive else '>='} {self.low:g}"
        if self.low is None:
            return f"<= {self.high:g}"
        return f"in {'(' if self.low_exclusive else '['}{self.low:g}, {self.high:g}]"


def _named(*names: str) -> Callable[[str, str], bool]:
    return lambda message, field: field in names


_PROBABILITY_NAMES = ("iou_threshold", "score_threshold", "matched_threshold", "unmatched_threshold",
                      "nms_iou_threshold", "nms_score_threshold", "dropout_keep_probability",
                      "momentum_optimizer_value", "decay_factor", "moving_average_decay",
                      "min_object_covered", "overlap_thresh", "foreground_fraction",
                      "positive_fraction", "random_coef", "keep_prob")
_FOCAL_LOSSES = ("object_detection.protos.SigmoidFocalClassificationLoss",
                 "object_detection.protos.BootstrappedSigmoidClassificationLoss")
_REGULARIZERS = ("object_detection.protos.L1Regularizer", "object_detection.protos.L2Regularizer")

#: The range rules applied by :func:`check_number`, first match wins.
RANGE_RULES: tuple[RangeRule, ...] = (
    RangeRule(lambda m, f: f in _PROBABILITY_NAMES or f.endswith("_probability")
              or (f == "alpha" and m in _FOCAL_LOSSES) or f == "probability",
              0.0, 1.0, "a probability/threshold"),
    RangeRule(lambda m, f: f in ("aspect_ratios", "scales") and "Anchor" in m, 0.0, None,
              "an anchor aspect ratio or scale", low_exclusive=True),
    RangeRule(lambda m, f: "learning_rate" in f, 0.0, None, "a learning rate"),
    RangeRule(lambda m, f: f == "weight" and m in _REGULARIZERS, 0.0, None, "a regularizer weight"),
    RangeRule(_named("batch_size", "num_classes", "height", "width"), 1.0, None, "a size or count"),
    RangeRule(lambda m, f: f in ("step", "num_steps") or f.endswith("_steps"), 0.0, None,
              "a step count"),
    RangeRule(_named("gamma", "max_delta", "delta"), 0.0, None, "a non-negative parameter"),
)


def range_rule_for(field: FieldDescriptor) -> RangeRule | None:
    """Return the first :data:`RANGE_RULES` entry matching ``field``, or None."""
    for rule in RANGE_RULES:
        if rule.matches(field.containing_type.full_name, field.name):
            return rule
    return None


def check_number(field: FieldDescriptor, value: Any, path: str = "") -> None:
    """Check one numeric value for ``field`` (one element for a repeated field).

    Floats must be finite, and a 32-bit ``float`` field's value within +-:data:`FLOAT32_MAX`
    (protobuf would silently store inf). Then the field's :data:`RANGE_RULES` entry applies.
    Values of other types are not checked here.

    Raises:
        ConfigValueError: Naming the path, the rule, the value and the allowed range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    where = path or field.name
    if field.type in _FLOATS:
        kind = "float" if field.type == FieldDescriptor.TYPE_FLOAT else "double"
        if not math.isfinite(value):
            raise ConfigValueError(f"{where} expects {kind}, got {value!r}", path=path,
                                   fix="give a finite number" + (
                                       f" (a 32-bit float holds at most +-{FLOAT32_MAX:.4g})"
                                       if kind == "float" else ""))
        if kind == "float" and abs(value) > FLOAT32_MAX:
            raise ConfigValueError(f"{where} is a 32-bit float and must be within +-{FLOAT32_MAX:.4g}, "
                                   f"got {value!r} (it would be stored as inf)", path=path,
                                   fix=f"give a value of magnitude <= {FLOAT32_MAX:.4g}")
    rule = range_rule_for(field)
    if rule is None or rule.allows(value):
        return
    raise ConfigValueError(f"{where} is {rule.what} and must be {rule.bounds()}, got {value!r}",
                           path=path, fix=f"give a value {rule.bounds()}")


def range_violations(msg: Message, prefix: str = "") -> Iterator[ConfigValueError]:
    """Yield an error for every number set inside ``msg`` (recursively) that :func:`check_number`
    rejects, in field order; each error's path is ``prefix`` plus the field's dotted path.
    """
    for field, value in msg.ListFields():
        path = f"{prefix}.{field.name}" if prefix else field.name
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            entries = [(f"{path}[{key!r}]", item) for key, item in value.items()]
            yield from _violations_of(value_field, entries)
        elif field.label == FieldDescriptor.LABEL_REPEATED:
            yield from _violations_of(field, [(f"{path}[{i}]", item) for i, item in enumerate(value)])
        else:
            yield from _violations_of(field, [(path, value)])


def _violations_of(field: FieldDescriptor, entries: list[tuple[str, Any]]) -> Iterator[ConfigValueError]:
    for path, item in entries:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            yield from range_violations(item, path)
        elif field.type in _FLOATS or field.type in _INTS:
            try:
                check_number(field, item, path)
            except ConfigValueError as exc:
                yield exc
