"""The lesson's split-KV step: a sequence split over CTAs, each split's partial max and sum as
the split-KV kernel's debug variant records them, and the log-sum-exp merge the combine kernel
does, for the reader to redo by hand (exercise 4). It runs the kernel through
`explorer.verify.verify`; it draws nothing.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .. import verify
from ..kernels import SplitKVDecodeAttentionKernel
from ..verify.states import SplitStates
from .exercises import Verdict, _close


@dataclass(frozen=True)
class SplitRun:
    """One run of the split-KV debug variant: the kernel, its recorded `states` and whether
    output and states match the float64 reference."""

    kernel: SplitKVDecodeAttentionKernel
    seq_len: int
    states: SplitStates
    passed: bool

    def split_table(self, head: int = 0) -> str:
        """Head `head`'s splits as text: positions, partial max m_s (log2 units) and partial
        sum l_s, before the merge. The merge weights and L are left out: exercise 4 asks for L."""
        s = self.states
        lines = [f"{'split':>5} {'positions':>12} {'m_s (log2)':>11} {'l_s':>9}"]
        for i in range(s.num_splits):
            span = f"[{s.start[0, head, i]}, {s.end[0, head, i]})"
            lines.append(f"{i:>5} {span:>12} {s.m[0, head, i]:11.4f} {s.l[0, head, i]:9.4f}")
        return "\n".join(lines)


def split_run(seq_len: int = 300, num_splits: int = 2, seed: int = 3,
              backend: str = "sim") -> SplitRun:
    """Run split-KV's debug variant (f32, 4 q / 2 KV heads, head_dim 64, `num_splits` splits)
    and check output and states against float64."""
    kernel = SplitKVDecodeAttentionKernel(max_seq_len=512, head_dim=64, num_heads=4,
                                          num_kv_heads=2, num_splits=num_splits, debug=True)
    got = verify.verify(kernel, backend, seq_len, seed=seed)
    return SplitRun(kernel, seq_len, got.states, got.passed)


def check_split_merge(answer: float | None, run: SplitRun, head: int = 0) -> Verdict:
    """Is `answer` the global sum L the combine computed for `head`, merging its splits
    (L = sum_s l_s * 2^(m_s - M), M = max_s m_s)?"""
    s = run.states
    if not 0 <= head < s.num_heads:
        raise ValueError(f"head={head}; accepted: 0..{s.num_heads - 1}")
    if answer is None:
        return Verdict(False, "no answer yet: replace None with a number")
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return Verdict(False, f"the answer must be a number, got {answer!r}")
    want, big_m = float(s.L[0, head]), float(s.M[0, head])
    weights = ", ".join(f"2^({m:.4f} - {big_m:.4f}) = {w:.4f}"
                        for m, w in zip(s.m[0, head], s.weight[0, head], strict=True))
    if _close(answer, want):
        return Verdict(True, f"L = sum_s l_s * 2^(m_s - M) = {want:.4f} (the combine kernel "
                       f"recorded {want:.4f}); the weights: {weights}")
    plain = float(s.l[0, head].sum())
    if _close(answer, plain):
        return Verdict(False, f"{answer}: that is sum_s l_s; each l_s was summed against its own "
                       "split's max m_s, so it must be rescaled to the global M first")
    natural = sum(float(l) * math.exp(float(m) - big_m)
                  for m, l in zip(s.m[0, head], s.l[0, head], strict=True))
    if _close(answer, natural):
        return Verdict(False, f"{answer}: m_s is in log2 units here (the kernel keeps "
                       "scale * q.k * log2 e, so its exponent is ex2): use 2^(m_s - M), not "
                       "e^(m_s - M)")
    return Verdict(False, f"{answer} is not L; M = max_s m_s = {big_m:.4f}, and each split "
                   "counts l_s * 2^(m_s - M)")
