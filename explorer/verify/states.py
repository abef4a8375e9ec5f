"""`WarpStates`: what each warp of a decode-attention kernel held at the cross-warp merge, as
NumPy arrays with named fields. The debug kernels write it, `explorer.verify.reference.warp_states`
computes it, and `explorer.plots` draws it. Only data and derived quantities live here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WarpStates:
    """Per head and warp (`[num_heads, num_warps]`): `chunk_start`, `chunk_end` (the half-open
    range of positions the warp walked), `m` (its local max of scaled scores; -inf if empty),
    `l` (its local sum of exp(s - m), before the merge) and `factor` (the merge factor
    exp(m - M); 0 for an empty warp). Per head (`[num_heads]`): `M` (global max; -inf when no
    position) and `L` (global sum). `scores` (`[num_heads, recorded]`): the scaled score of each
    of the first `recorded = min(seq_len, score slots)` positions."""

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
