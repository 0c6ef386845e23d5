"""Resolution of dotted paths over protobuf descriptors and messages (used by :mod:`paths`).

Private to :mod:`tuner.config`; the public entry points live in :mod:`tuner.config.paths`.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import re
from typing import Any, Union

from google.protobuf.descriptor import Descriptor, FieldDescriptor, OneofDescriptor
from google.protobuf.message import Message

from tuner.config.errors import OneofSwitchError, PathError
from tuner.config.values import type_name

_SEGMENT = re.compile(r"^([A-Za-z_]\w*)(?:\[\s*(-?\d+|[A-Za-z_]\w*|\"[^\"]*\"|'[^']*')\s*\])?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
Key = Union[int, str, None]
Target = Union[Message, Descriptor]


@dataclasses.dataclass(frozen=True)
class Segment:
    """One path segment: a name plus an optional ``[index]``, ``[oneof_member]`` or map ``[key]``
    (a map key that is not a plain name or integer is quoted: ``[\"left eye\"]``)."""

    name: str
    key: Key = None

    def __str__(self) -> str:
        return self.name if self.key is None else f"{self.name}[{format_key(self.key)}]"


def format_key(key: int | str | bool) -> str:
    """A key as a path writes it: integers and plain names as they are, other strings quoted."""
    if isinstance(key, bool):
        return str(key).lower()
    if isinstance(key, int) or _IDENTIFIER.match(key):
        return str(key)
    return json.dumps(key)


def is_map(field: FieldDescriptor) -> bool:
    """Whether ``field`` is a protobuf map (``map<K, V>``: a repeated entry message in the schema)."""
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def map_key(field: FieldDescriptor, seg: Segment, path: str) -> int | str | bool:
    """The key of ``field[key]`` (a map field) converted to the map's key type.

    Raises:
        PathError: The key does not fit the key type (e.g. a name for an int32-keyed map).
    """
    key_field = field.message_type.fields_by_name["key"]
    if key_field.type == FieldDescriptor.TYPE_STRING:
        return str(seg.key)
    if key_field.type == FieldDescriptor.TYPE_BOOL:
        if str(seg.key).lower() in ("true", "false"):
            return str(seg.key).lower() == "true"
    else:
        try:
            return int(seg.key)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    raise PathError(f"'{seg}': {field.name} is a map keyed by {type_name(key_field)}, not {seg.key!r} "
                    f"(path '{path}')", path=path, segment=str(seg),
                    fix=f"give a {type_name(key_field)} key, e.g. {field.name}[1]")

def parse_path(path: str) -> tuple[Segment, ...]:
    """Split a dotted path into segments.

    Raises:
        PathError: Empty path or a malformed segment.
    """
    if not isinstance(path, str) or not path.strip():
        raise PathError(f"empty path {path!r}", path=str(path), segment="",
                        fix="give a dotted path such as train_config.num_steps")
    segments = []
    for text in _split_dots(path.strip()):
        match = _SEGMENT.match(text.strip())
        if not match:
            raise PathError(f"malformed segment {text!r} in path {path!r}", path=path, segment=text,
                            fix="segments are names, optionally with [index] or [member], "
                                "e.g. data_augmentation_options[0]")
        name, key = match.group(1), match.group(2)
        if key is not None and re.match(r"^-?\d+$", key):
            segments.append(Segment(name, int(key)))
        elif key is not None and key[0] in "'\"":
            segments.append(Segment(name, key[1:-1]))
        else:
            segments.append(Segment(name, key))
    return tuple(segments)


def _split_dots(path: str) -> list[str]:
    """Split on the dots outside quoted map keys (``a["x.y"].b`` is two segments)."""
    parts, current, quote = [], "", ""
    for char in path:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ".":
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def _prefix(segments: tuple[Segment, ...], upto: int) -> str:
    return ".".join(str(s) for s in segments[:upto]) or "<root>"


def _lookup(desc: Descriptor, seg: Segment, path: str, where: str) -> FieldDescriptor | OneofDescriptor:
    if seg.name in desc.fields_by_name:
        return desc.fields_by_name[seg.name]
    if seg.name in desc.oneofs_by_name:
        return desc.oneofs_by_name[seg.name]
    valid = sorted(list(desc.fields_by_name) + list(desc.oneofs_by_name))
    close = difflib.get_close_matches(seg.name, valid, n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    raise PathError(f"unknown field '{seg.name}' in {where} ({desc.name}) in path '{path}'",
                    path=path, segment=seg.name, valid=valid, suggestion=close[0] if close else None,
                    fix=f"{guess}valid names here: {', '.join(valid)}")


def _member(field: FieldDescriptor, seg: Segment, path: str) -> FieldDescriptor:
    """Resolve ``field[name]``: the oneof member ``name`` of a repeated message field."""
    where = f"{field.name}[{seg.key}]"
    if field.type != FieldDescriptor.TYPE_MESSAGE or field.label != FieldDescriptor.LABEL_REPEATED:
        raise PathError(f"'{where}' selects by name, but {field.name} is not a repeated message "
                        f"in path '{path}'", path=path, segment=str(seg),
                        fix=f"drop the [{seg.key}]")
    oneofs = field.message_type.oneofs
    if len(oneofs) != 1:
        raise PathError(f"'{where}': entries of {field.name} have no single oneof to select by name "
                        f"in path '{path}'", path=path, segment=str(seg),
                        fix=f"use an index, e.g. {field.name}[0]")
    names = [f.name for f in oneofs[0].fields]
    member = field.message_type.fields_by_name.get(str(seg.key))
    if member is None or member.containing_oneof is not oneofs[0] \
            or member.type != FieldDescriptor.TYPE_MESSAGE:
        close = difflib.get_close_matches(str(seg.key), names, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise PathError(f"unknown entry name '{seg.key}' for {field.name} in path '{path}'",
                        path=path, segment=str(seg), valid=names,
                        suggestion=close[0] if close else None,
                        fix=f"{guess}valid names: {', '.join(names)}")
    return member


def _named_index(container: Any, field: FieldDescriptor, member: FieldDescriptor, path: str,
                 seg: Segment) -> int | None:
    oneof = member.containing_oneof.name
    hits = [i for i, entry in enumerate(container) if entry.WhichOneof(oneof) == member.name]
    if len(hits) > 1:
        raise PathError(f"'{seg}' is ambiguous in path '{path}': entries {hits} are all "
                        f"{member.name}", path=path, segment=str(seg),
                        fix=f"use an index instead, e.g. {field.name}[{hits[0]}]")
    return hits[0] if hits else None


def _index(container: Any, seg: Segment, path: str) -> int:
    size = len(container)
    index = int(seg.key)  # type: ignore[arg-type]
    if not -size <= index < size:
        raise PathError(f"index {index} out of range in '{seg}' (path '{path}'): it has {size} "
                        f"entr{'y' if size == 1 else 'ies'}", path=path, segment=str(seg),
                        fix=f"use an index in 0..{size - 1}" if size else "add an entry first")
    return index % size


def _not_set(msg: Message, field: FieldDescriptor, where: str, path: str) -> PathError:
    extra = ""
    fix = "set a field below it to create it"
    if field.containing_oneof is not None:
        held = msg.WhichOneof(field.containing_oneof.name)
        if held:
            extra = f"; oneof '{field.containing_oneof.name}' holds '{held}'"
            fix = f"use the path through '{held}', or set a field below '{field.name}' to switch"
    return PathError(f"'{where}' is not set in this config (path '{path}'){extra}", path=path,
                     segment=field.name, fix=fix)


#: Extra advice, per oneof, on the explicit way to switch it.
_SWITCH_HINTS = {
    "model": "a model of another type is another config: start from a zoo config of that type",
    "learning_rate": "to change the schedule type keeping its rate and length: python -m tuner.config edit CONFIG "
                     "--schedule KIND",
}


def guard_oneof(msg: Message | None, field: FieldDescriptor, where: str, path: str, *, switch: bool) -> None:
    """Refuse to enter or set ``field`` when it belongs to a oneof that holds another member.

    Protobuf switches a oneof silently: setting any field below ``model.ssd`` clears a
    ``faster_rcnn`` model. ``switch`` (``set --switch``) allows it on purpose.

    Raises:
        OneofSwitchError: naming the member that is set and the explicit ways to switch.
    """
    oneof = field.containing_oneof
    if switch or msg is None or oneof is None:
        return
    held = msg.WhichOneof(oneof.name)
    if held is None or held == field.name:
        return
    parent = where.rsplit(".", 1)[0] if "." in where else "<root>"
    target = f"{parent}.{held}" if parent != "<root>" else held
    hint = _SWITCH_HINTS.get(oneof.name)
    fix = (f"edit the fields under {target} instead; to replace it on purpose (everything under it is dropped): "
           f"python -m tuner.config set --switch CONFIG {path}=VALUE -o OUT" + (f"; {hint}" if hint else ""))
    where_ = "the config" if parent == "<root>" else parent
    raise OneofSwitchError(f"'{path}' would switch {where_} from {held} to {field.name}: the config has {target} "
                           f"set and protobuf would silently drop it; nothing was changed", path=path,
                           segment=field.name, oneof=oneof.name, held=held, wanted=field.name, fix=fix)


def _walk(root: Target, segments: tuple[Segment, ...], path: str, *, create: bool, switch: bool = False
          ) -> tuple[Message | None, Descriptor]:
    """Follow all but the last segment; return (message or None, its descriptor).

    With ``create``, unset messages on the way are created; one in a oneof that holds another
    member only with ``switch`` (:func:`guard_oneof`)."""
    msg = root if isinstance(root, Message) else None
    desc = root.DESCRIPTOR if isinstance(root, Message) else root
    for i, seg in enumerate(segments[:-1]):
        where = _prefix(segments, i + 1)
        item = _lookup(desc, seg, path, _prefix(segments, i))
        if isinstance(item, OneofDescriptor):
            names = ", ".join(f.name for f in item.fields)
            raise PathError(f"'{seg.name}' is a oneof and has no fields of its own (path '{path}')",
                            path=path, segment=seg.name, valid=[f.name for f in item.fields],
                            fix=f"name one of its members instead: {names}")
        field = item
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            raise PathError(f"'{where}' is {type_name(field)}, not a message; nothing is below it "
                            f"(path '{path}')", path=path, segment=seg.name,
                            fix=f"end the path at '{where}'")
        repeated = field.label == FieldDescriptor.LABEL_REPEATED
        if is_map(field):
            msg, desc = _enter_map(msg, field, seg, where, path, create=create)
            continue
        if seg.key is None:
            if repeated:
                raise PathError(f"'{where}' is repeated; choose an entry (path '{path}')", path=path,
                                segment=seg.name, fix=f"use {seg.name}[0] or {seg.name}[<name>]")
            if msg is not None:
                if not create and not msg.HasField(field.name):
                    raise _not_set(msg, field, where, path)
                if create:
                    guard_oneof(msg, field, where, path, switch=switch)
                msg = getattr(msg, field.name)
            desc = field.message_type
        elif isinstance(seg.key, int):
            if not repeated:
                raise PathError(f"'{seg.name}' is not repeated; it takes no [{seg.key}] (path "
                                f"'{path}')", path=path, segment=str(seg), fix=f"drop the [{seg.key}]")
            if msg is not None:
                container = getattr(msg, field.name)
                msg = container[_index(container, seg, path)]
            desc = field.message_type
        else:
            member = _member(field, seg, path)
            if msg is not None:
                container = getattr(msg, field.name)
                index = _named_index(container, field, member, path, seg)
                if index is None:
                    raise PathError(f"no {member.name} entry in '{_prefix(segments, i)}."
                                    f"{seg.name}' (path '{path}')", path=path, segment=str(seg),
                                    fix=f"add it first: add {_prefix(segments, i + 1)}")
                msg = getattr(container[index], member.name)
            desc = member.message_type
    return msg, desc


def _enter_map(msg: Message | None, field: FieldDescriptor, seg: Segment, where: str, path: str, *,
               create: bool) -> tuple[Message | None, Descriptor]:
    """Step into ``field[key]`` of a map whose values are messages."""
    value_field = field.message_type.fields_by_name["value"]
    if seg.key is None:
        raise PathError(f"'{where}' is a map; choose a key (path '{path}')", path=path, segment=seg.name,
                        fix=f"use {seg.name}[KEY]")
    if value_field.type != FieldDescriptor.TYPE_MESSAGE:
        raise PathError(f"'{where}' holds {type_name(value_field)} values; nothing is below them (path "
                        f"'{path}')", path=path, segment=str(seg), fix=f"end the path at '{where}'")
    key = map_key(field, seg, path)
    if msg is not None:
        container = getattr(msg, field.name)
        if key not in container and not create:
            raise PathError(f"no key {format_key(key)} in map '{where.rsplit('[', 1)[0]}' (path '{path}')",
                            path=path, segment=str(seg),
                            fix=f"keys here: {', '.join(format_key(k) for k in container) or 'none'}")
        msg = container[key]
    return msg, value_field.message_type


def _resolve(root: Target, path: str, *, create: bool = False, switch: bool = False
             ) -> tuple[Message | None, FieldDescriptor | OneofDescriptor, Segment]:
    segments = parse_path(path)
    msg, desc = _walk(root, segments, path, create=create, switch=switch)
    last = segments[-1]
    item = _lookup(desc, last, path, _prefix(segments, len(segments) - 1))
    if isinstance(item, OneofDescriptor) and last.key is not None:
        raise PathError(f"'{last.name}' is a oneof; it takes no [{last.key}] (path '{path}')",
                        path=path, segment=str(last), fix=f"drop the [{last.key}]")
    if isinstance(item, FieldDescriptor) and is_map(item):
        if last.key is not None:
            last = Segment(last.name, map_key(item, last, path))
        return msg, item, last
    if isinstance(item, FieldDescriptor) and last.key is not None:
        if isinstance(last.key, str):
            _member(item, last, path)
        elif item.label != FieldDescriptor.LABEL_REPEATED:
            raise PathError(f"'{last.name}' is not repeated; it takes no [{last.key}] (path "
                            f"'{path}')", path=path, segment=str(last), fix=f"drop the [{last.key}]")
    return msg, item, last


