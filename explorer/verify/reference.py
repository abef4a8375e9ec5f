"""Float64 NumPy reference of decode attention with grouped-query attention (GQA).

What it is for: the ground truth the kernels, the simulator and the app compare against. It
mirrors the multi-warp kernel's stages so a mismatch can be located, not only detected:

1. ``warp_chunk_bounds``: which positions each warp walks.
2. ``warp_partials``: per warp, the local max ``m``, local sum ``l`` and unnormalised output ``o``.
3. ``cross_warp_merge``: the global max ``M``, global sum ``L``, merge factors and the output.

``attention`` is the direct softmax formula, independent of the warp split: the cross-check of
the staged path. The single-warp kernel is ``num_warps == 1``.

``split_states`` mirrors the split-KV kernel's stages the same way: the splits' ranges (the
chunk formula of the warps, over splits), each warp's and each split's partial max and sum,
and the log-sum-exp merge's weights, max and sum (maxes in log2 units, as the kernel keeps
them).

Layouts: q ``[num_heads, head_dim]``, k and v ``[num_kv_heads, max_seq_len, head_dim]``, out
``[num_heads, head_dim]``. GQA: ``kv_head = q_head * num_kv_heads // num_heads``. Only positions
``< seq_len`` are attended (no causal mask). ``seq_len == 0`` gives zeros, never NaN.

What it does not do: it is not fast, it does not model float32 rounding or the kernel's
``ex2``-based exponent (it computes in float64 with ``np.exp``), and it does not emit or run PTX.
``reference_output`` is the one bridge to a kernel object: its stored (rounded) inputs, its
layouts (batched or not) and its scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..dtypes import to_float64
from .states import SplitStates, WarpStates

LOG2E = math.log2(math.e)  # the split-KV kernel keeps scores and maxes in log2 units


@dataclass(frozen=True)
class Shapes:
    """Sizes inferred from q, k, v."""

    num_heads: int
    num_kv_heads: int
    max_seq_len: int
    head_dim: int


@dataclass(frozen=True)
class WarpPartials:
    """What each warp holds after walking its chunk (kernel steps 1-3).

    bounds: int64 ``[num_warps, 2]``, the half-open position range of each warp.
    m: float64 ``[num_heads, num_warps]``, local max of scaled scores (-inf for an empty warp).
    l: float64 ``[num_heads, num_warps]``, local sum of ``exp(s - m_w)`` (0 for an empty warp).
    o: float64 ``[num_heads, num_warps, head_dim]``, ``sum_j exp(s_j - m_w) v_j`` (0 if empty).
    """

    bounds: np.ndarray
    m: np.ndarray
    l: np.ndarray
    o: np.ndarray


@dataclass(frozen=True)
class Merged:
    """The cross-warp merge (kernel steps 4-7).

    M: float64 ``[num_heads]``, global max (-inf when seq_len == 0).
    L: float64 ``[num_heads]``, global sum ``sum_w l_w exp(m_w - M)`` (0 when seq_len == 0).
    factors: float64 ``[num_heads, num_warps]``, ``exp(m_w - M)``; 0 for empty warps.
    out: float64 ``[num_heads, head_dim]``, ``sum_w factors_w o_w / L``; zeros when L == 0.
    """

    M: np.ndarray
    L: np.ndarray
    factors: np.ndarray
    out: np.ndarray


def kv_head_of(q_head: int, num_heads: int, num_kv_heads: int) -> int:
    """The KV head that query head ``q_head`` reads (contiguous GQA groups)."""
    _check_head_counts(num_heads, num_kv_heads)
    if not 0 <= q_head < num_heads:
        raise ValueError(
            f"q_head={q_head} is out of range; accepted: 0 <= q_head < {num_heads}"
        )
    return q_head * num_kv_heads // num_heads


def warp_chunk_bounds(seq_len: int, num_warps: int) -> list[tuple[int, int]]:
    """Half-open position range ``[start, end)`` of each warp; empty ranges have start == end."""
    if seq_len < 0:
        raise ValueError(f"seq_len={seq_len} is negative; accepted: seq_len >= 0")
    _check_num_warps(num_warps)
    chunk = -(-seq_len // num_warps)  # ceil without float rounding
    return [
        (min(w * chunk, seq_len), min((w + 1) * chunk, seq_len))
        for w in range(num_warps)
    ]


def warp_partials(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    seq_len: int,
    num_warps: int,
    scale: float | None = None,
) -> WarpPartials:
    """Per-warp local max, local sum and unnormalised output, as each warp leaves them."""
    shapes = check_inputs(q, k, v, seq_len)
    _check_num_warps(num_warps)
    scores = scaled_scores(q, k, seq_len, _resolve_scale(scale, shapes.head_dim))
    v_per_q = _kv_per_q_head(np.asarray(v, dtype=np.float64), shapes)[:, :seq_len, :]
    bounds = warp_chunk_bounds(seq_len, num_warps)
    m = np.full((shapes.num_heads, num_warps), -np.inf)
    l_sum = np.zeros((shapes.num_heads, num_warps))
    o = np.zeros((shapes.num_heads, num_warps, shapes.head_dim))
    for w, (start, end) in enumerate(bounds):
        if start == end:
            continue  # an empty warp keeps m = -inf, l = 0, o = 0
        s = scores[:, start:end]
        m[:, w] = s.max(axis=1)
        p = np.exp(s - m[:, w, None])
        l_sum[:, w] = p.sum(axis=1)
        o[:, w, :] = np.einsum("ht,htd->hd", p, v_per_q[:, start:end, :])
    return WarpPartials(
        bounds=np.array(bounds, dtype=np.int64).reshape(num_warps, 2), m=m, l=l_sum, o=o
    )


def cross_warp_merge(partials: WarpPartials) -> Merged:
    """Merge the warps' partials: global max, global sum, merge factors and the output."""
    m = partials.m
    # Empty warps are masked explicitly, so -inf - -inf (NaN) is never computed.
    warp_has_positions = partials.bounds[:, 1] > partials.bounds[:, 0]
    has_positions = np.broadcast_to(warp_has_positions, m.shape)
    global_max = np.where(has_positions, m, -np.inf).max(axis=1)
    safe_m = np.where(has_positions, m, 0.0)
    safe_max = np.where(np.isfinite(global_max), global_max, 0.0)
    factors = np.where(has_positions, np.exp(safe_m - safe_max[:, None]), 0.0)
    global_sum = (partials.l * factors).sum(axis=1)
    weighted = np.einsum("hw,hwd->hd", factors, partials.o)
    safe_sum = np.where(global_sum > 0, global_sum, 1.0)
    out = np.where(global_sum[:, None] > 0, weighted / safe_sum[:, None], 0.0)
    return Merged(M=global_max, L=global_sum, factors=factors, out=out)


