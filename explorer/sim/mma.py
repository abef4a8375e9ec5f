"""`mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 {d0..d3}, {a0..a3}, {b0, b1},
{c0..c3}`: per warp, D = A (16x16) x B (16x8) + C (16x8), gathered from and scattered back to the
32 lanes' fragments in the PTX ISA's layout (g = lane >> 2, t = lane & 3; a .b32 register holds
two halves, the lower-indexed element in its low 16 bits):

    A: a0 = A[g, 2t..2t+1]   a1 = A[g+8, 2t..2t+1]   a2 = A[g, 2t+8..2t+9]   a3 = A[g+8, 2t+8..2t+9]
    B: b0 = B[2t..2t+1, g]   b1 = B[2t+8..2t+9, g]
    C, D: c0, c1 = C[g, 2t], C[g, 2t+1]   c2, c3 = C[g+8, 2t], C[g+8, 2t+1]

Arithmetic: each f16/bf16 product is exact in float64; the sum C + sum_k A[:, k] B[k, :] is
taken in float64 (k in order) and rounded once to f32. The hardware's accumulation order and
internal rounding are unspecified, so the card may differ in the last bits. Infinities and NaN
propagate as float64 arithmetic does; subnormal f16 inputs are kept.

Checked, where the hardware leaves the result undefined (`.aligned`): all 32 lanes of the warp
execute this mma together (none diverged, none exited, the warp is not a partial one). A guard
is applied by the scheduler: a warp whose guard is false everywhere skips the mma, one whose
guard holds on only some lanes is reported as not converged (a warp that arrives partly
diverged with its guard false on every lane present skips it unreported). Other shapes, layouts
and types raise `Unsupported`.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import KIND_BITS, Instruction, Reg, Vector
from .half import bf16_to_f32
from .operands import DecodeContext, Semantics, Unsupported, form, reader, writer
from .warp import warp_bits

WARP = 32
FULL_MASK = np.uint64(0xFFFFFFFF)
SHAPE = ("m16n8k16", "row", "col")  # shape, A's layout, B's layout
MODELLED = "mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 (A and B one type)"


def _widen_f16(bits: np.ndarray) -> np.ndarray:
    return bits.astype(np.uint16).view(np.float16).astype(np.float64)


def _widen_bf16(bits: np.ndarray) -> np.ndarray:
    return bf16_to_f32(bits).astype(np.float64)


WIDEN = {"f16": _widen_f16, "bf16": _widen_bf16}


def fragment_layout() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per operand, (row, col) index arrays: entry [lane, register(, half)] is the matrix
    element that lane's register (half) holds."""
    lane = np.arange(WARP)
    g, t = (lane >> 2)[:, None, None], (lane & 3)[:, None, None]
    half = np.arange(2)[None, None, :]
    reg_row = np.array([0, 8, 0, 8])[None, :, None]
    reg_col = np.array([0, 0, 8, 8])[None, :, None]
    a = (np.broadcast_to(g + reg_row, (WARP, 4, 2)), 2 * t + reg_col + half)
    b_k = 2 * t + np.array([0, 8])[None, :, None] + half
    b = (b_k, np.broadcast_to(g, b_k.shape))
    g2, t2 = g[:, :, 0], t[:, :, 0]
    c = (g2 + np.array([0, 0, 8, 8]), 2 * t2 + np.array([0, 1, 0, 1]))
    return {"a": a, "b": b, "c": c}


LAYOUT = fragment_layout()


def _halves(words: np.ndarray, widen) -> np.ndarray:
    """(..., R) packed .b32 words -> (..., R, 2) float64 halves, low half first."""
    words = words.astype(np.uint32)
    bits = np.stack([words & np.uint32(0xFFFF), words >> np.uint32(16)], axis=-1)
    return widen(bits)


def multiply_accumulate(a_words, b_words, c, widen) -> np.ndarray:
    """Per warp, D's fragments: (W, 32, 4) float32 from A (W, 32, 4) and B (W, 32, 2) packed
    words and C (W, 32, 4) float32."""
    w = len(a_words)
    a_mat, b_mat, acc = np.empty((w, 16, 16)), np.empty((w, 16, 8)), np.empty((w, 16, 8))
    a_mat[(slice(None), *LAYOUT["a"])] = _halves(a_words, widen)
    b_mat[(slice(None), *LAYOUT["b"])] = _halves(b_words, widen)
    acc[(slice(None), *LAYOUT["c"])] = c
    for k in range(16):  # a fixed order: the result does not depend on the BLAS
        acc += a_mat[:, :, k, None] * b_mat[:, None, k, :]
    return acc.astype(np.float32)[(slice(None), *LAYOUT["c"])]


