"""Draw docs/images/performance.png (and .html) from a bench.json written by
`python -m explorer bench`:

    python scripts/plot_bench.py docs/data/bench-2026-11-27-h200-v5.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from plotly.subplots import make_subplots

# (kernel, dtype, tensor cores) -> line style; split-KV f16 on CUDA cores is drawn for contrast
STYLE = {
    ("split-kv", "f32", False): dict(color="#1f77b4", dash="solid"),
    ("split-kv", "f16", True): dict(color="#1f77b4", dash="dash"),
    ("split-kv", "f16", False): dict(color="#9ecae1", dash="dot"),
    ("torch-sdpa", "f32", None): dict(color="#d62728", dash="solid"),
    ("torch-sdpa", "f16", None): dict(color="#d62728", dash="dash"),
}
NAMES = {True: " (tensor cores)", False: "", None: ""}


def main(path: str, out_dir: str = "docs/images") -> None:
    data = json.loads(Path(path).read_text())
    rows = [r for r in data["rows"] if r["group"] in ("split-kv", "sdpa")]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], subplot_titles=(
        "One sequence: K/V bandwidth against seq_len", "seq_len 4096: batch 1, 8 and 32"))
    for (kernel, dtype, mma), style in STYLE.items():
        mine = [r for r in rows if r["kernel"] == kernel and r["config"].get("dtype") == dtype
                and r["config"].get("mma") is mma]
        pts = sorted((r["seq_len"], r["gbps"]) for r in mine if r["config"].get("batch") == 1)
        name = f"{'split-KV (ours)' if kernel == 'split-kv' else 'PyTorch SDPA'} {dtype}"
        name += " CUDA cores" if kernel == "split-kv" and dtype != "f32" and not mma else ""
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=name + NAMES[mma],
                        mode="lines+markers", line=style, row=1, col=1)
        batch = sorted((r["config"].get("batch"), r["gbps"]) for r in mine
                       if r["seq_len"] == 4096)
        if style["dash"] != "dot":
            fig.add_bar(x=[f"b{b}" for b, _ in batch], y=[g for _, g in batch], name=name,
                        marker_color=style["color"],
                        opacity=1.0 if style["dash"] == "solid" else 0.5,
                        showlegend=False, row=1, col=2)
    ceiling = f"copy ceiling {data['copy_gbps']:,.0f} GB/s"
    fig.add_hline(y=data["copy_gbps"], line_dash="dot", line_color="black", row=1, col=1,
                  annotation_text=ceiling)
    fig.add_hline(y=data["copy_gbps"], line_dash="dot", line_color="black", row=1, col=2)
    info = data["info"]
    fig.update_xaxes(type="log", title="seq_len (positions, log scale)", row=1, col=1,
                     tickvals=[1024, 4096, 16384, 65536], ticktext=["1K", "4K", "16K", "64K"])
    fig.update_xaxes(title="batch", row=1, col=2)
    fig.update_yaxes(title="K/V bytes read per second (GB/s)", row=1, col=1)
    fig.update_layout(
        title=dict(text=f"Decode attention, 32 q / 8 KV heads, head_dim 128<br><sup>"
                   f"{info['device']}, {info['date']}; CUDA-graph replays, K/V rotated beyond L2;"
                   f" median of 20; bars: same colours, light = f16</sup>"),
        template="plotly_white", barmode="group", width=1100, height=500,
        legend=dict(orientation="h", yanchor="bottom", y=-0.3, x=0),
    )
    out = Path(out_dir)
    fig.write_html(out / "performance.html", include_plotlyjs="cdn")
    fig.write_image(out / "performance.png", width=1100, height=500)
    print(out / "performance.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
