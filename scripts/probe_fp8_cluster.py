"""e4m3 against f16 K/V and the cluster merge against the two-kernel merge, on a GPU:

    python scripts/probe_fp8_cluster.py time   # graph-replayed times at 1K/4K/16K
    ncu -k regex:split_kv_attention python scripts/probe_fp8_cluster.py ncu   # 64K splits

It measures and prints; it asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer import bench  # noqa: E402
from explorer.kernels import SplitKVDecodeAttentionKernel  # noqa: E402
from explorer.runtime import cuda  # noqa: E402
from explorer.runtime.execute import allocate, launch_all  # noqa: E402

SHAPE = dict(head_dim=128, num_heads=32, num_kv_heads=8)


def ncu_workload() -> None:
    """The 64K split launch twice, f16 then e4m3 K/V (random finite codes)."""
    be = cuda.CudaBackend()
    cp = be.cp
    for kv in (None, "e4m3"):
        k = SplitKVDecodeAttentionKernel(max_seq_len=65536, dtype="f16", kv_dtype=kv, **SHAPE)
        shapes = {s.name: s.shape for s in k.buffer_specs()}
        values = {"q": bench._random(cp, shapes["q"], "f16")}
        for name in ("k", "v"):
            values[name] = (cp.random.randint(0, 120, shapes[name], dtype=cp.uint8) if kv
                            else bench._random(cp, shapes[name], "f16"))
        values |= k.length_arguments((65536,))
        buffers = allocate(be, k.buffer_specs(), values)
        program = k.program(be.target)
        module = be.load(program)
        for _ in range(2):
            launch_all(be, module, program, k.launches()[:1], buffers)
        be.synchronize()


def times() -> None:
    for n in (1024, 4096, 16384):
        for kv in (None, "e4m3"):
            for merge in ("kernel", "cluster"):
                k = SplitKVDecodeAttentionKernel(max_seq_len=n, dtype="f16", kv_dtype=kv,
                                                 merge=merge, **SHAPE)
                t = bench.time_kernel(k, n)
                print(f"{n:6d} kv={kv} merge={merge:8s} splits={k.num_splits:3d} "
                      f"{t.us_per_launch:6.2f} us", flush=True)


if __name__ == "__main__":
    ncu_workload() if sys.argv[1:] == ["ncu"] else times()
