"""Edits that keep the user's file: only the lines of the fields that changed are rewritten.

``text_format`` writes canonical text: every comment, the field order and the blank lines of a
zoo config are lost, and a one-field edit shows up as a whole-file diff. :func:`render_edit`
instead maps the field-by-field difference between two configs onto the original text:

* a changed scalar gets its value token replaced in place (a comment after it stays);
* a field that appears is inserted next to its siblings (after the nearest field that precedes
  it in the schema, with that field's indentation; inline in a one-line message);
* a field that disappears is removed with its line (and the comment on that line);
* a changed repeated scalar is rewritten where its first occurrence was;
* messages, repeated messages (aligned by content) and maps (by key) are edited recursively.

The result is parsed back and compared with the wanted config; should it differ (a text shape
this module does not handle), the canonical text is returned instead, so what is written is
always exactly the wanted config. An unchanged config gives the original text, byte for byte.
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tuner.config._resolve import is_map
from tuner.config._textlayout import Entry, Node, Unsupported, parse

__all__ = ["render_edit", "render_edit_kept", "preserved"]

@dataclasses.dataclass(order=True)
class _Edit:
    start: int
    end: int
    seq: int
    text: str = dataclasses.field(compare=False)


class _Editor:
    """Collects non-overlapping replacements on the original text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: list[_Edit] = []

    def replace(self, start: int, end: int, new: str) -> None:
        self.edits.append(_Edit(start, end, len(self.edits), new))

    def result(self) -> str:
        out, cursor = [], 0
        for edit in sorted(self.edits):
            if edit.start < cursor:
                raise Unsupported("overlapping edits")
            out.append(self.text[cursor:edit.start])
            out.append(edit.text)
            cursor = edit.end
        out.append(self.text[cursor:])
        return "".join(out)

    # -- positions
    def line_start(self, pos: int) -> int:
        return self.text.rfind("\n", 0, pos) + 1

    def line_end(self, pos: int) -> int:
        end = self.text.find("\n", pos)
        return len(self.text) if end < 0 else end

    def starts_line(self, pos: int) -> bool:
        return not self.text[self.line_start(pos):pos].strip()

    def ends_line(self, pos: int) -> bool:
        rest = self.text[pos:self.line_end(pos)].strip()
        return not rest or rest.startswith("#")

    def indent_of(self, pos: int) -> str:
        start = self.line_start(pos)
        return self.text[start:pos] if self.starts_line(pos) else ""

    def leading(self, pos: int) -> str:
        """The whitespace that starts ``pos``'s line."""
        line = self.text[self.line_start(pos):self.line_end(pos)]
        return line[:len(line) - len(line.lstrip(" \t"))]

    def own_line(self, entry: Entry) -> bool:
        return self.starts_line(entry.start) and self.ends_line(entry.end)

    def delete(self, entry: Entry) -> None:
        if self.own_line(entry):
            end = self.line_end(entry.end)
            self.replace(self.line_start(entry.start), min(len(self.text), end + 1), "")
        else:
            end = entry.end
            while end < len(self.text) and self.text[end] in " \t":
                end += 1
            self.replace(entry.start, end, "")


def _render(parent: Message, field: FieldDescriptor, value: Any, indent: int, one_line: bool) -> str:
    """``field`` set to ``value`` alone in a message like ``parent``, as text (no trailing newline)."""
    temp = type(parent)()
    target = getattr(temp, field.name)
    if is_map(field):
        value_field = field.message_type.fields_by_name["value"]
        for key, item in value.items():
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif field.label == FieldDescriptor.LABEL_REPEATED:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        target.CopyFrom(value)
        target.SetInParent()
    else:
        setattr(temp, field.name, value)
    if one_line:
        return text_format.MessageToString(temp, as_one_line=True).strip()
    return text_format.MessageToString(temp, indent=indent).rstrip("\n")


def _value_text(parent: Message, field: FieldDescriptor, value: Any) -> str:
    """A scalar value (a one-element list for a repeated field) as text format writes it."""
    return _render(parent, field, value, 0, one_line=True).split(":", 1)[1].strip()


def _present(msg: Message, field: FieldDescriptor) -> bool:
    if field.label == FieldDescriptor.LABEL_REPEATED:
        return len(getattr(msg, field.name)) > 0
    return msg.HasField(field.name)


