"""`python -m explorer bench --only fp8`: split-KV with e4m3 K/V against our f16 and
FlashInfer's fp8 decode, at one sequence of 1K, 4K, 16K and 64K and batches of 8 and 32 at 4K
(32 q / 8 KV heads, head_dim 128), and a sweep of the tensor-core pipeline's depth with e4m3
(and f16) K/V at 16K and 64K, timed by `explorer.bench`'s rules; and the summary that reads
the ratios off the timed rows (fp8 against f16 at each point, the 64K one against the 1.85x
target) and lists the sweep. It measures and summarises; it asserts nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

FP8_POINTS = [(1, 1024), (1, 4096), (1, 16384), (1, 65536), (8, 4096), (32, 4096)]
HEADS = dict(head_dim=128, num_heads=32, num_kv_heads=8)
SM_COUNT = 132  # the sweep's splits per SM are counted on an H200's SMs
TARGET_SPEEDUP = 1.85  # fp8 over f16 at 64K: half the bytes of a bandwidth-bound kernel


def fp8_plan(split: Callable, time_kernel: Callable, time_flashinfer: Callable):
    """(label, thunk) rows: at every point our e4m3 (f16 q, the default path), our f16 and
    FlashInfer's fp8 (tensor cores, f16 q); at one sequence also e4m3 with bf16 q and e4m3 on
    CUDA cores; then the sweep of the tensor-core pipeline's depth (`SWEEP`).
    `split(seq_len, dtype, batch=..., **options)` builds our kernel."""
    rows = []
    for batch, n in FP8_POINTS:
        ours = [dict(dtype="f16", kv_dtype="e4m3"), dict(dtype="f16")]
        if batch == 1:
            ours += [dict(dtype="bf16", kv_dtype="e4m3"),
                     dict(dtype="f16", kv_dtype="e4m3", mma=False)]
        for options in ours:
            rows.append(("split-kv", lambda n=n, b=batch, o=options: time_kernel(
                split(n, o["dtype"], batch=b, **{k: v for k, v in o.items() if k != "dtype"}),
                n)))
        rows.append(("flashinfer", lambda n=n, b=batch: time_flashinfer(
            b, HEADS["num_heads"], HEADS["num_kv_heads"], HEADS["head_dim"], n, "f16",
            tensor_cores=True, kv_dtype="e4m3")))
    return rows + _sweep(split, time_kernel)


# the sweep: (K/V dtype (None: q's), tiles in flight, warps, splits per SM), None: default
SWEEP = [("e4m3", tiles, None, None) for tiles in (1, 2, 3, 4)] + [
    ("e4m3", 3, 4, 2), ("e4m3", 4, 4, 2),  # two CTAs of 4 warps per SM, twice the splits
    (None, 3, None, None), (None, 4, None, None),  # f16 K/V deeper than its default
]
SWEEP_LENGTHS = (16384, 65536)


def _sweep(split: Callable, time_kernel: Callable):
    """The tensor-core pipeline's depth (tiles in flight per warp) at 16K and 64K with e4m3
    K/V, and with f16 K/V past its default of 2 (the SWEEP rows)."""
    rows = []
    for n, (kv, tiles, warps, per_sm) in itertools.product(SWEEP_LENGTHS, SWEEP):
        splits = None if per_sm is None else SM_COUNT * per_sm // HEADS["num_kv_heads"]
        options = dict(tiles_in_flight=tiles, num_warps=warps, num_splits=splits)
        if kv:
            options["kv_dtype"] = kv
        rows.append(("fp8-sweep", lambda n=n, o=options: time_kernel(split(n, "f16", **o), n)))
    return rows


def _us(rows: list[dict], batch: int, seq_len: int, kernel: str, dtype: str,
        kv_dtype: str | None, mma: bool | None = None) -> float | None:
    """The time of the first row that matches (kernel name prefix, q dtype, K/V dtype (None:
    q's), path where given), or None; the sweep's rows are not read."""
    for r in rows:
        if r.get("group") == "fp8-sweep":
            continue
        c = r["config"]
        kv = None if c.get("kv_dtype") in (None, c.get("dtype")) else c["kv_dtype"]
        if (r["kernel"].startswith(kernel) and r["seq_len"] == seq_len
                and c.get("batch", 1) == batch and c.get("dtype") == dtype and kv == kv_dtype
                and (mma is None or c.get("mma") == mma)):
            return r["us_per_launch"]
    return None


def fp8_summary(rows: list[dict]) -> str:
    """A markdown table of the fp8 rows (us per step; speedup = f16 time / e4m3 time) and the
    64K line against TARGET_SPEEDUP; '-' where a row was not timed; then the sweep's rows."""
    lines = ["| point | ours e4m3 (f16 q) | ours f16 | f16 / e4m3 | FlashInfer fp8 "
             "| FlashInfer / ours |", "|---|---|---|---|---|---|"]
    ratio_64k = None
    for batch, n in FP8_POINTS:
        fp8 = _us(rows, batch, n, "split-kv", "f16", "e4m3", mma=True)
        f16 = _us(rows, batch, n, "split-kv", "f16", None)
        peer = _us(rows, batch, n, "flashinfer", "f16", "e4m3")
        speedup = f16 / fp8 if fp8 and f16 else None
        if (batch, n) == (1, 65536):
            ratio_64k = speedup
        point = f"{n // 1024}K" if batch == 1 else f"batch {batch}, {n // 1024}K"
        lines.append(f"| {point} | {_fmt(fp8)} | {_fmt(f16)} | {_fmt(speedup, 'x')} "
                     f"| {_fmt(peer)} | {_fmt(peer / fp8 if peer and fp8 else None, 'x')} |")
    if ratio_64k is None:
        verdict = "64K: e4m3 against f16 not timed."
    else:
        met = "met" if ratio_64k >= TARGET_SPEEDUP else "missed"
        verdict = (f"64K: e4m3 K/V runs at {ratio_64k:.2f}x the speed of f16 (target >= "
                   f"{TARGET_SPEEDUP}x: {met}).")
    return "\n".join([*lines, "", verdict, *_sweep_table(rows)]) + "\n"


def _sweep_table(rows: list[dict]) -> list[str]:
    """The sweep's rows (us per step by K/V dtype, tiles in flight, warps and splits), or
    nothing where none was timed."""
    sweep = [r for r in rows if r.get("group") == "fp8-sweep"]
    if not sweep:
        return []
    lines = ["", "| seq_len | K/V | tiles in flight | warps | splits | us |",
             "|---|---|---|---|---|---|"]
    for r in sweep:
        c = r["config"]
        lines.append(f"| {r['seq_len'] // 1024}K | {c.get('kv_dtype') or c.get('dtype')} "
                     f"| {c.get('tiles_in_flight')} | {c.get('num_warps')} "
                     f"| {c.get('num_splits')} | {_fmt(r['us_per_launch'])} |")
    return lines


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"
