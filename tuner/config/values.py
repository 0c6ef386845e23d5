"""Typed values for protobuf fields: parsing Python-ish literals, coercion and range rules.

``parse_value`` turns command-line text (``0.004``, ``true``, ``RELU_6``, ``"a b"``,
``[1.0,2.0,0.5]``) into Python values; ``coerce_value`` checks a Python value against one
field's type and the range rules of :mod:`tuner.config.ranges` (for a message value: every
number set inside it), and returns what protobuf will store.
"""
from __future__ import annotations

import math
import re
from typing import Any

from google.protobuf import json_format, message_factory, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.internal import type_checkers
from google.protobuf.message import Message

from tuner.config.errors import ConfigValueError
from tuner.config.ranges import RANGE_RULES, RangeRule, check_number, range_rule_for, range_violations

__all__ = ["RANGE_RULES", "RangeRule", "coerce_value", "parse_value", "range_rule_for", "to_python",
           "type_name"]

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-2**31, 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-2**31, 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1), FieldDescriptor.TYPE_SINT64: (-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)


def type_name(field: FieldDescriptor) -> str:
    """Human-readable type of a field ('float', 'int32', 'enum Activation', 'message X')."""
    if field.type == FieldDescriptor.TYPE_ENUM:
        return f"enum {field.enum_type.name}"
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return f"message {field.message_type.name}"
    names = {v: k[len("TYPE_"):].lower() for k, v in vars(FieldDescriptor).items()
             if k.startswith("TYPE_") and isinstance(v, int)}
    return names.get(field.type, "value")


def _split_list(text: str) -> list[str]:
    inner = text.strip()[1:-1].strip()
    if not inner:
        return []
    items, current, quote = [], "", ""
    for char in inner:
        if quote:
            current += char
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current += char
        elif char == ",":
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return items


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _guess(text: str) -> Any:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [_guess(item) for item in _split_list(text)]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    return _unquote(text)


def parse_value(text: str, field: FieldDescriptor | None = None, *, path: str = "") -> Any:
    """Parse a Python-ish literal, optionally for a specific field.

    Without ``field`` the type is guessed: ``true``/``false`` -> bool, ``12`` -> int,
    ``1e-4`` -> float, ``[a,b]`` -> list, quoted or bare text -> str. With ``field`` the text is
    read as that field's type (a bare ``123`` stays a string for string fields) and checked with
    :func:`coerce_value`; a ``[...]`` list is accepted for repeated fields.

    Args:
        text: The literal.
        field: Target field descriptor, or None to guess.
        path: Dotted path used in error messages.

    Returns:
        The parsed (and, with ``field``, coerced) value.

    Raises:
        ConfigValueError: The text is not a valid value for ``field``.
    """
    if field is None:
        return _guess(text)
    stripped = text.strip()
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return coerce_value(field, stripped, path=path)
    if stripped.startswith("[") and stripped.endswith("]"):
        if field.label != FieldDescriptor.LABEL_REPEATED:
            raise ConfigValueError(f"{path or field.name} is a single {type_name(field)}, got the list "
                                   f"{stripped}", path=path, fix="give one value, without [ ]")
        return [_parse_scalar(item, field, path) for item in _split_list(stripped)]
    return _parse_scalar(stripped, field, path)


def _parse_scalar(text: str, field: FieldDescriptor, path: str) -> Any:
    if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        return coerce_value(field, _unquote(text), path=path, single=True)
    value = _guess(text)
    if isinstance(value, str) and field.type != FieldDescriptor.TYPE_ENUM:
        value = text  # keep the raw text so the type error shows what was given
    return coerce_value(field, value, path=path, single=True)


def _fail(field: FieldDescriptor, value: Any, path: str, fix: str) -> ConfigValueError:
    return ConfigValueError(f"{path or field.name} expects {type_name(field)}, got {value!r}",
                            path=path, fix=fix)


