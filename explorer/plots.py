"""Plotly figures of the softmax states of one kernel configuration: the seed kernels' warps
(`WarpStates`), the split-KV kernel's splits and their warps (`SplitStates`), the
m16n8k16 fragment layout the split-KV tensor-core path computes with, and the live registers
along an entry's SASS (`LiveRegisters`, from `explorer.ptx.sass`).

Each function takes the states and the kernel (for its configuration) and returns a
`plotly.graph_objects.Figure`: show it as is, export it to PNG, or put it in a widget
in the app. Warp w has the same colour in every figure. It draws; it computes nothing that
the states do not already hold (the fragment layout is the PTX ISA's, written out here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

from .ptx.sass import LiveRegisters
from .verify import WarpStates
from .verify.states import SplitStates

FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)


def warp_colors(num_warps: int) -> list[str]:
    """One colour per warp, stable for a given warp count (qualitative up to 10 warps)."""
    if num_warps <= len(qualitative.Plotly):
        return list(qualitative.Plotly[:num_warps])
    return sample_colorscale("Turbo", [w / (num_warps - 1) for w in range(num_warps)])


def _describe(kernel) -> str:
    warps = getattr(kernel, "num_warps", 1)
    splits = getattr(kernel, "num_splits", None)
    return (
        f"head_dim {kernel.head_dim}, {kernel.num_heads} q / {kernel.num_kv_heads} KV heads, "
        f"{warps} warp{'s' if warps > 1 else ''}"
        + (f", {splits} split{'s' if splits > 1 else ''}" if splits else "")
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


def _check_head(states: WarpStates | SplitStates, head: int) -> int:
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


# -- the split-KV kernel's splits ------------------------------------------------------------
def _check_seq(states: SplitStates, seq: int) -> int:
    if not 0 <= seq < states.batch:
        raise ValueError(f"seq={seq} is out of range; accepted: 0..{states.batch - 1}")
    return seq


def _split_ticks(states: SplitStates, seq: int, head: int) -> list[str]:
    """Each split's name for the x axis (s0, s1, ...; its positions are in the hover)."""
    return [f"s{s}" for s in range(states.num_splits)]


def _split_ranges(states: SplitStates, seq: int, head: int) -> list[str]:
    """Each split's position range, `[start, end)`, for the hover."""
    return [f"[{a}, {e})" for a, e in zip(states.start[seq, head], states.end[seq, head],
                                          strict=True)]


def _sequence(states: SplitStates, seq: int) -> str:
    return f", sequence {seq}" if states.batch > 1 else ""


def split_maxes(states: SplitStates, kernel, head: int = 0, seq: int = 0) -> go.Figure:
    """Each split's partial max m_s (a bar), each of its warps' local maxes (markers in the
    warps' colours) and the global max M (a line), in log2 units; empty splits noted."""
    h, b = _check_head(states, head), _check_seq(states, seq)
    x, spans = _split_ticks(states, b, h), _split_ranges(states, b, h)
    m = np.asarray(states.m[b, h], dtype=np.float64)
    empty = ~np.isfinite(m)
    fig = go.Figure()
    kept = np.flatnonzero(~empty)
    fig.add_bar(x=[x[i] for i in kept], y=m[~empty], name="m_s (split)",
                marker_color="lightgrey", customdata=[spans[i] for i in kept],
                hovertemplate="%{x} %{customdata}: m_s = %{y:.4f}<extra></extra>")
    colors = warp_colors(states.num_warps)
    for w in range(states.num_warps):
        m_w = np.asarray(states.warp_m[b, h, :, w], dtype=np.float64)
        seen = np.flatnonzero(np.isfinite(m_w))
        fig.add_scatter(x=[x[i] for i in seen], y=m_w[seen], mode="markers",
                        name=f"warp {w}", marker=dict(color=colors[w], size=9),
                        hovertemplate=f"%{{x}}: warp {w} m_w = %{{y:.4f}}<extra></extra>")
    if empty.any():
        fig.add_scatter(x=[x[i] for i in np.flatnonzero(empty)], y=np.zeros(empty.sum()),
                        mode="markers", name="empty split (m_s = -inf)",
                        marker=dict(symbol="x", size=10, color="grey"))
    big_m = float(states.M[b, h])
    if np.isfinite(big_m):
        fig.add_hline(y=big_m, line_dash="dash", line_color="black",
                      annotation_text=f"M = {big_m:.4f}")
    fig.update_xaxes(type="category", categoryarray=x)
    return _layout(fig, f"Head {h}{_sequence(states, b)}: each split's partial max m_s "
                   "(and its warps') against the global max M", kernel,
                   "split (hover: its positions)",
                   "max of scaled scores (log2 units)")


