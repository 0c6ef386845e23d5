"""Resolution of dotted paths over protobuf descriptors and messages (used by :mod:`paths`).

Private to :mod:`tuner.config`; the public entry points live in :mod:`tuner.config.paths`.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any, Union

from google.protobuf.descriptor import Descriptor, FieldDescriptor, OneofDescriptor
from google.protobuf.message import Message

from tuner.config.errors import PathError
from tuner.config.values import type_name

_SEGMENT = re.compile(r"^([A-Za-z_]\w*)(?:\[\s*(-?\d+|[A-Za-z_]\w*)\s*\])?$")
Key = Union[int, str, None]
Target = Union[Message, Descriptor]


@dataclasses.dataclass(frozen=True)
class Segment:
    """One path segment: a name plus an optional ``[index]`` or ``[oneof_member]`` key."""

    name: str
    key: Key = None

    def __str__(self) -> str:
        return self.name if self.key is None else f"{self.name}[{self.key}]"


def parse_path(path: str) -> tuple[Segment, ...]:
    """Split a dotted path into segments.

    Raises:
        PathError: Empty path or a malformed segment.
    """
    if not isinstance(path, str) or not path.strip():
        raise PathError(f"empty path {path!r}", path=str(path), segment="",
                        fix="give a dotted path such as train_config.num_steps")
    segments = []
    for text in path.strip().split("."):
        match = _SEGMENT.match(text.strip())
        if not match:
            raise PathError(f"malformed segment {text!r} in path {path!r}", path=path, segment=text,
                            fix="segments are names, optionally with [index] or [member], "
                                "e.g. data_augmentation_options[0]")
        name, key = match.group(1), match.group(2)
        if key is not None and re.match(r"^-?\d+$", key):
            segments.append(Segment(name, int(key)))
        else:
            segments.append(Segment(name, key))
    return tuple(segments)


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


def _walk(root: Target, segments: tuple[Segment, ...], path: str, *, create: bool
          ) -> tuple[Message | None, Descriptor]:
    """Follow all but the last segment; return (message or None, its descriptor)."""
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
        if seg.key is None:
            if repeated:
                raise PathError(f"'{where}' is repeated; choose an entry (path '{path}')", path=path,
                                segment=seg.name, fix=f"use {seg.name}[0] or {seg.name}[<name>]")
            if msg is not None:
                if not create and not msg.HasField(field.name):
                    raise _not_set(msg, field, where, path)
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


def _resolve(root: Target, path: str, *, create: bool = False
             ) -> tuple[Message | None, FieldDescriptor | OneofDescriptor, Segment]:
    segments = parse_path(path)
    msg, desc = _walk(root, segments, path, create=create)
    last = segments[-1]
    item = _lookup(desc, last, path, _prefix(segments, len(segments) - 1))
    if isinstance(item, OneofDescriptor) and last.key is not None:
        raise PathError(f"'{last.name}' is a oneof; it takes no [{last.key}] (path '{path}')",
                        path=path, segment=str(last), fix=f"drop the [{last.key}]")
    if isinstance(item, FieldDescriptor) and last.key is not None:
        if isinstance(last.key, str):
            _member(item, last, path)
        elif item.label != FieldDescriptor.LABEL_REPEATED:
            raise PathError(f"'{last.name}' is not repeated; it takes no [{last.key}] (path "
                            f"'{path}')", path=path, segment=str(last), fix=f"drop the [{last.key}]")
    return msg, item, last


