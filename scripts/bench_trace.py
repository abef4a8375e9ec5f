"""Time a lane trace against a plain launch on the explorer's default configuration, one core.

    python3 scripts/bench_trace.py [--runs 7] [--seq-len 512] [--max-seq-len 512] [--warp 0]

Default configuration: multi-warp kernel, head_dim 128, 32 q heads, 8 KV heads, 4 warps.
Both go through `explorer.runtime.run(..., backend=...)` with the same buffers: the plain one
with the simulator backend, the traced one with a backend whose launch is `explorer.sim.trace`
of CTA 0, warp `--warp`. Prints the medians of `runs` interleaved pairs (after one of each),
the trace's length and the memory it holds (tracemalloc); docs/simulator.md ("Lane traces")
records the figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: one core, honestly
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from explorer import runtime, sim  # noqa: E402
from explorer.kernels import MultiWarpIncrementalAttentionKernel  # noqa: E402
from explorer.runtime.sim import SimBackend  # noqa: E402
from explorer.verify import make_inputs  # noqa: E402


class TracingBackend(SimBackend):
    """The simulator backend, each launch traced (CTA 0, warp `warp`); keeps the last trace."""

    def __init__(self, warp: int) -> None:
        super().__init__()
        self.warp, self.trace = warp, None

    def launch(self, module, launch, stream=None) -> None:
        self.trace = sim.trace(module.ptx, launch.entry, launch.grid, launch.block,
                               list(launch.args), shared_bytes=launch.shared_bytes,
                               warp=self.warp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--warps", type=int, default=4)
    parser.add_argument("--warp", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    kernel = MultiWarpIncrementalAttentionKernel(args.max_seq_len, 128, 32, 8, args.warps)
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    tracing = TracingBackend(args.warp)

    def timed(backend) -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        out = runtime.run(kernel, q, k, v, args.seq_len, backend=backend)
        return time.perf_counter() - start, out

    _, plain_out = timed("sim")
    _, traced_out = timed(tracing)
    plain, traced = [], []
    for _ in range(args.runs):  # interleaved: a busy machine slows both alike
        plain.append(timed("sim")[0])
        traced.append(timed(tracing)[0])
    tracing.trace = None
    tracemalloc.start()
    timed(tracing)
    held = tracemalloc.get_traced_memory()[0]  # what is still allocated: the trace, mostly
    tracemalloc.stop()
    t = tracing.trace
    print(f"{kernel!r} seq_len={args.seq_len}, trace of CTA 0 warp {args.warp}")
    print(f"machine: {platform.machine()} ({os.cpu_count()} cores, 1 used), Python "
          f"{platform.python_version()}, NumPy {np.__version__}")
    print(f"plain launch: median {statistics.median(plain):.3f} s (min {min(plain):.3f})")
    print(f"traced launch: median {statistics.median(traced):.3f} s (min {min(traced):.3f})")
    print(f"trace: {len(t)} steps of {t.result.steps} group-steps, truncated={t.truncated}; "
          f"outputs identical: {np.array_equal(plain_out, traced_out, equal_nan=True)}")
    print(f"memory held after the traced run: {held / 2**20:.1f} MiB "
          f"({held / max(len(t), 1):.0f} bytes a step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
