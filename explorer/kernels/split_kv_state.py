"""The split-KV kernel's online-softmax state in registers: per q head a running max (log2
units), a running sum and this lane's output elements; the update over a step of rows and the
merge of two states. PTX through the builder only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ptx import KernelBuilder
from ..ptx.ir import Reg
from .common import NEG_INF


@dataclass
class SoftmaxStates:
    """Per q head: running max (log2 units), sum and this lane's output elements."""

    m: list[Reg]
    l: list[Reg]
    o: list[list[Reg]]

    @staticmethod
    def initial(b: KernelBuilder, heads: int, elems: int) -> SoftmaxStates:
        return SoftmaxStates(
            [b.op("mov.f32", NEG_INF) for _ in range(heads)],
            [b.op("mov.f32", 0.0) for _ in range(heads)],
            [[b.op("mov.f32", 0.0) for _ in range(elems)] for _ in range(heads)],
        )

    def update(self, b: KernelBuilder, i: int, scores: list[Reg], values: list[list[Reg]]):
        """Online softmax over `len(scores)` rows at once (scores of invalid rows are -inf)."""
        m_new = self.m[i]
        for s in scores:
            m_new = b.op("max.f32", m_new, s)
        safe = finite_or_zero(b, m_new)
        corr = b.op("ex2.approx.ftz.f32", b.op("sub.f32", self.m[i], safe))
        p = [b.op("ex2.approx.ftz.f32", b.op("sub.f32", s, safe)) for s in scores]
        b.set(self.l[i], "mul.f32", self.l[i], corr)
        for pu in p:
            b.set(self.l[i], "add.f32", self.l[i], pu)
        for e, o in enumerate(self.o[i]):
            b.set(o, "mul.f32", o, corr)
            for pu, v in zip(p, values, strict=True):
                b.set(o, "fma.rn.f32", pu, v[e], o)
        b.set(self.m[i], "mov.f32", m_new)

    def merge(self, b: KernelBuilder, i: int, m2: Reg, l2: Reg, o2: list[Reg]) -> None:
        """Fold another state (m2, l2, o2) of the same head into this one."""
        m_new = b.op("max.f32", self.m[i], m2)
        safe = finite_or_zero(b, m_new)
        f1 = b.op("ex2.approx.ftz.f32", b.op("sub.f32", self.m[i], safe))
        f2 = b.op("ex2.approx.ftz.f32", b.op("sub.f32", m2, safe))
        b.set(self.l[i], "mul.f32", self.l[i], f1)
        b.set(self.l[i], "fma.rn.f32", l2, f2, self.l[i])
        for o, other in zip(self.o[i], o2, strict=True):
            b.set(o, "mul.f32", o, f1)
            b.set(o, "fma.rn.f32", other, f2, o)
        b.set(self.m[i], "mov.f32", m_new)


def finite_or_zero(b: KernelBuilder, m: Reg) -> Reg:
    """m, or 0 where m is -inf (nothing seen yet), so that m - safe is never -inf - -inf."""
    empty = b.op("setp.eq.f32", m, NEG_INF)
    return b.op("selp.f32", 0.0, m, empty)