def _coerce_scalar(field: FieldDescriptor, value: Any, path: str) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _fail(field, value, path, "use true or false")
    if kind in _INT_RANGES:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(field, value, path, "give a whole number such as 1000")
        check_number(field, value, path)  # the specific rule ("a step count") reads better
        low, high = _INT_RANGES[kind]
        if not low <= value <= high:
            raise ConfigValueError(f"{path or field.name} ({type_name(field)}) must be in "
                                   f"[{low}, {high}], got {value}", path=path,
                                   fix="give a value inside the type's range")
        return value
    if kind in _FLOATS:
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(field, value, path, "give a number such as 0.004")
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            number = math.inf if value > 0 else -math.inf
        check_number(field, number, path)
        return number
    if kind == FieldDescriptor.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        if isinstance(value, str):
            if value in field.enum_type.values_by_name:
                return value
            if value.upper() in field.enum_type.values_by_name:
                return value.upper()
        elif isinstance(value, int) and not isinstance(value, bool):
            if value in field.enum_type.values_by_number:
                return field.enum_type.values_by_number[value].name
        raise _fail(field, value, path, f"use one of {', '.join(names)}")
    if kind == FieldDescriptor.TYPE_STRING:
        if isinstance(value, str):
            return value
        raise _fail(field, value, path, 'give text, e.g. "PATH/file" (quote numbers)')
    if kind == FieldDescriptor.TYPE_BYTES:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise _fail(field, value, path, "give text")
    raise _fail(field, value, path, "this field type is not supported")


def coerce_value(field: FieldDescriptor, value: Any, *, path: str = "", single: bool = False) -> Any:
    """Check a Python value against a field's type and range rules.

    Args:
        field: Target field.
        value: Python value. Scalars: bool/int/float/str (enum by name or number). Repeated
            fields (unless ``single``): a list or tuple. Message fields: a message of the same
            type, a dict (JSON names) or a text-format string.
        path: Dotted path used in error messages.
        single: Treat a repeated field as one element (for ``field[i]`` and ``add``).

    Returns:
        The value protobuf should store (enum as its name; a message instance for messages;
        a list for repeated fields).

    Raises:
        ConfigValueError: Wrong type, unknown enum name or value outside the allowed range
            (for a message: any number set inside it).
    """
    if field.label == FieldDescriptor.LABEL_REPEATED and not single:
        if isinstance(value, str):
            stripped = value.strip()
            if field.type != FieldDescriptor.TYPE_MESSAGE and stripped.startswith("["):
                return parse_value(stripped, field, path=path)
        if not isinstance(value, (list, tuple)):
            raise ConfigValueError(f"{path or field.name} is a repeated {type_name(field)}, got "
                                   f"{value!r}", path=path,
                                   fix="give a list such as [1.0,2.0] (or add/index one element)")
        return [coerce_value(field, item, path=path, single=True) for item in value]
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message = _coerce_message(field, value, path)
        errors = list(range_violations(message, path or field.name))
        if errors:
            more = "; also out of range: " + ", ".join(e.path for e in errors[1:]) if errors[1:] else ""
            raise ConfigValueError(errors[0].message + more, path=errors[0].path, fix=errors[0].fix)
        return message
    return _coerce_scalar(field, value, path)


def _message_class(descriptor: Any) -> type:
    """The generated class for a message descriptor (protobuf 3.20 and newer)."""
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is not None:
        return get_class(descriptor)
    return message_factory.MessageFactory().GetPrototype(descriptor)


def _coerce_message(field: FieldDescriptor, value: Any, path: str) -> Message:
    cls = _message_class(field.message_type)
    if isinstance(value, Message):
        if value.DESCRIPTOR.full_name != field.message_type.full_name:
            raise _fail(field, type(value).__name__, path, f"give a {field.message_type.name}")
        out = cls()
        out.MergeFromString(value.SerializeToString())
        return out
    out = cls()
    try:
        if isinstance(value, dict):
            json_format.ParseDict(value, out)
        elif isinstance(value, str):
            text = value.strip()
            if text.startswith("{") and text.endswith("}"):
                text = text[1:-1]
            text_format.Parse(text, out)
        else:
            raise _fail(field, value, path, f"give a {field.message_type.name} as text, e.g. "
                                            "'{ field: value }'")
    except (text_format.ParseError, json_format.ParseError) as exc:
        raise ConfigValueError(f"{path or field.name} expects {type_name(field)}: {exc}", path=path,
                               fix="use text format such as '{ name: value }'") from None
    return out


def to_python(field: FieldDescriptor, value: Any, *, single: bool = False) -> Any:
    """Convert a stored field value to a plain Python value (enum names, shortest floats).

    Repeated scalar fields become lists unless ``single`` (one element); messages are returned
    as they are.
    """
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return list(value) if field.label == FieldDescriptor.LABEL_REPEATED and not single else value
    if field.label == FieldDescriptor.LABEL_REPEATED and not single:
        return [_scalar_to_python(field, item) for item in value]
    return _scalar_to_python(field, value)


def _scalar_to_python(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return named.name if named else value
    if field.type == FieldDescriptor.TYPE_FLOAT:
        return type_checkers.ToShortestFloat(value)
    return value
