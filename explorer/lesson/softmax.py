"""Lesson step 1: softmax and online softmax in NumPy, one position at a time as a warp walks
them, checked against `explorer.verify.reference`. Float64 with `exp` (the kernels use `ex2`
in f32); it runs no kernel.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..kernels import IncrementalAttentionKernel
from ..verify import Comparison, compare, make_inputs, reference


def softmax_naive(scores: Iterable[float]) -> np.ndarray:
    """exp(s) / sum exp(s) in float32, as a kernel without a max would compute it: exp
    overflows to inf past s = 88.7 and the result turns into NaN."""
    s = np.asarray(scores, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(s)
        return e / e.sum()


def softmax(scores: Iterable[float]) -> np.ndarray:
    """exp(s - max s) / sum exp(s - max s) in float64: the same values, never an overflow."""
    s = np.asarray(scores, dtype=np.float64)
    e = np.exp(s - s.max())
    return e / e.sum()


@dataclass(frozen=True)
class OnlineTrace:
    """One warp's online-softmax state after each position t: the running max `m[t]`, the
    rescale factor `corr[t] = exp(m[t-1] - m[t])`, the new weight `p[t] = exp(s_t - m[t])`, the
    running sum `l[t]` and the unnormalised output `o[t]`. `out = o[-1] / l[-1]`."""

    scores: np.ndarray
    m: np.ndarray
    corr: np.ndarray
    p: np.ndarray
    l: np.ndarray
    o: np.ndarray

    @property
    def out(self) -> np.ndarray:
        return self.o[-1] / self.l[-1]

    def table(self, limit: int = 12) -> str:
        """The first `limit` steps as text: t, s, m, corr, p, l."""
        lines = [f"{'t':>3} {'score':>9} {'m':>9} {'corr':>9} {'p':>9} {'l':>9}"]
        for t in range(min(limit, self.scores.size)):
            lines.append(
                f"{t:>3} {self.scores[t]:9.4f} {self.m[t]:9.4f} {self.corr[t]:9.4f} "
                f"{self.p[t]:9.4f} {self.l[t]:9.4f}"
            )
        return "\n".join(lines)


def online_softmax(
    scores: Iterable[float], values: np.ndarray | None = None, rescale: bool = True
) -> OnlineTrace:
    """Walk the positions one at a time as a kernel's warp does (`explorer.kernels.common.
    attend_position`): `m' = max(m, s)`, `corr = exp(m - m')`, `p = exp(s - m')`,
    `l = l*corr + p`, `o = o*corr + p*v`. `values` `[n, d]` defaults to the identity, so that
    `out` is the softmax itself. `rescale=False` plants the classic bug: `corr` is taken as 1,
    so what was summed against an older, smaller max is never corrected."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise ValueError("scores is empty; accepted: at least one score")
    v = np.eye(s.size) if values is None else np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != s.size:
        raise ValueError(f"values has shape {v.shape}; accepted: [{s.size}, d]")
    m, l_sum, o = -math.inf, 0.0, np.zeros(v.shape[1])
    rows = []
    for t, score in enumerate(s):
        m_new = max(m, float(score))
        corr = math.exp(m - m_new) if rescale else 1.0
        p = math.exp(score - m_new)
        l_sum = l_sum * corr + p
        o = o * corr + p * v[t]
        m = m_new
        rows.append((m, corr, p, l_sum, o))
    m_arr, corr_arr, p_arr, l_arr, o_arr = (np.array(col) for col in zip(*rows, strict=True))
    return OnlineTrace(s, m_arr, corr_arr, p_arr, l_arr, o_arr)


def lesson_inputs(
    seq_len: int = 16,
    head_dim: int = 8,
    num_heads: int = 1,
    num_kv_heads: int = 1,
    kind: str = "increasing",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q, k, v) float32 in the kernels' layouts, from `explorer.verify.make_inputs` (the tests'
    inputs): `kind="increasing"` makes every position raise the running max."""
    kernel = IncrementalAttentionKernel(seq_len, head_dim, num_heads, num_kv_heads)
    return make_inputs(kernel, np.random.default_rng(seed), kind)


def online_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, seq_len: int, head: int = 0, rescale: bool = True
) -> tuple[OnlineTrace, Comparison]:
    """`online_softmax` over head `head`'s scaled scores (`reference.scaled_scores`) and its KV
    head's values, and how its output compares with `reference.attention`."""
    shapes = reference.check_inputs(q, k, v, seq_len)
    if not 0 <= head < shapes.num_heads:
        raise ValueError(f"head={head}; accepted: 0..{shapes.num_heads - 1}")
    scale = 1.0 / math.sqrt(shapes.head_dim)
    scores = reference.scaled_scores(q, k, seq_len, scale)[head]
    kv = reference.kv_head_of(head, shapes.num_heads, shapes.num_kv_heads)
    trace = online_softmax(scores, np.asarray(v, np.float64)[kv, :seq_len], rescale)
    return trace, compare(trace.out, reference.attention(q, k, v, seq_len)[head])
