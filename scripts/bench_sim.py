"""Time the simulator on the explorer's default configuration, on one CPU core.

    python3 scripts/bench_sim.py [--runs 7] [--seq-len 512] [--max-seq-len 4096] [--profile]

Default configuration: multi-warp kernel, head_dim 128, 32 q heads, 8 KV heads, 4 warps,
seq_len 512. Prints the first launch (parse + decode + run) and the median of the following
`runs` launches through `explorer.runtime.run(..., backend="sim")`, which includes printing the
PTX; `--profile` prints the top of a cProfile of one launch. The budget is 2 s, the live-app
target 0.5 s (docs/simulator.md records the figures).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: one core, honestly
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from explorer import runtime  # noqa: E402
from explorer.kernels import MultiWarpIncrementalAttentionKernel  # noqa: E402
from explorer.verify import compare, make_inputs, reference  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--max-seq-len", type=int, default=4096)
    parser.add_argument("--warps", type=int, default=4)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    kernel = MultiWarpIncrementalAttentionKernel(args.max_seq_len, 128, 32, 8, args.warps)
    q, k, v = make_inputs(kernel, np.random.default_rng(0))

    def once() -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        out = runtime.run(kernel, q, k, v, args.seq_len, backend="sim")
        return time.perf_counter() - start, out

    first, out = once()
    times = [once()[0] for _ in range(args.runs)]
    result = compare(out, reference.attention(q, k, v, args.seq_len, scale=kernel.scale))
    print(f"{kernel!r} seq_len={args.seq_len}")
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"({os.cpu_count()} cores, 1 used), Python {platform.python_version()}, "
        f"NumPy {np.__version__}"
    )
    print(f"first launch (parse + decode + run): {first:.3f} s")
    print(
        f"median of {args.runs} launches: {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f})"
    )
    print(f"check against float64: {result}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(once)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
