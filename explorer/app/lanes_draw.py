"""The Lanes tab's drawings, without widgets: `lanes_figure` (a window of a `LaneSelection`'s
steps, lane by lane, with the current one outlined; `marker_at` moves the outline in the
figure's JSON), `lane_table` (the current step's 32 lanes as HTML) and `ptx_excerpt` (the PTX
around a line, that line marked). It computes nothing about the trace (`lanes.py` does).
"""

from __future__ import annotations

import warnings

import numpy as np
import plotly.graph_objects as go

from .. import sim
from ..lesson.figures import lane_values_figure
from ..ptx import spec
from . import theme
from .highlight import highlight_lines, line_div, phases, render_ptx
from .lanes import EVERY_SHFL, EVERY_STEP, LaneSelection, lane_parts, opcode, shown_values

EXCERPT_CONTEXT = 6  # PTX lines shown above and below the current one
CURRENT_LINE_CLASS = "explorer-lanes-current-line"
CURRENT_BG = "#ddf4ff"
MARKER = dict(type="rect", x0=-0.5, x1=31.5, line=dict(color="#cf222e", width=3))


def step_label(trace: sim.Trace, index: int) -> str:
    """A row's name in the figure: the step number, its PTX line and its opcode without the
    type (`#61 L86 shfl.sync.down`)."""
    words = opcode(trace[index].text).split(".")
    name = ".".join(words[:-1] if len(words) > 1 and words[-1] in spec.TYPES else words)
    return f"#{index} L{trace[index].line} {name[:16]}"


def lanes_figure(sel: LaneSelection, start: int, stop: int) -> go.Figure:
    """The lanes of the selected steps `start..stop-1` (rows) with a marker on the current
    one (`layout.shapes[0]`, moved by `marker_at`). One register shares one colour scale;
    rows of unlike steps are each scaled on their own."""
    rows = range(start, stop)
    z = np.full((len(rows), 32), np.nan)
    active = np.zeros((len(rows), 32), dtype=bool)
    hover = []
    for r, position in enumerate(rows):
        index = sel.positions[position]
        step = sel.trace[index]
        values = sel.lanes(position)
        if values is not None:
            z[r] = np.asarray(values, dtype=np.float64)
        active[r] = step.active
        # the row label names the step; 1,024 copies of its text made the figure 120 KiB
        hover.append([full_value(values, lane) if values is not None else "no destination"
                      for lane in range(32)])
    colour = None if sel.choice not in (EVERY_STEP, EVERY_SHFL) else _row_scaled(z)
    labels = [step_label(sel.trace, sel.positions[p]) for p in rows]
    what = sel.choice if sel.choice in (EVERY_STEP, EVERY_SHFL) else f"register {sel.choice}"
    scale = "one colour scale" if colour is None else "each row coloured on its own scale"
    title = (f"{sel.where()}: {what}, steps {start + 1}–{stop} of {sel.count}<br><sup>"
             f"each lane's value after the step; grey: inactive lanes (not run or guard "
             f"false); {scale}</sup>")
    fig = lane_values_figure(z, labels, active=active, hover=hover, colour=colour,
                             title=title, height=150 + 20 * len(labels))
    fig.add_shape(**MARKER, y0=sel.current - start - 0.5, y1=sel.current - start + 0.5)
    fig.update_layout(width=1100, margin=dict(t=80, l=190, r=40, b=50))
    return fig


