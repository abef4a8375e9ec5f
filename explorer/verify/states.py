"""`WarpStates`: what each warp of a seed decode-attention kernel held at the cross-warp merge,
and `SplitStates`: what each split (and each warp of a split) of the split-KV kernel held
before the log-sum-exp merge, as NumPy arrays with named fields. The debug kernels write them,
`explorer.verify.reference` computes them (`warp_states`, `split_states`), and
`explorer.plots` draws them. Only data and derived quantities live here.

`EXACT` names the integer fields a comparison must find equal (the rest are floats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class WarpStates:
    """Per head and warp (`[num_heads, num_warps]`): `chunk_start`, `chunk_end` (the half-open
    range of positions the warp walked), `m` (its local max of scaled scores; -inf if empty),
    `l` (its local sum of exp(s - m), before the merge) and `factor` (the merge factor
    exp(m - M); 0 for an empty warp). Per head (`[num_heads]`): `M` (global max; -inf when no
    position) and `L` (global sum). `scores` (`[num_heads, recorded]`): the scaled score of each
    of the first `recorded = min(seq_len, score slots)` positions."""

    EXACT: ClassVar[tuple[str, ...]] = ("chunk_start", "chunk_end")

    chunk_start: np.ndarray
    chunk_end: np.ndarray
    m: np.ndarray
    l: np.ndarray
    factor: np.ndarray
    M: np.ndarray
    L: np.ndarray
    scores: np.ndarray

    @property
    def num_heads(self) -> int:
        return self.m.shape[0]

    @property
    def num_warps(self) -> int:
        return self.m.shape[1]

    @property
    def share(self) -> np.ndarray:
        """Each warp's share of the final softmax mass, l * factor / L (0 where L is 0)."""
        L = np.asarray(self.L, dtype=np.float64)[:, None]
        mass = np.asarray(self.l, dtype=np.float64) * self.factor
        return np.divide(mass, L, out=np.zeros_like(mass), where=L > 0)

    @property
    def weights(self) -> np.ndarray:
        """Softmax weight of each recorded position, exp(score - M) / L (0 where L is 0)."""
        M = np.asarray(self.M, dtype=np.float64)[:, None]
        L = np.asarray(self.L, dtype=np.float64)[:, None]
        safe_m = np.where(np.isfinite(M), M, 0.0)
        e = np.exp(np.asarray(self.scores, dtype=np.float64) - safe_m)
        return np.divide(e, L, out=np.zeros_like(e), where=L > 0)

    def owner(self) -> np.ndarray:
        """The warp that owned each recorded position (int, `[recorded]`), from head 0's chunks
        (the split is the same for every head)."""
        positions = np.arange(self.scores.shape[1])
        return np.searchsorted(self.chunk_end[0], positions, side="right")


@dataclass(frozen=True)
class SplitStates:
    """The split-KV kernel's states, per sequence first. Per (sequence, q head, split)
    (`[batch, num_heads, num_splits]`): `start`, `end` (the half-open range of positions the
    split walked), `m` (its partial max of scores, in log2 units: scale * q.k * log2 e, as the
    kernel keeps it in `partial_ml`; -inf for an empty split), `l` (its partial sum of
    2^(s - m) = exp(s' - m'), natural units s', m' = s, m / log2 e; 0 if empty) and `weight`
    (its merge weight 2^(m - M) = exp(m' - M'); 0 for an empty split). Per (sequence, q head,
    split, warp) (`[..., num_warps]`): `warp_m`, `warp_l`, each warp's local max (log2 units)
    and sum before the CTA merged its warps. Per (sequence, q head) (`[batch, num_heads]`):
    `M` (the global max, log2 units; -inf when the sequence is empty) and `L` (the global
    sum, sum_s l_s * weight_s)."""

    EXACT: ClassVar[tuple[str, ...]] = ("start", "end")

    start: np.ndarray
    end: np.ndarray
    m: np.ndarray
    l: np.ndarray
    warp_m: np.ndarray
    warp_l: np.ndarray
    weight: np.ndarray
    M: np.ndarray
    L: np.ndarray

    @property
    def batch(self) -> int:
        return self.m.shape[0]

    @property
    def num_heads(self) -> int:
        return self.m.shape[1]

    @property
    def num_splits(self) -> int:
        return self.m.shape[2]

    @property
    def num_warps(self) -> int:
        return self.warp_m.shape[3]

    @property
    def share(self) -> np.ndarray:
        """Each split's share of the final softmax mass, l * weight / L (0 where L is 0)."""
        L = np.asarray(self.L, dtype=np.float64)[..., None]
        mass = np.asarray(self.l, dtype=np.float64) * self.weight
        return np.divide(mass, L, out=np.zeros_like(mass), where=L > 0)
