"""Semantics of `mov`, `cvta` and `cvt`: copies and conversions between types.

`cvt` covers every pair of integer and float types (s8..s64, u8..u64, f16, bf16, f32, f64):
integer widening/narrowing (C casts, `.sat` clamps); integer to float and float narrowing
rounded once, correctly, in `.rn/.rz/.rm/.rp` (`rounding`); float widening (exact); float to
integer (`.rni/.rzi/.rmi/.rpi`, clamped to the destination range, NaN to 0, as the ISA
specifies); rounding a float to an integral value; `.ftz` on f32 and `.sat` on float results.
The two-source `cvt.rn.f16x2.f32`, `cvt.rn.f16x2.e4m3x2` (and `.e5m2x2`) and vector `mov`
packing are in `half`.
`cvta` is the identity: generic, global and shared addresses are the same numbers in this
simulator (see `memory`).
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import Instruction, Vector
from .half import F8_TO_F16, HALF, decode_cvt_f8_pair, decode_cvt_pair, decode_mov_vector, widen
from .operands import DecodeContext, Semantics, Unsupported, form, op_type
from .ops import build
from .rounding import MODES, integer_pair, round_pair
from .values import DTYPES, flush_f32, is_float, is_signed, saturate

INT_ROUNDING = {"rni": np.rint, "rzi": np.trunc, "rmi": np.floor, "rpi": np.ceil}


def decode_mov(ins: Instruction, ctx: DecodeContext):
    t = op_type(ins, half=True)
    if any(isinstance(op, Vector) for op in ins.operands):
        return decode_mov_vector(ins, ctx, t)
    return build(ins, ctx, (t,), t, lambda a: a)


def decode_cvta(ins: Instruction, ctx: DecodeContext):
    t = op_type(ins)
    return build(ins, ctx, (t,), t, lambda a: a)


def _int_range(t: str) -> tuple[int, int]:
    info = np.iinfo(DTYPES[t])
    return int(info.min), int(info.max)


def _int_to_int(dst: str, src: str, sat: bool):
    dt = DTYPES[dst]
    if not sat:
        return lambda a: np.asarray(a).astype(dt)
    lo, hi = _int_range(dst)
    if is_signed(src):
        lo, hi = max(lo, -(2**63)), min(hi, 2**63 - 1)
        return lambda a: np.clip(np.asarray(a, np.int64), lo, hi).astype(dt)
    return lambda a: np.minimum(np.asarray(a, np.uint64), np.uint64(hi)).astype(dt)


def _float_to_int(dst: str, src: str, rounding: str):
    dt = DTYPES[dst]
    lo, hi = _int_range(dst)
    upper = float(hi + 1)  # a power of two, exact in f64
    below = np.nextafter(upper, 0.0)
    rnd = INT_ROUNDING[rounding]

    def convert(a):
        x = rnd(widen(a, src))
        safe = np.clip(np.nan_to_num(x, nan=0.0), float(lo), below)
        out = safe.astype(dt)
        return np.where(x >= upper, dt.type(hi), out).astype(dt)

    return convert


def _int_to_float(dst: str, mode: str):
    """Exact as an (s, err) pair, rounded once in `mode`."""
    return lambda a: round_pair(*integer_pair(a), dst, mode)


def _float_to_float(dst: str, src: str, rounding: str | None, ftz: bool):
    """Widening is exact; narrowing rounds once in `rounding` (default .rn); `.rni/.rzi/.rmi/
    .rpi` round to an integral value first. `.ftz` flushes f32 subnormals in and out."""
    integral = INT_ROUNDING.get(rounding)
    mode = "rn" if rounding is None or integral is not None else rounding

    def convert(a):
        x = widen(flush_f32(a) if ftz and src == "f32" else a, src)
        x = integral(x) if integral is not None else x
        r = round_pair(x, 0.0, dst, mode)
        return flush_f32(r) if ftz and dst == "f32" else r

    return convert


def _saturated(fn):
    def saturated(a):
        return saturate(np.asarray(fn(a)))

    return saturated


def _floating(t: str) -> bool:
    return is_float(t) or t in HALF


def decode_cvt(ins: Instruction, ctx: DecodeContext):
    if len(ins.operands) == 3:
        return decode_cvt_pair(ins, ctx)
    f = form(ins)
    dst, src, rounding = f.get("dtype"), f.get("atype"), f.get("rounding")
    if src in F8_TO_F16:
        return decode_cvt_f8_pair(ins, ctx)
    for t in (dst, src):
        if t not in DTYPES or t == "pred" or t.endswith("x2"):
            raise Unsupported(f"cvt with .{t} is not modelled")
    sat = bool(f.get("sat"))
    if not _floating(dst) and not _floating(src):
        fn = _int_to_int(dst, src, sat)
    elif _floating(src) and not _floating(dst):
        if rounding not in INT_ROUNDING:
            raise Unsupported("float-to-integer cvt needs .rni, .rzi, .rmi or .rpi")
        fn = _float_to_int(dst, src, rounding)
    elif not _floating(src):
        if rounding not in (None, *MODES):
            raise Unsupported(f"integer-to-float cvt with .{rounding}: needs .rn/.rz/.rm/.rp")
        fn = _int_to_float(dst, rounding or "rn")
    else:
        fn = _float_to_float(dst, src, rounding, bool(f.get("ftz")))
    if sat and _floating(dst):
        if dst == "bf16":
            raise Unsupported("cvt.sat to .bf16 is not modelled")
        fn = _saturated(fn)
    return build(ins, ctx, (src,), dst, fn)


SEMANTICS = {
    "mov": Semantics(
        decode_mov,
        "registers, immediates, special registers, shared symbol addresses; "
        ".b32/.b64 packing and unpacking of register vectors",
    ),
    "cvt": Semantics(
        decode_cvt,
        "int<->int (.sat); int->f16/bf16/f32/f64 and float narrowing in .rn/.rz/.rm/.rp, "
        "correctly rounded; float widening; float->int (.rni/.rzi/.rmi/.rpi, clamped, NaN to 0); "
        "float->integral float; .ftz (f32), .sat; .rn.f16x2/.bf16x2.f32 d, hi, lo; "
        ".rn.f16x2.e4m3x2/.e5m2x2 (exact)",
    ),
    "cvta": Semantics(decode_cvta, "identity (one flat address space)"),
}
