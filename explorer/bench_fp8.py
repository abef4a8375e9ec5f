"""`python -m explorer bench --only fp8`: split-KV with e4m3 K/V against our f16 and
FlashInfer's fp8 decode, at one sequence of 1K, 4K, 16K and 64K and batches of 8 and 32 at 4K
(32 q / 8 KV heads, head_dim 128), and a sweep of the tensor-core path's knobs with e4m3 K/V
at 16K and 64K, timed by `explorer.bench`'s rules; and the summary that reads the ratios off
the timed rows (fp8 against f16 at each point, the 64K one against the 1.85x target). It
measures and summarises; it asserts nothing.
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
    CUDA cores; then a sweep of the tensor-core path's knobs with e4m3 K/V.
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


def _sweep(split: Callable, time_kernel: Callable):
    """The tensor-core path's knobs with e4m3 K/V at 16K and 64K (the defaults were measured
    for f16): warps, pipelining, L2 prefetch, splits (None: the default, else per SM)."""
    rows = []
    for n, warps, pipeline, prefetch, per_sm in itertools.product(
        (16384, 65536), (4, 8), (False, True), (0, 1), (None, 2)
    ):
        splits = None if per_sm is None else SM_COUNT * per_sm // HEADS["num_kv_heads"]
        rows.append(("fp8-sweep", lambda n=n, w=warps, pl=pipeline, p=prefetch, s=splits:
                     time_kernel(split(n, "f16", kv_dtype="e4m3", num_warps=w, pipeline=pl,
                                       prefetch=p, num_splits=s), n)))
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
    64K line against TARGET_SPEEDUP; '-' where a row was not timed."""
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
    return "\n".join([*lines, "", verdict]) + "\n"


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"
