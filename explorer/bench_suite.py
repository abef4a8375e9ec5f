"""`python -m explorer bench`: the performance suite on a GPU. Every row is timed in the same
process as the copy-bandwidth ceiling; PyTorch SDPA rows when PyTorch is importable, FlashInfer
rows (CUDA cores, tensor cores, fp8 KV; single and batch decode) when FlashInfer is;
`--only fp8`, our e4m3 K/V against our f16 and FlashInfer's fp8 (`bench_fp8`).
Writes `bench.json` and `bench.md` to the output folder and prints the table.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from .bench import copy_bandwidth, time_kernel
from .bench_fp8 import fp8_plan, fp8_summary
from .bench_peers import time_flashinfer, time_sdpa
from .kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from .kernels.split_kv import SplitKVDecodeAttentionKernel

HEADS = dict(head_dim=128, num_heads=32, num_kv_heads=8)
SEQ_LENS = (1024, 4096, 16384, 65536)
PDL_POINTS = [(1, n) for n in SEQ_LENS] + [(8, 4096), (32, 4096)]
CLUSTER_SEQ_LENS = (1024, 4096, 16384)


def cluster_configs() -> list[tuple[int, str, dict]]:
    """(seq_len, dtype, options) of `--only cluster`: the one-launch cluster merge against the
    two-kernel merge at their defaults, then both at 4 and 8 splits at 1K and 4K."""
    rows = [(n, d, {"merge": m}) for d in ("f16", "bf16", "f32") for n in CLUSTER_SEQ_LENS
            for m in ("kernel", "cluster")]
    rows += [(n, d, {"merge": m, "num_splits": s}) for d in ("f16", "bf16", "f32")
             for n in CLUSTER_SEQ_LENS[:2] for s in (4, 8) for m in ("kernel", "cluster")
             if (m, s) != ("cluster", 8)]  # the cluster's default is 8 splits
    return rows


def _split(seq_len, dtype, batch=1, sm_count=132, **kw):
    return SplitKVDecodeAttentionKernel(max_seq_len=seq_len, batch=batch, dtype=dtype,
                                        sm_count=sm_count, **HEADS, **kw)


def plan(sm_count: int, quick: bool = False, sweeps: bool = True, only: str = ""):
    """(label, thunk) pairs; each thunk times one row. `only="mma-sweeps"` (or "tune", "pdl",
    "cluster", "split-only"): just those."""
    if only == "mma-sweeps":
        return _mma_sweeps(sm_count)
    if only == "tune":
        return _tune_rows(sm_count)
    if only == "fp8":  # e4m3 K/V against our f16 and FlashInfer's fp8
        return fp8_plan(lambda n, d, **kw: _split(n, d, sm_count=sm_count, **kw), time_kernel,
                        time_flashinfer)
    if only == "pdl":  # split-KV with and without programmatic dependent launch, side by side
        return [("split-kv", lambda n=n, b=b, d=d, p=p: time_kernel(
                    _split(n, d, batch=b, sm_count=sm_count, pdl=p), n))
                for d in ("f16", "bf16", "f32") for b, n in PDL_POINTS for p in (False, True)]
    if only == "cluster":  # one launch (splits merge in a thread-block cluster) against two
        return [("split-kv", lambda n=n, d=d, o=o: time_kernel(
                    _split(n, d, sm_count=sm_count, **o), n)) for n, d, o in cluster_configs()]
    if only == "split-only":  # where the fixed overhead goes: merge in the last CTA, in a
        # second kernel, or not at all (the split launch of the two-kernel form alone)
        return [(label, lambda n=n, d=d, m=m, f=f: time_kernel(
                    _split(n, d, sm_count=sm_count, merge=m), n, launches=f))
                for n in SEQ_LENS for d in ("f32", "f16") for m, f, label in (
                    ("last-cta", None, "split-kv"), ("kernel", None, "split-kv"),
                    ("kernel", 1, "split-only"))]
    rows = []
    seqs = SEQ_LENS[:2] if quick else SEQ_LENS
    for dtype in ("f32", "f16", "bf16"):
        for n in seqs:
            rows.append(("split-kv", lambda n=n, d=dtype: time_kernel(
                _split(n, d, sm_count=sm_count), n)))
            rows.append(("split-kv", lambda n=n, d=dtype: time_kernel(  # the combine overlaps
                _split(n, d, sm_count=sm_count, pdl=True), n)))
            if dtype != "f32":  # the CUDA-core path, for comparison with the tensor cores
                rows.append(("split-kv", lambda n=n, d=dtype: time_kernel(
                    _split(n, d, sm_count=sm_count, mma=False), n)))
            rows.append(("sdpa", lambda n=n, d=dtype: time_sdpa(1, 32, 8, 128, n, d)))
            rows += _flashinfer_rows(1, n, dtype)
    for n in (1024, 4096):
        for w in (4, 8, 16, 32):
            rows.append(("multi-warp", lambda n=n, w=w: time_kernel(
                MultiWarpIncrementalAttentionKernel(max_seq_len=n, num_warps=w, **HEADS), n)))
        rows.append(("single-warp", lambda n=n: time_kernel(
            IncrementalAttentionKernel(max_seq_len=n, **HEADS), n)))
    for batch in (8, 32):
        for dtype in ("f32", "f16"):
            rows.append(("split-kv", lambda b=batch, d=dtype: time_kernel(
                _split(4096, d, batch=b, sm_count=sm_count), 4096)))
            rows.append(("split-kv", lambda b=batch, d=dtype: time_kernel(
                _split(4096, d, batch=b, sm_count=sm_count, pdl=True), 4096)))
            rows.append(("sdpa", lambda b=batch, d=dtype: time_sdpa(b, 32, 8, 128, 4096, d)))
            rows += _flashinfer_rows(batch, 4096, dtype)
    if sweeps and not quick:
        rows += _sweeps(sm_count)
    return rows


def _flashinfer_rows(batch: int, seq_len: int, dtype: str):
    """FlashInfer on CUDA cores and tensor cores in `dtype`, and with fp8 (e4m3) K/V on tensor
    cores; none for f32 (FlashInfer has no f32 decode) or where FlashInfer is missing."""
    if dtype == "f32":
        return []
    cases = [(False, None), (True, None)] + ([(True, "e4m3")] if dtype == "f16" else [])
    return [("flashinfer", lambda tc=tc, kv=kv: time_flashinfer(
                batch, 32, 8, 128, seq_len, dtype, tensor_cores=tc, kv_dtype=kv))
            for tc, kv in cases]


def _sweeps(sm_count: int):
    """Split-KV's knobs at 4K and 16K: pipelining, warps, rows in flight, splits."""
    rows = []
    for n, dtype, pipeline, warps, unroll in itertools.product(
        (4096, 16384), ("f32", "f16"), (False, True), (2, 4, 8), (1, 2, 4)
    ):
        rows.append(("sweep", lambda n=n, d=dtype, p=pipeline, w=warps, u=unroll: time_kernel(
            _split(n, d, sm_count=sm_count, num_warps=w, unroll=u, pipeline=p,
                   mma=False if d != "f32" else None), n)))
    rows += _mma_sweeps(sm_count)
    for dtype in ("f32", "f16"):
        base = _split(16384, dtype, sm_count=sm_count).num_splits
        for splits in (base // 2, base * 2):
            rows.append(("sweep", lambda d=dtype, s=splits: time_kernel(
                _split(16384, d, sm_count=sm_count, num_splits=max(1, s)), 16384)))
    return rows


def _mma_sweeps(sm_count: int):
    """The tensor-core path (f16): warps x pipelining x L2 prefetch x splits (per SM, of the
    8 KV heads) at 4K, 16K and 64K."""
    rows = []
    for n, warps, pipeline, prefetch, per_sm in itertools.product(
        (4096, 16384, 65536), (4, 8), (False, True), (0, 1), (None, 1, 2, 3)
    ):
        splits = None if per_sm is None else max(1, sm_count * per_sm // 8)
        rows.append(("sweep", lambda n=n, w=warps, pl=pipeline, p=prefetch, s=splits:
                     time_kernel(_split(n, "f16", sm_count=sm_count, num_warps=w, pipeline=pl,
                                        prefetch=p, num_splits=s), n)))
    return rows


def _tune_rows(sm_count: int):
    """Warps x splits where the defaults miss a target: f32 at one sequence, batch 8."""
    rows = []
    for n, warps, splits in itertools.product((4096, 16384, 65536), (4, 8, 16), (16, 33, 66)):
        rows.append(("sweep", lambda n=n, w=warps, s=splits: time_kernel(
            _split(n, "f32", sm_count=sm_count, num_warps=w, num_splits=s), n)))
    for dtype, warps, splits in [*itertools.product(["f16"], (4, 8), (2, 4)),
                                 *itertools.product(["f32"], (4, 8), (4, 8, 16))]:
        rows.append(("sweep", lambda d=dtype, w=warps, s=splits: time_kernel(
            _split(4096, d, batch=8, sm_count=sm_count, num_warps=w, num_splits=s), 4096)))
    return rows


def markdown(rows: list[dict], copy_gbps: float) -> str:
    head = ("| kernel | dtype | batch | seq_len | warps | unroll | pipeline | mma | splits "
            "| us/launch | GB/s | % of copy |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [f"Copy ceiling (device-to-device, read + write): {copy_gbps:,.0f} GB/s", "", head]
    for r in rows:
        c = r["config"]
        lines.append(
            f"| {r['kernel']}{' +pdl' if c.get('pdl') else ''}"
            f"{' +cluster' if c.get('merge') == 'cluster' else ''} | {_dtype(c)} "
            f"| {c.get('batch', 1)} | {r['seq_len']} "
            f"| {c.get('num_warps', '')} | {c.get('unroll', '')} | {c.get('pipeline', '')} "
            f"| {c.get('mma', c.get('tensor_cores', ''))} "
            f"| {c.get('num_splits', '')} "
            f"| {r['us_per_launch']:.1f} | {r['gbps']:,.0f} | {r['pct_copy']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _dtype(config: dict) -> str:
    """The storage dtype, and the K/V dtype where it differs (fp8 KV: "f16/e4m3")."""
    dtype, kv = config.get("dtype", "f32"), config.get("kv_dtype")
    return dtype if kv in (None, dtype) else f"{dtype}/{kv}"


def run_suite(out_dir: str, quick: bool = False, sweeps: bool = True, only: str = "") -> dict:
    from .runtime import cuda

    cp = cuda.cupy()
    props = cp.cuda.runtime.getDeviceProperties(0)
    sm_count = props["multiProcessorCount"]
    info = {"device": props["name"].decode(), "sm_count": sm_count,
            "date": time.strftime("%Y-%m-%d"), "cupy": cp.__version__}
    copy_gbps = copy_bandwidth()
    print(f"{info}\ncopy ceiling {copy_gbps:,.0f} GB/s", flush=True)
    rows = []
    for label, thunk in plan(sm_count, quick, sweeps, only):
        timing = thunk()
        if timing is None:
            continue
        row = {**timing.row(copy_gbps), "group": label}
        rows.append(row)
        print(f"{label:11s} {_dtype(row['config']):8s} b{row['config'].get('batch', 1)}"
              f" n={row['seq_len']:6d} {row['us_per_launch']:9.1f} us {row['gbps']:7.0f} GB/s "
              f"{row['pct_copy']:5.1f}%  {row['config']}", flush=True)
    copy_after = copy_bandwidth()
    result = {"info": info, "copy_gbps": copy_gbps, "copy_gbps_after": copy_after, "rows": rows}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=1, default=str))
    text = markdown(rows, copy_gbps)
    if only == "fp8":
        summary = fp8_summary(rows)
        print(summary, flush=True)
        text += "\n" + summary
    (out / "bench.md").write_text(text)
    return result
