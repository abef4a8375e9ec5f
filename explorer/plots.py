"""Plotly figures of the warp-level softmax state (`WarpStates`) of one kernel configuration.

Each function takes the states and the kernel (for its configuration) and returns a
`plotly.graph_objects.Figure`: show it as is, export it to PNG, or put it in a widget
in the app. Warp w has the same colour in every figure. It draws; it computes nothing that
`WarpStates` does not already hold.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale

from .verify import WarpStates

FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)


def warp_colors(num_warps: int) -> list[str]:
    """One colour per warp, stable for a given warp count (qualitative up to 10 warps)."""
    if num_warps <= len(qualitative.Plotly):
        return list(qualitative.Plotly[:num_warps])
    return sample_colorscale("Turbo", [w / (num_warps - 1) for w in range(num_warps)])


def _describe(kernel) -> str:
    warps = getattr(kernel, "num_warps", 1)
    return (
        f"head_dim {kernel.head_dim}, {kernel.num_heads} q / {kernel.num_kv_heads} KV heads, "
        f"{warps} warp{'s' if warps > 1 else ''}"
    )


def _layout(fig: go.Figure, title: str, kernel, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title=dict(text=f"{title}<br><sup>{_describe(kernel)}</sup>"),
        xaxis_title=x,
        yaxis_title=y,
        font=FONT,
        template="plotly_white",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
        margin=dict(t=90, l=70, r=30, b=60),
    )
    return fig


def _check_head(states: WarpStates, head: int) -> int:
    if not 0 <= head < states.num_heads:
        raise ValueError(f"head={head} is out of range; accepted: 0..{states.num_heads - 1}")
    return head


def warp_maxes(states: WarpStates, kernel, head: int = 0) -> go.Figure:
    """Each warp's local max m_w as a bar, and the global max M as a line (empty warps noted)."""
    h = _check_head(states, head)
    w = np.arange(states.num_warps)
    colors = warp_colors(states.num_warps)
    m = np.asarray(states.m[h], dtype=np.float64)
    empty = ~np.isfinite(m)
    fig = go.Figure()
    fig.add_bar(
        x=w[~empty], y=m[~empty], marker_color=[colors[i] for i in w[~empty]], name="m_w (local)",
        hovertemplate="warp %{x}: m_w = %{y:.4f}<extra></extra>",
    )
    if empty.any():
        fig.add_scatter(
            x=w[empty], y=np.zeros(empty.sum()), mode="markers", name="empty warp (m_w = -inf)",
            marker=dict(symbol="x", size=10, color="grey"),
        )
    if np.isfinite(states.M[h]):
        fig.add_hline(y=float(states.M[h]), line_dash="dash", line_color="black",
                      annotation_text=f"M = {float(states.M[h]):.4f}")
    fig.update_xaxes(tickmode="linear", dtick=1)
    return _layout(fig, f"Head {h}: each warp's local max m_w against the global max M",
                   kernel, "warp", "scaled score (logit units)")


def warp_sums(states: WarpStates, kernel, head: int = 0) -> go.Figure:
    """Each warp's sum before (l_w) and after (l_w * exp(m_w - M)) rescaling, and its share
    of the final softmax mass in percent (right axis)."""
    h = _check_head(states, head)
    w = np.arange(states.num_warps)
    colors = warp_colors(states.num_warps)
    before = np.asarray(states.l[h], dtype=np.float64)
    after = before * np.asarray(states.factor[h], dtype=np.float64)
    fig = go.Figure()
    fig.add_bar(x=w, y=before, name="l_w before rescaling", marker_color=colors, opacity=0.45,
                hovertemplate="warp %{x}: l_w = %{y:.4f}<extra></extra>")
    fig.add_bar(x=w, y=after, name="l_w · exp(m_w − M), after", marker_color=colors,
                hovertemplate="warp %{x}: rescaled = %{y:.4f}<extra></extra>")
    fig.add_scatter(x=w, y=100 * states.share[h], name="share of final mass (%)", yaxis="y2",
                    mode="lines+markers", line=dict(color="black"),
                    hovertemplate="warp %{x}: %{y:.1f}% of L<extra></extra>")
    fig.update_layout(
        barmode="group",
        yaxis2=dict(title="share of final softmax mass (%)", overlaying="y", side="right",
                    range=[0, 105], showgrid=False, tickmode="linear", tick0=0, dtick=25),
    )
    fig.update_xaxes(tickmode="linear", dtick=1)
    return _layout(fig, f"Head {h}: each warp's softmax sum before and after the merge",
                   kernel, "warp", "sum of exp(score − max) (unitless)")


def attention_weights(states: WarpStates, kernel, head: int = 0) -> go.Figure:
    """Softmax weight of every recorded position, coloured by the warp that owned it, with the
    chunk borders marked."""
    h = _check_head(states, head)
    weights = states.weights[h]
    owner = states.owner()
    colors = warp_colors(states.num_warps)
    fig = go.Figure()
    for warp in np.unique(owner):
        pos = np.flatnonzero(owner == warp)
        fig.add_scatter(x=pos, y=weights[pos], mode="markers+lines", name=f"warp {warp}",
                        marker=dict(color=colors[warp], size=5), line=dict(width=1),
                        hovertemplate="position %{x}: weight %{y:.3g}<extra></extra>")
    for start in states.chunk_start[0][1:]:
        if 0 < start < len(weights):
            fig.add_vline(x=start - 0.5, line_dash="dot", line_color="grey")
    return _layout(fig, f"Head {h}: attention weight of each position, by owning warp",
                   kernel, "position in the KV cache", "attention weight (softmax probability)")


def merge_factors(states: WarpStates, kernel) -> go.Figure:
    """Heatmap of the merge factors exp(m_w − M), heads x warps."""
    fig = go.Figure(go.Heatmap(
        z=np.asarray(states.factor, dtype=np.float64), zmin=0, zmax=1, colorscale="Viridis",
        x=np.arange(states.num_warps), y=np.arange(states.num_heads),
        colorbar=dict(title="exp(m_w − M)"),
        hovertemplate="head %{y}, warp %{x}: factor %{z:.3g}<extra></extra>",
    ))
    fig.update_xaxes(tickmode="linear", dtick=1)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Merge factor exp(m_w − M) of every warp of every head",
                   kernel, "warp", "q head")


FIGURES = {
    "warp_maxes": warp_maxes,
    "warp_sums": warp_sums,
    "attention_weights": attention_weights,
    "merge_factors": merge_factors,
}
