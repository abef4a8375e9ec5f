"""The dtype table: the storage dtypes of kernel data (f32, f16, bf16), each with its NumPy
storage form, its size, the NaN bit pattern outputs are poisoned with before a run, and the
tolerances a run is held to; and the conversions to and from the storage form. A dtype's name
is also its PTX type (`cvt.f32.bf16`, `mma...f32.f16.f16.f32`).

NumPy has no bfloat16, so bf16 data is kept as its bit patterns in uint16 arrays (CuPy copies
them as is). It converts values; it knows nothing of kernels or devices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dtype:
    """One storage dtype of q, K, V and out (accumulation is always f32)."""

    name: str  # also the PTX type
    numpy: np.dtype  # the storage form (bf16: uint16 bit patterns)
    poison: np.generic  # a quiet NaN in the storage form: an output no kernel wrote shows
    tolerance: tuple[float, float]  # (relative L2, max abs relative to max(1, max|ref|))

    @property
    def bytes(self) -> int:
        return self.numpy.itemsize


# f32 kernels are held to f32 accuracy; f16/bf16 ones to their storage precision (the
# reference then uses the same rounded inputs).
DTYPES = {
    d.name: d
    for d in (
        Dtype("f32", np.dtype(np.float32), np.float32(np.nan), (1e-5, 1e-4)),
        Dtype("f16", np.dtype(np.float16), np.float16(np.nan), (1e-2, 1e-2)),
        Dtype("bf16", np.dtype(np.uint16), np.uint16(0x7FC0), (1e-2, 1e-2)),
    )
}
NAMES = tuple(DTYPES)
NUMPY = {name: d.numpy for name, d in DTYPES.items()}
DTYPE_BYTES = {name: d.bytes for name, d in DTYPES.items()}


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