def warp_states(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    seq_len: int,
    num_warps: int,
    scale: float | None = None,
    score_slots: int | None = None,
) -> WarpStates:
    """The states a debug kernel records: chunk bounds, m, l, merge factors, M, L, and the
    scaled scores of the first `min(seq_len, score_slots)` positions (all when None)."""
    shapes = check_inputs(q, k, v, seq_len)
    scale = _resolve_scale(scale, shapes.head_dim)
    partials = warp_partials(q, k, v, seq_len, num_warps, scale)
    merged = cross_warp_merge(partials)
    recorded = seq_len if score_slots is None else min(seq_len, score_slots)
    heads = shapes.num_heads
    return WarpStates(
        chunk_start=np.broadcast_to(partials.bounds[:, 0], (heads, num_warps)).copy(),
        chunk_end=np.broadcast_to(partials.bounds[:, 1], (heads, num_warps)).copy(),
        m=partials.m,
        l=partials.l,
        factor=merged.factors,
        M=merged.M,
        L=merged.L,
        scores=scaled_scores(q, k, recorded, scale),
    )


def split_warp_of(offsets: np.ndarray, num_warps: int, warp_rows: int, unroll: int
                  ) -> np.ndarray:
    """The warp of a CTA that walks each position, from its offset in the split: each step
    of the CTA's loop covers `num_warps * warp_rows * unroll` positions, `unroll` rounds of
    `warp_rows` consecutive positions per warp, warp by warp."""
    round_ = np.asarray(offsets) % (num_warps * warp_rows * unroll) % (num_warps * warp_rows)
    return round_ // warp_rows


