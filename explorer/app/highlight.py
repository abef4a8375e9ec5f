"""PTX syntax highlighting for the explorer: a lexer and an HTML formatter with inline styles.

`FixedPtxLexer` subclasses Pygments' `PtxLexer` (Pygments >= 2.16) and closes its gaps:
predicate guards (`@%p3`, `@!%p4`) are one token, not Error tokens (red boxes); hex float
immediates (`0fFF800000`, `0d...`) are one number; an instruction's modifier chain
(`shfl.sync.down.b32`) is split into opcode, modifiers, state spaces and types, each modifier
typed by the group of `spec.OPCODES` it belongs to (by its spelling, for an opcode outside the
table). It never emits Error tokens: anything unknown is plain text.

`PtxHtmlFormatter` writes one `<div>` per line with a line number and inline styles only, and
marks the kernel's phases (`// phase: ...` comment lines) with a band; `render_ptx` adds the
source gutter (`explorer.app.gutter`), hides `.loc`/`.file` lines and can emphasise one line.
`highlight_lines` is the cached per-line HTML both the PTX pane and the diff build on. It does
not read the IR.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass

from pygments import lex
from pygments.formatter import Formatter
from pygments.lexer import bygroups
from pygments.lexers.ptx import PtxLexer
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

from ..ptx.sass import phase_marks, short_phase
from ..ptx.spec import OPCODES, SPACES, TYPES
from . import theme
from .gutter import Sources, hidden_lines, label_width, own_sources
from .gutter import cell as gutter_cell

SPECIAL_REGISTERS = (
    "tid|ntid|ctaid|nctaid|laneid|warpid|nwarpid|smid|nsmid|gridid|clock64|clock|"
    "lanemask_eq|lanemask_le|lanemask_lt|lanemask_ge|lanemask_gt|globaltimer"
)
STATE_SPACES = frozenset(SPACES) | {"tex", "sreg", "reg"}  # + spaces of declarations only
DIRECTIVES = frozenset({
    "version", "target", "address_size", "visible", "entry", "func", "extern", "weak",
    "align", "maxntid", "reqntid", "minnctapersm", "maxnreg", "pragma", "file", "loc",
    "section", "common", "noreturn", "alias", "callprototype", "calltargets", "branchtargets",
})

# Token types of this lexer, one per highlighting kind in theme.TOKEN_CSS.
Opcode = Keyword
Modifier = Name.Attribute
Type = Keyword.Type
Space = Keyword.Pseudo
Directive = Keyword.Reserved
Guard = Name.Decorator
Special = Name.Builtin
PhaseComment = Comment.Special
HexFloat = Number.Float.Hex

KIND_OF_TOKEN = {
    Opcode: "opcode", Modifier: "modifier", Type: "type", Space: "space",
    Directive: "directive", Guard: "guard", Special: "special", PhaseComment: "phase",
    HexFloat: "hexfloat", Name.Variable: "register", Name.Label: "label", Name: "name",
    Comment.Single: "comment", Number: "number", Punctuation: "punct", Operator: "punct",
}


def _dotted_word(word: str) -> _TokenType:
    """The token type of a `.word` after the opcode or in a directive line."""
    if word in TYPES:
        return Type
    if word in STATE_SPACES:
        return Space
    if word in DIRECTIVES:
        return Directive
    return Modifier


def _modifier_token(opcode: str, modifier: str) -> _TokenType:
    """A type or state space by the group of the opcode's row that accepts `modifier`."""
    row = OPCODES.get(opcode)
    group = next((g for g in row.groups if modifier in g.alternatives), None) if row else None
    if group is None:
        return _dotted_word(modifier)
    return Type if group.holds_type else Space if group.name == "space" else Modifier


def _instruction(lexer, match):
    """`opcode(.modifier)*`: the opcode, then each `.modifier` typed on its own."""
    opcode, chain = match.group(1), match.group(2)
    yield match.start(1), Opcode, opcode
    pos = match.start(2)
    for part in re.findall(r"\.[^.]+", chain):
        yield pos, _modifier_token(opcode, part[1:]), part
        pos += len(part)


def _directive(lexer, match):
    word = match.group(0)
    yield match.start(), _dotted_word(word[1:]), word


