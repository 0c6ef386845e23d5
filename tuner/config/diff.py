"""Field-by-field differences between two configs, as typed records and as readable text."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tuner.config.values import to_python



class MessageText(str):
    """One-line text format of a message present on one side only (shown without quotes)."""


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference between two configs.

    Attributes:
        path: Dotted path (a valid :mod:`tuner.config.paths` path).
        old: Value in the base config; None when the field is not set there. Messages that are
            only on one side are given as one-line text format.
        new: Value in the variant; None when not set there.
    """

    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


def _show(value: Any) -> str:
    if value is None:
        return "<unset>"
    if isinstance(value, MessageText):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _text(msg: Message) -> MessageText:
    body = text_format.MessageToString(msg, as_one_line=True).strip()
    return MessageText("{ " + body + " }" if body else "{ }")


def _entry_names(entries: Any, field: FieldDescriptor) -> list[str] | None:
    """Names to align entries by: their oneof member, if the message is just a oneof and
    every name is unique."""
    oneofs = field.message_type.oneofs
    if len(oneofs) != 1 or len(oneofs[0].fields) != len(field.message_type.fields):
        return None
    names = [entry.WhichOneof(oneofs[0].name) for entry in entries]
    if None in names or len(set(names)) != len(names):
        return None
    return names


def _diff_repeated_messages(path: str, field: FieldDescriptor, old: Any, new: Any
                            ) -> Iterator[Change]:
    old_names, new_names = _entry_names(old, field), _entry_names(new, field)
    if old_names is not None and new_names is not None:
        old_by = {n: getattr(e, n) for n, e in zip(old_names, old)}
        new_by = {n: getattr(e, n) for n, e in zip(new_names, new)}
        for name in old_names + [n for n in new_names if n not in old_by]:
            where = f"{path}[{name}]"
            if name in old_by and name in new_by:
                yield from _diff_messages(old_by[name], new_by[name], where)
            elif name in old_by:
                yield Change(where, _text(old_by[name]), None)
            else:
                yield Change(where, None, _text(new_by[name]))
        if [n for n in old_names if n in new_by] != [n for n in new_names if n in old_by]:
            yield Change(f"{path}", [n for n in old_names], [n for n in new_names])
        return
    for i in range(max(len(old), len(new))):
        where = f"{path}[{i}]"
        if i < len(old) and i < len(new):
            yield from _diff_messages(old[i], new[i], where)
        elif i < len(old):
            yield Change(where, _text(old[i]), None)
        else:
            yield Change(where, None, _text(new[i]))


def _diff_messages(a: Message, b: Message, prefix: str) -> Iterator[Change]:
    set_a = {f.name: (f, v) for f, v in a.ListFields()}
    set_b = {f.name: (f, v) for f, v in b.ListFields()}
    for field in a.DESCRIPTOR.fields:
        if field.name not in set_a and field.name not in set_b:
            continue
        path = f"{prefix}.{field.name}" if prefix else field.name
        old = set_a.get(field.name, (field, None))[1]
        new = set_b.get(field.name, (field, None))[1]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.label == FieldDescriptor.LABEL_REPEATED:
                yield from _diff_repeated_messages(path, field, old or [], new or [])
            elif old is None:
                yield Change(path, None, _text(new))
            elif new is None:
                yield Change(path, _text(old), None)
            else:
                yield from _diff_messages(old, new, path)
            continue
        old_py = None if old is None else to_python(field, old)
        new_py = None if new is None else to_python(field, new)
        if old_py != new_py:
            yield Change(path, old_py, new_py)


def diff(a: Message, b: Message) -> list[Change]:
    """Differences from ``a`` (base) to ``b`` (variant), in schema order.

    Scalars present on both sides are compared by value; a field set on one side only is
    reported with None on the other (even if the set value equals the default). Repeated
    messages whose entries are uniquely named by a oneof (augmentations) are aligned by name,
    otherwise by index. Repeated scalars are compared as whole lists.

    Raises:
        TypeError: ``a`` and ``b`` are different message types.
    """
    if a.DESCRIPTOR.full_name != b.DESCRIPTOR.full_name:
        raise TypeError(f"cannot diff {a.DESCRIPTOR.full_name} against {b.DESCRIPTOR.full_name}")
    return list(_diff_messages(a, b, ""))


def format_diff(changes: list[Change]) -> str:
    """Readable text: one ``path: old -> new`` line per change (empty string if none)."""
    return "\n".join(str(change) for change in changes)
