"""Search-space files (YAML): typed entries, parsed and range-checked.

Format::

    params:
      learning_rate:                      # the Optuna parameter name
        knob: learning_rate               # one of: knob / path / augmentation
        float: [0.01, 0.3]                # one of: float / int / choices
        log: true
      schedule:
        knob: schedule_type
        choices: [cosine, exponential, constant]
      warmup_fraction:
        knob: warmup_fraction
        float: [0.0, 0.2]
        when: {schedule: cosine}          # sampled only when `schedule` is cosine
      min_scale:
        path: model.ssd.anchor_generator.ssd_anchor_generator.min_scale
        float: [0.05, 0.3]
        step: 0.05                        # optional: positive number (float), positive integer (int)
      brightness:
        augmentation: random_adjust_brightness   # on/off
        choices: [true, false]
      brightness_delta:
        path: train_config.data_augmentation_options[random_adjust_brightness].max_delta
        float: [0.05, 0.4]
        when: {brightness: true}

Entries apply to the config in file order. ``when`` maps one or more *earlier* categorical (or
int) entries to a value or a list of values (``when: {schedule: [cosine, exponential]}``); all
must hold, and a parent that is itself conditional must be sampled. Validation
(:func:`tuner.space.validate`) tries each entry under every allowed value of its parents.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from pathlib import Path
from typing import Any, Mapping

import yaml

from tuner.space.knobs import KNOBS


class SpaceError(ValueError):
    """A search-space file is malformed, or does not fit the base config."""


class Target(str, enum.Enum):
    KNOB = "knob"
    PATH = "path"
    AUGMENTATION = "augmentation"


class Kind(str, enum.Enum):
    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "choices"


@dataclasses.dataclass(frozen=True)
class Param:
    """One search-space entry.

    Attributes:
        name: Optuna parameter name.
        target: what the value edits (a knob, a config path, an augmentation on/off).
        ref: the knob name, the config path or the augmentation name.
        kind: the distribution kind.
        low, high: bounds (float/int).
        log: log-uniform sampling.
        step: discretisation step (optional).
        choices: categorical values (any YAML scalars or lists).
        when: ``{earlier param: allowed values}``; all must hold for this entry to be sampled.
    """

    name: str
    target: Target
    ref: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: Mapping[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)

    def probe_values(self) -> list[Any]:
        """Values that must all apply cleanly for the entry to be valid (bounds, each choice)."""
        if self.kind is Kind.CATEGORICAL:
            return list(self.choices)
        if self.kind is Kind.INT:
            return [int(self.low), int(self.high)]  # type: ignore[arg-type]
        return [self.low, self.high]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """An ordered list of entries, as read from a file."""

    params: tuple[Param, ...]
    source: str = "<space>"

    def names(self) -> list[str]:
        return [p.name for p in self.params]


def _fail(source: str, name: str, message: str) -> SpaceError:
    return SpaceError(f"{source}: params.{name}: {message}")


def _parse_bounds(source: str, name: str, kind: Kind, raw: Any, log: bool) -> tuple[float, float]:
    if not (isinstance(raw, (list, tuple)) and len(raw) == 2):
        raise _fail(source, name, f"{kind.value} needs [low, high] (got {raw!r}); e.g. {kind.value}: [0.01, 0.3]")
    low, high = raw
    numeric = (int,) if kind is Kind.INT else (int, float)
    if not all(isinstance(v, numeric) and not isinstance(v, bool) for v in (low, high)):
        raise _fail(source, name, f"{kind.value} bounds must be {'integers' if kind is Kind.INT else 'numbers'} "
                                  f"(got {low!r}, {high!r})")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise _fail(source, name, f"bounds must be finite (got {low}, {high})")
    if low > high:
        raise _fail(source, name, f"inverted range [{low}, {high}]; write it as [{high}, {low}]")
    if low == high:
        raise _fail(source, name, f"empty range [{low}, {high}]; widen it or drop the entry (a fixed value "
                                  "belongs in the base config)")
    if log and low <= 0:
        raise _fail(source, name, f"log scale needs low > 0 (got {low}); use a small positive low such as 1e-6")
    return low, high


def _parse_param(source: str, name: str, raw: Any, earlier: dict[str, Param]) -> Param:
    if not isinstance(raw, Mapping):
        raise _fail(source, name, f"expected a mapping with a target and a distribution, got {raw!r}")
    allowed = {"knob", "path", "augmentation", "float", "int", "choices", "log", "step", "when"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(source, name, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    targets = [t for t in Target if t.value in raw]
    if len(targets) != 1:
        raise _fail(source, name, "needs exactly one of knob / path / augmentation")
    target = targets[0]
    ref = raw[target.value]
    if not isinstance(ref, str) or not ref:
        raise _fail(source, name, f"{target.value} must be a non-empty string")
    if target is Target.KNOB and ref not in KNOBS:
        import difflib

        close = difflib.get_close_matches(ref, KNOBS, n=1)
        raise _fail(source, name, f"unknown knob {ref!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                    + f"; knobs: {', '.join(KNOBS)}")
    kinds = [k for k in Kind if k.value in raw]
    if len(kinds) != 1:
        raise _fail(source, name, "needs exactly one distribution: float: [low, high], int: [low, high] "
                                  "or choices: [...]")
    kind = kinds[0]
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise _fail(source, name, f"log must be true or false (got {log!r})")
    step = raw.get("step")
    low = high = None
    choices: tuple[Any, ...] = ()
    if kind is Kind.CATEGORICAL:
        values = raw["choices"]
        if not isinstance(values, list) or not values:
            raise _fail(source, name, "choices must be a non-empty list")
        choices = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        if len(set(map(repr, choices))) != len(choices):
            raise _fail(source, name, "choices repeat a value")
        if log or step is not None:
            raise _fail(source, name, "log/step apply to float and int ranges only")
    else:
        low, high = _parse_bounds(source, name, kind, raw[kind.value], log)
        _check_step(source, name, kind, step, log, low, high)
    if target is Target.AUGMENTATION and kind is not Kind.CATEGORICAL:
        raise _fail(source, name, "an augmentation entry switches it on/off: use choices: [true, false]")
    when = _parse_when(source, name, raw.get("when"), earlier)
    return Param(name, target, ref, kind, low, high, log, step, choices, when)


def _check_step(source: str, name: str, kind: Kind, step: Any, log: bool, low: float, high: float) -> None:
    """``step``: a positive integer for an int range, a positive number for a float range."""
    if step is None:
        return
    if log:
        raise _fail(source, name, "step cannot be combined with log: drop one of them")
    if kind is Kind.INT:
        if not isinstance(step, int) or isinstance(step, bool) or step <= 0:
            raise _fail(source, name, f"step of an int range must be a positive integer (got {step!r}); e.g. step: 2")
    elif not isinstance(step, (int, float)) or isinstance(step, bool) or not math.isfinite(step) or step <= 0:
        raise _fail(source, name, f"step must be a positive number (got {step!r}); e.g. step: 0.05")
    if step > high - low:
        raise _fail(source, name, f"step {step} is larger than the range [{low}, {high}]; use a smaller step")


def _parse_when(source: str, name: str, raw: Any, earlier: Mapping[str, Param]) -> dict[str, tuple[Any, ...]]:
    """``when: {earlier entry: value or [values]}`` as ``{parent: allowed values}``."""
    if raw is None:
        return {}
    example = "e.g. when: {schedule: cosine} or when: {schedule: [cosine, exponential]}"
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(source, name, f"when must map an earlier entry to a value or a list of values (got {raw!r}); "
                                  f"{example}")
    when: dict[str, tuple[Any, ...]] = {}
    for parent, values in raw.items():
        if not isinstance(parent, str) or parent not in earlier:
            raise _fail(source, name, f"when: names {parent!r}, which is not an earlier entry")
        if isinstance(values, Mapping) or values is None or (isinstance(values, list) and not values):
            raise _fail(source, name, f"when: {parent} needs a value or a non-empty list of values "
                                      f"(got {values!r}); {example}")
        wanted = tuple(tuple(v) if isinstance(v, list) else v for v in values) if isinstance(values, list) \
            else (values,)
        choices = earlier[parent].choices
        if earlier[parent].kind is Kind.CATEGORICAL:
            # a list value names one list-valued choice (e.g. an aspect-ratio set), if there is one
            if isinstance(values, list) and tuple(values) in choices and not all(v in choices for v in wanted):
                wanted = (tuple(values),)
            missing = [v for v in wanted if v not in choices]
            if missing:
                raise _fail(source, name, f"when: {parent} = {missing[0]!r} is not one of its choices "
                                          f"{list(choices)}")
        elif earlier[parent].kind is Kind.INT:
            low, high = earlier[parent].low, earlier[parent].high
            bad = [v for v in wanted if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high]
            if bad:
                raise _fail(source, name, f"when: {parent} = {bad[0]!r} is not an integer in its range [{low}, {high}]")
        else:
            raise _fail(source, name, f"when: {parent} is a float range, which never takes one exact value; a "
                                      "condition must name a categorical (choices: [...]) or int entry")
        when[parent] = wanted
    return when


def parse_space(data: Any, source: str = "<space>") -> SearchSpace:
    """Build a :class:`SearchSpace` from parsed YAML.

    Raises:
        SpaceError: naming the file, the entry and the fix.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("params"), Mapping) or not data["params"]:
        raise SpaceError(f"{source}: expected a top-level 'params:' mapping with at least one entry")
    unknown = sorted(set(data) - {"params", "description"})
    if unknown:
        raise SpaceError(f"{source}: unknown top-level key {unknown[0]!r}; allowed: params, description")
    params: dict[str, Param] = {}
    for name, raw in data["params"].items():
        params[str(name)] = _parse_param(source, str(name), raw, params)
    return SearchSpace(tuple(params.values()), source)


def load_space(path: str | Path) -> SearchSpace:
    """Read and parse a YAML search-space file.

    Raises:
        SpaceError: unreadable file, YAML syntax error (with line and column) or bad entries.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpaceError(f"{path}: cannot read the search space ({exc.strerror}); check --space") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpaceError(f"{path}{where}: YAML syntax error: {problem}; fix the file") from None
    return parse_space(data, str(path))
