"""The proof that a refactor changed no emitted PTX: the SHA-256 of the PTX of a large grid of
kernel configurations (all three kernels, every dtype, e4m3 K/V, debug variants (split-kv's
too), the tensor-core pipeline's depths, three targets), one line per configuration, compared
with (or written to) a committed list.

    python scripts/ptx_hashes.py --check   # exit 1 naming each configuration that differs
    python scripts/ptx_hashes.py --write   # after an intended change to emitted code

A configuration the constructor refuses is recorded as `refused` (so the set of accepted
configurations is pinned too, not only their text).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer.kernels import (  # noqa: E402
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)

HASHES = ROOT / "tests" / "golden" / "ptx-hashes.txt"
CLASSES = {
    "single-warp": IncrementalAttentionKernel,
    "multi-warp": MultiWarpIncrementalAttentionKernel,
    "split-kv": SplitKVDecodeAttentionKernel,
}
HEAD_DIMS = (32, 64, 80, 96, 128, 160, 256)
HEADS = ((8, 8), (32, 8), (12, 2), (28, 4), (4, 1))


def grid():
    """(kernel name, constructor keywords, target) for every configuration hashed."""
    for hd, w, (h, kv), ind, dbg in itertools.product(
        HEAD_DIMS, (1, 2, 4, 8, 16, 32), HEADS, (False, True), (False, True)
    ):
        kw = dict(max_seq_len=1100, head_dim=hd, num_heads=h, num_kv_heads=kv, num_warps=w,
                  indirect_seq_len=ind, debug=dbg)
        yield "multi-warp", kw, "sm_90" if w in (4, 8) else "sm_80"
    for hd, (h, kv), ind, dbg, msl in itertools.product(
        HEAD_DIMS, HEADS, (False, True), (False, True), (1100, 4096)
    ):
        kw = dict(max_seq_len=msl, head_dim=hd, num_heads=h, num_kv_heads=kv,
                  indirect_seq_len=ind, debug=dbg)
        yield "single-warp", kw, "sm_80"
    for dtype, mma, batch, hd, (h, kv), merge, msl in itertools.product(
        ("f32", "f16", "bf16"), (None, False), (1, 4), (64, 96, 128, 256), HEADS,
        ("kernel", "last-cta"), (512, 4096),
    ):
        if dtype == "f32" and mma is False:
            continue
        kw = dict(max_seq_len=msl, head_dim=hd, num_heads=h, num_kv_heads=kv, batch=batch,
                  dtype=dtype, mma=mma, merge=merge)
        yield "split-kv", kw, "sm_90"
    for dtype, warps, splits, unroll, pipe in itertools.product(
        ("f32", "f16"), (1, 2, 4, 8), (1, 7, 64), (1, 2, 4), (False, True)
    ):
        kw = dict(max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8, dtype=dtype,
                  mma=False, num_warps=warps, num_splits=splits, unroll=unroll, pipeline=pipe)
        yield "split-kv", kw, "sm_80"
    for dtype, warps, pipe, prefetch, scale in itertools.product(
        ("f16", "bf16"), (1, 4, 8), (False, True), (0, 2), (None, 0.3)
    ):
        kw = dict(max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8, dtype=dtype,
                  mma=True, num_warps=warps, pipeline=pipe, prefetch=prefetch, scale=scale)
        yield "split-kv", kw, "sm_80"
    for dtype, mma, batch, hd, (h, kv), merge, warps in itertools.product(
        ("f32", "f16", "bf16"), (None, False), (1, 4), (64, 128), ((32, 8), (4, 1)),
        ("kernel", "last-cta"), (None, 3),
    ):
        if dtype == "f32" and mma is False:
            continue
        kw = dict(max_seq_len=1100, head_dim=hd, num_heads=h, num_kv_heads=kv, batch=batch,
                  dtype=dtype, mma=mma, merge=merge, num_warps=warps, debug=True)
        yield "split-kv", kw, "sm_90"


    for dtype, mma, batch in itertools.product(("f32", "f16", "bf16"), (None, False), (1, 4)):
        if dtype == "f32" and mma is False:
            continue
        kw = dict(max_seq_len=4096, head_dim=128, num_heads=32, num_kv_heads=8, batch=batch,
                  dtype=dtype, mma=mma, pdl=True)
        yield "split-kv", kw, "sm_90"
    yield from _fp8_grid()
    yield from _cluster_grid()
    yield from _fp8_cluster_grid()
    yield from _tiles_grid()


def _fp8_grid():
    """e4m3 K/V: both paths, both merges, batch, GQA 1/4/8 (and 32 on CUDA cores), on sm_90
    and sm_90a; the refusals (f32 q, debug, sm_89, sm_80) too."""
    for dtype, mma, batch, hd, (h, kv), merge in itertools.product(
        ("f16", "bf16", "f32"), (None, False), (1, 4), (48, 64, 128, 256),
        ((32, 8), (8, 8), (4, 1), (32, 1)), ("kernel", "last-cta"),
    ):
        kw = dict(max_seq_len=4096, head_dim=hd, num_heads=h, num_kv_heads=kv, batch=batch,
                  dtype=dtype, mma=mma, merge=merge, kv_dtype="e4m3")
        yield "split-kv", kw, "sm_90"
    for dtype, mma, pipe, target, extra in itertools.product(
        ("f16", "bf16"), (True, False), (False, True), ("sm_90a", "sm_89", "sm_80"),
        ({}, {"debug": True}, {"pdl": True}, {"num_warps": 4, "prefetch": 2}),
    ):
        if "prefetch" in extra and not mma:
            continue
        kw = dict(max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8, dtype=dtype,
                  mma=mma, pipeline=pipe, kv_dtype="e4m3", **extra)
        yield "split-kv", kw, target


def _cluster_grid():
    """merge="cluster": both paths, every dtype, cluster sizes, GQA ratios, batch; the
    refusals (9 splits, sm_80) pinned too."""
    for dtype, mma, batch, hd, (h, kv), splits, msl in itertools.product(
        ("f32", "f16", "bf16"), (None, False), (1, 3), (64, 128), ((32, 8), (8, 1), (4, 4)),
        (None, 1, 4, 9), (1100, 4096),
    ):
        if dtype == "f32" and mma is False:
            continue
        kw = dict(max_seq_len=msl, head_dim=hd, num_heads=h, num_kv_heads=kv, batch=batch,
                  dtype=dtype, mma=mma, merge="cluster", num_splits=splits)
        yield "split-kv", kw, "sm_90"
    for dtype in ("f32", "f16"):
        kw = dict(max_seq_len=4096, head_dim=128, num_heads=32, num_kv_heads=8, dtype=dtype,
                  merge="cluster")
        yield "split-kv", kw, "sm_80"


def _fp8_cluster_grid():
    """e4m3 K/V with merge="cluster": both paths, q in f16 and bf16, batch."""
    for dtype, mma, batch, (h, kv) in itertools.product(
        ("f16", "bf16"), (None, False), (1, 3), ((32, 8), (8, 1)),
    ):
        kw = dict(max_seq_len=1100, head_dim=128, num_heads=h, num_kv_heads=kv, batch=batch,
                  dtype=dtype, mma=mma, merge="cluster", kv_dtype="e4m3")
        yield "split-kv", kw, "sm_90"


def _tiles_grid():
    """tiles_in_flight given: 1-4 for f16, bf16 and e4m3 K/V, every merge, two head_dims and
    GQA ratios; the refusals (f32, CUDA cores, a pipeline flag that disagrees, 5) too."""
    for (dtype, kv), tiles, merge, hd, (h, kv_heads) in itertools.product(
        (("f16", None), ("bf16", None), ("f16", "e4m3"), ("bf16", "e4m3")), (1, 2, 3, 4),
        ("kernel", "last-cta", "cluster"), (64, 128), ((32, 8), (8, 1)),
    ):
        kw = dict(max_seq_len=4096, head_dim=hd, num_heads=h, num_kv_heads=kv_heads, dtype=dtype,
                  kv_dtype=kv, merge=merge, tiles_in_flight=tiles)
        yield "split-kv", kw, "sm_90"
    for extra in ({"dtype": "f32"}, {"dtype": "f16", "mma": False},
                  {"dtype": "f16", "pipeline": False}, {"dtype": "f16", "tiles_in_flight": 5}):
        kw = dict(max_seq_len=4096, head_dim=128, num_heads=32, num_kv_heads=8,
                  tiles_in_flight=3) | extra
        yield "split-kv", kw, "sm_90"


def key(name: str, kw: dict, target: str) -> str:
    return f"{name} {target} {json.dumps(kw, sort_keys=True)}"


def digest(name: str, kw: dict, target: str) -> str:
    try:
        kernel = CLASSES[name](**kw)
        ptx = kernel.emit(target)
    except ValueError:
        return "refused"
    return hashlib.sha256(ptx.encode()).hexdigest()


def compute() -> dict[str, str]:
    return {key(*cfg): digest(*cfg) for cfg in grid()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare with the committed list")
    mode.add_argument("--write", action="store_true", help="write the committed list anew")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    now = compute()
    took = time.perf_counter() - start
    refused = sum(v == "refused" for v in now.values())
    print(f"{len(now)} configurations ({len(now) - refused} emitted, {refused} refused) "
          f"in {took:.1f} s")
    if args.write:
        HASHES.write_text("".join(f"{v} {k}\n" for k, v in now.items()))
        print(f"wrote {HASHES.relative_to(ROOT)}")
        return 0
    old = dict(reversed(line.rstrip("\n").split(" ", 1)) for line in HASHES.open())
    differ = [k for k in now if old.get(k) != now[k]]
    missing = [k for k in old if k not in now]
    for k in differ:
        print(f"differs: {k} (was {old.get(k, 'absent')}, now {now[k]})")
    for k in missing:
        print(f"no longer in the grid: {k}")
    if differ or missing:
        print(f"{len(differ)} differ, {len(missing)} missing")
        return 1
    print("every configuration's PTX is byte-identical to the committed list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
