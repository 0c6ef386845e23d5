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
import re
from typing import Any, Iterator

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tuner.config._resolve import is_map

__all__ = ["render_edit", "preserved"]

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<word>[\w.+-]+)
  | (?P<punct>[{}<>\[\]:,;/])
""", re.VERBOSE)


class _Unsupported(Exception):
    """A text shape the precise edit does not handle (the caller re-renders a larger part)."""


@dataclasses.dataclass
class _Tok:
    kind: str
    text: str
    start: int
    end: int


@dataclasses.dataclass
class _Entry:
    """One ``name: value`` or ``name { ... }`` occurrence in the text."""

    name: str
    start: int                   # the name's first character
    end: int                     # after the value (or closing bracket) and an optional separator
    value: tuple[int, int] | None = None   # a scalar's (or scalar list's) value span
    child: "_Node | None" = None           # a message's body
    is_list: bool = False                  # a scalar written as [a, b, c]
    opaque: bool = False                   # a list of messages [{...}, {...}]


@dataclasses.dataclass
class _Node:
    """A message body: its entries, and where it opens and closes (None for the whole file)."""

    entries: list[_Entry]
    open: int | None
    close: int | None


def _tokens(text: str) -> list[_Tok]:
    out = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Unsupported(f"unexpected character {text[pos]!r} at {pos}")
        kind = match.lastgroup or ""
        if kind not in ("ws", "comment"):
            out.append(_Tok(kind, match.group(0), match.start(), match.end()))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise _Unsupported("unexpected end of text")
        self.i += 1
        return tok

    def node(self, closer: str | None, open_pos: int | None) -> _Node:
        entries = []
        while True:
            tok = self.peek()
            if tok is None:
                if closer is not None:
                    raise _Unsupported("unclosed message")
                return _Node(entries, open_pos, None)
            if closer is not None and tok.text == closer:
                self.i += 1
                return _Node(entries, open_pos, tok.start)
            entries.append(self.entry())

    def entry(self) -> _Entry:
        name_tok = self.take()
        if name_tok.kind != "word":
            raise _Unsupported(f"field name expected at {name_tok.start}")
        entry = _Entry(name_tok.text, name_tok.start, name_tok.end)
        tok = self.take()
        colon = tok.text == ":"
        if colon:
            tok = self.take()
        if tok.text in ("{", "<"):
            entry.child = self.node("}" if tok.text == "{" else ">", tok.start)
            entry.end = self.toks[self.i - 1].end
        elif colon and tok.text == "[":
            start = tok.start
            depth = 1
            while depth:
                inner = self.take()
                if inner.text in ("[", "{", "<"):
                    depth += 1
                    entry.opaque = entry.opaque or inner.text != "["
                elif inner.text in ("]", "}", ">"):
                    depth -= 1
            entry.end = self.toks[self.i - 1].end
            entry.value = (start, entry.end)
            entry.is_list = True
        elif colon and tok.kind in ("word", "string"):
            first = tok
            while tok.kind == "string" and (nxt := self.peek()) is not None and nxt.kind == "string":
                tok = self.take()  # adjacent strings are one value
            entry.value = (first.start, tok.end)
            entry.end = tok.end
        else:
            raise _Unsupported(f"value expected after {name_tok.text!r}")
        sep = self.peek()
        if sep is not None and sep.text in (",", ";"):
            self.i += 1
            entry.end = sep.end
        return entry


def _parse(text: str) -> _Node:
    return _Parser(text).node(None, None)


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
                raise _Unsupported("overlapping edits")
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

    def own_line(self, entry: _Entry) -> bool:
        return self.starts_line(entry.start) and self.ends_line(entry.end)

    def delete(self, entry: _Entry) -> None:
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
    def _anchor(self, node: _Node, desc: Any, field: FieldDescriptor) -> tuple[int, str, bool, bool]:
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
        base = self.ed.indent_of(self._line_first(node.open))
        return node.open + 1, base + "  ", True, inline

    def _line_first(self, pos: int) -> int:
        start = self.ed.line_start(pos)
        while start < pos and self.text[start] in " \t":
            start += 1
        return start

    def insert(self, node: _Node, parent: Message, field: FieldDescriptor, value: Any) -> None:
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

    def replace_entry(self, entry: _Entry, parent: Message, field: FieldDescriptor, value: Any) -> None:
        """Rewrite one whole entry (comments inside it are lost: the fallback for odd shapes)."""
        own = self.ed.own_line(entry)
        indent = self.ed.indent_of(entry.start)
        body = _render(parent, field, value, 0, one_line=not own)
        self.ed.replace(entry.start, entry.end, body.replace("\n", "\n" + indent))

    # -- the recursive edit
    def message(self, node: _Node, old: Message, new: Message) -> None:
        by_name: dict[str, list[_Entry]] = {}
        for entry in node.entries:
            by_name.setdefault(entry.name, []).append(entry)
        fields = new.DESCRIPTOR.fields_by_name
        if any(name not in fields for name in by_name):
            raise _Unsupported("a name that is not a field (extension or group)")
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

    def _singular(self, node: _Node, entries: list[_Entry], old: Message, new: Message,
                  field: FieldDescriptor) -> None:
        had, has = _present(old, field), _present(new, field)
        before, after = getattr(old, field.name), getattr(new, field.name)
        if had == has and (not has or before == after):
            return
        if len(entries) > 1:
            raise _Unsupported(f"{field.name} appears {len(entries)} times")
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
                raise _Unsupported(f"{field.name} is not written as a message")
            try:
                sub = _Rewriter(self.text)
                sub.gone = self.gone
                sub.message(entry.child, before if had else type(after)(), after)
                self.ed.edits.extend(_renumber(sub.ed.edits, len(self.ed.edits)))
            except _Unsupported:
                self.replace_entry(entry, new, field, after)
            return
        if entry.value is None or entry.is_list:
            raise _Unsupported(f"{field.name} is not written as a scalar")
        line = _render(new, field, after, 0, one_line=True)
        self.ed.replace(entry.value[0], entry.value[1], line.split(":", 1)[1].strip())

    def _repeated_scalars(self, node: _Node, entries: list[_Entry], old: Message, new: Message,
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
            temp = _render(new, field, after, 0, one_line=True)
            values = [part.split(":", 1)[1].strip() for part in _split_one_line(temp, field.name)]
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

    def _repeated_messages(self, node: _Node, entries: list[_Entry], old: Message, new: Message,
                           field: FieldDescriptor) -> None:
        before, after = list(getattr(old, field.name)), list(getattr(new, field.name))
        if before == after:
            return
        if any(e.opaque or e.is_list for e in entries) or len(entries) != len(before):
            raise _Unsupported(f"{field.name} is written as a list")
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
                        raise _Unsupported(f"{field.name} entry is not a message")
                    sub = _Rewriter(self.text)
                    sub.gone = self.gone
                    sub.message(entry.child, before[i1 + k], after[j1 + k])
                    self.ed.edits.extend(_renumber(sub.ed.edits, len(self.ed.edits)))
                continue
            for entry in entries[i1:i2]:
                self.ed.delete(entry)
            added = after[j1:j2]
            if not added:
                continue
            if i1 > 0:
                self._insert_after(entries[i1 - 1], new, field, added)
            elif entries:
                self._insert_before(entries[0], new, field, added)
            else:
                self.insert(node, new, field, added)

    def _insert_after(self, entry: _Entry, parent: Message, field: FieldDescriptor, items: list[Any]) -> None:
        if not self.ed.own_line(entry):
            body = _render(parent, field, items, 0, one_line=True)
            self.ed.replace(entry.end, entry.end, " " + body)
            return
        indent = self.ed.indent_of(entry.start)
        body = _render(parent, field, items, 0, one_line=False).replace("\n", "\n" + indent)
        end = self.ed.line_end(entry.end)
        self.ed.replace(end, end, "\n" + indent + body)

    def _insert_before(self, entry: _Entry, parent: Message, field: FieldDescriptor, items: list[Any]) -> None:
        if not self.ed.own_line(entry):
            body = _render(parent, field, items, 0, one_line=True)
            self.ed.replace(entry.start, entry.start, body + " ")
            return
        indent = self.ed.indent_of(entry.start)
        body = _render(parent, field, items, 0, one_line=False).replace("\n", "\n" + indent)
        start = self.ed.line_start(entry.start)
        self.ed.replace(start, start, indent + body + "\n")

    def _map(self, node: _Node, entries: list[_Entry], old: Message, new: Message, field: FieldDescriptor) -> None:
        before, after = getattr(old, field.name), getattr(new, field.name)
        if set(before) == set(after) and all(before[key] == after[key] for key in before):
            return
        by_key: dict[Any, _Entry] = {}
        for entry in entries:
            if entry.child is None:
                raise _Unsupported(f"{field.name} entry is not a message")
            body = self.text[entry.child.open + 1:entry.child.close]  # type: ignore[operator]
            probe = type(new)()
            text_format.Parse(f"{field.name} {{ {body} }}", probe)
            keys = list(getattr(probe, field.name))
            if len(keys) != 1 or keys[0] in by_key:
                raise _Unsupported(f"{field.name} entries repeat a key")
            by_key[keys[0]] = entry
        if set(by_key) != set(before):
            raise _Unsupported(f"{field.name}: the text's keys differ from the parsed map")
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                self.ed.delete(by_key[key])
            elif key not in before:
                single = {key: after[key]}
                if by_key:
                    self._insert_after(max(by_key.values(), key=lambda e: e.end), new, field, single)  # type: ignore[arg-type]
                else:
                    self.insert(node, new, field, single)
            elif before[key] != after[key]:
                self.replace_entry(by_key[key], new, field, {key: after[key]})


def _split_one_line(text: str, name: str) -> list[str]:
    """``a: 1 a: 2`` -> [``a: 1``, ``a: 2``] for a repeated scalar written on one line."""
    parts = re.split(rf"(?:(?<=\s)|^){re.escape(name)}:", text)
    return [f"{name}:{part}".strip() for part in parts if part.strip()]


def _renumber(edits: list[_Edit], offset: int) -> Iterator[_Edit]:
    for k, edit in enumerate(edits):
        yield _Edit(edit.start, edit.end, offset + k, edit.text)


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
    if before == after:
        return original
    try:
        rewriter = _Rewriter(original)
        rewriter.message(_parse(original), before, after)
        text = rewriter.ed.result()
        check = type(after)()
        text_format.Parse(text, check)
        if check == after:
            return text
    except (_Unsupported, text_format.ParseError):
        pass
    return text_format.MessageToString(after)


def preserved(original: str, before: Message, after: Message) -> bool:
    """Whether :func:`render_edit` keeps ``original``'s layout for this edit (for tests and
    messages: False means it fell back to canonical text)."""
    if before == after:
        return True
    try:
        rewriter = _Rewriter(original)
        rewriter.message(_parse(original), before, after)
        check = type(after)()
        text_format.Parse(rewriter.ed.result(), check)
        return check == after
    except (_Unsupported, text_format.ParseError):
        return False
