"""Highlighted diffs of two PTX texts: unified (hunks with context) or side by side, with
added/removed line counts and both configurations named in the header.

Lines are compared as text (difflib, no junk heuristics) and drawn with the per-line HTML of
`highlight.highlight_lines`, so a diff costs one lexing pass per text (cached). It does not
know what a configuration is: the caller passes the two names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from . import theme
from .highlight import highlight_lines, line_div, line_tokens, render_tokens

CONTEXT = 3  # unchanged lines shown around each change in the unified view
MODES = ("unified", "side by side")


@dataclass(frozen=True)
class PtxDiff:
    """A rendered diff: HTML and the numbers of added and removed lines."""

    html: str
    added: int
    removed: int

    @property
    def summary(self) -> str:
        return f"+{self.added} −{self.removed}"


def _matcher(old: str, new: str) -> difflib.SequenceMatcher:
    return difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)


def diff_counts(old: str, new: str) -> tuple[int, int]:
    """(added, removed) lines from `old` to `new`."""
    added = removed = 0
    for tag, i1, i2, j1, j2 in _matcher(old, new).get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def changed_words(old: str, new: str, i: int, j: int) -> tuple[str, str]:
    """Line i of `old` and line j of `new`, with the tokens that differ emphasised."""
    a, b = line_tokens(old)[i], line_tokens(new)[j]
    matcher = difflib.SequenceMatcher(None, [t for _, t in a], [t for _, t in b],
                                      autojunk=False)
    gone: set[int] = set()
    came: set[int] = set()
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag != "equal":
            gone.update(range(a1, a2))
            came.update(range(b1, b2))
    return (render_tokens(a, frozenset(gone), theme.REMOVED_WORD),
            render_tokens(b, frozenset(came), theme.ADDED_WORD))


def _changed_block(old: str, new: str, i1: int, i2: int, j1: int, j2: int):
    """The HTML of a replaced block's lines: pairs of lines get word emphasis."""
    a, b = highlight_lines(old), highlight_lines(new)
    left = [a[i] for i in range(i1, i2)]
    right = [b[j] for j in range(j1, j2)]
    for k in range(min(i2 - i1, j2 - j1)):
        left[k], right[k] = changed_words(old, new, i1 + k, j1 + k)
    return left, right


def _header(old_name: str, new_name: str, added: int, removed: int) -> str:
    counts = (
        theme.badge(f"+{added}", theme.ADDED_BG, theme.ADDED_MARK)
        + " "
        + theme.badge(f"−{removed}", theme.REMOVED_BG, theme.REMOVED_MARK)
    )
    return (
        f'<div style="font-family:{theme.SANS};font-size:13px;margin:0 0 8px;line-height:1.7">'
        f"{counts}"
        f'<div><span style="color:{theme.REMOVED_MARK};font-weight:700">−−− </span>'
        f"{theme.esc(old_name)}</div>"
        f'<div><span style="color:{theme.ADDED_MARK};font-weight:700">+++ </span>'
        f"{theme.esc(new_name)}</div></div>"
    )


def unified(old: str, new: str, old_name: str, new_name: str) -> PtxDiff:
    """The unified diff: hunks of removed (−), added (+) and context lines."""
    b = highlight_lines(new)
    added, removed = diff_counts(old, new)
    rows = []
    for hunk in _matcher(old, new).get_grouped_opcodes(CONTEXT):
        i0, j0 = hunk[0][1], hunk[0][3]
        i_end, j_end = hunk[-1][2], hunk[-1][4]
        rows.append(
            f'<div style="background:{theme.INFO_BG};color:{theme.INFO_FG};padding:2px 10px">'
            f"@@ −{i0 + 1},{i_end - i0} +{j0 + 1},{j_end - j0} @@</div>"
        )
        for tag, i1, i2, j1, j2 in hunk:
            if tag == "equal":
                rows += [line_div(j + 1, b[j], marker=" ") for j in range(j1, j2)]
                continue
            left, right = _changed_block(old, new, i1, i2, j1, j2)
            rows += [line_div(i1 + k + 1, html, theme.REMOVED_BG, "−")
                     for k, html in enumerate(left)]
            rows += [line_div(j1 + k + 1, html, theme.ADDED_BG, "+")
                     for k, html in enumerate(right)]
    if not rows:
        rows.append(f'<div style="padding:8px 12px;{theme.NOTE}">The PTX is identical.</div>')
    body = f'<div style="{theme.CODE_BOX}">{"".join(rows)}</div>'
    return PtxDiff(_header(old_name, new_name, added, removed) + body, added, removed)


def _cell(number: int | None, inner: str, background: str, marker: str) -> str:
    if number is None:
        return f'<td style="background:{theme.PANEL};width:50%"></td>'
    return (
        f'<td style="vertical-align:top;width:50%;padding:0;overflow:hidden">'
        f"{line_div(number, inner, background, marker, wrap=True)}</td>"
    )


def side_by_side(old: str, new: str, old_name: str, new_name: str) -> PtxDiff:
    """Both texts in two aligned columns; changed blocks padded to the same height."""
    a, b = highlight_lines(old), highlight_lines(new)
    added, removed = diff_counts(old, new)
    rows = []
    for tag, i1, i2, j1, j2 in _matcher(old, new).get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                rows.append(_cell(i + 1, a[i], "", " ") + _cell(j + 1, b[j], "", " "))
            continue
        left, right = _changed_block(old, new, i1, i2, j1, j2)
        for k in range(max(i2 - i1, j2 - j1)):
            cells = (
                _cell(i1 + k + 1, left[k], theme.REMOVED_BG, "−") if k < len(left)
                else _cell(None, "", "", ""),
                _cell(j1 + k + 1, right[k], theme.ADDED_BG, "+") if k < len(right)
                else _cell(None, "", "", ""),
            )
            rows.append("".join(cells))
    table = "".join(f"<tr>{row}</tr>" for row in rows)
    body = (
        f'<div style="{theme.CODE_BOX}"><table style="border-collapse:collapse;width:100%;'
        f'table-layout:fixed">{table}</table></div>'
    )
    return PtxDiff(_header(old_name, new_name, added, removed) + body, added, removed)


def render_diff(old: str, new: str, old_name: str, new_name: str, mode: str) -> PtxDiff:
    """The diff in `mode` ("unified" or "side by side")."""
    if mode == "unified":
        return unified(old, new, old_name, new_name)
    if mode == "side by side":
        return side_by_side(old, new, old_name, new_name)
    raise ValueError(f"diff mode {mode!r}; accepted: {', '.join(MODES)}")
