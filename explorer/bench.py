"""GPU timing by the project's rules: CUDA-graph replays of many launches, K/V rotated over
copies totalling at least 4x the card's L2 so that HBM (not L2) serves them, warm-up, median
of repeats; the device-to-device copy bandwidth measured in the same process (the ceiling every
decode kernel is judged against). The peers (SDPA, FlashInfer) are timed in `bench_peers`.
Needs CuPy and a GPU (through `explorer.runtime.cuda`). It measures; it asserts nothing.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import numpy as np

from .dtypes import DTYPE_BYTES
from .runtime import cuda
from .runtime.execute import allocate, launch_all


@dataclass(frozen=True)
class Timing:
    kernel: str
    config: dict
    seq_len: int
    us_per_launch: float
    kv_bytes: int
    copies: int
    repeats: int

    @property
    def gbps(self) -> float:
        return self.kv_bytes / (self.us_per_launch * 1e-6) / 1e9

    def row(self, copy_gbps: float) -> dict:
        return {**asdict(self), "gbps": self.gbps, "pct_copy": 100 * self.gbps / copy_gbps}


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


def _random(cp, shape, dtype: str):
    """Random device data in a storage dtype (bf16 by truncating f32 bits, e4m3 as random
    finite codes: timing only)."""
    if dtype == "e4m3":  # 0x00..0x7E with either sign: never the NaN codes 0x7F, 0xFF
        sign = cp.random.randint(0, 2, shape, dtype=cp.uint8) << 7
        return cp.random.randint(0, 0x7F, shape, dtype=cp.uint8) | sign
    x = cp.random.standard_normal(shape, dtype=cp.float32)
    if dtype == "bf16":
        return (x.view(cp.uint32) >> 16).astype(cp.uint16)
    return x.astype(cp.float16) if dtype == "f16" else x


def l2_copies(kv_bytes_each: int, l2_multiple: int) -> int:
    """How many K/V copies add up to `l2_multiple` times the card's L2 (at least 2)."""
    l2 = cuda.cupy().cuda.Device().attributes["L2CacheSize"]
    return max(2, -(-l2_multiple * l2 // kv_bytes_each))


def time_kernel(kernel, seq_len: int, repeats: int = 20, l2_multiple: int = 4,
                launches: int | None = None) -> Timing:
    """Median time of one run (all its launches, or its first `launches`: split-KV's split
    launch without the combine), from graph replays over rotated K/V."""
    be = cuda.CudaBackend()
    cp = be.cp
    shapes = {s.name: s.shape for s in kernel.buffer_specs()}
    q = _random(cp, shapes["q"], kernel.dtype)
    kv = getattr(kernel, "kv_storage", kernel.dtype)  # K/V's storage (e4m3: one byte)
    cache_bytes = 2 * int(np.prod(shapes["k"])) * DTYPE_BYTES[kv]
    copies = l2_copies(cache_bytes, l2_multiple)
    values = {"q": q, "k": _random(cp, shapes["k"], kv), "v": _random(cp, shapes["v"], kv),
              **kernel.length_arguments((seq_len,) * kernel.batch)}
    first = allocate(be, kernel.buffer_specs(), values)
    runs = [first] + [
        {**first, "k": _random(cp, shapes["k"], kv), "v": _random(cp, shapes["v"], kv)}
        for _ in range(copies - 1)
    ]
    program = kernel.program(be.target)
    module = be.load(program)
    stream = cp.cuda.Stream(non_blocking=True)
    # one run before capture: every function is fetched from the module
    launch_all(be, module, program, kernel.launches(), first, stream=stream)
    with stream:
        stream.begin_capture()
        for bufs in runs:
            launch_all(be, module, program, kernel.launches()[:launches], bufs, stream=stream)
        graph = stream.end_capture()
    for _ in range(3):
        graph.launch(stream)
    stream.synchronize()
    ms = _median_ms(cp, stream, lambda: graph.launch(stream), repeats)
    kv_bytes = 2 * kernel.batch * kernel.num_kv_heads * seq_len * kernel.head_dim * (
        DTYPE_BYTES[kv])
    config = kernel.config() | ({} if launches is None else {"launches": launches})
    return Timing(kernel.name, config, seq_len, ms * 1e3 / copies, kv_bytes, copies, repeats)