def split_sums(states: SplitStates, kernel, head: int = 0, seq: int = 0) -> go.Figure:
    """Each split's partial sum before (l_s) and after its merge weight (l_s * 2^(m_s - M)),
    and its share of the final softmax mass in percent (right axis)."""
    h, b = _check_head(states, head), _check_seq(states, seq)
    x, spans = _split_ticks(states, b, h), _split_ranges(states, b, h)
    before = np.asarray(states.l[b, h], dtype=np.float64)
    after = before * np.asarray(states.weight[b, h], dtype=np.float64)
    fig = go.Figure()
    fig.add_bar(x=x, y=before, name="l_s before the merge", marker_color="steelblue",
                opacity=0.45, customdata=spans,
                hovertemplate="%{x} %{customdata}: l_s = %{y:.4f}<extra></extra>")
    fig.add_bar(x=x, y=after, name="l_s · 2^(m_s − M), after", marker_color="steelblue",
                hovertemplate="%{x}: weighted = %{y:.4f}<extra></extra>")
    fig.add_scatter(x=x, y=100 * states.share[b, h], name="share of final mass (%)",
                    yaxis="y2", mode="lines+markers", line=dict(color="black"),
                    hovertemplate="%{x}: %{y:.1f}% of L<extra></extra>")
    fig.update_layout(
        barmode="group",
        yaxis2=dict(title="share of final softmax mass (%)", overlaying="y", side="right",
                    range=[0, 105], showgrid=False, tickmode="linear", tick0=0, dtick=25),
    )
    fig.update_xaxes(type="category", categoryarray=x)
    return _layout(fig, f"Head {h}{_sequence(states, b)}: each split's sum before and after "
                   "its merge weight", kernel, "split (hover: its positions)",
                   "sum of exp(score − max) (unitless)")


def merge_weights(states: SplitStates, kernel, seq: int = 0) -> go.Figure:
    """Heatmap of the log-sum-exp merge weights 2^(m_s − M) = exp(m_s' − M'), heads x splits."""
    b = _check_seq(states, seq)
    fig = go.Figure(go.Heatmap(
        z=np.asarray(states.weight[b], dtype=np.float64), zmin=0, zmax=1,
        colorscale="Viridis", x=np.arange(states.num_splits), y=np.arange(states.num_heads),
        colorbar=dict(title="2^(m_s − M)"),
        hovertemplate="head %{y}, split %{x}: weight %{z:.3g}<extra></extra>",
    ))
    fig.update_xaxes(tickmode="linear", dtick=1)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Merge weight 2^(m_s − M) of every split of every head"
                   f"{_sequence(states, b)}", kernel, "split", "q head")


# -- the m16n8k16 fragments ------------------------------------------------------------------
@dataclass(frozen=True)
class Fragment:
    """Which lane (0..31) holds each element of an operand, in which of its registers, and
    in which 16-bit half (low 0, high 1; None for the f32 accumulator)."""

    lane: np.ndarray
    register: np.ndarray
    half: np.ndarray | None