def _row_scaled(z: np.ndarray) -> np.ndarray:
    """Each row mapped onto 0..1 by its own finite range (constant rows: 0.5)."""
    finite = np.where(np.isfinite(z), z, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        low, high = np.nanmin(finite, axis=1, keepdims=True), np.nanmax(finite, axis=1,
                                                                        keepdims=True)
    span = high - low
    return np.where(span > 0, (finite - low) / np.where(span > 0, span, 1), 0.5 + 0 * finite)


def marker_at(figure: dict, row: int) -> dict:
    """A plotly figure dict (as `pio.to_json` gives) with its marker on row `row`; the rest
    of the figure is shared, not copied."""
    layout = dict(figure["layout"])
    shapes = [dict(s) for s in layout["shapes"]]
    shapes[0].update(y0=row - 0.5, y1=row + 0.5)
    layout["shapes"] = shapes
    return {**figure, "layout": layout}


def full_value(values: np.ndarray, lane: int) -> str:
    """One lane's value in full: floats to their precision, big addresses in hex."""
    v = values[lane]
    if values.dtype == np.bool_:
        return "true" if v else "false"
    if np.issubdtype(values.dtype, np.floating):
        return f"{float(v):.9g}" if values.dtype.itemsize >= 4 else f"{float(v):.4g}"
    if values.dtype.itemsize == 8 and int(v) >= 1 << 32:
        return hex(int(v))
    return str(int(v))


def lane_table(sel: LaneSelection) -> str:
    """The current step's 32 lanes as an HTML table (4 rows of 8 lanes): each destination's
    value per lane, inactive lanes greyed and marked (lanes past the CTA's threads: no
    thread)."""
    step = sel.step
    if step is None:
        return theme.message("No step selected.")
    parts = [shown_values(reg, vals, sel.float_bits)
             for reg, vals in zip(step.dest, lane_parts(step), strict=False)]
    head = (f"step {sel.current + 1} of {sel.count} ({sel.choice}) · trace #{sel.index} · "
            f"line {step.line} · {int(step.active.sum())} of 32 lanes active")
    cells = []
    for lane in range(32):
        on = bool(step.active[lane])
        if step.lanes is None:
            body = "—"
        else:
            body = "<br>".join(f"{theme.esc(reg)} = {theme.esc(full_value(vals, lane))}"
                               for reg, vals in zip(step.dest, parts, strict=False))
        style = theme.TD_NUM + (";background:#eaeef2;color:#8c959f" if not on else "")
        tag = "" if on else " <i>no thread</i>" if lane >= sel.trace.threads else (
            " <i>inactive</i>")
        cells.append(f'<td style="{style}" data-lane="{lane}"><span style="{theme.NOTE}">'
                     f"lane {lane}{tag}</span><br>{body}</td>")
    rows = "".join("<tr>" + "".join(cells[r * 8:(r + 1) * 8]) + "</tr>" for r in range(4))
    return (f'<div style="{theme.NOTE}">{theme.esc(head)}</div>'
            f'<code style="font-family:{theme.MONO}">{theme.esc(step.text)}</code>'
            f'<table class="explorer-lanes-lane-table" style="{theme.TABLE}">{rows}</table>')


def ptx_excerpt(ptx: str, line: int | None, context: int = EXCERPT_CONTEXT) -> str:
    """The PTX lines around `line` (highlighted, numbered), that line marked with
    CURRENT_LINE_CLASS and a background; the phase it is in named above."""
    lines = highlight_lines(ptx)
    if line is None or not 1 <= line <= len(lines):
        return theme.message(f"No PTX line to show (line {line}).")
    first, last = max(1, line - context), min(len(lines), line + context)
    html = render_ptx(ptx, first, last)
    plain = line_div(line, lines[line - 1])
    marked = (f'<div class="{CURRENT_LINE_CLASS}" data-line="{line}">'
              f"{line_div(line, lines[line - 1], background=CURRENT_BG)}</div>")
    if plain in html:
        html = html.replace(plain, marked, 1)
    else:  # render_ptx wrote its rows otherwise: the rows without its phase bands
        rows = [marked if n == line else line_div(n, lines[n - 1])
                for n in range(first, last + 1)]
        html = f'<div style="{theme.CODE_BOX}">{"".join(rows)}</div>'
    phase = [p.name for p in phases(ptx) if p.line <= line]
    where = f"phase: {phase[-1]} · " if phase else ""
    return f'<div style="{theme.NOTE}">{theme.esc(where)}line {line}</div>{html}'
