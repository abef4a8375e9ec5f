"""Semantics of the bit-manipulation opcodes: `popc`, `clz`, `brev`, `bfind`, the funnel shift
`shf`, the bit fields `bfe`/`bfi` and `lop3`, as the PTX ISA's pseudo-code defines them.

Every function takes and returns NumPy arrays of the instruction's type; the counts (`popc`,
`clz`, `bfind`) are `.u32`. Shift and field amounts are read as `.u32` and clamped or masked
exactly as the ISA says (`shf.wrap` takes c mod 32, `shf.clamp` min(c, 32); `bfe`/`bfi` take
the low 8 bits of position and length). It knows no memory and no warps.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import IntImm
from .operands import Semantics, Unsupported, form, op_type, reader, writer
from .ops import build
from .values import DTYPES, UNSIGNED, bits_of, is_signed

U64 = np.uint64
M32 = U64(0xFFFFFFFF)
NONE = np.uint32(0xFFFFFFFF)  # bfind's "no such bit"
_BYTE_REVERSED = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


def _unsigned(a, t: str) -> np.ndarray:
    """The bits of `a` (type t) as an unsigned array of t's width, at least 1-D."""
    return np.atleast_1d(np.asarray(a)).view(UNSIGNED[DTYPES[t].itemsize])


def popcount(a, t: str) -> np.ndarray:
    return np.bitwise_count(_unsigned(a, t)).astype(np.uint32)


def bit_length(a, t: str) -> np.ndarray:
    """1 + the index of the highest one bit (0 for 0): smear it down, count the ones."""
    x = _unsigned(a, t).astype(U64)
    for s in (1, 2, 4, 8, 16, 32):
        x = x | (x >> U64(s))
    return np.bitwise_count(x).astype(np.uint32)


def count_leading_zeros(a, t: str) -> np.ndarray:
    return (np.uint32(bits_of(t)) - bit_length(a, t)).astype(np.uint32)


def reverse_bits(a, t: str) -> np.ndarray:
    x = _unsigned(a, t)
    nbytes = x.dtype.itemsize
    flipped = _BYTE_REVERSED[x.view(np.uint8).reshape(-1, nbytes)[:, ::-1]]
    return np.ascontiguousarray(flipped).view(x.dtype).reshape(x.shape).view(DTYPES[t])


def find_msb(a, t: str, shiftamt: bool) -> np.ndarray:
    """bfind: the highest bit that differs from the sign (for .s types: of ~a when a < 0)."""
    n = bits_of(t)
    x = np.atleast_1d(np.asarray(a))
    if is_signed(t):
        x = np.where(x < 0, ~x, x)
    length = bit_length(x, t).astype(np.int64)
    pos = np.where(shiftamt, n - length, length - 1)
    return np.where(length == 0, NONE, pos.astype(np.uint32)).astype(np.uint32)


def funnel_shift(left: bool, clamp: bool):
    """shf.{l,r}.{wrap,clamp}.b32: 32 bits of the 64-bit {b, a} shifted by n."""

    def shf(a, b, c):
        c = np.asarray(c, U64)
        n = np.minimum(c, U64(32)) if clamp else c & U64(31)
        wide = (np.asarray(b, U64) << U64(32)) | np.asarray(a, U64)
        if left:  # the upper 32 bits of {b, a} << n
            return ((wide << n) >> U64(32)).astype(np.uint32)
        return ((wide >> n) & M32).astype(np.uint32)

    return shf


def _ones(count) -> np.ndarray:
    """Masks of `count` low one bits (count 0..64) as uint64."""
    count = np.asarray(count, np.int64)
    return np.where(count >= 64, ~U64(0), (U64(1) << np.minimum(count, 63).astype(U64)) - U64(1))