class _Rewriter:
    def __init__(self, text: str) -> None:
        self.ed = _Editor(text)
        self.text = text
        self.gone: set[int] = set()  # ids of the entries of fields the new config no longer has

    # -- where new text goes
    def _anchor(self, node: Node, desc: Any, field: FieldDescriptor) -> tuple[int, str, bool, bool]:
        """(position, indent, after a sibling?, inline?) for inserting ``field`` into ``node``
        (next to a sibling that stays)."""
        order = {f.name: i for i, f in enumerate(desc.fields)}
        mine = order[field.name]
        known = [e for e in node.entries if e.name in order and id(e) not in self.gone]
        before = [e for e in known if order[e.name] < mine]
        after = [e for e in known if order[e.name] > mine]
        if before:
            best = max(before, key=lambda e: (order[e.name], e.end))
            last_same = max((e for e in known if e.name == best.name), key=lambda e: e.end)
            inline = not self.ed.own_line(last_same)
            return last_same.end, self.ed.indent_of(last_same.start), True, inline
        if after:
            first = min(after, key=lambda e: e.start)
            inline = not self.ed.own_line(first)
            return first.start, self.ed.indent_of(first.start), False, inline
        # an empty body (or one whose entries all go): after the opening bracket (or at the end of the file)
        if node.open is None:
            return len(self.text), "", True, False
        assert node.close is not None
        inline = self.ed.line_start(node.open) == self.ed.line_start(node.close)
        return node.open + 1, self.ed.leading(node.open) + "  ", True, inline

    def insert(self, node: Node, parent: Message, field: FieldDescriptor, value: Any) -> None:
        pos, indent, after, inline = self._anchor(node, parent.DESCRIPTOR, field)
        if inline:
            body = _render(parent, field, value, 0, one_line=True)
            self.ed.replace(pos, pos, f" {body}" if after else f"{body} ")
            return
        body = indent + _render(parent, field, value, 0, one_line=False).replace("\n", "\n" + indent)
        if after:
            if node.open is None and pos == len(self.text):
                lead = "" if not self.text or self.text.endswith("\n") else "\n"
                self.ed.replace(pos, pos, f"{lead}{body}\n")
            else:
                end = self.ed.line_end(pos)
                self.ed.replace(end, end, f"\n{body}")
        else:
            start = self.ed.line_start(pos)
            self.ed.replace(start, start, f"{body}\n")

    def replace_entry(self, entry: Entry, parent: Message, field: FieldDescriptor, value: Any) -> None:
        """Rewrite one whole entry (comments inside it are lost: the fallback for odd shapes)."""
        own = self.ed.own_line(entry)
        indent = self.ed.indent_of(entry.start)
        body = _render(parent, field, value, 0, one_line=not own)
        self.ed.replace(entry.start, entry.end, body.replace("\n", "\n" + indent))

    # -- the recursive edit
    def _edit_body(self, body: Node, old: Message, new: Message) -> None:
        """Edit a message's body as a unit: all of its edits, or none when it raises
        :class:`Unsupported` (the caller then rewrites the whole entry)."""
        sub = _Rewriter(self.text)
        sub.gone = self.gone
        sub.message(body, old, new)
        for edit in sub.ed.edits:
            self.ed.replace(edit.start, edit.end, edit.text)

    def message(self, node: Node, old: Message, new: Message) -> None:
        by_name: dict[str, list[Entry]] = {}
        for entry in node.entries:
            by_name.setdefault(entry.name, []).append(entry)
        fields = new.DESCRIPTOR.fields_by_name
        if any(name not in fields for name in by_name):
            raise Unsupported("a name that is not a field (extension or group)")
        self.gone |= {id(e) for name, group in by_name.items() if not _present(new, fields[name]) for e in group}
        for field in new.DESCRIPTOR.fields:
            entries = by_name.get(field.name, [])
            if is_map(field):
                self._map(node, entries, old, new, field)
            elif field.label == FieldDescriptor.LABEL_REPEATED:
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    self._repeated_messages(node, entries, old, new, field)
                else:
                    self._repeated_scalars(node, entries, old, new, field)
            else:
                self._singular(node, entries, old, new, field)

    def _singular(self, node: Node, entries: list[Entry], old: Message, new: Message,
                  field: FieldDescriptor) -> None:
        had, has = _present(old, field), _present(new, field)
        before, after = getattr(old, field.name), getattr(new, field.name)
        if had == has and (not has or before == after):
            return
        if len(entries) > 1:
            raise Unsupported(f"{field.name} appears {len(entries)} times")
        entry = entries[0] if entries else None
        if not has:
            if entry is not None:
                self.ed.delete(entry)
            return
        if entry is None:
            self.insert(node, new, field, after)
            return
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if entry.child is None:
                raise Unsupported(f"{field.name} is not written as a message")
            try:
                self._edit_body(entry.child, before if had else type(after)(), after)
            except Unsupported:
                self.replace_entry(entry, new, field, after)
            return
        if entry.value is None or entry.is_list:
            raise Unsupported(f"{field.name} is not written as a scalar")
        self.ed.replace(entry.value[0], entry.value[1], _value_text(new, field, after))

    def _repeated_scalars(self, node: Node, entries: list[Entry], old: Message, new: Message,
                          field: FieldDescriptor) -> None:
        before, after = list(getattr(old, field.name)), list(getattr(new, field.name))
        if before == after:
            return
        if not after:
            for entry in entries:
                self.ed.delete(entry)
            return
        if not entries:
            self.insert(node, new, field, after)
            return
        first = entries[0]
        if first.is_list and len(entries) == 1:
            values = [_value_text(new, field, [value]) for value in after]
            self.ed.replace(first.value[0], first.value[1], "[" + ", ".join(values) + "]")  # type: ignore[index]
            return
        own = self.ed.own_line(first)
        indent = self.ed.indent_of(first.start)
        body = _render(new, field, after, 0, one_line=not own)
        if own:
            body = body.replace("\n", "\n" + indent)
        self.ed.replace(first.start, first.end, body)
        for entry in entries[1:]:
            self.ed.delete(entry)

    def _repeated_messages(self, node: Node, entries: list[Entry], old: Message, new: Message,
                           field: FieldDescriptor) -> None:
        before, after = list(getattr(old, field.name)), list(getattr(new, field.name))
        if before == after:
            return
        if any(e.opaque or e.is_list for e in entries) or len(entries) != len(before):
            raise Unsupported(f"{field.name} is written as a list")
        keys_old = [b.SerializeToString(deterministic=True) for b in before]
        keys_new = [a.SerializeToString(deterministic=True) for a in after]
        matcher = difflib.SequenceMatcher(a=keys_old, b=keys_new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                for k in range(i2 - i1):
                    entry = entries[i1 + k]
                    if entry.child is None:
                        raise Unsupported(f"{field.name} entry is not a message")
                    self._edit_body(entry.child, before[i1 + k], after[j1 + k])
                continue
            for entry in entries[i1:i2]:
                self.ed.delete(entry)
            added = after[j1:j2]
            if not added:
                continue
            if i1 > 0:
                self._insert_beside(entries[i1 - 1], new, field, added, after=True)
            elif entries:
                self._insert_beside(entries[0], new, field, added, after=False)
            else:
                self.insert(node, new, field, added)

    def _insert_beside(self, entry: Entry, parent: Message, field: FieldDescriptor, items: Any, *,
                       after: bool) -> None:
        """Insert ``field`` = ``items`` on its own line(s) after (or before) ``entry``, with its
        indentation; inline beside it when ``entry`` shares its line."""
        if not self.ed.own_line(entry):
            body = _render(parent, field, items, 0, one_line=True)
            self.ed.replace(*((entry.end, entry.end, " " + body) if after else (entry.start, entry.start, body + " ")))
            return
        indent = self.ed.indent_of(entry.start)
        body = indent + _render(parent, field, items, 0, one_line=False).replace("\n", "\n" + indent)
        if after:
            end = self.ed.line_end(entry.end)
            self.ed.replace(end, end, "\n" + body)
        else:
            start = self.ed.line_start(entry.start)
            self.ed.replace(start, start, body + "\n")

    def _map(self, node: Node, entries: list[Entry], old: Message, new: Message, field: FieldDescriptor) -> None:
        before, after = getattr(old, field.name), getattr(new, field.name)
        if set(before) == set(after) and all(before[key] == after[key] for key in before):
            return
        by_key: dict[Any, Entry] = {}
        for entry in entries:
            if entry.child is None:
                raise Unsupported(f"{field.name} entry is not a message")
            body = self.text[entry.child.open + 1:entry.child.close]  # type: ignore[operator]
            probe = type(new)()
            text_format.Parse(f"{field.name} {{ {body} }}", probe)
            keys = list(getattr(probe, field.name))
            if len(keys) != 1 or keys[0] in by_key:
                raise Unsupported(f"{field.name} entries repeat a key")
            by_key[keys[0]] = entry
        if set(by_key) != set(before):
            raise Unsupported(f"{field.name}: the text's keys differ from the parsed map")
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                self.ed.delete(by_key[key])
            elif key not in before:
                single = {key: after[key]}
                if by_key:
                    self._insert_beside(max(by_key.values(), key=lambda e: e.end), new, field, single, after=True)
                else:
                    self.insert(node, new, field, single)
            elif before[key] != after[key]:
                self.replace_entry(by_key[key], new, field, {key: after[key]})


def _mapped(original: str, before: Message, after: Message) -> str | None:
    """``after`` written onto ``original``, parsed back and checked; None when that fails."""
    try:
        rewriter = _Rewriter(original)
        rewriter.message(parse(original), before, after)
        text = rewriter.ed.result()
        check = type(after)()
        text_format.Parse(text, check)
    except (Unsupported, text_format.ParseError):
        return None
    return text if check == after else None


def render_edit(original: str, before: Message, after: Message) -> str:
    """The text of ``after``, written as ``original`` (the text ``before`` was parsed from) with
    only the changed fields' lines changed.

    Args:
        original: The file's text.
        before: The config parsed from ``original``.
        after: The edited config.

    Returns:
        Text that parses to exactly ``after``: ``original`` itself when nothing changed; the
        canonical ``text_format`` text when the edit cannot be mapped onto ``original``.
    """
    return render_edit_kept(original, before, after)[0]


def render_edit_kept(original: str, before: Message, after: Message) -> tuple[str, bool]:
    """:func:`render_edit`'s text, and whether it kept ``original``'s layout (False: it fell back
    to canonical text), from one mapping of the edit."""
    if before == after:
        return original, True
    mapped = _mapped(original, before, after)
    return (mapped, True) if mapped is not None else (text_format.MessageToString(after), False)


def preserved(original: str, before: Message, after: Message) -> bool:
    """Whether :func:`render_edit` keeps ``original``'s layout for this edit (for tests: False
    means it fell back to canonical text)."""
    return render_edit_kept(original, before, after)[1]
