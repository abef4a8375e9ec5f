"""Arithmetic on f16, bf16 and their packed pairs f16x2/bf16x2: `add`, `sub`, `mul`, `fma`
(and `mad`), `min`, `max`, `neg`, `abs`, and `setp` on f16/bf16.

Each half is widened to float64 exactly and the operation computed exactly there (a sum by
TwoSum, a product of two halves is exact, so is fma's), then rounded once to the half type in
the instruction's rounding (`.rn` by default; `.rz/.rm/.rp` too, through `rounding`). `.ftz`
flushes f16 subnormal inputs and results to zero of the same sign; `.sat` clamps to [0, 1]
(NaN to +0). A pair computes its halves independently (the low 16 bits are element 0).
`min`/`max`: one NaN gives the other, `.NaN` propagates NaN; `neg`/`abs` flip or clear the
sign bit. NaN payloads are NumPy's, not the hardware's canonical 0x7FFF. It knows no memory.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import Instruction
from .operands import DecodeContext, Unsupported, form, reader, writer
from .rounding import round_pair, round_sum

F64 = np.float64
U16 = np.uint16
SIGN, F16_TINY = U16(0x8000), 2.0**-14  # smallest normal f16
PAIRED = {"f16x2": "f16", "bf16x2": "bf16"}
HALF_TYPES = frozenset({"f16", "bf16", *PAIRED})


def widen(bits: np.ndarray, kind: str) -> np.ndarray:
    """16-bit patterns of f16 or bf16 as exact float64."""
    bits = np.asarray(bits, U16)
    if kind == "bf16":
        return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(F64)
    return bits.view(np.float16).astype(F64)


def _flush(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < F16_TINY, np.copysign(0.0, x), x)


def _finish(rounded, kind: str, ftz: bool, sat: bool) -> np.ndarray:
    """A result already rounded to `kind`, as its 16 bits, with `.ftz` and `.sat` applied."""
    bits = np.asarray(rounded).view(U16)
    if not (ftz or sat):
        return bits
    r = widen(bits, kind)
    if ftz:
        r = _flush(r)
    if sat:
        r = np.where(np.isnan(r), 0.0, np.clip(r, 0.0, 1.0))
    return np.asarray(round_pair(r, 0.0, kind)).view(U16)  # exact: r is a half already


def _arith(opcode: str, nan: bool):
    """fn(mode, ftz, sat, kind, *float64 sources) -> 16-bit results."""
    pick = {"min": np.minimum if nan else np.fmin, "max": np.maximum if nan else np.fmax}

    def fn(mode, ftz, sat, kind, *xs):
        xs = [_flush(x) for x in xs] if ftz else xs
        if opcode in ("add", "sub"):
            r = round_sum(xs[0], xs[1] if opcode == "add" else -xs[1], kind, mode)
        elif opcode == "mul":
            r = round_pair(xs[0] * xs[1], 0.0, kind, mode)  # the product is exact in float64
        elif opcode in ("fma", "mad"):
            r = round_sum(xs[0] * xs[1], xs[2], kind, mode)
        else:
            r = round_pair(pick[opcode](xs[0], xs[1]), 0.0, kind)  # exact: one of the sources
        return _finish(r, kind, ftz, sat)

    return fn


def _sign_op(opcode: str):
    def fn(mode, ftz, sat, kind, bits):
        bits = np.asarray(bits, U16)
        if ftz and kind == "f16":  # a subnormal becomes zero of its sign first
            bits = np.where((bits & U16(0x7C00)) == 0, bits & SIGN, bits)
        return bits ^ SIGN if opcode == "neg" else bits & ~SIGN

    return fn


def _lanes(words: np.ndarray, t: str) -> list[np.ndarray]:
    """The 16-bit elements of values of type t (one, or low then high of a pair)."""
    if t in PAIRED:
        w = np.asarray(words, np.uint32)
        return [(w & np.uint32(0xFFFF)).astype(U16), (w >> np.uint32(16)).astype(U16)]
    return [np.asarray(words).view(U16) if t == "f16" else np.asarray(words, U16)]


def decode_half(ins: Instruction, ctx: DecodeContext, t: str):
    """The decoder of a half-typed add/sub/mul/fma/mad/min/max/neg/abs."""
    f = form(ins)
    kind, mode = PAIRED.get(t, t), f.get("rounding") or "rn"
    if mode not in ("rn", "rz", "rm", "rp"):
        raise Unsupported(f"rounding .{mode} of .{t} arithmetic")
    ftz, sat = bool(f.get("ftz")) and kind == "f16", bool(f.get("sat"))
    by_bits = ins.opcode in ("neg", "abs")
    fn = _sign_op(ins.opcode) if by_bits else _arith(ins.opcode, bool(f.get("NaN")))
    reads = [reader(ins, op, t, ctx) for op in ins.operands[1:]]
    write = writer(ins, ins.operands[0], t)

    def run(m, sel):
        per_source = [_lanes(read(m, sel), t) for read in reads]
        halves = []
        for k in range(len(per_source[0])):
            sources = [s[k] if by_bits else widen(s[k], kind) for s in per_source]
            halves.append(np.asarray(fn(mode, ftz, sat, kind, *sources), U16))
        if t in PAIRED:
            write(m, sel, halves[0].astype(np.uint32) | (halves[1].astype(np.uint32) << 16))
        else:
            write(m, sel, halves[0].view(np.float16) if t == "f16" else halves[0])

    return run


def half_compare(fn, t: str, ftz: bool):
    """A setp comparison of two f16/bf16 sources, on their exact float64 values."""

    def compare(a, b):
        x, y = widen(_lanes(a, t)[0], t), widen(_lanes(b, t)[0], t)
        return fn(_flush(x), _flush(y)) if ftz else fn(x, y)

    return compare