def check_whole_warps(m, sel, ins: Instruction) -> None:
    """Raise unless every warp with a thread in `sel` has all 32 lanes in `sel`."""
    idx = m.indices(sel)
    short = m.warp_lanes[idx] < WARP
    if short.any():
        lanes = int(m.warp_lanes[idx][short][0])
        raise m.fail(
            f"mma.sync.aligned needs a warp of 32 lanes; this warp has {lanes} (the CTA's "
            f"{m.cta_threads} threads are not a multiple of 32)",
            ins,
            sel,
            short,
        )
    warp = m.global_warp[idx]
    missing = ~warp_bits(m, sel)[warp] & FULL_MASK
    if not missing.any():
        return
    bad = missing != 0
    first = int(missing[bad][0])
    exited = first & ~int(warp_bits(m, sel, ~m.exited)[warp][bad][0])
    lanes = [k for k in range(WARP) if first >> k & 1 and not exited >> k & 1]
    gone = [k for k in range(WARP) if exited >> k & 1]
    why = []
    if lanes:
        guard = f", or the guard {ins.guard} is not the same on every lane" if ins.guard else ""
        why.append(f"lane(s) {lanes} are not executing it with the thread (diverged{guard})")
    if gone:
        why.append(f"lane(s) {gone} have exited")
    raise m.fail(
        f"mma.sync.aligned not converged: {'; '.join(why)}; every lane of the warp must "
        "execute the same mma",
        ins,
        sel,
        bad,
    )


def _registers(ins: Instruction, op, what: str, count: int) -> tuple[Reg, ...]:
    if not isinstance(op, Vector) or len(op.regs) != count:
        raise Unsupported(f"mma: {what} must be a vector of {count} registers, got {op}")
    wrong = [str(r) for r in op.regs if r.kind == "p" or KIND_BITS[r.kind] != 32]
    if wrong:
        raise Unsupported(f"mma: {what} register(s) {wrong} are not 32-bit (%r or %f)")
    return op.regs


def decode_mma(ins: Instruction, ctx: DecodeContext):
    f = form(ins)
    types = f.types  # D, A, B, C
    if (
        (f.get("shape"), f.get("alayout"), f.get("blayout")) != SHAPE
        or (types[0], types[3]) != ("f32", "f32")
        or types[1] != types[2]
        or types[1] not in WIDEN
    ):
        raise Unsupported(f"{ins.name} is not modelled (only {MODELLED})")
    if len(ins.operands) != 4:
        raise Unsupported(f"mma needs 4 operands (D, A, B, C), got {len(ins.operands)}")
    d, a, b, c = (
        _registers(ins, op, what, n)
        for op, what, n in zip(ins.operands, "DABC", (4, 4, 2, 4), strict=True)
    )
    if len(set(d)) != len(d):
        raise Unsupported(f"mma: the destination registers {ins.operands[0]} must be distinct")
    read_a = [reader(ins, r, "b32", ctx) for r in a]
    read_b = [reader(ins, r, "b32", ctx) for r in b]
    read_c = [reader(ins, r, "f32", ctx) for r in c]
    writes = [writer(ins, r, "f32") for r in d]
    widen = WIDEN[types[1]]

    def run(m, sel):
        if not (isinstance(sel, slice) and m.full_warps):
            check_whole_warps(m, sel, ins)  # then `sel` is whole warps, each in lane order

        def fragments(readers):
            return np.stack([r(m, sel) for r in readers], axis=-1).reshape(-1, WARP, len(readers))

        out = multiply_accumulate(fragments(read_a), fragments(read_b), fragments(read_c), widen)
        for j, write in enumerate(writes):  # after every read: D may name C's registers
            write(m, sel, out[:, :, j].reshape(-1))

    return run


SEMANTICS = {
    "mma": Semantics(
        decode_mma,
        ".sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32: f64 sum rounded once "
        "to f32; whole warp checked",
    ),
}
