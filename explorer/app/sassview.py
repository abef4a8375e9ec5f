"""The Resources view's SASS: grouped under the PTX line ptxas made it from, and the plain
listing.

The grouped view reads SASS whose line table names the PTX's own lines (assembled from
`sass.with_ptx_locs(ptx)`): per function, each PTX line that made SASS, highlighted, with its
number and its source label (the Python line for the project's kernels, the `.loc` source for
nvcc's or Triton's PTX), then its SASS instructions in SASS order with their offsets and live
registers; SASS without a line goes under "(no line)". PTX lines are in PTX order, so an
instruction that ptxas moved shows by its offset. For PTX with `// phase:` comments each phase
is a collapsible section. It renders HTML from instructions; it runs no tool.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from ..ptx.sass import SassInstruction, phase_marks, short_phase
from . import theme
from .gutter import Sources, label_width
from .gutter import cell as gutter_cell
from .highlight import highlight_lines, line_div

SASS_ROW = (f"white-space:pre;padding-left:5.6em;color:{theme.MUTED};font-size:11.5px;"
            "line-height:1.45")
PTX_ROW_BG = theme.PANEL


def functions(instructions: Sequence[SassInstruction]) -> dict[str, list[SassInstruction]]:
    """The instructions by function, in the listing's order."""
    out: dict[str, list[SassInstruction]] = {}
    for ins in instructions:
        out.setdefault(ins.function, []).append(ins)
    return out


def _sass_row(ins: SassInstruction) -> str:
    live = "" if ins.live_gpr is None else f"   {ins.live_gpr} live"
    return (f'<div style="{SASS_ROW}">/*{ins.offset:04x}*/  {theme.esc(ins.text)}'
            f'<span style="color:#8c959f">{live}</span></div>')


def _sections(lines: list[int], after: int, ptx: str) -> list[tuple[str, list[int]]]:
    """The PTX lines split by the phase marks between line `after` (the end of the
    function before) and the last of `lines` (one unnamed section when there is none)."""
    marks = [(n, name) for n, name in phase_marks(ptx) if after < n <= lines[-1]]
    if not marks:
        return [("", lines)]
    starts = [n for n, _ in marks]
    sections: list[tuple[str, list[int]]] = [("before the first phase", [])]
    sections += [(f"{i}. {short_phase(name)}", []) for i, (_, name) in enumerate(marks, 1)]
    for line in lines:
        sections[bisect.bisect_right(starts, line)][1].append(line)
    return [s for s in sections if s[1]]


def _group_html(ptx: str, groups: dict[int, list[SassInstruction]], lines: list[int],
                sources: Sources, width: int) -> str:
    highlighted = highlight_lines(ptx)
    rows = []
    for line in lines:
        label, title = sources.get(line, ("", ""))
        inner = highlighted[line - 1] if line <= len(highlighted) else ""
        cell = gutter_cell(label, title, width) if sources else ""
        rows.append(line_div(line, inner, PTX_ROW_BG, gutter=cell))
        rows += [_sass_row(ins) for ins in groups[line]]
    return "".join(rows)


def grouped(ptx: str, instructions: Sequence[SassInstruction], sources: Sources,
            open_function: str = "") -> str:
    """Every function's SASS under its PTX lines (`open_function`'s section open, the others
    folded); each instruction appears once."""
    width = label_width(sources)
    by_function = {}
    for function, found in functions(instructions).items():
        groups: dict[int, list[SassInstruction]] = {}
        for ins in found:
            groups.setdefault(ins.line or 0, []).append(ins)  # 0: no line
        by_function[function] = (found, groups)
    ends = sorted(max(groups) for _, groups in by_function.values())
    parts = []
    for function, (found, groups) in by_function.items():
        unplaced = groups.pop(0, [])
        lines = sorted(groups)
        after = max((end for end in ends if lines and end < lines[0]), default=0)
        body = []
        for name, section in _sections(lines, after, ptx) if lines else []:
            html = _group_html(ptx, groups, section, sources, width)
            if not name:
                body.append(html)
                continue
            count = sum(len(groups[n]) for n in section)
            body.append(
                f'<details open><summary style="{theme.NOTE};cursor:pointer;padding:3px 6px;'
                f'background:{theme.PHASE_BG};color:{theme.PHASE_FG}">{theme.esc(name)} · PTX '
                f"{section[0]}–{section[-1]} · {count} SASS</summary>{html}</details>")
        if unplaced:
            body.append(f'<div style="{theme.NOTE};padding:3px 6px;background:{PTX_ROW_BG}">'
                        f"(no line)</div>" + "".join(_sass_row(ins) for ins in unplaced))
        opened = " open" if (function == open_function if open_function else not parts) else ""
        parts.append(
            f'<details{opened} style="margin:4px 0"><summary style="{theme.HEADING};'
            f'cursor:pointer">{theme.esc(function)}: {len(found)} SASS instructions from '
            f'{len(lines)} PTX lines</summary><div style="{theme.CODE_BOX}">{"".join(body)}'
            "</div></details>")
    return "".join(parts)


def plain_text(instructions: Sequence[SassInstruction]) -> str:
    """The listing as nvdisasm prints it, one `/*offset*/ text` a line, a header a function."""
    out = []
    for function, found in functions(instructions).items():
        out.append(f"//--- .text.{function}")
        out += [f"/*{ins.offset:04x}*/ {ins.text}" for ins in found]
    return "\n".join(out)


def plain(instructions: Sequence[SassInstruction]) -> str:
    """The plain listing, folded."""
    body = theme.esc(plain_text(instructions))
    return (
        f'<details style="margin-top:10px"><summary style="{theme.HEADING};cursor:pointer">'
        f"SASS from nvdisasm ({len(instructions)} instructions), plain listing</summary>"
        f'<pre style="{theme.CODE_BOX};padding:8px 12px;margin:0">{body}</pre></details>'
    )
