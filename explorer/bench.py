"""GPU timing by the project's rules: CUDA-graph replays of many launches, K/V rotated over
copies totalling at least 4x the card's L2 so that HBM (not L2) serves them, warm-up, median
of repeats; and the device-to-device copy bandwidth measured in the same process, the ceiling
every decode kernel is judged against. Needs CuPy and a GPU (through `explorer.runtime.cuda`).
It measures; it asserts nothing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from .check import make_inputs
from .runtime import cuda


@dataclass(frozen=True)
class Timing:
    kernel: str
    seq_len: int
    us_per_launch: float
    kv_bytes: int
    copies: int
    repeats: int

    @property
    def gbps(self) -> float:
        return self.kv_bytes / (self.us_per_launch * 1e-6) / 1e9


def _median_ms(cp, stream, fn, repeats: int) -> float:
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(repeats):
        start.record(stream)
        fn()
        stop.record(stream)
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def copy_bandwidth(nbytes: int = 1 << 30, repeats: int = 10) -> float:
    """Device-to-device copy speed in GB/s, counting bytes read plus bytes written."""
    cp = cuda.cupy()
    src = cp.random.random(nbytes // 4, dtype=cp.float32)
    dst = cp.empty_like(src)
    stream = cp.cuda.Stream(non_blocking=True)

    def copy():
        cp.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, src.nbytes, 3, stream.ptr)

    copy()
    ms = _median_ms(cp, stream, copy, repeats)
    return 2 * src.nbytes / (ms * 1e-3) / 1e9


def time_kernel(kernel, seq_len: int, repeats: int = 20, l2_multiple: int = 4) -> Timing:
    """Median time of one launch, from graph replays over rotated K/V copies."""
    cp = cuda.cupy()
    rng = np.random.default_rng(0)
    q, k, v = make_inputs(kernel, rng)
    kv_bytes = 2 * kernel.num_kv_heads * seq_len * kernel.head_dim * 4  # bytes actually read
    l2 = cp.cuda.Device().attributes["L2CacheSize"]
    copies = max(2, -(-l2_multiple * l2 // (k.nbytes + v.nbytes)))
    q_d = cp.asarray(q)
    kvs = [(cp.asarray(k), cp.asarray(v)) for _ in range(copies)]
    out = cp.empty((kernel.num_heads, kernel.head_dim), dtype=cp.float32)
    if kernel.indirect_seq_len:
        seq_arg = cp.asarray(np.array([seq_len], dtype=np.uint32))
    else:
        seq_arg = np.uint32(seq_len)
    stream = cp.cuda.Stream(non_blocking=True)
    cuda.load_function(kernel)
    with stream:
        stream.begin_capture()
        for k_d, v_d in kvs:
            cuda.launch(kernel, q_d, k_d, v_d, out, seq_arg, stream=stream)
        graph = stream.end_capture()
    for _ in range(3):
        graph.launch(stream)
    stream.synchronize()
    ms = _median_ms(cp, stream, lambda: graph.launch(stream), repeats)
    return Timing(repr(kernel), seq_len, ms * 1e3 / copies, kv_bytes, copies, repeats)
