"""The PTX view's source gutter: which line of which source file each PTX instruction came
from, as a short label ("split_kv_rows.py:128") and a hover title, and which lines of a PTX
text are line-info directives (`.loc`, `.file`) that the view hides.

Two routes to the same map, PTX line -> (label, title):
- `kernel_sources(plain, with_lines)`: the project's kernels. The view shows the plain
  emission (`emit(target)`, whose line numbers the Diff, Run and Lanes views use); the
  `line_info=True` emission differs from it only by its `.file`/`.loc` lines, so each of its
  instructions is matched to the plain line it becomes, and that line gets the Python line of
  the builder call that emitted it.
- `own_sources(ptx)`: PTX that carries its own `.loc` lines (nvcc `-lineinfo`, Triton), keyed
  by its original line numbers (the ones the simulator's trace steps carry).

Pure functions of text, cached by text; it renders no HTML beyond one gutter cell.
"""

from __future__ import annotations

import functools
import re

from ..ptx.sass import ptx_sources
from . import theme

Sources = dict[int, tuple[str, str]]  # PTX line -> (gutter label, hover title)

LINE_INFO = re.compile(r"^\s*\.(?:loc|file)\b")
MAX_LABEL_CH = 28  # a wider gutter would push the PTX off a laptop screen


def _short(path: str, line: int) -> str:
    return f"{path.rsplit('/', 1)[-1]}:{line}"


@functools.lru_cache(maxsize=64)
def hidden_lines(ptx: str) -> frozenset[int]:
    """The 1-based numbers of the `.loc` and `.file` lines of `ptx`."""
    return frozenset(n for n, line in enumerate(ptx.split("\n"), start=1) if LINE_INFO.match(line))


def without_line_info(with_lines: str) -> tuple[str, list[int]]:
    """`with_lines` without its `.loc`/`.file` lines (and the blank line the printer writes
    before its `.file` table), and for each line kept, its number in `with_lines`."""
    lines = with_lines.split("\n")
    kept = []
    for number, line in enumerate(lines, start=1):
        if LINE_INFO.match(line):
            continue
        if not line.strip() and number < len(lines) and lines[number].startswith(".file"):
            continue  # the blank line that comes with the `.file` table
        kept.append(number)
    return "\n".join(lines[n - 1] for n in kept), kept


@functools.lru_cache(maxsize=64)
def kernel_sources(plain: str, with_lines: str) -> Sources:
    """Plain PTX line -> ("split_kv_rows.py:128", "emitted by explorer/kernels/...:128") for
    each instruction, from the `line_info=True` emission of the same kernel. ValueError if
    the two texts differ in more than `.file`/`.loc` lines (the gutter would name wrong
    lines)."""
    text, kept = without_line_info(with_lines)
    if text != plain:
        raise ValueError("the line-info emission minus its .file/.loc lines is not the plain "
                         "emission: no gutter")
    sources = printed_sources(with_lines)
    out: Sources = {}
    for plain_number, number in enumerate(kept, start=1):
        if number in sources:
            path, line = sources[number]
            out[plain_number] = (_short(path, line), f"emitted by {path}:{line}")
    return out


_LOC = re.compile(r"\t\.loc (\d+) (\d+) ")
_FILE = re.compile(r'\.file (\d+) "([^"]*)"')


def printed_sources(with_lines: str) -> dict[int, tuple[str, int]]:
    """`explorer.ptx.sass.ptx_sources` for the printer's own layout (one statement a line, body
    lines indented by a tab, labels and braces at column 0): a single pass over the lines,
    eight times faster than scanning the PTX, for the live path."""
    lines = with_lines.split("\n")
    files = {int(m.group(1)): m.group(2) for line in lines if (m := _FILE.match(line))}
    out: dict[int, tuple[str, int]] = {}
    current = None
    for number, line in enumerate(lines, start=1):
        if m := _LOC.match(line):
            current = (files[int(m.group(1))], int(m.group(2)))
        elif not line.startswith("\t"):
            if line.startswith((".visible", ".entry", ".func")):
                current = None  # a `.loc` names lines of one body only
        elif current and not line.startswith(("\t.", "\t//")):
            out[number] = current
    return out


@functools.lru_cache(maxsize=64)
def own_sources(ptx: str) -> Sources:
    """PTX line -> (label, title) from the text's own `.loc` lines, in its original line
    numbers. The label names the outermost call site where a `.loc` was inlined (the line its
    author wrote: `shuffles.cu:14`, not `sm_30_intrinsics.hpp:397`); the title names both."""
    if ".loc" not in ptx:
        return {}
    inner, outer = ptx_sources(ptx), ptx_sources(ptx, outermost=True)
    out: Sources = {}
    for number, (path, line) in outer.items():
        title = f"from {path}:{line}"
        if inner[number] != (path, line):
            title += f" (inlined: {inner[number][0]}:{inner[number][1]})"
        out[number] = (_short(path, line), title)
    return out


def label_width(sources: Sources) -> int:
    """The gutter's width in characters: its longest label, at most MAX_LABEL_CH."""
    return min(MAX_LABEL_CH, max((len(label) for label, _ in sources.values()), default=0))


def cell(label: str, title: str, width: int) -> str:
    """One row's gutter cell: the label padded to `width` (cut with an ellipsis past it;
    blank where it repeats the previous row's) with the title on hover."""
    if len(label) > width:
        label = label[: width - 1] + "…"
    hover = f' title="{theme.esc(title)}"' if title else ""
    return f' <span style="{theme.GUTTER}"{hover}>{theme.esc(label.ljust(width))}</span>'