def split_states(q: np.ndarray, k: np.ndarray, v: np.ndarray, lengths, num_splits: int,
                 num_warps: int, warp_rows: int, unroll: int, scale: float | None = None
                 ) -> SplitStates:
    """The states the split-KV debug kernel records, for q ``[batch, num_heads, head_dim]``,
    k, v ``[batch, num_kv_heads, max_seq_len, head_dim]`` and one length per sequence: the
    splits' ranges, each warp's and split's partial max (log2 units) and sum, each split's
    merge weight exp(m_s - M), and the global max (log2 units) and sum."""
    batch, heads = np.shape(q)[:2]
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.int64), (batch,))
    split, warp = (batch, heads, num_splits), (batch, heads, num_splits, num_warps)
    start, end = np.zeros(split, np.int64), np.zeros(split, np.int64)
    m, l_sum = np.full(split, -np.inf), np.zeros(split)
    warp_m, warp_l = np.full(warp, -np.inf), np.zeros(warp)
    for b, n in enumerate(lengths):
        shapes = check_inputs(q[b], k[b], v[b], int(n))
        scores = scaled_scores(q[b], k[b], int(n), _resolve_scale(scale, shapes.head_dim))
        for s, (a, e) in enumerate(warp_chunk_bounds(int(n), num_splits)):
            start[b, :, s], end[b, :, s] = a, e
            owner = split_warp_of(np.arange(e - a), num_warps, warp_rows, unroll)
            for w in np.unique(owner):
                x = scores[:, a:e][:, owner == w]
                top = x.max(axis=1)
                warp_m[b, :, s, w] = top * LOG2E
                warp_l[b, :, s, w] = np.exp(x - top[:, None]).sum(axis=1)
            if e > a:
                top = scores[:, a:e].max(axis=1)
                m[b, :, s] = top * LOG2E
                l_sum[b, :, s] = np.exp(scores[:, a:e] - top[:, None]).sum(axis=1)
    big_m = m.max(axis=2)
    safe = np.where(np.isfinite(big_m), big_m, 0.0)[..., None]
    nonempty = np.isfinite(m)
    weight = np.where(nonempty, np.exp((np.where(nonempty, m, 0.0) - safe) / LOG2E), 0.0)
    return SplitStates(start=start, end=end, m=m, l=l_sum, warp_m=warp_m, warp_l=warp_l,
                       weight=weight, M=big_m, L=(l_sum * weight).sum(axis=2))


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    seq_len: int,
    scale: float | None = None,
) -> np.ndarray:
    """Direct softmax attention over positions ``< seq_len``; zeros when seq_len == 0."""
    shapes = check_inputs(q, k, v, seq_len)
    if seq_len == 0:
        return np.zeros((shapes.num_heads, shapes.head_dim))
    scores = scaled_scores(q, k, seq_len, _resolve_scale(scale, shapes.head_dim))
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    v_per_q = _kv_per_q_head(np.asarray(v, dtype=np.float64), shapes)[:, :seq_len, :]
    return np.einsum("ht,htd->hd", weights, v_per_q)


def reference_output(kernel, q, k, v, seq_len) -> np.ndarray:
    """float64 reference from a kernel's stored (rounded) inputs, in q's layout; `seq_len` an
    int or one per sequence. K and V stored in a `kv_dtype` of the kernel (e4m3) are
    dequantised with its `k_scale` and `v_scale`."""
    q64, k64, v64 = stored_values(kernel, q, k, v)
    if q64.ndim == 2:
        return attention(q64, k64, v64, int(np.ravel(seq_len)[0]), kernel.scale)
    lengths = np.broadcast_to(seq_len, (q64.shape[0],))
    return np.stack([
        attention(q64[b], k64[b], v64[b], int(n), kernel.scale) for b, n in enumerate(lengths)
    ])


