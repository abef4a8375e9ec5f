"""The lesson's own plotly figures: the online softmax's running state, the shuffle tree's
lanes step by step, and the kernels' times. Each takes what a lesson function returned and
draws it; it computes nothing else. (The warp-state figures are `explorer.plots`'.)

`lane_values_figure` is the shuffle tree's grid for any rows of 32 lanes (inactive lanes
greyed): the app's Lanes tab draws a warp's trace with it.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..plots import FONT
from .shuffle import SHUFFLE_ROWS
from .softmax import OnlineTrace
from .timings import KernelTimings


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title=dict(text=title),
        xaxis_title=x,
        yaxis_title=y,
        font=FONT,
        template="plotly_white",
        height=height,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        margin=dict(t=90, l=70, r=70, b=60),
    )
    return fig


def online_softmax_figure(trace: OnlineTrace) -> go.Figure:
    """Each position's score, the running max m after it, and the rescale factor
    corr = exp(m_old - m_new) applied to l and o there (right axis; 1 means no rescale)."""
    t = np.arange(trace.scores.size)
    fig = go.Figure()
    fig.add_scatter(
        x=t, y=trace.scores, mode="markers", name="score s_t", marker=dict(size=7, color="#636efa")
    )
    fig.add_scatter(
        x=t,
        y=trace.m,
        mode="lines",
        line_shape="hv",
        name="running max m",
        line=dict(color="black"),
    )
    fig.add_bar(
        x=t,
        y=trace.corr,
        name="rescale factor corr",
        yaxis="y2",
        marker_color="#ef553b",
        opacity=0.35,
    )
    fig.update_layout(
        yaxis2=dict(
            title="corr = exp(m_old − m_new)",
            overlaying="y",
            side="right",
            range=[0, 1.05],
            showgrid=False,
            tickmode="linear",
            tick0=0,
            dtick=0.25,
        )
    )
    return _layout(
        fig, "Online softmax, one position at a time", "position t", "scaled score (logit units)"
    )


INACTIVE_GREY = "#d0d7de"


def short_value(value: float) -> str:
    """A lane's value in a cell of about five characters (the hover holds it in full)."""
    if not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == round(value) and abs(value) < 1e4:
        return f"{value:.0f}"
    if abs(value) >= 1e4 or abs(value) < 0.01:  # 1e12, 8e-3: an exponent, no padding
        mantissa, exponent = f"{value:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.2g}"


def lane_values_figure(values, rows, *, active=None, text=None, hover=None, colour=None,
                       title: str = "", height: int = 380) -> go.Figure:
    """Lanes as columns, one row per label of `rows`: `values` (float [rows, 32]; NaN: no
    value) as colour and text. `active` (bool [rows, 32]) greys the lanes that are False;
    `text` and `hover` (str [rows, 32]) replace the cell texts and the hover values
    (shown under the lane and the row's label); `colour`
    (float [rows, 32]) is what the colour scale reads where it is not `values` itself (rows
    of unlike registers, each scaled on its own: no colour bar then). Trace 0 holds the
    values."""
    z = np.asarray(values, dtype=np.float64)
    if z.ndim != 2 or z.shape != (len(rows), 32):
        raise ValueError(f"values has shape {z.shape}; accepted: [{len(rows)}, 32] (one row "
                         "per label of rows)")
    shown = z if colour is None else np.asarray(colour, dtype=np.float64)
    shown = np.where(np.isfinite(shown), shown, np.nan)  # JSON has no inf
    cells = text if text is not None else [[short_value(v) for v in row] for row in z]
    heat = dict(z=shown, x=np.arange(32), y=list(rows), text=cells, texttemplate="%{text}",
                textfont=dict(size=9), colorscale="Blues", colorbar=dict(title="value"),
                showscale=colour is None, xgap=1, ygap=1)
    if hover is None:
        heat["hovertemplate"] = "lane %{x}, %{y}: %{z}<extra></extra>"
    else:
        # the row's label names the step: each cell's hover carries only its value
        heat.update(hovertext=hover, hovertemplate="lane %{x} · %{y}<br>%{hovertext}"
                    "<extra></extra>")
    fig = go.Figure(go.Heatmap(**heat))
    if active is not None and not np.all(active):
        grey = np.where(np.asarray(active, dtype=bool), np.nan, 1.0)
        fig.add_heatmap(z=grey, x=np.arange(32), y=list(rows), showscale=False, xgap=1, ygap=1,
                        colorscale=[[0, INACTIVE_GREY], [1, INACTIVE_GREY]], hoverinfo="skip")
    fig.update_xaxes(tickmode="linear", dtick=1)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "lane", "", height=height)


def shuffle_tree_figure(steps: np.ndarray) -> go.Figure:
    """The 32 lanes' values (columns) before the tree and after each shfl.sync.down + add
    (rows), as `lesson.shuffle_tree` returned them. Outlined: the lanes whose values still
    reach lane 0 (32, 16, 8, 4, 2, 1 of them)."""
    z = np.asarray(steps, dtype=np.float64)
    if z.shape != (len(SHUFFLE_ROWS), 32):
        raise ValueError(f"steps has shape {z.shape}; accepted: [6, 32] (lesson.shuffle_tree)")
    fig = lane_values_figure(
        z,
        SHUFFLE_ROWS,
        title="One warp's shfl.sync.down tree: every lane after each step<br><sup>"
        "outlined: the lanes whose values still reach lane 0; lane 0 ends with the "
        "sum</sup>",
    )
    for row in range(len(SHUFFLE_ROWS)):
        fig.add_shape(
            type="rect",
            x0=-0.5,
            x1=(32 >> row) - 0.5,
            y0=row - 0.5,
            y1=row + 0.5,
            line=dict(color="#ef553b", width=2),
        )
    return fig


def timings_figure(timings: KernelTimings) -> go.Figure:
    """Time per decode step of each kernel (log scale), labelled with its speed-up over the
    single-warp kernel; the title names where the numbers come from."""
    rows = timings.rows
    base = timings.us("single-warp")
    colors = [
        "#7f7f7f"
        if r.label.startswith("single")
        else "#00cc96"
        if r.label.startswith("split")
        else "#636efa"
        for r in rows
    ]
    fig = go.Figure(
        go.Bar(
            x=[r.us for r in rows],
            y=[r.label for r in rows],
            orientation="h",
            marker_color=colors,
            text=[f"{r.us:,.1f} us ({base / r.us:,.1f}x)" for r in rows],
            textposition="outside",
            hovertemplate="%{y}: %{x:,.1f} us<extra></extra>",
        )
    )
    low, high = min(r.us for r in rows), max(r.us for r in rows)
    fig.update_xaxes(type="log", dtick=1, range=[np.log10(low / 2), np.log10(high * 8)])
    fig.update_yaxes(autorange="reversed")
    return _layout(
        fig,
        f"Decode attention, seq_len {timings.seq_len}: time per step<br><sup>"
        f"32 q / 8 KV heads, head_dim 128, f32; {timings.source}</sup>",
        "microseconds per decode step (log scale)",
        "",
        height=400,
    )
