"""A text-format file's layout: where each field's occurrence starts and ends (for :mod:`.textedit`).

A small tokenizer and parser over protobuf text format that keeps positions: every entry
(``name: value``, ``name { ... }``, ``name: [a, b]``) with its span, its value's span or its body.
Comments and whitespace are skipped (they stay in the text, untouched). A shape it does not read
raises :class:`Unsupported`, and the editor falls back to a larger rewrite.
"""
from __future__ import annotations

import dataclasses
import re

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<word>[\w.+-]+)
  | (?P<punct>[{}<>\[\]:,;/])
""", re.VERBOSE)


class Unsupported(Exception):
    """A text shape the precise edit does not handle (the caller re-renders a larger part)."""


@dataclasses.dataclass
class Tok:
    kind: str
    text: str
    start: int
    end: int


@dataclasses.dataclass
class Entry:
    """One ``name: value`` or ``name { ... }`` occurrence in the text."""

    name: str
    start: int                   # the name's first character
    end: int                     # after the value (or closing bracket) and an optional separator
    value: tuple[int, int] | None = None   # a scalar's (or scalar list's) value span
    child: "Node | None" = None           # a message's body
    is_list: bool = False                  # a scalar written as [a, b, c]
    opaque: bool = False                   # a list of messages [{...}, {...}]


@dataclasses.dataclass
class Node:
    """A message body: its entries, and where it opens and closes (None for the whole file)."""

    entries: list[Entry]
    open: int | None
    close: int | None


def _tokens(text: str) -> list[Tok]:
    out = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise Unsupported(f"unexpected character {text[pos]!r} at {pos}")
        kind = match.lastgroup or ""
        if kind not in ("ws", "comment"):
            out.append(Tok(kind, match.group(0), match.start(), match.end()))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise Unsupported("unexpected end of text")
        self.i += 1
        return tok

    def node(self, closer: str | None, open_pos: int | None) -> Node:
        entries = []
        while True:
            tok = self.peek()
            if tok is None:
                if closer is not None:
                    raise Unsupported("unclosed message")
                return Node(entries, open_pos, None)
            if closer is not None and tok.text == closer:
                self.i += 1
                return Node(entries, open_pos, tok.start)
            entries.append(self.entry())

    def entry(self) -> Entry:
        name_tok = self.take()
        if name_tok.kind != "word":
            raise Unsupported(f"field name expected at {name_tok.start}")
        entry = Entry(name_tok.text, name_tok.start, name_tok.end)
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
            raise Unsupported(f"value expected after {name_tok.text!r}")
        sep = self.peek()
        if sep is not None and sep.text in (",", ";"):
            self.i += 1
            entry.end = sep.end
        return entry


def parse(text: str) -> Node:
    return _Parser(text).node(None, None)
