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
        if active(param, values):
            values[param.name] = _suggest(param, trial)
    return values


def to_optuna_params(space: SearchSpace, values: Mapping[str, Any]) -> dict[str, Any]:
    """Space values as Optuna stores them (list choices as their text), e.g. to enqueue a trial."""
    return {name: _to_optuna_choice(value) for name, value in values.items() if name in space.names()}


def _suggest(param: Param, trial: Any) -> Any:
    if param.kind is Kind.CATEGORICAL:
        return _from_optuna_choice(param, trial.suggest_categorical(param.name,
                                                                    [_to_optuna_choice(c) for c in param.choices]))
    if param.kind is Kind.INT:
        return trial.suggest_int(param.name, int(param.low), int(param.high),  # type: ignore[arg-type]
                                 step=int(param.step or 1), log=param.log)
    return trial.suggest_float(param.name, float(param.low), float(param.high),  # type: ignore[arg-type]
                               step=param.step, log=param.log)


def record_fixed(space: SearchSpace, trial: Any) -> dict[str, Any]:
    """Record on ``trial`` (an ``optuna.Trial``) the values it was enqueued with, and only those:
    each is suggested with its entry's distribution, which returns the enqueued value, so
    Optuna stores it as a parameter (for the dashboard's plots and the sampler) although nothing
    is sampled. A trial enqueued without values records nothing.

    Returns:
        {param name: value} of what was recorded (list choices as tuples).
    """
    frozen = next((t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number), None)
    fixed = (frozen.system_attrs.get("fixed_params") or {}) if frozen is not None else {}
    values: dict[str, Any] = {}
    for param in space.params:
        if param.name in fixed and active(param, values):
            values[param.name] = _suggest(param, trial)
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

    Each entry is checked under every way its ``when`` conditions can hold: for each parent at
    each of its allowed values, with the parent's own ancestors set the same way, recursively
    (:func:`condition_setups`). For each such setup, every probe value (both bounds, every
    choice) is applied to a copy of the base config on which the setup was applied first. So a
    path that does not exist in the schema, a value of the wrong type or out of its field's
    range, a knob that does not apply to this model/optimizer (or not under one of its allowed
    conditions), a value that breaks a cross-field rule of :func:`tuner.config.lint` (e.g. an
    unmatched threshold above the matched one), all fail here, with the entry named.

    Raises:
        SpaceError: the first problem found.
    """
    by_name = {p.name: p for p in space.params}
    order = {p.name: i for i, p in enumerate(space.params)}
    known = lint_errors(base)
    for param in space.params:
        setups = condition_setups(space, param)
        if not setups:
            raise SpaceError(f"{space.source}: params.{param.name}: its when conditions can never all hold (its "
                             "parents require different values of the same entry); fix the when: entries")
        for setup in setups:
            context = _context(setup)
            for value in param.probe_values():
                cfg = copy.deepcopy(base)
                for parent_name in sorted(setup, key=order.__getitem__):
                    _probe(space, cfg, by_name[parent_name], setup[parent_name],
                           context=f" (set up for {param.name}{context})")
                _probe(space, cfg, param, value, context=context)
                new = [f for f in lint_errors(cfg) if f not in known]
                if new:
                    raise SpaceError(f"{space.source}: params.{param.name}{context}: value {value!r} makes the config "
                                     f"invalid: {new[0][0]}: {new[0][1]}; fix the range (or: {new[0][2]})")


def condition_setups(space: SearchSpace, param: Param) -> list[dict[str, Any]]:
    """Every assignment of ``param``'s ancestors under which it is sampled.

    One dict per combination of each parent at each of its allowed values, with that parent's
    own ancestors assigned the same way (recursively); combinations in which two conditions
    need different values of one entry are left out. ``[{}]`` for an unconditional entry,
    ``[]`` when the conditions can never all hold.
    """
    by_name = {p.name: p for p in space.params}
    memo: dict[str, list[dict[str, Any]]] = {}

    def setups(p: Param) -> list[dict[str, Any]]:
        if p.name not in memo:
            combos: list[dict[str, Any]] = [{}]
            for parent, allowed in p.when.items():
                options = [{**s, parent: v} for v in allowed for s in setups(by_name[parent])]
                combos = [m for c in combos for o in options if (m := _merge(c, o)) is not None]
            memo[p.name] = combos
        return memo[p.name]

    return setups(param)


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any] | None:
    if any(k in a and repr(a[k]) != repr(v) for k, v in b.items()):
        return None
    return {**a, **b}


def _context(setup: Mapping[str, Any]) -> str:
    return " (with " + ", ".join(f"{k} = {v!r}" for k, v in setup.items()) + ")" if setup else ""


def lint_errors(cfg: Any) -> list[tuple[str, str, str]]:
    """Lint errors that do not depend on files (cross-field rules the OD API enforces), as
    ``(path, message, fix)``."""
    return [(f.path, f.message, f.fix) for f in cfgmod.lint(cfg, check_files=False)
            if f.severity is cfgmod.Severity.ERROR]


def _probe(space: SearchSpace, cfg: Any, param: Param, value: Any, context: str = "") -> None:
    try:
        apply_param(cfg, param, value)
    except ConfigError as exc:
        raise SpaceError(f"{space.source}: params.{param.name}{context}: value {value!r} does not fit the base "
                         f"config: {exc}") from None
