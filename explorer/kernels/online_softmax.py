"""The online-softmax algebra every kernel emits, written once: scores in log2 units and
masked to -inf, the safe max, the exp-difference factors (natural units for the seed kernels,
log2 units for split-KV), the rescale of a running sum, and the bounds of the chunk of
positions one warp or split walks.

Each function names the exact PTX it emits, in order; the registers it creates are created
in that order too (the emitted PTX of every kernel depends on it). What a kernel does with the
factors (which registers it rescales, where it loads the values) stays in the kernel. PTX
through the builder only.
"""

from __future__ import annotations

from ..ptx import KernelBuilder
from ..ptx.ir import Reg

LOG2E = 1.4426950408889634  # ex2 is the only hardware exp: exp(x) = ex2(x * log2 e)
NEG_INF = float("-inf")


def log2_score(b: KernelBuilder, dot: Reg, scale: float) -> Reg:
    """A score in log2 units, `dot * scale * log2 e` (`mul.f32` by one immediate), so that
    every later exponential is a bare `ex2` (`exp2_diff`)."""
    return b.op("mul.f32", dot, scale * LOG2E)


def masked_score(b: KernelBuilder, score: Reg, valid: Reg) -> Reg:
    """`score` where `valid`, else -inf (weight 0, and no effect on the max): `selp.f32 %f,
    score, 0fFF800000, valid`."""
    return b.op("selp.f32", score, NEG_INF, valid)


def safe_max(b: KernelBuilder, m: Reg) -> Reg:
    """`m`, or 0 while m is -inf (nothing seen yet), so that `x - safe` is never
    `-inf - -inf` (NaN): `setp.eq.f32 %p, m, 0fFF800000` then `selp.f32 %f, 0f00000000, m, %p`.
    """
    empty = b.op("setp.eq.f32", m, NEG_INF)
    return b.op("selp.f32", 0.0, m, empty)


def exp_diff(b: KernelBuilder, a: Reg, c: Reg) -> Reg:
    """`exp(a - c) = 2^((a - c) log2 e)` for values in natural units: `sub.f32`,
    `mul.f32` by log2 e, `ex2.approx.f32`."""
    return b.op("ex2.approx.f32", b.op("mul.f32", b.op("sub.f32", a, c), LOG2E))


def exp2_diff(b: KernelBuilder, a: Reg, c: Reg) -> Reg:
    """`2^(a - c)` for values already in log2 units (scores times scale * log2 e):
    `sub.f32`, `ex2.approx.ftz.f32`."""
    return b.op("ex2.approx.ftz.f32", b.op("sub.f32", a, c))


def running_max(b: KernelBuilder, first: Reg, values: list[Reg]) -> Reg:
    """`max(first, values...)` as a chain of `max.f32`, left to right (`first` if empty)."""
    big = first
    for v in values:
        big = b.op("max.f32", big, v)
    return big


def rescale_factor(b: KernelBuilder, m_old: Reg, m_new: Reg, natural: bool = False
                   ) -> tuple[Reg, Reg]:
    """`(safe, corr)`: `safe = safe_max(m_new)` and the factor that rescales what was summed
    under the old max, `corr = exp(m_old - safe)` (`exp_diff`; `exp2_diff` unless
    `natural`)."""
    safe = safe_max(b, m_new)
    return safe, (exp_diff if natural else exp2_diff)(b, m_old, safe)


def online_weights(b: KernelBuilder, m_old: Reg, m_new: Reg, xs: list[Reg],
                   natural: bool = False) -> tuple[Reg, list[Reg]]:
    """One online-softmax step, or one log-sum-exp merge: `rescale_factor(m_old, m_new)`,
    then the weight of each x under the new max, `exp(x - safe)`. Returns `(corr, weights)`;
    the caller rescales its sum and outputs by corr and commits `m_new` to its running max."""
    safe, corr = rescale_factor(b, m_old, m_new, natural)
    diff = exp_diff if natural else exp2_diff
    return corr, [diff(b, x, safe) for x in xs]


def rescale_sum(b: KernelBuilder, l: Reg, corr: Reg, weights: list[Reg]) -> None:
    """`l = l * corr + sum(weights)` in place: `mul.f32 l, l, corr`, then one `add.f32` per
    weight."""
    b.set(l, "mul.f32", l, corr)
    for w in weights:
        b.set(l, "add.f32", l, w)


def chunk_bounds(b: KernelBuilder, length: Reg, parts: int | Reg, index: Reg
                 ) -> tuple[Reg, Reg]:
    """`[start, end)` of chunk `index` when `length` positions are cut into `parts` chunks of
    `ceil(length / parts)` (empty past the end): `add.u32` (after `sub.u32 parts, 1` when
    parts is a register), `div.u32`, `mul.lo.u32`, `min.u32`, `add.u32`, `min.u32`."""
    parts_less_one = parts - 1 if isinstance(parts, int) else b.op("sub.u32", parts, 1)
    chunk = b.op("div.u32", b.op("add.u32", length, parts_less_one), parts)
    start = b.op("min.u32", b.op("mul.lo.u32", index, chunk), length)
    end = b.op("min.u32", b.op("add.u32", start, chunk), length)
    return start, end
