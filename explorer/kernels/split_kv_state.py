"""The split-KV kernel's online-softmax state in registers on the CUDA-core path: per q head a
running max (log2 units), a running sum and this lane's output elements; the update over a
step of rows and the merge of two states. The algebra itself is `online_softmax`'s. PTX
through the builder only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ptx import KernelBuilder
from ..ptx.ir import Reg
from .online_softmax import NEG_INF, online_weights, rescale_sum, running_max


@dataclass(frozen=True)
class SoftmaxStates:
    """Per q head: running max (log2 units), sum and this lane's output elements. The
    registers are loop-carried: updated in place (`b.set`), never replaced."""

    m: tuple[Reg, ...]
    l: tuple[Reg, ...]
    o: tuple[tuple[Reg, ...], ...]

    @staticmethod
    def initial(b: KernelBuilder, heads: int, elems: int) -> SoftmaxStates:
        return SoftmaxStates(
            tuple(b.op("mov.f32", NEG_INF) for _ in range(heads)),
            tuple(b.op("mov.f32", 0.0) for _ in range(heads)),
            tuple(tuple(b.op("mov.f32", 0.0) for _ in range(elems)) for _ in range(heads)),
        )

    def update(self, b: KernelBuilder, i: int, scores: list[Reg], values: list[list[Reg]]):
        """Online softmax over `len(scores)` rows at once (scores of invalid rows are -inf)."""
        m_new = running_max(b, self.m[i], scores)
        corr, p = online_weights(b, self.m[i], m_new, scores)
        rescale_sum(b, self.l[i], corr, p)
        for e, o in enumerate(self.o[i]):
            b.set(o, "mul.f32", o, corr)
            for pu, v in zip(p, values, strict=True):
                b.set(o, "fma.rn.f32", pu, v[e], o)
        b.set(self.m[i], "mov.f32", m_new)

    def merge(self, b: KernelBuilder, i: int, m2: Reg, l2: Reg, o2: list[Reg]) -> None:
        """Fold another state (m2, l2, o2) of the same head into this one."""
        m_new = b.op("max.f32", self.m[i], m2)
        f1, (f2,) = online_weights(b, self.m[i], m_new, [m2])
        b.set(self.l[i], "mul.f32", self.l[i], f1)
        b.set(self.l[i], "fma.rn.f32", l2, f2, self.l[i])
        for o, other in zip(self.o[i], o2, strict=True):
            b.set(o, "mul.f32", o, f1)
            b.set(o, "fma.rn.f32", other, f2, o)
        b.set(self.m[i], "mov.f32", m_new)
