"""The Resources view's register-pressure plot as inline SVG: live GPRs at each SASS
instruction of one entry (a step line), the phases' first instructions as named vertical
lines, the peak marked, and ptxas' allocated count as a dashed line.

SVG and not a plotly figure because the Resources view is an `ipywidgets.HTML` (no scripts
run there) and the snapshot is static HTML; `explorer.plots.live_registers_figure` is the
interactive version for notebooks. It draws a `sass.LiveRegisters`; it runs nothing.
"""

from __future__ import annotations

from ..ptx.sass import LiveRegisters
from . import theme

WIDTH, HEIGHT = 760, 230
LEFT, RIGHT, TOP, BOTTOM = 46, 14, 46, 34  # plot margins, pixels
LINE, FILL, PEAK, ALLOCATED = theme.ACCENT, "#0969da22", "#cf222e", "#57606a"
LABEL_ROWS = 3  # phase names staggered over three rows: neighbours stay readable


def _nice_top(value: int) -> int:
    """The y axis' top: `value` plus headroom, rounded up to a multiple of 16."""
    return max(16, -(-int(value * 1.15) // 16) * 16)


def _step_path(counts: list[int], x, y) -> str:
    """An SVG path of the counts as steps: each instruction's count holds until the next."""
    parts = [f"M{x(0):.1f},{y(counts[0]):.1f}"]
    for i in range(1, len(counts)):
        if counts[i] != counts[i - 1]:
            parts.append(f"H{x(i):.1f}V{y(counts[i]):.1f}")
    parts.append(f"H{x(len(counts)):.1f}")
    return "".join(parts)


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11,
          colour: str = theme.MUTED, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{colour}" font-weight="{weight}">{theme.esc(text)}</text>')


def _phases(live: LiveRegisters, x, counts: list[int]) -> list[str]:
    """Each phase: a dotted line at its first instruction, its name, and a band whose hover
    title gives its SASS range and its peak."""
    out = []
    starts = [p.index for p in live.phases] + [len(counts)]
    for row, phase in enumerate(live.phases):
        first, end = starts[row], max(starts[row + 1], starts[row] + 1)
        peak = max(counts[first:end], default=0)
        left, right = x(first), x(end)
        title = (f"{phase.name}: SASS {first}..{end - 1} (PTX line {phase.ptx_line}), "
                 f"peak {peak} live")
        out.append(f'<rect x="{left:.1f}" y="{TOP}" width="{max(right - left, 1):.1f}" '
                   f'height="{HEIGHT - TOP - BOTTOM}" fill="transparent">'
                   f"<title>{theme.esc(title)}</title></rect>")
        out.append(f'<line x1="{left:.1f}" y1="{TOP - 4 - 12 * (row % LABEL_ROWS)}" '
                   f'x2="{left:.1f}" y2="{HEIGHT - BOTTOM}" stroke="#8c959f" '
                   f'stroke-dasharray="2,3"/>')
        out.append(_text(left + 3, TOP - 6 - 12 * (row % LABEL_ROWS), phase.short, size=10.5,
                         colour=theme.PHASE_FG))
    return out


def live_registers_svg(live: LiveRegisters, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The plot as one `<svg>` element (scales to its container's width), with a caption
    line above it naming the peak and ptxas' count."""
    counts = live.counts
    caption = (f"Live registers along {live.entry} ({live.target}): peak {live.peak} live at "
               f"once; ptxas allocates {live.ptxas_registers}")
    if not counts:
        return theme.message(f"{caption}: no SASS instructions with life ranges.", "info")
    top = _nice_top(max(live.peak, live.ptxas_registers, 1))
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x(i: float) -> float:
        return LEFT + plot_w * i / len(counts)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    path = _step_path(counts, x, y)
    base = f"{y(0):.1f}"
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#ffffff" '
        f'stroke="{theme.BORDER}"/>',
    ]
    for tick in range(0, top + 1, top // 4):
        parts.append(f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{width - RIGHT}" '
                     f'y2="{y(tick):.1f}" stroke="#eaeef2"/>')
        parts.append(_text(LEFT - 5, y(tick) + 4, str(tick), "end"))
    parts += _phases(live, x, counts)
    parts.append(f'<path d="{path}V{base}H{x(0):.1f}Z" fill="{FILL}" stroke="none"/>')
    parts.append(f'<path d="{path}" fill="none" stroke="{LINE}" stroke-width="1.4"/>')
    ptxas_y = y(live.ptxas_registers)
    parts.append(f'<line x1="{LEFT}" y1="{ptxas_y:.1f}" x2="{width - RIGHT}" y2="{ptxas_y:.1f}" '
                 f'stroke="{ALLOCATED}" stroke-dasharray="6,4"/>')
    parts.append(_text(width - RIGHT - 4, ptxas_y - 4, f"ptxas: {live.ptxas_registers} "
                       "registers", "end", colour=ALLOCATED))
    peak_ins = live.instructions[live.peak_index]
    px, py = x(live.peak_index + 0.5), y(live.peak)
    parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{PEAK}">'
                 f"<title>{theme.esc(f'/*{peak_ins.offset:04x}*/ {peak_ins.text}')} (PTX line "
                 f"{peak_ins.line})</title></circle>")
    anchor = "end" if live.peak_index > len(counts) * 0.8 else "start"
    parts.append(_text(px + (-6 if anchor == "end" else 6), py - 6, f"peak {live.peak}",
                       anchor, colour=PEAK, weight="600"))
    parts.append(_text(LEFT, height - 8, "0", "middle"))
    parts.append(_text(width - RIGHT, height - 8, str(len(counts)), "middle"))
    parts.append(_text(LEFT + plot_w / 2, height - 8, "SASS instruction", "middle"))
    parts.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="{theme.MUTED}" '
                 f'text-anchor="middle" transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">'
                 "live GPRs</text>")
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px;font-family:{theme.SANS}" role="img" '
           f'aria-label="{theme.esc(caption)}">{"".join(parts)}</svg>')
    return f'<div style="{theme.NOTE};margin:4px 0">{theme.esc(caption)}</div>{svg}'
