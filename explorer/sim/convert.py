"""Semantics of `mov`, `cvta` and `cvt`: copies and conversions between types.

`cvt` covers integer widening/narrowing (C casts, `.sat` clamps), integer to float (`.rn`),
float to integer (`.rni/.rzi/.rmi/.rpi`, clamped to the destination range, NaN to 0, as the
ISA specifies), f32 <-> f64 (`.rn`) and rounding a float to an integral value; f16/bf16
conversions (the two-source `cvt.rn.f16x2.f32` too) and vector `mov` packing are in `half`.
`cvta` is the identity: generic, global and shared addresses are the same numbers in this
simulator (see `memory`).
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import Instruction, Vector
from .half import HALF, decode_cvt_pair, decode_mov_vector, half_cvt
from .operands import DecodeContext, Semantics, Unsupported, form, op_type
from .ops import build
from .values import DTYPES, bits_of, flush_f32, is_float, is_signed, saturate

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


def _float_to_int(dst: str, rounding: str):
    dt = DTYPES[dst]
    lo, hi = _int_range(dst)
    upper = float(hi + 1)  # a power of two, exact in f64
    below = np.nextafter(upper, 0.0)
    rnd = INT_ROUNDING[rounding]

    def convert(a):
        x = rnd(np.asarray(a, np.float64))
        safe = np.clip(np.nan_to_num(x, nan=0.0), float(lo), below)
        out = safe.astype(dt)
        return np.where(x >= upper, dt.type(hi), out).astype(dt)

    return convert


def _float_to_float(dst: str, rounding: str | None, ftz: bool):
    dt = DTYPES[dst]
    integral = INT_ROUNDING.get(rounding) if rounding else None

    def convert(a):
        x = flush_f32(a) if ftz and np.asarray(a).dtype == np.float32 else np.asarray(a)
        x = x.astype(dt)
        x = integral(x) if integral is not None else x
        return flush_f32(x) if ftz and dst == "f32" else x

    return convert


def _cast(dt: np.dtype):
    def cast(a):
        return np.asarray(a).astype(dt)

    return cast


def _saturated(fn):
    def saturated(a):
        return saturate(np.asarray(fn(a)))

    return saturated


def decode_cvt(ins: Instruction, ctx: DecodeContext):
    if len(ins.operands) == 3:
        return decode_cvt_pair(ins, ctx)
    f = form(ins)
    dst, src, rounding = f.get("dtype"), f.get("atype"), f.get("rounding")
    if dst in HALF or src in HALF:
        if set(ins.modifiers) - {"rn", dst, src}:
            raise Unsupported(f"{ins.name}: only .rn half conversions are modelled")
        return build(ins, ctx, (src,), dst, half_cvt(dst, src, rounding))
    for t in (dst, src):
        if t not in DTYPES or t == "pred" or t.endswith("x2"):
            raise Unsupported(f"cvt with .{t} is not modelled")
    sat = bool(f.get("sat"))
    if not is_float(dst) and not is_float(src):
        fn = _int_to_int(dst, src, sat)
    elif is_float(src) and not is_float(dst):
        if rounding not in INT_ROUNDING:
            raise Unsupported("float-to-integer cvt needs .rni, .rzi, .rmi or .rpi")
        fn = _float_to_int(dst, rounding)
    elif is_float(dst) and not is_float(src):
        if rounding not in (None, "rn"):
            raise Unsupported(f"integer-to-float cvt with .{rounding} is not modelled (.rn)")
        fn = _cast(DTYPES[dst])
    else:
        if rounding in ("rz", "rm", "rp"):
            raise Unsupported(f"cvt .{rounding} between floats is not modelled (.rn)")
        fn = _float_to_float(dst, rounding, bool(f.get("ftz")))
    if sat and is_float(dst):
        fn = _saturated(fn)
    if bits_of(dst) < 32 and is_float(dst):
        raise Unsupported(f"cvt to .{dst} is not modelled")
    return build(ins, ctx, (src,), dst, fn)


SEMANTICS = {
    "mov": Semantics(
        decode_mov,
        "registers, immediates, special registers, shared symbol addresses; "
        ".b32/.b64 packing and unpacking of register vectors",
    ),
    "cvt": Semantics(
        decode_cvt,
        "int<->int (.sat), int->float (.rn), float->int (.rni/.rzi/.rmi/.rpi, clamped), "
        "f32<->f64 (.rn), float->integral float; f16/bf16 <-> f32 (.rn), f16 <-> f64; "
        ".rn.f16x2/.bf16x2.f32 d, hi, lo",
    ),
    "cvta": Semantics(decode_cvta, "identity (one flat address space)"),
}
