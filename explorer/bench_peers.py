"""The peers every decode kernel here is timed against, by the same rules as `explorer.bench`
(CUDA-graph replays over K/V copies that add up to several times the L2, warm-up, median):
PyTorch's `scaled_dot_product_attention`, and FlashInfer's decode kernels when FlashInfer is
importable (single decode with and without tensor cores, batch decode over a paged cache built
from the same shapes, and FlashInfer's fp8 (e4m3) KV). Neither is a dependency of this project:
a row whose library is missing is None. It measures; it asserts nothing.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np

from .bench import Timing, l2_copies
from .dtypes import DTYPE_BYTES

FP8_BYTES = 1
PAGE_SIZE = 16  # FlashInfer's usual page size for decode


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _flashinfer():
    try:
        import flashinfer
    except Exception:  # noqa: BLE001  (ImportError, or a broken JIT setup)
        return None
    return flashinfer


def _torch_dtype(torch, dtype: str):
    return {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16,
            "e4m3": torch.float8_e4m3fn}[dtype]


def _replay_ms(torch, calls: list[Callable[[], object]], repeats: int) -> float:
    """Median time of one replay of a graph that makes every call once."""
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for _ in range(2):  # warm up outside capture (JIT, backend selection, workspaces)
            calls[0]()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        for call in calls:
            call()
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def _kv_copies(torch, shape, dtype: str, l2_multiple: int):
    """(copies, [(k, v), ...]) rotated so HBM, not L2, serves them."""
    nbytes = 2 * int(np.prod(shape)) * (FP8_BYTES if dtype == "e4m3" else DTYPE_BYTES[dtype])
    copies = l2_copies(nbytes, l2_multiple)
    tdtype = _torch_dtype(torch, dtype)
    make = (lambda: torch.randn(shape, device="cuda").to(tdtype)) if dtype == "e4m3" else (
        lambda: torch.randn(shape, dtype=tdtype, device="cuda"))
    return nbytes, copies, [(make(), make()) for _ in range(copies)]


def time_sdpa(batch: int, num_heads: int, num_kv_heads: int, head_dim: int, seq_len: int,
              dtype: str, repeats: int = 20, l2_multiple: int = 4) -> Timing | None:
    """PyTorch's scaled_dot_product_attention (enable_gqa=True) on the same decode shapes, or
    None when PyTorch is not importable."""
    torch = _torch()
    if torch is None:
        return None
    import torch.nn.functional as F

    q = torch.randn(batch, num_heads, 1, head_dim, dtype=_torch_dtype(torch, dtype),
                    device="cuda")
    shape = (batch, num_kv_heads, seq_len, head_dim)
    kv_bytes, copies, kvs = _kv_copies(torch, shape, dtype, l2_multiple)
    calls = [lambda k=k, v=v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
             for k, v in kvs]
    ms = _replay_ms(torch, calls, repeats)
    config = {"batch": batch, "num_heads": num_heads, "num_kv_heads": num_kv_heads,
              "head_dim": head_dim, "dtype": dtype, "torch": torch.__version__}
    return Timing("torch-sdpa", config, seq_len, ms * 1e3 / copies, kv_bytes, copies, repeats)


def time_flashinfer(batch: int, num_heads: int, num_kv_heads: int, head_dim: int,
                    seq_len: int, dtype: str, tensor_cores: bool, kv_dtype: str | None = None,
                    repeats: int = 20, l2_multiple: int = 4) -> Timing | None:
    """FlashInfer's decode on the same shapes: `single_decode_with_kv_cache` (HND layout) for
    one sequence, `BatchDecodeWithPagedKVCacheWrapper` over a paged cache (HND, pages of
    PAGE_SIZE rows) for a batch. `kv_dtype="e4m3"`: fp8 K/V with scales 1. None when
    FlashInfer (or PyTorch) is not importable."""
    torch, flashinfer = _torch(), _flashinfer()
    if torch is None or flashinfer is None or dtype == "f32":
        return None
    kv_dtype = kv_dtype or dtype
    qdt = _torch_dtype(torch, dtype)
    scales = {"k_scale": 1.0, "v_scale": 1.0} if kv_dtype == "e4m3" else {}
    if batch == 1:
        q = torch.randn(num_heads, head_dim, dtype=qdt, device="cuda")
        shape = (num_kv_heads, seq_len, head_dim)
        kv_bytes, copies, kvs = _kv_copies(torch, shape, kv_dtype, l2_multiple)
        calls = [lambda k=k, v=v: flashinfer.single_decode_with_kv_cache(
                     q, k, v, kv_layout="HND", use_tensor_cores=tensor_cores, **scales)
                 for k, v in kvs]
        kind = "flashinfer-single"
    else:
        pages = -(-seq_len // PAGE_SIZE)
        shape = (batch * pages, num_kv_heads, PAGE_SIZE, head_dim)
        kv_bytes, copies, kvs = _kv_copies(torch, shape, kv_dtype, l2_multiple)
        kv_bytes = 2 * batch * num_kv_heads * seq_len * head_dim * (
            FP8_BYTES if kv_dtype == "e4m3" else DTYPE_BYTES[kv_dtype])  # rows attended
        q = torch.randn(batch, num_heads, head_dim, dtype=qdt, device="cuda")
        workspace = torch.zeros(128 << 20, dtype=torch.uint8, device="cuda")
        wrapper = flashinfer.BatchDecodeWithPagedKVCacheWrapper(
            workspace, kv_layout="HND", use_tensor_cores=tensor_cores)
        indptr = torch.arange(batch + 1, dtype=torch.int32, device="cuda") * pages
        indices = torch.arange(batch * pages, dtype=torch.int32, device="cuda")
        last = torch.full((batch,), seq_len - (pages - 1) * PAGE_SIZE, dtype=torch.int32,
                          device="cuda")
        wrapper.plan(indptr, indices, last, num_heads, num_kv_heads, head_dim, PAGE_SIZE,
                     q_data_type=qdt, kv_data_type=_torch_dtype(torch, kv_dtype))
        calls = [lambda k=k, v=v: wrapper.run(q, (k, v), **scales) for k, v in kvs]
        kind = "flashinfer-batch"
    ms = _replay_ms(torch, calls, repeats)
    config = {"batch": batch, "num_heads": num_heads, "num_kv_heads": num_kv_heads,
              "head_dim": head_dim, "dtype": dtype, "kv_dtype": kv_dtype,
              "tensor_cores": tensor_cores, "flashinfer": flashinfer.__version__}
    return Timing(kind, config, seq_len, ms * 1e3 / copies, kv_bytes, copies, repeats)
