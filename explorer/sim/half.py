"""Half-precision data: f16/bf16 widened to float64, the pair conversions
`cvt.rn.{f16x2,bf16x2}.f32 d, hi, lo` and `cvt.rn.f16x2.{e4m3x2,e5m2x2} d, a` (two 8-bit
floats to two f16, exactly), and `mov.bN` packing and unpacking of registers
(`mov.b32 {%rs1, %rs2}, %r1`: the first register is the low half).

f16 uses NumPy's float16 (IEEE binary16); NumPy has no bfloat16, so a bf16 is its 16 bits.
Rounding to either is `rounding`'s (every mode; a NaN gives bf16 0x7FFF); `convert` runs the
scalar `cvt`s, `halfmath` the arithmetic, `mma` the tensor-core products.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import E4M3_VALUES
from ..ptx.ir import KIND_BITS, Instruction, Reg, Vector
from .halfmath import widen as widen_bits
from .operands import DecodeContext, Unsupported, form, reader, writer
from .ops import build
from .rounding import round_pair

HALF = frozenset({"f16", "bf16"})
PAIRS = {"f16x2": "f16", "bf16x2": "bf16"}
F16_NAN = np.uint16(0x7FFF)  # the canonical NaN PTX's f16 conversions write
# f16 bits of each 8-bit float code: every e4m3 and e5m2 value is exact in f16 (e5m2 is the
# top byte of an f16, infinities and NaNs included); e4m3's NaN (0x7F, 0xFF) -> F16_NAN
F8_TO_F16 = {
    "e4m3x2": np.where(np.isnan(E4M3_VALUES), F16_NAN,
                       E4M3_VALUES.astype(np.float16).view(np.uint16)).astype(np.uint16),
    "e5m2x2": (np.arange(256, dtype=np.uint16) << np.uint16(8)),
}


def bf16_to_f32(bits) -> np.ndarray:
    return (np.asarray(bits, dtype=np.uint32) << np.uint32(16)).view(np.float32)


def widen(a, t: str) -> np.ndarray:
    """Values of float type t (f16 values, bf16 bits, f32, f64) as float64 (exact)."""
    if t == "f16":
        return widen_bits(np.asarray(a, np.float16).view(np.uint16), t)
    return widen_bits(a, t) if t == "bf16" else np.asarray(a, np.float64)


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
    half = PAIRS[types[0]]

    def pack(hi, lo):
        hi_bits = round_pair(hi, 0.0, half).view(np.uint16).astype(np.uint32)
        lo_bits = round_pair(lo, 0.0, half).view(np.uint16).astype(np.uint32)
        return (hi_bits << np.uint32(16)) | lo_bits

    return build(ins, ctx, ("f32", "f32"), types[0], pack)


def decode_cvt_f8_pair(ins: Instruction, ctx: DecodeContext):
    """`cvt.rn.f16x2.{e4m3x2,e5m2x2} d, a`: the 8-bit float in a's low byte becomes d's low
    f16, the one in its high byte d's high f16 (PTX ISA, cvt: the halves keep their order).
    Exact: no rounding happens. `.relu` is not modelled."""
    types = form(ins).types
    if types[0] != "f16x2" or set(ins.modifiers) != {"rn", *types}:
        raise Unsupported(f"{ins.name}: 8-bit float pairs convert only as "
                          "cvt.rn.f16x2.e4m3x2 or cvt.rn.f16x2.e5m2x2 (d, a)")
    table = F8_TO_F16[types[1]]

    def widen_pair(a):
        a = np.asarray(a, dtype=np.uint16)
        lo = table[a & np.uint16(0xFF)].astype(np.uint32)
        hi = table[a >> np.uint16(8)].astype(np.uint32)
        return (hi << np.uint32(16)) | lo

    return build(ins, ctx, ("b16",), "f16x2", widen_pair)


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
