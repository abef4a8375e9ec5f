"""Draw docs/images/performance-peers.png (and .html): microseconds per decode step of our
split-KV (f16 and e4m3 K/V) against PyTorch's SDPA and FlashInfer, from the bench.json files
of `python -m explorer bench` runs (lower is better; 32 q / 8 KV heads, head_dim 128, f16 q):

    python scripts/plot_peers.py MAIN.json FP8.json [PEERS.json]

MAIN: a `--no-sweeps` run (our f16, SDPA); FP8: an `--only fp8` run (our e4m3, FlashInfer's
fp8); PEERS (optional): a run with FlashInfer's 16-bit decode. The legend names each line's
run by its file, so rows of different runs (machines of one pool move by up to 0.7 us at 1K)
are never mistaken for one run. Prints the figure's path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from plotly.subplots import make_subplots

POINTS = (1024, 4096, 16384, 65536)


def _rows(path: str) -> tuple[list[dict], dict]:
    data = json.loads(Path(path).read_text())
    return data["rows"], data


def _ours(rows, kv_dtype=None):
    """Our default split-KV rows in f16 (tensor cores, two-kernel merge, no pdl)."""
    return [r for r in rows if r["kernel"] == "split-kv" and r["config"].get("dtype") == "f16"
            and r["config"].get("mma") and r["config"].get("kv_dtype") == kv_dtype
            and r["config"].get("merge", "kernel") == "kernel" and not r["config"].get("pdl")
            and r.get("group") == "split-kv"]


def _flashinfer(rows, kv_dtype: str, tensor_cores: bool):
    return [r for r in rows if r.get("group") == "flashinfer"
            and r["config"].get("dtype") == "f16" and r["config"].get("kv_dtype") == kv_dtype
            and r["config"].get("tensor_cores") is tensor_cores]


def _sdpa(rows):
    return [r for r in rows if r.get("group") == "sdpa" and r["config"].get("dtype") == "f16"]


def _series(rows) -> tuple[dict[int, float], dict[int, float]]:
    """(one sequence: seq_len -> us, seq_len 4096: batch -> us); the first row of each."""
    single, batch = {}, {}
    for r in rows:
        b = r["config"].get("batch", 1)
        if b == 1:
            single.setdefault(r["seq_len"], r["us_per_launch"])
        if r["seq_len"] == 4096:
            batch.setdefault(b, r["us_per_launch"])
    return single, batch


def main(main_json: str, fp8_json: str, peers_json: str | None = None,
         out_dir: str = "docs/images") -> Path:
    main_rows, main_data = _rows(main_json)
    fp8_rows, _ = _rows(fp8_json)
    lines = [("split-KV (ours), f16", _ours(main_rows), main_json, "#1f77b4", "solid"),
             ("split-KV (ours), e4m3 K/V", _ours(fp8_rows, "e4m3"), fp8_json, "#1f77b4", "dash"),
             ("PyTorch SDPA, f16", _sdpa(main_rows), main_json, "#d62728", "solid"),
             ("FlashInfer 0.5.3, fp8 K/V", _flashinfer(fp8_rows, "e4m3", True), fp8_json,
              "#2ca02c", "dash")]
    if peers_json:
        peer_rows, _ = _rows(peers_json)
        lines += [("FlashInfer 0.5.3, f16, tensor cores", _flashinfer(peer_rows, "f16", True),
                   peers_json, "#2ca02c", "solid"),
                  ("FlashInfer 0.5.3, f16, CUDA cores", _flashinfer(peer_rows, "f16", False),
                   peers_json, "#98df8a", "dot")]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], subplot_titles=(
        "One sequence: us per decode step (log-log)", "seq_len 4096: batch 8 and 32"))
    for name, rows, source, color, dash in lines:
        if not rows:
            continue
        single, batch = _series(rows)
        label = f"{name} [{Path(source).stem}]"
        xs = [n for n in POINTS if n in single]
        fig.add_scatter(x=xs, y=[single[n] for n in xs], name=label, mode="lines+markers",
                        line=dict(color=color, dash=dash), row=1, col=1)
        bs = [b for b in (8, 32) if b in batch]
        fig.add_bar(x=[f"b{b}" for b in bs], y=[batch[b] for b in bs], name=label,
                    marker_color=color, opacity=1.0 if dash == "solid" else 0.55,
                    showlegend=False, row=1, col=2)
    copy = main_data["copy_gbps"]
    floor = [2 * 8 * n * 128 * 2 / copy / 1e3 for n in POINTS]  # f16 K/V bytes / ceiling
    fig.add_scatter(x=list(POINTS), y=floor, name=f"f16 K/V floor (copy {copy:,.0f} GB/s)",
                    mode="lines", line=dict(color="black", dash="dot"), row=1, col=1)
    info = main_data["info"]
    fig.update_xaxes(type="log", title="seq_len (positions)", row=1, col=1,
                     tickvals=list(POINTS), ticktext=["1K", "4K", "16K", "64K"])
    fig.update_yaxes(type="log", title="us per step (lower is better)", row=1, col=1)
    fig.update_yaxes(title="us per step", row=1, col=2)
    fig.update_xaxes(title="batch", row=1, col=2)
    fig.update_layout(
        title=dict(text="Decode attention, 32 q / 8 KV heads, head_dim 128, f16 q<br><sup>"
                   f"{info['device']}, {info['date']}; CUDA-graph replays, K/V rotated beyond "
                   "L2, median of 20; [run] names each line's bench file</sup>"),
        template="plotly_white", barmode="group", width=1100, height=540,
        legend=dict(orientation="h", yanchor="bottom", y=-0.42, x=0),
    )
    out = Path(out_dir)
    fig.write_html(out / "performance-peers.html", include_plotlyjs="cdn")
    fig.write_image(out / "performance-peers.png", width=1100, height=540)
    print(out / "performance-peers.png")
    return out / "performance-peers.png"


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
