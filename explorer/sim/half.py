"""Half-precision data: `cvt` between f16/bf16 and f32/f64, the pair conversion
`cvt.rn.{f16x2,bf16x2}.f32 d, hi, lo`, and `mov.bN` packing and unpacking of registers
(`mov.b32 {%rs1, %rs2}, %r1`: the first register is the low half).

Values are moved and converted, not computed on: f16/bf16 arithmetic is not modelled (the
module `mma` widens them to float64 for the one instruction that computes on them). f16 uses
NumPy's float16 (IEEE binary16, conversions rounded to nearest even); NumPy has no bfloat16, so a
bf16 is its 16 bits: f32 -> bf16 rounds to nearest even on the bits, NaN gives 0x7FFF.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import KIND_BITS, Instruction, Reg, Vector
from .operands import DecodeContext, Unsupported, form, reader, writer
from .ops import build

HALF = frozenset({"f16", "bf16"})
BF16_NAN = np.uint16(0x7FFF)
PAIRS = {"f16x2": "f16", "bf16x2": "bf16"}


def bf16_to_f32(bits) -> np.ndarray:
    return (np.asarray(bits, dtype=np.uint32) << np.uint32(16)).view(np.float32)


def f32_to_bf16(x) -> np.ndarray:
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)
    return np.where(np.isnan(x), BF16_NAN, rounded.astype(np.uint16))


def half_cvt(dst: str, src: str, rounding: str | None):
    """The conversion function of a cvt with a half type on either side."""
    if src in HALF and dst in ("f32", "f64"):
        widen = bf16_to_f32 if src == "bf16" else (lambda a: np.asarray(a, np.float32))
        return lambda a: widen(a).astype(dst == "f32" and np.float32 or np.float64)
    if dst in HALF and src in ("f32", "f64") and rounding == "rn":
        if dst == "f16":  # NumPy rounds f32 and f64 to binary16 once, to nearest even
            return lambda a: np.asarray(a).astype(np.float16)
        if src == "f32":
            return f32_to_bf16
    raise Unsupported(f"cvt.{rounding or ''}.{dst}.{src} is not modelled")


def decode_cvt_pair(ins: Instruction, ctx: DecodeContext):
    """`cvt.rn.{f16x2,bf16x2}.f32 d, hi, lo`: d's upper 16 bits are `hi` rounded to the half
    type, its lower 16 bits `lo` (CUDA's `__floats2half2_rn(x, y)` passes y first: x lands low).
    Each half is rounded exactly as the scalar `cvt.rn.{f16,bf16}.f32` rounds it."""
    types = form(ins).types
    if types[0] not in PAIRS or types[1] != "f32":
        raise Unsupported(
            f"{ins.name}: a three-operand cvt is modelled only as "
            "cvt.rn.f16x2.f32 or cvt.rn.bf16x2.f32 (d, hi, lo)"
        )
    if set(ins.modifiers) != {"rn", *types}:
        raise Unsupported(f"{ins.name}: only .rn pair conversions are modelled")
    to_half = half_cvt(PAIRS[types[0]], "f32", "rn")

    def pack(hi, lo):
        hi_bits = np.asarray(to_half(hi)).view(np.uint16).astype(np.uint32)
        lo_bits = np.asarray(to_half(lo)).view(np.uint16).astype(np.uint32)
        return (hi_bits << np.uint32(16)) | lo_bits

    return build(ins, ctx, ("f32", "f32"), types[0], pack)


def decode_mov_vector(ins: Instruction, ctx: DecodeContext, t: str):
    """`mov.bN {lo, hi}, src` (unpack) or `mov.bN dst, {lo, hi}` (pack)."""
    dst, src = ins.operands
    if isinstance(dst, Vector) and not isinstance(src, Vector):
        parts = dst.regs
        shifts = _shifts(parts, t)  # first: it rejects predicate registers
        read = reader(ins, src, t, ctx)
        writes = [writer(ins, r, f"b{KIND_BITS[r.kind]}") for r in parts]

        def unpack(m, sel):
            value = np.asarray(read(m, sel), dtype=np.uint64)
            for write, shift, reg in zip(writes, shifts, parts, strict=True):
                mask = np.uint64((1 << KIND_BITS[reg.kind]) - 1)
                write(m, sel, (value >> np.uint64(shift)) & mask)

        return unpack
    if isinstance(src, Vector) and isinstance(dst, Reg):
        parts = src.regs
        shifts = _shifts(parts, t)
        reads = [reader(ins, r, f"b{KIND_BITS[r.kind]}", ctx) for r in parts]
        write = writer(ins, dst, t)

        def pack(m, sel):
            value = np.uint64(0)
            for read, shift in zip(reads, shifts, strict=True):
                value = value | (np.asarray(read(m, sel), dtype=np.uint64) << np.uint64(shift))
            write(m, sel, np.asarray(value).astype(f"u{int(t[1:]) // 8}"))

        return pack
    raise Unsupported("mov between two vectors")


def _shifts(parts: tuple[Reg, ...], t: str) -> list[int]:
    if t not in ("b32", "b64") or any(r.kind == "p" for r in parts):
        raise Unsupported(f"vector mov of .{t}")
    shifts, at = [], 0
    for r in parts:
        shifts.append(at)
        at += KIND_BITS[r.kind]
    if at != int(t[1:]):
        raise Unsupported(f"{len(parts)} registers do not split a .{t} exactly")
    return shifts
