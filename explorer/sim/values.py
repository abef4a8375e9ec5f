"""PTX types as NumPy dtypes, immediates as NumPy scalars, and the float helpers the opcode
semantics share (flush-to-zero, saturation, a correctly rounded f32 fma).

It knows types and numbers only: no registers, no memory, no threads.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import REG_KINDS, F32Imm, IntImm

DTYPES: dict[str, np.dtype] = {
    "pred": np.dtype(np.bool_),
    "b8": np.dtype(np.uint8),
    "u8": np.dtype(np.uint8),
    "s8": np.dtype(np.int8),
    "b16": np.dtype(np.uint16),
    "u16": np.dtype(np.uint16),
    "s16": np.dtype(np.int16),
    "b32": np.dtype(np.uint32),
    "u32": np.dtype(np.uint32),
    "s32": np.dtype(np.int32),
    "b64": np.dtype(np.uint64),
    "u64": np.dtype(np.uint64),
    "s64": np.dtype(np.int64),
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    # Half types: f16 as NumPy's float16, bf16 as its bits (`half`, `halfmath`).
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(np.uint16),
    "f16x2": np.dtype(np.uint32),
    "bf16x2": np.dtype(np.uint32),
}
# Register storage per kind, its declared type: other types of the same width are bit views.
STORAGE: dict[str, np.dtype] = {kind: DTYPES[t] for kind, t in REG_KINDS.items()}
UNSIGNED = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.uint16),
    4: np.dtype(np.uint32),
    8: np.dtype(np.uint64),
}
SIGNED = {1: np.dtype(np.int8), 2: np.dtype(np.int16), 4: np.dtype(np.int32), 8: np.dtype(np.int64)}
F32_TINY = np.float32(np.finfo(np.float32).tiny)  # smallest normal f32


def is_float(t: str) -> bool:
    return t in ("f32", "f64")


def is_signed(t: str) -> bool:
    return t.startswith("s")


def bits_of(t: str) -> int:
    return 1 if t == "pred" else DTYPES[t].itemsize * 8


def immediate(op: IntImm | F32Imm, t: str):
    """The NumPy scalar an immediate stands for when read as type `t`."""
    dt = DTYPES[t]
    if t == "pred":
        return np.bool_(op.value != 0) if isinstance(op, IntImm) else np.bool_(op.bits != 0)
    if isinstance(op, F32Imm):
        if is_float(t):
            return dt.type(op.value)
        bits = op.bits & ((1 << (8 * dt.itemsize)) - 1)
        return np.array(bits, dtype=UNSIGNED[dt.itemsize]).view(dt)[()]
    if is_float(t):
        return dt.type(op.value)
    wrapped = op.value & ((1 << (8 * dt.itemsize)) - 1)  # two's complement, like ptxas
    return np.array(wrapped, dtype=UNSIGNED[dt.itemsize]).view(dt)[()]


def flush_f32(x):
    """`.ftz`: subnormal f32 values become zero of the same sign."""
    return np.where(np.abs(x) < F32_TINY, np.copysign(np.float32(0), x), x).astype(np.float32)


def saturate(x):
    """`.sat` on floats: clamp to [0, 1], NaN becomes +0."""
    return np.where(np.isnan(x), x.dtype.type(0), np.clip(x, 0, 1)).astype(x.dtype)


def fma_f32(a, b, c):
    """Correctly rounded f32 `a*b + c`.

    a*b is exact in f64, but the f64 sum then the f32 rounding can round twice (e.g. a*b =
    1 + 2^-24 exactly, c = 2^-80). Rounding the f64 sum to odd first (fix its last bit when
    inexact) makes the final round-to-nearest f32 exact: 53 >= 24 + 2 bits.
    """
    p = np.multiply(np.atleast_1d(a), b, dtype=np.float64)
    c64 = np.asarray(c, dtype=np.float64)
    s = p + c64
    bb = s - p
    err = (p - (s - bb)) + (c64 - bb)  # TwoSum: s + err == p + c exactly
    inexact = (err != 0) & np.isfinite(s)
    if inexact.any():
        bits = s.view(np.int64)
        toward_zero = inexact & ((err < 0) != (s < 0))  # |exact| < |s|: truncate |s| first
        bits -= toward_zero
        bits |= inexact
    return s.astype(np.float32)
