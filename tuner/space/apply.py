"""Sampling a search space with Optuna, applying values to a config, validating up front."""
from __future__ import annotations

import copy
from typing import Any, Mapping

from tuner import config as cfgmod
from tuner.config.errors import ConfigError
from tuner.space.knobs import KNOBS, set_augmentation
from tuner.space.model import Kind, Param, SearchSpace, SpaceError, Target


def active(param: Param, values: Mapping[str, Any]) -> bool:
    """Whether ``param`` is sampled given the values chosen so far (its ``when`` holds)."""
    return all(parent in values and values[parent] in allowed for parent, allowed in param.when.items())


def _to_optuna_choice(value: Any) -> Any:
    # Optuna categorical choices must be None/bool/int/float/str: lists are passed as strings.
    return repr(list(value)) if isinstance(value, tuple) else value


def _from_optuna_choice(param: Param, value: Any) -> Any:
    for choice in param.choices:
        if _to_optuna_choice(choice) == value:
            return choice
    return value


def sample(space: SearchSpace, trial: Any) -> dict[str, Any]:
    """Ask ``trial`` (an ``optuna.Trial``) for every active entry, in file order.

    Returns:
        {param name: value} with categorical list choices as tuples.
    """
    values: dict[str, Any] = {}
    for param in space.params:
        if not active(param, values):
            continue
        if param.kind is Kind.CATEGORICAL:
            raw = trial.suggest_categorical(param.name, [_to_optuna_choice(c) for c in param.choices])
            values[param.name] = _from_optuna_choice(param, raw)
        elif param.kind is Kind.INT:
            values[param.name] = trial.suggest_int(param.name, int(param.low), int(param.high),  # type: ignore[arg-type]
                                                   step=int(param.step or 1), log=param.log)
        else:
            values[param.name] = trial.suggest_float(param.name, float(param.low), float(param.high),  # type: ignore[arg-type]
                                                     step=param.step, log=param.log)
    return values


def from_optuna_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """Turn stored Optuna params (e.g. of a retried trial) back into space values."""
    by_name = {p.name: p for p in space.params}
    return {k: _from_optuna_choice(by_name[k], v) if k in by_name and by_name[k].kind is Kind.CATEGORICAL else v
            for k, v in params.items()}


def apply_param(cfg: Any, param: Param, value: Any) -> None:
    """Apply one entry's value to ``cfg``.

    Raises:
        tuner.config.ConfigError: the value does not fit the config.
    """
    if param.target is Target.KNOB:
        KNOBS[param.ref](cfg, value)
    elif param.target is Target.AUGMENTATION:
        set_augmentation(cfg, param.ref, value)
    else:
        cfgmod.set_value(cfg, param.ref, list(value) if isinstance(value, tuple) else value)


def apply(space: SearchSpace, cfg: Any, values: Mapping[str, Any]) -> None:
    """Apply ``values`` to ``cfg`` in the space's order (entries without a value are skipped).

    Raises:
        SpaceError: a value does not fit (names the entry, the value and the reason).
    """
    for param in space.params:
        if param.name in values:
            try:
                apply_param(cfg, param, values[param.name])
            except ConfigError as exc:
                raise SpaceError(f"{space.source}: params.{param.name} = {values[param.name]!r}: {exc}") from None


def validate(space: SearchSpace, base: Any) -> None:
    """Check every entry against ``base`` before anything runs.

    For each entry, every probe value (both bounds, every choice) is applied to a copy of the
    base config on which the entry's ``when`` conditions were first made true. So a path that
    does not exist in the schema, a value of the wrong type or out of its field's range, a knob
    that does not apply to this model/optimizer, a value that breaks a cross-field rule of
    :func:`tuner.config.lint` (e.g. an unmatched threshold above the matched one), all fail
    here, with the entry named.

    Raises:
        SpaceError: the first problem found.
    """
    by_name = {p.name: p for p in space.params}
    known = _lint_errors(base)
    for param in space.params:
        setup: dict[str, Any] = {}
        for parent, allowed in param.when.items():
            setup[parent] = allowed[0]
        for value in param.probe_values():
            cfg = copy.deepcopy(base)
            for parent_name, parent_value in setup.items():
                _probe(space, cfg, by_name[parent_name], parent_value, context=f" (set up for {param.name})")
            _probe(space, cfg, param, value)
            new = [f for f in _lint_errors(cfg) if f not in known]
            if new:
                raise SpaceError(f"{space.source}: params.{param.name}: value {value!r} makes the config invalid: "
                                 f"{new[0][0]}: {new[0][1]}; fix the range (or: {new[0][2]})")


def _lint_errors(cfg: Any) -> list[tuple[str, str, str]]:
    """Lint errors that do not depend on files (cross-field rules the OD API enforces)."""
    return [(f.path, f.message, f.fix) for f in cfgmod.lint(cfg, check_files=False)
            if f.severity is cfgmod.Severity.ERROR]


def _probe(space: SearchSpace, cfg: Any, param: Param, value: Any, context: str = "") -> None:
    try:
        apply_param(cfg, param, value)
    except ConfigError as exc:
        raise SpaceError(f"{space.source}: params.{param.name}{context}: value {value!r} does not fit the base "
                         f"config: {exc}") from None