class FixedPtxLexer(PtxLexer):
    """Pygments' PTX lexer with predicates, hex floats and modifier chains fixed.

    A line is a statement start (`root`): a label, a guard, an instruction or a directive;
    after the instruction or directive come its operands (`operands`) up to `;` or the end
    of the line. Nothing is ever an Error token.
    """

    name = "PTX (explorer)"
    aliases: list[str] = []
    filenames: list[str] = []

    _common = [
        (r"[ \t]+", Whitespace),
        (r"//\s*phase:[^\n]*", PhaseComment),
        (r"//[^\n]*", Comment.Single),
        (r"/\*.*?\*/", Comment.Multiline),
    ]
    tokens = {
        "root": [
            (r"\n", Whitespace),
            *_common,
            (r"(@!?)(%[A-Za-z_]\w*)", bygroups(Guard, Guard)),
            (r"(\$?[A-Za-z_][\w$]*)(:)", bygroups(Name.Label, Punctuation)),
            (r"[{}()]", Punctuation),
            (r"\.[A-Za-z_]\w*", _directive, "operands"),
            (r"([a-z][a-z0-9_]*)((?:\.[A-Za-z0-9_]+(?:::\w+)*)*)", _instruction, "operands"),
            (r".", Text),
        ],
        "operands": [
            (r";", Punctuation, "#pop"),
            (r"\n", Whitespace, "#pop"),
            *_common,
            (rf"%(?:{SPECIAL_REGISTERS})(?:\.[xyz])?\b", Special),
            (r"%[A-Za-z_]\w*", Name.Variable),
            (r"\.[A-Za-z_]\w*", _directive),
            (r"0[fF][0-9a-fA-F]{8}\b|0[dD][0-9a-fA-F]{16}\b", HexFloat),
            (r"0[xX][0-9a-fA-F]+", Number.Hex),
            (r"-?\d+\.\d*(?:[eE][-+]?\d+)?", Number.Float),
            (r"-?\d+", Number.Integer),
            (r"\$?[A-Za-z_][\w$]*", Name),
            (r'"[^"\n]*"', String),
            (r"[\[\](),<>{}+\-*/|!&=]", Punctuation),
            (r".", Text),
        ],
    }


def hex_float_value(token: str) -> str:
    """`0fFF800000` -> `-inf`; `0f3FB8AA3B` -> `1.4427` (the tooltip of a hex immediate)."""
    digits = token[2:]
    fmt = ">f" if token[1] in "fF" else ">d"
    value = struct.unpack(fmt, bytes.fromhex(digits))[0]
    return f"{value:.9g}"


def _kind(token: _TokenType) -> str:
    while token not in KIND_OF_TOKEN and token.parent is not None:
        token = token.parent
    return KIND_OF_TOKEN.get(token, "text")


_ONE_SPAN_EACH = frozenset({"opcode", "hexfloat"})  # these carry a tooltip of their own


def _span(kind: str, value: str) -> str:
    css = theme.TOKEN_CSS.get(kind, "")
    text = theme.esc(value)
    title = ""
    if kind == "hexfloat":
        title = f' title="{theme.esc(hex_float_value(value))}"'
    elif kind == "opcode" and value in OPCODES:
        title = f' title="{theme.esc(OPCODES[value].summary)}"'
    if not css and not title:
        return text
    return f'<span style="{css}"{title}>{text}</span>'


@dataclass(frozen=True)
class PhaseMark:
    """A phase mark: its 1-based line number and its name (the comment after `phase:`)."""

    line: int
    name: str


def phases(ptx: str) -> list[PhaseMark]:
    """The `// phase: ...` marks of a PTX text, in order (`explorer.ptx.sass.phase_marks`)."""
    return [PhaseMark(number, name) for number, name in phase_marks(ptx)]


Token = tuple[str, str]  # (highlighting kind, text)


@functools.lru_cache(maxsize=64)
def line_tokens(ptx: str) -> tuple[tuple[Token, ...], ...]:
    """The (kind, text) tokens of each line of `ptx`, runs of one kind merged; cached."""
    lines: list[list[Token]] = [[]]
    for token, value in lex(ptx, FixedPtxLexer(stripnl=False)):
        kind = _kind(token)
        for i, part in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if not part:
                continue
            row = lines[-1]
            if row and row[-1][0] == kind and kind not in _ONE_SPAN_EACH:
                row[-1] = (kind, row[-1][1] + part)  # one span for a run of one kind
            else:
                row.append((kind, part))
    if ptx.endswith("\n") or not ptx:
        lines.pop()  # the lexer's final newline is not a line of its own
    return tuple(tuple(row) for row in lines)


def render_tokens(tokens: tuple[Token, ...], emphasis: frozenset[int] = frozenset(),
                  background: str = "") -> str:
    """One line's HTML; tokens whose index is in `emphasis` get `background` (a diff's
    changed words)."""
    parts = []
    for i, (kind, text) in enumerate(tokens):
        span = _span(kind, text)
        if i in emphasis and text.strip():
            span = f'<span style="background:{background};border-radius:2px">{span}</span>'
        parts.append(span)
    return "".join(parts)


