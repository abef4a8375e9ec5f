"""Run a kernel on a backend: `run(kernel, q, k, v, seq_len, backend="cuda")`.

Inputs are checked here, once, for every backend (shapes, dtype, contiguity, seq_len); the
backends only launch. Only `explorer.runtime.cuda` imports CuPy, lazily, so this package imports
on a machine without a GPU.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import BackendUnavailable

BACKENDS = ("cuda", "sim")


def check_launch(kernel, q, k, v, seq_len) -> int:
    """Validate the arguments of a launch; return seq_len as an int. Raises ValueError."""
    hd = kernel.head_dim
    want = {
        "q": (kernel.num_heads, hd),
        "k": (kernel.num_kv_heads, kernel.max_seq_len, hd),
        "v": (kernel.num_kv_heads, kernel.max_seq_len, hd),
    }
    for name, arr in (("q", q), ("k", k), ("v", v)):
        shape = getattr(arr, "shape", None)
        if shape is None or not hasattr(arr, "dtype"):
            raise ValueError(f"{name} must be a NumPy or CuPy array, got {type(arr).__name__}")
        if tuple(shape) != want[name]:
            raise ValueError(f"{name} has shape {tuple(shape)}; this kernel needs {want[name]}")
        if arr.dtype != np.float32:
            raise ValueError(f"{name} has dtype {arr.dtype}; this kernel needs float32")
        if not arr.flags.c_contiguous:
            raise ValueError(f"{name} is not C-contiguous; pass np.ascontiguousarray({name})")
    if isinstance(seq_len, bool) or not isinstance(seq_len, numbers.Integral):
        raise ValueError(f"seq_len must be an integer, got {seq_len!r}")
    if not 0 <= seq_len <= kernel.max_seq_len:
        raise ValueError(
            f"seq_len={seq_len} is outside 0..max_seq_len={kernel.max_seq_len} of this kernel"
        )
    return int(seq_len)


def run(kernel, q, k, v, seq_len: int, backend: str = "cuda") -> np.ndarray:
    """Launch `kernel` once and return its f32 output `[num_heads, head_dim]` as NumPy."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; accepted: {', '.join(BACKENDS)}")
    seq_len = check_launch(kernel, q, k, v, seq_len)
    if backend == "sim":
        from . import sim

        return sim.run(kernel, q, k, v, seq_len)
    from . import cuda

    return cuda.run(kernel, q, k, v, seq_len)


__all__ = ["BACKENDS", "BackendUnavailable", "check_launch", "run"]