def mma_fragment_layout() -> dict[str, Fragment]:
    """The PTX ISA's m16n8k16 fragments (f16/bf16 A and B, f32 C/D), lane = 4g + t:
    A[r, c] (16x16) in lane 4(r mod 8) + (c mod 8) // 2, register (r >= 8) + 2(c >= 8),
    half c mod 2; B[k, n] (16x8) in lane 4n + (k mod 8) // 2, register k >= 8, half k mod 2;
    C[r, n] (16x8) in lane 4(r mod 8) + n // 2, register 2(r >= 8) + n mod 2."""
    r, c = np.indices((16, 16))
    a = Fragment(4 * (r % 8) + (c % 8) // 2, (r >= 8) + 2 * (c >= 8), c % 2)
    k, n = np.indices((16, 8))
    b = Fragment(4 * n + (k % 8) // 2, (k >= 8).astype(int), k % 2)
    r, n = np.indices((16, 8))
    c = Fragment(4 * (r % 8) + n // 2, 2 * (r >= 8) + n % 2, None)
    return {"A": a, "B": b, "C": c}


MMA_OPERANDS = {  # operand: (register name, what it holds in the decode step, x, y titles)
    "A": ("a", "A = Q (row g: q head g; rows 8-15 zero)", "k (head_dim)", "row (q head)"),
    "B": ("b", "B = Kᵀ (column n: position n)", "n (position)", "k (head_dim)"),
    "C": ("c", "C = Q Kᵀ (scores)", "n (position)", "row (q head)"),
}


def _lane_group_scale() -> list:
    """A step colour scale: lane group g (0..7, plotted on -0.5..7.5) in warp g's colour."""
    colors = warp_colors(8)
    return [[edge, colors[g]] for g in range(8) for edge in (g / 8, (g + 1) / 8)]


def mma_fragments(kernel=None) -> go.Figure:
    """The m16n8k16 fragment layout: every element of A (16x16), B (16x8) and C (16x8)
    labelled with the lane and register that hold it, coloured by lane group g = lane >> 2
    (in the warps' colours): a q head's quad of lanes on the split-KV tensor-core path."""
    layout = mma_fragment_layout()
    fig = make_subplots(rows=1, cols=3, column_widths=[0.5, 0.25, 0.25],
                        horizontal_spacing=0.07,
                        subplot_titles=[MMA_OPERANDS[o][1] for o in layout])
    for col, (name, frag) in enumerate(layout.items(), start=1):
        reg_name, _, x_title, y_title = MMA_OPERANDS[name]
        halves = frag.half if frag.half is not None else np.full_like(frag.lane, -1)
        text = [[f"{lane}<br>{reg_name}{reg}{'' if h < 0 else 'lh'[h]}"
                 for lane, reg, h in zip(*rows, strict=True)]
                for rows in zip(frag.lane, frag.register, halves, strict=True)]
        fig.add_trace(go.Heatmap(
            z=frag.lane // 4, zmin=-0.5, zmax=7.5, colorscale=_lane_group_scale(),
            showscale=False, text=text, texttemplate="%{text}", textfont=dict(size=8),
            xgap=1, ygap=1, customdata=np.stack([frag.lane, frag.register], axis=-1),
            hovertemplate=f"{name}[%{{y}}, %{{x}}]: lane %{{customdata[0]}} (g = %{{z}}), "
                          f"register {reg_name}%{{customdata[1]}}<extra></extra>",
        ), row=1, col=col)
        fig.update_yaxes(autorange="reversed", title_text=y_title, row=1, col=col)
        fig.update_xaxes(title_text=x_title, row=1, col=col)
    subtitle = f"<br><sup>{_describe(kernel)}, {kernel.dtype}</sup>" if kernel else ""
    fig.update_layout(
        title=dict(text="mma.sync m16n8k16: which lane holds which element (colour: lane "
                   "group g = lane >> 2; text: lane, register, l/h half)" + subtitle),
        font=FONT, template="plotly_white", margin=dict(t=110, l=60, r=20, b=50),
    )
    return fig


SPLIT_FIGURES = {
    "split_maxes": split_maxes,
    "split_sums": split_sums,
    "merge_weights": merge_weights,
}


def _sass_hover(live: LiveRegisters) -> list[str]:
    """Per SASS instruction: offset, text, live counts, its PTX line and that line's source."""
    hover = []
    for ins in live.instructions:
        where = f"PTX line {ins.line}" if ins.line else "no line info"
        source = live.sources.get(ins.line) if ins.line else None
        if source:
            where += f" ({source[0].rsplit('/', 1)[-1]}:{source[1]})"
        hover.append(f"/*{ins.offset:04x}*/ {ins.text}<br>{ins.live_gpr} GPR, "
                     f"{ins.live_pred} predicate live<br>{where}")
    return hover


def live_registers_figure(live: LiveRegisters) -> go.Figure:
    """Live GPRs at each SASS instruction of one entry (a step line), each phase's first
    instruction as a named vertical line, the peak marked, and ptxas' allocated register
    count as a dashed horizontal line (allocation includes registers that are never live
    together with the peak, and rounds up)."""
    counts = live.counts
    x = list(range(len(counts)))
    fig = go.Figure(go.Scatter(
        x=x, y=counts, mode="lines", line=dict(shape="hv", color=qualitative.Plotly[0]),
        name="live GPRs", text=_sass_hover(live), hovertemplate="%{text}<extra></extra>",
    ))
    if counts:
        fig.add_trace(go.Scatter(
            x=[live.peak_index], y=[live.peak], mode="markers+text", name="peak",
            marker=dict(size=9, color=qualitative.Plotly[1]), text=[f"peak {live.peak}"],
            textposition="top center", hoverinfo="skip",
        ))
    fig.add_hline(y=live.ptxas_registers, line_dash="dash", line_color="#555",
                  annotation_text=f"ptxas: {live.ptxas_registers} registers",
                  annotation_position="bottom right")
    for row, phase in enumerate(live.phases):
        fig.add_vline(x=phase.index, line_dash="dot", line_color="#999")
        # names in four staggered rows above the curve: nearby phases stay readable
        fig.add_annotation(x=phase.index, y=1 - 0.06 * (row % 4), yref="paper", yanchor="top",
                           xanchor="left", text=phase.short, showarrow=False,
                           font=dict(size=11), bgcolor="rgba(255,255,255,0.8)")
    fig.update_layout(
        title=dict(text=f"Live registers along {live.entry} ({live.target})<br><sup>peak "
                   f"{live.peak} live at once; ptxas allocates {live.ptxas_registers}</sup>"),
        xaxis_title="SASS instruction", yaxis_title="live GPRs", font=FONT,
        template="plotly_white", showlegend=False, margin=dict(t=90, l=70, r=30, b=60),
        yaxis=dict(range=[0, 1.3 * max(live.ptxas_registers, live.peak, 1)]),
    )
    return fig