def bit_field_extract(t: str):
    """bfe: len bits of a from bit pos, zero- or sign-extended (the sign is bit pos+len-1,
    clamped to the msb); pos and len are the low 8 bits of b and c."""
    n = bits_of(t)

    def bfe(a, b, c):
        x = _unsigned(a, t).astype(U64)
        pos = np.asarray(b, np.int64) & 0xFF
        length = np.asarray(c, np.int64) & 0xFF
        kept = np.clip(np.minimum(length, n - pos), 0, n)  # bits of a that exist
        field = np.where(pos >= n, U64(0), x >> np.minimum(pos, n - 1).astype(U64)) & _ones(kept)
        if is_signed(t):
            top = np.minimum(pos + length - 1, n - 1).astype(U64)
            sign = ((x >> top) & U64(1)).astype(bool) & (length > 0)
            field = np.where(sign, field | (~_ones(kept) & _ones(n)), field)
        return field.astype(UNSIGNED[n // 8]).view(DTYPES[t])

    return bfe


def bit_field_insert(t: str):
    """bfi: b with its bits pos..pos+len-1 replaced by the low bits of a (pos, len: low 8
    bits of c and d; bits past the msb are dropped)."""
    n = bits_of(t)

    def bfi(a, b, c, d):
        pos = np.asarray(c, np.int64) & 0xFF
        length = np.asarray(d, np.int64) & 0xFF
        kept = np.clip(np.minimum(length, n - pos), 0, n)
        shift = np.minimum(pos, n - 1).astype(U64)
        mask = np.where(pos >= n, U64(0), _ones(kept) << shift)
        x, y = _unsigned(a, t).astype(U64), _unsigned(b, t).astype(U64)
        out = (y & ~mask) | ((x << shift) & mask)
        return (out & _ones(n)).astype(UNSIGNED[n // 8]).view(DTYPES[t])

    return bfi


def logic3(lut: int):
    """lop3: bit i of d is bit (a_i b_i c_i, read as a 3-bit number) of the 8-bit table."""

    def lop3(a, b, c):
        a, b, c = (np.asarray(v, np.uint32) for v in (a, b, c))
        d = np.zeros(np.broadcast(a, b, c).shape, np.uint32)
        for k in range(8):
            if lut >> k & 1:
                d |= (a if k & 4 else ~a) & (b if k & 2 else ~b) & (c if k & 1 else ~c)
        return d

    return lop3


def _counting(fn):
    def decode(ins, ctx):
        t = op_type(ins)
        return build(ins, ctx, (t,), "u32", lambda a: fn(a, t))

    return decode


def decode_brev(ins, ctx):
    t = op_type(ins)
    return build(ins, ctx, (t,), t, lambda a: reverse_bits(a, t))


def decode_bfind(ins, ctx):
    t = op_type(ins)
    shiftamt = bool(form(ins).get("shiftamt"))
    return build(ins, ctx, (t,), "u32", lambda a: find_msb(a, t, shiftamt))


def decode_shf(ins, ctx):
    f = form(ins)
    fn = funnel_shift(f.get("direction") == "l", f.get("mode") == "clamp")
    return build(ins, ctx, ("b32", "b32", "u32"), "b32", fn)


def decode_bfe(ins, ctx):
    t = op_type(ins)
    return build(ins, ctx, (t, "u32", "u32"), t, bit_field_extract(t))


def _apply(ins, ctx, sources, types, dst_type: str, fn):
    """`build` for any number of sources: read `sources` as `types`, write fn's result."""
    reads = [reader(ins, op, t, ctx) for op, t in zip(sources, types, strict=True)]
    write = writer(ins, ins.operands[0], dst_type)
    return lambda m, sel: write(m, sel, fn(*(read(m, sel) for read in reads)))


def decode_bfi(ins, ctx):
    t = op_type(ins)
    return _apply(ins, ctx, ins.operands[1:], (t, t, "u32", "u32"), t, bit_field_insert(t))


def decode_lop3(ins, ctx):
    lut = ins.operands[4]
    if not isinstance(lut, IntImm) or not 0 <= lut.value <= 0xFF:
        raise Unsupported(f"lop3 needs an immediate truth table 0..255, got {lut}")
    return _apply(ins, ctx, ins.operands[1:4], ("b32",) * 3, "b32", logic3(lut.value))


SEMANTICS = {
    "shf": Semantics(decode_shf, ".l/.r with .wrap (c mod 32) and .clamp (min(c, 32)), .b32"),
    "popc": Semantics(_counting(popcount), ".b32 and .b64, a .u32 count"),
    "clz": Semantics(_counting(count_leading_zeros), ".b32 and .b64 (clz of 0 is the width)"),
    "brev": Semantics(decode_brev, ".b32 and .b64"),
    "bfind": Semantics(
        decode_bfind, ".u32/.u64/.s32/.s64, .shiftamt; 0xffffffff when no bit is found"
    ),
    "bfe": Semantics(decode_bfe, ".u32/.u64 (zero-extended), .s32/.s64 (sign-extended)"),
    "bfi": Semantics(decode_bfi, ".b32 and .b64"),
    "lop3": Semantics(decode_lop3, ".b32 with an immediate truth table"),
}
