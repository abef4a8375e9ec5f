"""Lesson step 4: why the multi-warp kernel beats the single-warp one, and split-KV beats both.

`kernel_timings` gives the time per decode step of each kernel at the bench shape: measured
now with `explorer.bench` where CuPy finds a GPU, else the figures recorded on an H200
(docs/data/bench-2026-11-27-h200-v5.json, docs/performance.md), with the card and date named.
`parallelism_table` derives from the kernel objects how much of the GPU each one occupies.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..kernels import (
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)
from ..runtime import default_backend

BENCH_FILE = "docs/data/bench-2026-11-27-h200-v5.json"
BENCH_HEADS = dict(head_dim=128, num_heads=32, num_kv_heads=8)  # every bench row's shape
TIMED_WARPS = (4, 8, 16, 32)
SOURCES = ("auto", "gpu", "recorded")


@dataclass(frozen=True)
class TimedKernel:
    label: str
    us: float  # microseconds per decode step (every launch of one run)


@dataclass(frozen=True)
class KernelTimings:
    """Time per decode step of each kernel (32 q / 8 KV heads, head_dim 128, f32, batch 1),
    slowest first, and where the numbers come from (card, date, file, or measured now)."""

    seq_len: int
    rows: tuple[TimedKernel, ...]
    source: str
    measured: bool

    def us(self, label_start: str) -> float:
        """The time of the first row whose label starts with `label_start`."""
        for row in self.rows:
            if row.label.startswith(label_start):
                return row.us
        raise KeyError(
            f"no row starts with {label_start!r}; rows: {', '.join(r.label for r in self.rows)}"
        )

    def summary(self) -> str:
        base = self.us("single-warp")
        lines = [f"seq_len {self.seq_len}, {self.source}:"]
        lines += [
            f"  {r.label:24s} {r.us:9,.1f} us  {base / r.us:6.1f}x the single-warp speed"
            for r in self.rows
        ]
        return "\n".join(lines)


def find_bench_file(path: str | Path | None = None) -> Path:
    """`path`, else BENCH_FILE under the package's checkout, the working folder or a parent
    of it (a notebook runs in notebooks/)."""
    if path is not None:
        return Path(path)
    roots = [Path(__file__).resolve().parents[2], Path.cwd(), *Path.cwd().parents]
    for root in roots:
        if (root / BENCH_FILE).is_file():
            return root / BENCH_FILE
    raise FileNotFoundError(
        f"{BENCH_FILE} is not under {roots[0]}, {roots[1]} or a parent of "
        "it: run from the repository, or pass path="
    )


def recorded_timings(seq_len: int = 4096, path: str | Path | None = None) -> KernelTimings:
    """The rows `python -m explorer bench` recorded for this seq_len (1024 or 4096)."""
    data = json.loads(find_bench_file(path).read_text())
    rows = []
    for r in data["rows"]:
        c = r["config"]
        if r["seq_len"] != seq_len or c.get("batch", 1) != 1 or c.get("dtype", "f32") != "f32":
            continue
        label = {
            "single-warp": "single-warp",
            "multi-warp": f"multi-warp, {c.get('num_warps')} warps",
            "split-kv": f"split-KV, {c.get('num_splits')} splits",
        }.get(r["group"])
        if label:
            rows.append(TimedKernel(label, float(r["us_per_launch"])))
    if not any(r.label == "single-warp" for r in rows):
        raise ValueError(
            f"seq_len={seq_len} has no single-warp row in {BENCH_FILE}; accepted: 1024, 4096"
        )
    info = data["info"]
    source = f"recorded on an {info['device']} on {info['date']} ({BENCH_FILE})"
    return KernelTimings(seq_len, tuple(sorted(rows, key=lambda r: -r.us)), source, False)


def measured_timings(seq_len: int = 4096) -> KernelTimings:
    """The same kernels timed now on this machine's GPU (`explorer.bench.time_kernel`: CUDA
    graph replays over K/V copies larger than L2, median of 20)."""
    from ..bench import time_kernel
    from ..runtime import cuda

    cp = cuda.cupy()
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    split = SplitKVDecodeAttentionKernel(
        seq_len, sm_count=props["multiProcessorCount"], **BENCH_HEADS
    )
    kernels = [("single-warp", IncrementalAttentionKernel(seq_len, **BENCH_HEADS))]
    kernels += [
        (
            f"multi-warp, {w} warps",
            MultiWarpIncrementalAttentionKernel(seq_len, num_warps=w, **BENCH_HEADS),
        )
        for w in TIMED_WARPS
    ]
    kernels.append((f"split-KV, {split.num_splits} splits", split))
    rows = [TimedKernel(label, time_kernel(k, seq_len).us_per_launch) for label, k in kernels]
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return KernelTimings(
        seq_len, tuple(sorted(rows, key=lambda r: -r.us)), f"measured now on an {name}", True
    )


def kernel_timings(seq_len: int = 4096, source: str = "auto") -> KernelTimings:
    """`measured_timings` where CuPy finds a GPU (source "auto") or always ("gpu"), else
    `recorded_timings` ("recorded", or "auto" without a GPU)."""
    if source not in SOURCES:
        raise ValueError(f"source={source!r}; accepted: {', '.join(SOURCES)}")
    if source == "gpu" or (source == "auto" and default_backend() == "cuda"):
        return measured_timings(seq_len)
    return recorded_timings(seq_len)


def parallelism_table(seq_len: int = 4096, sm_count: int = 132) -> list[dict[str, object]]:
    """Per kernel at the bench shape: CTAs, warps, SMs it can keep busy, how many K/V rows one
    warp walks one after another, and the K/V megabytes it asks memory for (a seed kernel
    reads its KV head once per q head; split-KV once per GQA group)."""
    kv_heads, heads = BENCH_HEADS["num_kv_heads"], BENCH_HEADS["num_heads"]
    row_bytes = 2 * BENCH_HEADS["head_dim"] * 4  # one position of K and of V, f32
    kernels = [
        IncrementalAttentionKernel(seq_len, **BENCH_HEADS),
        *(
            MultiWarpIncrementalAttentionKernel(seq_len, num_warps=w, **BENCH_HEADS)
            for w in (8, 32)
        ),
        SplitKVDecodeAttentionKernel(seq_len, sm_count=sm_count, **BENCH_HEADS),
    ]
    rows = []
    for kernel in kernels:
        ctas, warps = math.prod(kernel.grid), kernel.block[0] // 32
        if isinstance(kernel, SplitKVDecodeAttentionKernel):
            chunk = -(-seq_len // kernel.num_splits)
            walk = -(-chunk // (warps * kernel.geometry.rows_per_warp))
            reads, name = kv_heads * seq_len * row_bytes, f"split-KV, {kernel.num_splits} splits"
        else:
            walk, reads = -(-seq_len // warps), heads * seq_len * row_bytes
            name = "single-warp" if warps == 1 else f"multi-warp, {warps} warps"
        rows.append(
            {
                "kernel": name,
                "CTAs": ctas,
                "warps": ctas * warps,
                "SMs used": min(ctas, sm_count),
                "rows per warp": walk,
                "K/V MB asked": round(reads / 1e6, 1),
            }
        )
    return rows


def format_table(rows: list[dict[str, object]]) -> str:
    """A list of dicts (same keys) as an aligned text table; the first column left-aligned."""
    cols = list(rows[0])
    text = [[f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols] for r in rows]
    width = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(cols)]

    def line(cells):
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, width, strict=True))
        )

    return "\n".join([line(cols), *(line(t) for t in text)])
