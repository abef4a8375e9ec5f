"""Lesson step 3: the sequence split over warps and the cross-warp merge, as the multi-warp
kernel's debug variant records them, next to the float64 reference's stages. It runs the
kernel through `explorer.verify.verify`; the figures are `explorer.plots`'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import verify
from ..kernels import MultiWarpIncrementalAttentionKernel
from ..verify import Comparison, WarpStates


@dataclass(frozen=True)
class DebugRun:
    """One debug run: the kernel, its inputs, its output and recorded `states`, the float64
    `reference` states, the output's comparison with the reference, and where the recorded
    states differ from the reference's (empty when they match)."""

    kernel: MultiWarpIncrementalAttentionKernel
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    seq_len: int
    out: np.ndarray
    states: WarpStates
    reference: WarpStates
    comparison: Comparison
    state_problems: list[str]
    backend: str

    def warp_table(self, head: int = 0, merge: bool = False) -> str:
        """Head `head`'s warps as text: the chunk each walked, its local max m_w and local sum
        l_w (before the merge), and the head's M and L; with `merge`, also each warp's merge
        factor exp(m_w - M) and its share of the softmax mass (the lesson's first exercise
        asks for a factor, so the table it reads from leaves them out)."""
        s = self.states
        header = f"{'warp':>4} {'chunk':>11} {'m_w':>9} {'l_w':>9}"
        lines = [header + (f" {'factor':>9} {'share':>7}" if merge else "")]
        for w in range(s.num_warps):
            chunk = f"[{s.chunk_start[head, w]}, {s.chunk_end[head, w]})"
            row = f"{w:>4} {chunk:>11} {s.m[head, w]:9.4f} {s.l[head, w]:9.4f}"
            if merge:
                row += f" {s.factor[head, w]:9.4f} {100 * s.share[head, w]:6.1f}%"
            lines.append(row)
        lines.append(f"M = {s.M[head]:.4f}, L = {s.L[head]:.4f}")
        return "\n".join(lines)


def debug_run(
    seq_len: int = 203,
    num_warps: int = 4,
    head_dim: int = 64,
    num_heads: int = 8,
    num_kv_heads: int = 2,
    max_seq_len: int = 256,
    kind: str = "normal",
    seed: int = 7,
    backend: str = "sim",
) -> DebugRun:
    """Run the multi-warp kernel's debug variant on `backend` and compare its output and its
    record with `reference.attention` and `reference.warp_states` (`explorer.verify`)."""
    kernel = MultiWarpIncrementalAttentionKernel(
        max_seq_len, head_dim, num_heads, num_kv_heads, num_warps, debug=True
    )
    got = verify.verify(kernel, backend, seq_len, inputs=kind, seed=seed)
    return DebugRun(
        kernel,
        got.q,
        got.k,
        got.v,
        seq_len,
        got.out,
        got.states,
        got.reference_states,
        got.comparison,
        list(got.state_problems),
        backend,
    )