def stored_values(kernel, q, k, v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values a kernel's stored q, K and V stand for, as float64: K and V in the kernel's
    `kv_dtype` when it has one (times its `k_scale`, `v_scale`), else all in its dtype."""
    kv_dtype = getattr(kernel, "kv_dtype", None)
    if not kv_dtype:
        return tuple(to_float64(x, kernel.dtype) for x in (q, k, v))
    return (to_float64(q, kernel.dtype), to_float64(k, kv_dtype) * kernel.k_scale,
            to_float64(v, kv_dtype) * kernel.v_scale)


def scaled_scores(
    q: np.ndarray, k: np.ndarray, seq_len: int, scale: float
) -> np.ndarray:
    """float64 ``[num_heads, seq_len]``: ``scale * q_h . k_{kv_head(h), t}``."""
    q64 = np.asarray(q, dtype=np.float64)
    k64 = np.asarray(k, dtype=np.float64)
    shapes = Shapes(q64.shape[0], k64.shape[0], k64.shape[1], q64.shape[1])
    k_per_q = _kv_per_q_head(k64, shapes)[:, :seq_len, :]
    return scale * np.einsum("hd,htd->ht", q64, k_per_q)


def check_inputs(q: np.ndarray, k: np.ndarray, v: np.ndarray, seq_len: int) -> Shapes:
    """Validate layouts and seq_len; return the inferred sizes. Raises ValueError."""
    if np.ndim(q) != 2:
        raise ValueError(
            f"q has shape {np.shape(q)}; accepted: 2-D [num_heads, head_dim]"
        )
    if np.ndim(k) != 3:
        raise ValueError(
            f"k has shape {np.shape(k)}; accepted: 3-D [num_kv_heads, max_seq_len, head_dim]"
        )
    if np.shape(v) != np.shape(k):
        raise ValueError(
            f"v has shape {np.shape(v)}; accepted: the shape of k, {np.shape(k)}"
        )
    num_heads, head_dim = np.shape(q)
    num_kv_heads, max_seq_len, kv_head_dim = np.shape(k)
    if kv_head_dim != head_dim:
        raise ValueError(
            f"k head_dim={kv_head_dim} differs from q head_dim={head_dim}; accepted: equal"
        )
    if head_dim < 1:
        raise ValueError(f"head_dim={head_dim}; accepted: head_dim >= 1")
    _check_head_counts(num_heads, num_kv_heads)
    if not 0 <= seq_len <= max_seq_len:
        raise ValueError(
            f"seq_len={seq_len} is out of range; accepted: 0 <= seq_len <= {max_seq_len}"
        )
    return Shapes(num_heads, num_kv_heads, max_seq_len, head_dim)


def _check_head_counts(num_heads: int, num_kv_heads: int) -> None:
    if num_kv_heads < 1:
        raise ValueError(f"num_kv_heads={num_kv_heads}; accepted: num_kv_heads >= 1")
    if num_heads < 1 or num_heads % num_kv_heads != 0:
        raise ValueError(
            f"num_heads={num_heads}; accepted: a positive multiple of num_kv_heads={num_kv_heads}"
        )


def _check_num_warps(num_warps: int) -> None:
    if num_warps < 1:
        raise ValueError(f"num_warps={num_warps}; accepted: num_warps >= 1")


def _resolve_scale(scale: float | None, head_dim: int) -> float:
    return 1.0 / math.sqrt(head_dim) if scale is None else float(scale)


def _kv_per_q_head(kv: np.ndarray, shapes: Shapes) -> np.ndarray:
    """Gather the KV head of each query head: ``[num_heads, max_seq_len, head_dim]``."""
    kv_heads = np.arange(shapes.num_heads) * shapes.num_kv_heads // shapes.num_heads
    return kv[kv_heads]