@functools.lru_cache(maxsize=64)
def highlight_lines(ptx: str) -> tuple[str, ...]:
    """The inner HTML of each line of `ptx` (inline styles only); cached by text."""
    return tuple(render_tokens(row) for row in line_tokens(ptx))


def line_div(number: int | str, inner: str, background: str = "", marker: str = "",
             wrap: bool = False, gutter: str = "", anchor: str = "", extra_css: str = "") -> str:
    """One code row: the line number, an optional +/- marker, an optional gutter cell, the
    highlighted text (`wrap`: long lines wrap instead of running past the box, for the
    side-by-side diff); `anchor`: the row's HTML id."""
    bg = f"background:{background};" if background else ""
    mark = (
        f'<span style="display:inline-block;width:1.4em;text-align:center;color:#57606a">'
        f"{theme.esc(marker)}</span>"
        if marker is not None and marker != ""
        else ""
    )
    ident = f' id="{theme.esc(anchor)}"' if anchor else ""
    return (
        f'<div{ident} style="{bg}{extra_css}{theme.ROW_WRAP if wrap else theme.ROW}">'
        f'<span style="{theme.LINENO}">{number}</span>'
        f"{mark}{gutter} {inner}</div>"
    )


class PtxHtmlFormatter(Formatter):
    """Pygments formatter: numbered lines, inline styles, phase bands, no Error boxes."""

    name = "PTX HTML (explorer)"
    aliases: list[str] = []

    def format(self, tokensource, outfile) -> None:
        text = "".join(value for _, value in tokensource)
        outfile.write(render_ptx(text))


def phase_legend(ptx: str) -> str:
    """The phases as numbered chips with their line numbers (the pane's table of contents)."""
    chips = "".join(
        f'<span style="display:inline-block;margin:2px 6px 2px 0;padding:1px 8px;'
        f'border-radius:10px;background:{theme.PHASE_BG};color:{theme.PHASE_FG};'
        f'font-family:{theme.SANS};font-size:12px">{i}. {theme.esc(short_phase(p.name))} '
        f'<span style="color:#8c959f">L{p.line}</span></span>'
        for i, p in enumerate(phases(ptx), start=1)
    )
    return f'<div style="margin:4px 0 8px">{chips}</div>' if chips else ""


def terminal_text(ptx: str) -> str:
    """`ptx` with ANSI colours for a terminal (`explorer highlight FILE`): the same lexer as
    the app's panes."""
    from pygments import highlight
    from pygments.formatters import TerminalFormatter

    return highlight(ptx, FixedPtxLexer(), TerminalFormatter())


def render_ptx(ptx: str, first: int = 1, last: int | None = None, *,
               current: int | None = None, sources: Sources | None = None,
               show_locs: bool = False, anchor: str = "ptx-line") -> str:
    """The highlighted PTX (lines `first..last`, 1-based, inclusive) in a scrolling box.

    `sources`: PTX line -> (gutter label, hover title) (`gutter.kernel_sources` for the
    project's kernels); None: the text's own `.loc` lines (`gutter.own_sources`), if any.
    `.loc`/`.file` lines are hidden, the other lines keep their original numbers
    (`show_locs`: show them). `current`: the line to emphasise. Each row has the HTML id
    `{anchor}-N` so a view can scroll to line N."""
    lines = highlight_lines(ptx)
    last = len(lines) if last is None else min(last, len(lines))
    marks = {p.line for p in phases(ptx)}
    hidden = frozenset() if show_locs else hidden_lines(ptx)
    sources = own_sources(ptx) if sources is None else sources
    width = label_width(sources)
    rows, previous = [], None
    for number in range(max(first, 1), last + 1):
        if number in hidden:
            continue
        cell = ""
        if sources:
            label, title = sources.get(number, ("", ""))
            cell = gutter_cell("" if label == previous else label, title, width)
            previous = label or previous  # a label repeats across lines with none between
        background, css = "", ""
        if number == current:
            background, css = theme.CURRENT_BG, theme.CURRENT_MARK + ";"
        row = line_div(number, lines[number - 1], background, gutter=cell,
                       anchor=f"{anchor}-{number}", extra_css=css)
        if number in marks:
            row = (f'<div style="background:{theme.PHASE_BG};border-top:1px solid #d4a72c55">'
                   f"{row}</div>")
        rows.append(row)
    return f'<div style="{theme.CODE_BOX}">{"".join(rows)}</div>'
