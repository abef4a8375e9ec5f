"""Where the fixed cost of a short decode step goes, on a GPU: graph-replayed empty launches
(one and two per step, the split-KV kernel's grids), the split launch alone and the whole step
at lengths from 1 position up (so what does not scale with the length shows), each by the
bench rules (`explorer.bench.time_kernel`: graph replays, K/V rotated past L2, medians); and
with `--ncu-workload`, the same launches run plainly so that Nsight Compute, wrapped around
this script, reports each kernel's own duration on the GPU.

    python scripts/fixed_cost.py --out fixed-cost.json
    ncu --metrics gpu__time_duration.sum --csv python scripts/fixed_cost.py --ncu-workload

It measures and prints; it asserts nothing. Needs CuPy and a GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer import bench  # noqa: E402
from explorer.kernels import SplitKVDecodeAttentionKernel  # noqa: E402
from explorer.ptx import Launch, Program  # noqa: E402
from explorer.runtime import cuda  # noqa: E402

SHAPE = dict(head_dim=128, num_heads=32, num_kv_heads=8)
LENGTHS = (1, 16, 128, 1024, 4096)
EMPTY = """.version 8.0
.target sm_90
.address_size 64
.visible .entry empty()
{
ret;
}
"""


def empty_launches(per_step: int, grids, copies: int = 32, repeats: int = 20) -> float:
    """Microseconds per step of `per_step` empty launches (grids and blocks as given), from a
    graph of `copies` steps."""
    be = cuda.CudaBackend()
    cp = be.cp
    program = Program.from_ptx(EMPTY)
    module = be.load(program)
    launches = [Launch("empty", grid, block, ()) for grid, block in grids[:per_step]]
    stream = cp.cuda.Stream(non_blocking=True)
    for one in launches:
        be.launch(module, one, stream=stream)
    with stream:
        stream.begin_capture()
        for _ in range(copies):
            for one in launches:
                be.launch(module, one, stream=stream)
        graph = stream.end_capture()
    for _ in range(3):
        graph.launch(stream)
    stream.synchronize()
    ms = bench._median_ms(cp, stream, lambda: graph.launch(stream), repeats)
    return ms * 1e3 / copies


def kernel(max_seq_len: int, dtype: str = "f16") -> SplitKVDecodeAttentionKernel:
    return SplitKVDecodeAttentionKernel(max_seq_len=max_seq_len, dtype=dtype, **SHAPE)


def measure(dtypes) -> dict:
    rows = []
    grids = [(tuple(one.grid), tuple(one.block)) for one in kernel(4096).launches()]
    for per_step in (1, 2):
        us = empty_launches(per_step, grids)
        rows.append({"what": f"{per_step} empty launch(es) per step", "us": us})
        print(f"{per_step} empty launch(es), grids {grids[:per_step]}: {us:.2f} us", flush=True)
    for dtype in dtypes:
        for seq_len in LENGTHS:
            k = kernel(max(seq_len, 1024), dtype)
            for launches, what in ((1, "split only"), (None, "split + combine")):
                t = bench.time_kernel(k, seq_len, launches=launches)
                rows.append({"what": what, "dtype": dtype, "seq_len": seq_len,
                             "max_seq_len": k.max_seq_len, "us": t.us_per_launch,
                             "kv_bytes": t.kv_bytes})
                print(f"{dtype} seq_len {seq_len:5d} (max {k.max_seq_len}) {what:16s} "
                      f"{t.us_per_launch:7.2f} us", flush=True)
    return {"rows": rows}


def ncu_workload(dtypes) -> None:
    """Each kernel at each length, three plain launches (ncu reports every one)."""
    import numpy as np

    from explorer.runtime.execute import allocate, launch_all

    be = cuda.CudaBackend()
    cp = be.cp
    for dtype in dtypes:
        for seq_len in (1, 1024, 4096):
            k = kernel(max(seq_len, 1024), dtype)
            shapes = {s.name: s.shape for s in k.buffer_specs()}
            values = {n: bench._random(cp, shapes[n], dtype) for n in ("q", "k", "v")}
            values |= k.length_arguments((seq_len,) * k.batch)
            bufs = allocate(be, k.buffer_specs(), values)
            program = k.program(be.target)
            module = be.load(program)
            for _ in range(3):
                launch_all(be, module, program, k.launches(), bufs)
            be.synchronize()
            print(f"ncu workload: {dtype} seq_len {seq_len}", np.int32(0), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--dtypes", default="f16")
    parser.add_argument("--ncu-workload", action="store_true")
    args = parser.parse_args()
    dtypes = args.dtypes.split(",")
    if args.ncu_workload:
        ncu_workload(dtypes)
        return 0
    started = time.time()
    result = {"device": cuda.cupy().cuda.runtime.getDeviceProperties(0)["name"].decode(),
              "date": time.strftime("%Y-%m-%d"), "shape": SHAPE,
              "copy_gbps": bench.copy_bandwidth()}
    result |= measure(dtypes)
    result["seconds"] = time.time() - started
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
