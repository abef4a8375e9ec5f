"""16-byte loads of f32, f16, bf16 and e4m3 data into f32 registers, the widening of e4m3
pairs to f16x2 and bf16x2 words, and stores of f32 values in a storage dtype: the memory side
of the split-KV kernel. PTX through the builder only.
"""

from __future__ import annotations

from ..dtypes import DTYPE_BYTES
from ..ptx import KernelBuilder
from ..ptx.ir import Address, Guard, Reg, Vector

DTYPES = DTYPE_BYTES  # storage dtype -> bytes per element, from the dtype table


def elements_per_chunk(dtype: str) -> int:
    """Elements in one 16-byte load."""
    return 16 // DTYPES[dtype]


def row_load_bytes(dtype: str) -> int:
    """Bytes of one `load_chunk`: 16, but 8 for e4m3 (8 elements, as many as f16's 16 bytes:
    the CUDA-core path keeps every element of a lane's row in an f32 register)."""
    return 8 if dtype == "e4m3" else 16


def load_chunk(
    b: KernelBuilder, addr: Address, dtype: str, dst: list[Reg], guard: Guard | None = None
) -> None:
    """Load `row_load_bytes(dtype)` bytes at `addr` into the f32 registers `dst` (4 for f32,
    8 for f16, bf16 and e4m3).

    f32: `ld.global.nc.v4.f32`. f16: `ld.global.nc.v4.b32`, `mov.b32 {%rs, %rs}` to unpack,
    `cvt.f32.f16`. bf16: the same load, then `shl.b32 16` / `and.b32 0xffff0000` straight into
    the f32 registers (a bf16 is the top half of an f32). e4m3: `ld.global.nc.v2.b32` (8
    bytes), `f16_words`, then as f16.
    """
    if dtype == "f32":
        b.set(Vector(tuple(dst)), "ld.global.nc.v4.f32", addr, guard=guard)
        return
    raw = Vector(tuple(b.fresh("b32") for _ in range(row_load_bytes(dtype) // 4)))
    b.set(raw, f"ld.global.nc.v{len(raw.regs)}.b32", addr, guard=guard)
    if dtype == "e4m3":
        for i, word in enumerate(f16_words(b, raw.regs, guard)):
            halves = Vector((b.fresh("b16"), b.fresh("b16")))
            b.set(halves, "mov.b32", word, guard=guard)
            b.set(dst[2 * i], "cvt.f32.f16", halves.regs[0], guard=guard)
            b.set(dst[2 * i + 1], "cvt.f32.f16", halves.regs[1], guard=guard)
        return
    for i, word in enumerate(raw.regs):
        lo, hi = dst[2 * i], dst[2 * i + 1]
        if dtype == "bf16":
            b.set(lo, "shl.b32", word, 16, guard=guard)
            b.set(hi, "and.b32", word, 0xFFFF0000, guard=guard)
        else:
            halves = Vector((b.fresh("b16"), b.fresh("b16")))
            b.set(halves, "mov.b32", word, guard=guard)
            b.set(lo, "cvt.f32.f16", halves.regs[0], guard=guard)
            b.set(hi, "cvt.f32.f16", halves.regs[1], guard=guard)


def store_value(b: KernelBuilder, addr: Address, value: Reg, dtype: str, guard=None) -> None:
    """Store one f32 value as `dtype` (round to nearest even for f16/bf16)."""
    if dtype == "f32":
        b.op("st.global.f32", addr, value, guard=guard)
        return
    narrow = b.op(f"cvt.rn.{dtype}.f32", value, guard=guard)
    b.op("st.global.b16", addr, narrow, guard=guard)


def f16_words(b: KernelBuilder, words, guard: Guard | None = None) -> list[Reg]:
    """Each b32 of four e4m3 codes as two f16x2 words (exact: every e4m3 value is an f16),
    in element order: `mov.b32 {%rs, %rs}` to split it, `cvt.rn.f16x2.e4m3x2` per half (the
    low byte becomes the low f16)."""
    out = []
    for word in words:
        pairs = Vector((b.fresh("b16"), b.fresh("b16")))
        b.set(pairs, "mov.b32", word, guard=guard)
        out += [b.op("cvt.rn.f16x2.e4m3x2", pair, guard=guard) for pair in pairs.regs]
    return out


def bf16_word(b: KernelBuilder, word: Reg) -> Reg:
    """An f16x2 word as bf16x2, exactly for values exact in both (every e4m3 value):
    `mov.b32 {%rs, %rs}`, `cvt.f32.f16` of each half, `cvt.rn.bf16x2.f32 d, hi, lo`."""
    halves = Vector((b.fresh("b16"), b.fresh("b16")))
    b.set(halves, "mov.b32", word)
    lo, hi = (b.op("cvt.f32.f16", h) for h in halves.regs)
    return b.op("cvt.rn.bf16x2.f32", hi, lo)
