"""Field-by-field differences between two configs, as typed records and as readable text."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, Iterator

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tuner.config._resolve import format_key, is_map
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
        return f"{self.path}: {show_value(self.old)} -> {show_value(self.new)}"


def show_value(value: Any) -> str:
    """A config value as a ``path: old -> new`` line writes it (``<unset>``, lists, messages inline)."""
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


def _diff_map(path: str, field: FieldDescriptor, old: Any, new: Any) -> Iterator[Change]:
    """A map compared key by key (``path[key]``), in key order: message values field by field."""
    value_field = field.message_type.fields_by_name["value"]
    old = {} if old is None else old
    new = {} if new is None else new
    for key in sorted(set(old) | set(new)):
        where = f"{path}[{format_key(key)}]"
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            if key in old and key in new:
                yield from _diff_messages(old[key], new[key], where)
            else:
                yield Change(where, _text(old[key]) if key in old else None, _text(new[key]) if key in new else None)
            continue
        before = to_python(value_field, old[key], single=True) if key in old else None
        after = to_python(value_field, new[key], single=True) if key in new else None
        if before != after:
            yield Change(where, before, after)


def _diff_messages(a: Message, b: Message, prefix: str) -> Iterator[Change]:
    set_a = {f.name: (f, v) for f, v in a.ListFields()}
    set_b = {f.name: (f, v) for f, v in b.ListFields()}
    for field in a.DESCRIPTOR.fields:
        if field.name not in set_a and field.name not in set_b:
            continue
        path = f"{prefix}.{field.name}" if prefix else field.name
        old = set_a.get(field.name, (field, None))[1]
        new = set_b.get(field.name, (field, None))[1]
        if is_map(field):
            yield from _diff_map(path, field, old, new)
            continue
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
    reported with None on the other (even if the set value equals the default). Maps are
    compared key by key (``path[key]``). Repeated
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


_SEGMENT = re.compile(r"[^.\[]+(?:\[[^\]]*\])?")
_NAMED_ENTRY = re.compile(r"\w+\[([A-Za-z_]\w*)\]")


def _segments(path: str) -> list[str]:
    """``a.b[name].c`` -> ``["a", "b[name]", "c"]`` (dots inside brackets do not split)."""
    return _SEGMENT.findall(path)


def _shown(segment: str) -> str:
    """An entry named by its oneof member (``data_augmentation_options[random_adjust_brightness]``)
    is shown by that name; an indexed one (``[0]``) as it is."""
    named = _NAMED_ENTRY.fullmatch(segment)
    return named.group(1) if named else segment


def _suffix_label(segments: list[str], k: int) -> str:
    shown = [_shown(s) for s in segments[-k:]]
    return ".".join(shown) if k <= 2 else f"{shown[0]}...{shown[-1]}"


def short_labels(paths: Iterable[str]) -> dict[str, str]:
    """A short, unambiguous label for each config path: its shortest tail of segments that no
    other path in ``paths`` ends with.

    One segment is the field's name (``min_scale``); two are joined (``random_adjust_brightness.max_delta``,
    an entry named by its oneof member shown by that name); longer tails show their first and last
    segment (``feature_extractor...weight`` against ``convolutional_box_predictor...weight``).
    A path that is itself the tail of another keeps its whole length; labels that would still
    coincide are shown as their full tails. Pure: no schema look-up.

    Returns:
        ``{path: label}`` for every distinct path; distinct paths get distinct labels.
    """
    unique = list(dict.fromkeys(paths))
    split = {path: _segments(path) for path in unique}
    tails: dict[str, int] = {}
    for path, mine in split.items():
        others = [split[other] for other in unique if other != path]
        k = 1
        while k < len(mine) and any(other[-k:] == mine[-k:] for other in others):
            k += 1
        tails[path] = k
    labels = {path: _suffix_label(split[path], tails[path]) for path in unique}
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    for path, label in labels.items():
        if counts[label] > 1:  # an abbreviation or a shown name met another label: spell the tail out
            labels[path] = ".".join(split[path][-tails[path]:])
    return labels
