"""PTX text -> a stream of items with their line numbers: statements (text up to `;`), the
opening and closing braces of blocks (an entry's or a function's body, nvcc's `{ ... }` scopes),
labels, whole-line comments inside blocks, and line directives (`.loc`, `.file`, `@@DWARF`,
and the header's `.version`, `.target`, `.address_size`, which end without `;`), other
comments removed.

It splits text; it knows no opcodes and checks nothing but the shape the parser needs: a
statement may run over several lines only where PTX generators break lines (after a `,` or
`(`, before a `)`, anywhere in a `call`; headers at module level), and `.section` blocks
(DWARF data) are skipped whole. The parser gives the items their meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IDENT = r"[A-Za-z_$%][\w$]*"
_LABEL = re.compile(r"[A-Za-z_$][\w$]*")
LINE_DIRECTIVES = (".loc", ".file", "@@DWARF", ".version", ".target", ".address_size")


@dataclass(frozen=True)
class Item:
    """kind: `stmt` (text without `;`), `open` (text: the header before `{`), `close`,
    `label` (text: its name), `line` (a line directive's text), `comment` (a whole-line
    comment inside a block, without `//`) or `dangling` (text left without `;` where a
    statement cannot go on)."""

    kind: str
    line: int
    text: str = ""


class ScanError(Exception):
    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.line, self.why = line, why


def strip_comment(line: str) -> str:
    """The line without a `//` comment (outside double quotes), stripped."""
    if "//" not in line:
        return line.strip()
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "/" and not quoted and line.startswith("//", i):
            return line[:i].strip()
    return line.strip()


def _without_block_comments(text: str) -> str:
    """`/* ... */` removed, its newlines kept so line numbers stay right."""
    return re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)


def _continues(buffer: str, code: str) -> bool:
    """A statement in a body goes on to the next line only where generators break lines."""
    tail = buffer.strip()
    return (tail.endswith((",", "(")) or code.startswith((")", "(", ","))
            or re.sub(r"^@!?\S+\s+", "", tail).startswith("call"))


class _Scanner:
    def __init__(self) -> None:
        self.items: list[Item] = []
        self.buffer, self.start, self.depth = "", 0, 0
        self.skip_depth = 0  # inside a `.section` block: its depth, else 0

    def flush(self, kind: str, lineno: int) -> None:
        self.items.append(Item(kind, self.start or lineno, self.buffer.strip()))
        self.buffer, self.start = "", 0

    def line(self, lineno: int, code: str) -> None:
        if self.skip_depth:
            self.skip(code)
            return
        if not self.buffer.strip():
            if code.startswith(LINE_DIRECTIVES):
                self.items.append(Item("line", lineno, code))
                return
        elif self.depth and not _continues(self.buffer, code):
            self.flush("dangling", lineno)
        for i, ch in enumerate(code):
            self.char(lineno, code, i, ch)
        if self.buffer.strip():
            self.buffer += " "

    def skip(self, code: str) -> None:
        for ch in code:
            if ch == "{":
                self.depth += 1
            elif ch == "}":
                self.depth -= 1
                if self.depth < self.skip_depth:
                    self.skip_depth = 0
                    return

    def char(self, lineno: int, code: str, i: int, ch: str) -> None:
        if self.skip_depth:
            self.skip(ch)
            return
        empty = not self.buffer.strip()
        if ch == ";":
            self.flush("stmt", lineno)
        elif ch == "{" and (empty or (self.depth == 0 and "=" not in self.buffer)):
            head = self.buffer.strip()
            self.flush("open", lineno)
            self.depth += 1
            if head.startswith(".section"):
                self.items.pop()  # debug sections are data for debuggers: skipped whole
                self.skip_depth = self.depth
        elif ch == "}" and empty:
            self.buffer, self.start = "", 0
            self.items.append(Item("close", lineno))
            self.depth -= 1
        elif ch == ":" and _LABEL.fullmatch(self.buffer.strip()) and code[i + 1:i + 2] != ":":
            self.flush("label", lineno)
        else:
            if empty and not ch.isspace():
                self.start = lineno
            self.buffer += ch


def scan(text: str) -> list[Item]:
    """The items of a PTX module, in order; a trailing statement without `;` is `dangling`."""
    s = _Scanner()
    for lineno, raw in enumerate(_without_block_comments(text).splitlines(), 1):
        code = strip_comment(raw)
        if not code and s.depth and not s.skip_depth and not s.buffer.strip() \
                and raw.strip().startswith("//"):
            s.items.append(Item("comment", lineno, raw.strip()[2:].strip()))
        elif code:
            s.line(lineno, code)
    if s.buffer.strip():
        s.flush("dangling", 0)
    return s.items
