"""Storage dtypes of kernel data: f32, f16 and bf16, and their NumPy forms. NumPy has no
bfloat16, so bf16 data is kept as its bit patterns in uint16 arrays (CuPy copies them as is)."""

from __future__ import annotations

import numpy as np

NUMPY = {"f32": np.dtype(np.float32), "f16": np.dtype(np.float16), "bf16": np.dtype(np.uint16)}
DTYPE_BYTES = {name: dt.itemsize for name, dt in NUMPY.items()}


def to_storage(x: np.ndarray, dtype: str) -> np.ndarray:
    """Round float values to `dtype` (nearest even) in its NumPy storage form."""
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    if dtype == "bf16":
        bits = x32.view(np.uint32).astype(np.uint64)
        rounded = bits + 0x7FFF + ((bits >> 16) & 1)  # round to nearest, ties to even
        nan = ((bits >> 16) & 0x8000) | 0x7FC0  # a quiet NaN keeps its sign, never rounds away
        return np.where(np.isnan(x32), nan, rounded >> 16).astype(np.uint16)
    return x32.astype(NUMPY[dtype])


def to_float64(x: np.ndarray, dtype: str) -> np.ndarray:
    """The exact values stored in `x` as float64."""
    x = np.asarray(x)
    if dtype == "bf16":
        return (x.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return x.astype(np.float64)
