"""The dtype table: the storage dtypes of kernel data (f32, f16, bf16 for q, K, V and out; e4m3
for K and V only), each with its NumPy storage form, its size, the NaN bit pattern outputs are
poisoned with before a run, and the tolerances a run is held to; and the conversions to and
from the storage form. A dtype's name is also its PTX type (`cvt.f32.bf16`,
`mma...f32.f16.f16.f32`; e4m3 pairs are `.e4m3x2`).

NumPy has no bfloat16 and no 8-bit float, so bf16 data is kept as its bit patterns in uint16
arrays and e4m3 data as its bit patterns in uint8 arrays (CuPy copies them as is). e4m3 is
OCP's E4M3 as NVIDIA's `cvt` writes it: bias 7, no infinities, NaN 0x7F / 0xFF, largest
finite 448; rounding to it is nearest-even with saturation to +-448 (PTX's `.satfinite`).
It converts values; it knows nothing of kernels or devices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dtype:
    """One storage dtype (accumulation is always f32). `kv_only`: a K/V cache dtype, never
    that of q or out."""

    name: str  # also the PTX type
    numpy: np.dtype  # the storage form (bf16, e4m3: bit patterns)
    poison: np.generic  # a quiet NaN in the storage form: an output no kernel wrote shows
    tolerance: tuple[float, float]  # (relative L2, max abs relative to max(1, max|ref|))
    kv_only: bool = False

    @property
    def bytes(self) -> int:
        return self.numpy.itemsize


# f32 kernels are held to f32 accuracy; f16/bf16 ones to their storage precision (the
# reference then uses the same rounded inputs); a kernel with e4m3 K/V to e4m3's.
TABLE = {
    d.name: d
    for d in (
        Dtype("f32", np.dtype(np.float32), np.float32(np.nan), (1e-5, 1e-4)),
        Dtype("f16", np.dtype(np.float16), np.float16(np.nan), (1e-2, 1e-2)),
        Dtype("bf16", np.dtype(np.uint16), np.uint16(0x7FC0), (1e-2, 1e-2)),
        Dtype("e4m3", np.dtype(np.uint8), np.uint8(0x7F), (2e-2, 2e-2), kv_only=True),
    )
}
DTYPES = {name: d for name, d in TABLE.items() if not d.kv_only}  # q, K, V and out
KV_ONLY = tuple(name for name, d in TABLE.items() if d.kv_only)  # K and V only
NAMES = tuple(DTYPES)
NUMPY = {name: d.numpy for name, d in TABLE.items()}
DTYPE_BYTES = {name: d.bytes for name, d in TABLE.items()}

E4M3_MAX = 448.0  # 1.75 * 2^8, code 0x7E
E4M3_NAN = 0x7F  # S.1111.111; there are no infinities


def _e4m3_table() -> np.ndarray:
    """The 256 e4m3 codes as float64 (NaN for 0x7F and 0xFF)."""
    codes = np.arange(256)
    exponent, mantissa = (codes >> 3) & 0xF, codes & 7
    magnitude = np.where(exponent == 0, mantissa * 2.0**-9,
                         (1 + mantissa / 8) * 2.0 ** (exponent - 7.0))
    values = np.where(codes & 0x80, -magnitude, magnitude)
    return np.where((codes & 0x7F) == E4M3_NAN, np.nan, values)


E4M3_VALUES = _e4m3_table()


def to_e4m3(x: np.ndarray) -> np.ndarray:
    """float values as e4m3 codes (uint8): nearest, ties to even; beyond +-448 (infinities
    too) saturate to +-448; NaN gives 0x7F with the input's sign bit."""
    x = np.asarray(x, dtype=np.float64)
    mag = np.abs(x)
    _, exp2 = np.frexp(np.where(mag > 0, mag, 2.0**-9))  # mag = f * 2^exp2, f in [0.5, 1)
    e = np.maximum(exp2 - 1, -6)  # below 2^-6 the spacing is that of the subnormals, 2^-9
    steps = np.rint(np.ldexp(mag, 3 - e))  # units of the last place at this exponent
    code = np.where(e == -6, steps, (e + 7) * 8 + steps - 8)  # a carry moves up an exponent
    finite = np.minimum(np.nan_to_num(code, nan=0.0, posinf=0x7E), 0x7E).astype(np.uint8)
    code = np.where(np.isnan(x), E4M3_NAN, finite).astype(np.uint8)
    return code | (np.signbit(x).astype(np.uint8) << 7)


def to_storage(x: np.ndarray, dtype: str) -> np.ndarray:
    """Round float values to `dtype` (nearest even) in its NumPy storage form."""
    if dtype == "e4m3":
        return to_e4m3(x)
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
    if dtype == "e4m3":
        return E4M3_VALUES[x.astype(np.uint8)]
    return x.astype(np.float64)


def e4m3_scale(x: np.ndarray) -> float:
    """The per-tensor scale that maps x's largest magnitude to e4m3's largest, 448:
    amax / 448 as an f32 (1.0 for an all-zero tensor)."""
    amax = float(np.max(np.abs(x))) if np.size(x) else 0.0
    return float(np.float32(amax / E4M3_MAX)) if amax > 0 else 1.0


def quantise(x: np.ndarray, dtype: str, scale: float) -> np.ndarray:
    """`round(x / scale)` in `dtype`'s storage form (stored * scale is the value)."""
    return to_storage(np.asarray(x, dtype=np.float64) / scale, dtype)
