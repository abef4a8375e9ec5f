"""The explorer's colours and the inline CSS snippets its HTML is built from.

Every pane is HTML with inline styles (no classes, no stylesheet), so a copied pane or the
exported snapshot keeps its look. One light palette, chosen for contrast on white; the token
colours follow the usual reading of assembly (opcodes blue, types brown, registers plain).
It holds constants and tiny helpers only.
"""

from __future__ import annotations

import html

MONO = "'JetBrains Mono', 'Fira Code', Menlo, Consolas, 'DejaVu Sans Mono', monospace"
SANS = "Inter, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"

INK = "#1f2328"
MUTED = "#59636e"
BORDER = "#d1d9e0"
PANEL = "#f6f8fa"
ACCENT = "#0969da"

PASS_BG, PASS_FG = "#dafbe1", "#116329"
FAIL_BG, FAIL_FG = "#ffebe9", "#a40e26"
WARN_BG, WARN_FG = "#fff8c5", "#7d4e00"
INFO_BG, INFO_FG = "#ddf4ff", "#0a3069"

ADDED_BG, ADDED_MARK, ADDED_WORD = "#e6ffec", "#1a7f37", "#abf2bc"
REMOVED_BG, REMOVED_MARK, REMOVED_WORD = "#ffebe9", "#cf222e", "#ffcecb"
PHASE_BG, PHASE_FG = "#fff8c5", "#7d4e00"

# token kind -> inline CSS; highlight.py maps Pygments token types onto these kinds
TOKEN_CSS = {
    "opcode": "color:#0550ae;font-weight:600",
    "modifier": "color:#0a7b83",
    "type": "color:#953800",
    "space": "color:#8250df",
    "directive": "color:#6639ba;font-weight:600",
    "register": f"color:{INK}",
    "special": "color:#b35900;font-weight:600",
    "guard": "color:#cf222e;font-weight:700",
    "number": "color:#116329",
    "hexfloat": "color:#116329;text-decoration:underline dotted #8c959f",
    "label": "color:#8250df;font-weight:700",
    "name": "color:#24292f",
    "comment": "color:#6e7781;font-style:italic",
    "phase": f"color:{PHASE_FG};font-weight:700;font-style:normal",
    "punct": "color:#57606a",
    "text": "",
}

CODE_MAX_HEIGHT = "max-height:620px"  # code boxes scroll in the app; the snapshot drops it
CODE_BOX = (
    f"font-family:{MONO};font-size:12.5px;line-height:1.5;background:#ffffff;color:{INK};"
    f"border:1px solid {BORDER};border-radius:6px;overflow:auto;{CODE_MAX_HEIGHT}"
)
LINENO = (
    f"display:inline-block;min-width:3.2em;padding:0 10px 0 6px;text-align:right;"
    f"color:#8c959f;background:{PANEL};border-right:1px solid {BORDER};user-select:none"
)
ROW = "white-space:pre;padding-right:12px"
# wrapped rows keep the indentation and break long operands anywhere (side-by-side diff)
ROW_WRAP = "white-space:pre-wrap;overflow-wrap:anywhere;padding-right:12px"
TABLE = f"border-collapse:collapse;font-family:{SANS};font-size:13px;color:{INK}"
TH = (
    f"text-align:left;padding:5px 12px;border-bottom:2px solid {BORDER};"
    f"background:{PANEL};font-weight:600"
)
TD = f"padding:5px 12px;border-bottom:1px solid {BORDER}"
TD_NUM = TD + f";text-align:right;font-family:{MONO}"
HEADING = f"font-family:{SANS};font-size:14px;font-weight:600;color:{INK};margin:10px 0 6px"
NOTE = f"font-family:{SANS};font-size:12.5px;color:{MUTED}"


def esc(text: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def badge(text: str, bg: str, fg: str) -> str:
    """A small rounded label (PASS, FAIL, a count)."""
    return (
        f'<span style="display:inline-block;padding:1px 8px;border-radius:10px;background:{bg};'
        f'color:{fg};font-family:{SANS};font-size:12px;font-weight:600">{esc(text)}</span>'
    )


def message(text: str, kind: str = "info") -> str:
    """An inline message box: kind is info, warn or error (never a traceback)."""
    bg, fg, icon = {
        "info": (INFO_BG, INFO_FG, "ℹ"),
        "warn": (WARN_BG, WARN_FG, "⚠"),
        "error": (FAIL_BG, FAIL_FG, "✖"),
    }[kind]
    return (
        f'<div style="background:{bg};color:{fg};border:1px solid {fg}33;border-radius:6px;'
        f'padding:8px 12px;margin:4px 0;font-family:{SANS};font-size:13px">'
        f"{icon} {esc(text)}</div>"
    )


def table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An HTML table; cells are trusted HTML, columns in `numeric` right-aligned."""
    numeric = numeric or set()
    head = "".join(f'<th style="{TH}">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{TD_NUM if i in numeric else TD}">{cell}</td>'
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table style="{TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

# the PTX view's source gutter (file:line of the code that emitted each instruction); the
# rows are monospaced `white-space:pre`, so the labels are padded to one width with spaces
GUTTER = "color:#8c959f;user-select:none"
CURRENT_BG = "#ddf4ff"  # the line a stepper stands on (Lanes)
CURRENT_MARK = f"box-shadow:inset 3px 0 0 {ACCENT}"
