"""The combine entry of the split-KV kernel: per (q head, sequence), the log-sum-exp merge of
the splits' partial outputs, written in the kernel's dtype. One thread per head-dim element.
"""

from __future__ import annotations

from ..ptx import Kernel, KernelBuilder
from ..ptx.ir import Address, Guard
from .common import NEG_INF
from .vector_io import DTYPES, store_value


def build_combine(k) -> Kernel:
    """`out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s`, M = max_s m_s (log2 units);
    zeros where no position was attended."""
    b = KernelBuilder(k.combine_entry)
    syms = [b.param(n, "u64") for n in ("partial_o_ptr", "partial_ml_ptr", "out_ptr")]
    splits = b.op("ld.param.u32", Address(b.param("num_splits", "u32")))
    b.comment("phase: setup (q head, sequence, element)")
    po, pml, out = (b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(s))) for s in syms)
    head, seq, elem = b.special("ctaid.x"), b.special("ctaid.y"), b.special("tid.x")
    in_row = b.op("setp.lt.u32", elem, k.head_dim)
    row0 = b.op("mul.lo.u32", b.op("mad.lo.u32", seq, k.num_heads, head), splits)
    b.comment("phase: global max over the splits")
    big_m = b.op("mov.f32", NEG_INF)
    with b.loop(0, splits, "max") as s:
        m = b.op("ld.global.f32", Address(b.op("mad.wide.u32", b.op("add.u32", row0, s), 8, pml)))
        b.set(big_m, "max.f32", big_m, m)
    empty = b.op("setp.eq.f32", big_m, NEG_INF)
    safe = b.op("selp.f32", 0.0, big_m, empty)
    b.comment("phase: rescale and sum the splits")
    big_l, acc = b.op("mov.f32", 0.0), b.op("mov.f32", 0.0)
    with b.loop(0, splits, "sum") as s:
        row = b.op("add.u32", row0, s)
        ml = b.op("mad.wide.u32", row, 8, pml)
        f = b.op("ex2.approx.ftz.f32", b.op("sub.f32", b.op("ld.global.f32", Address(ml)), safe))
        b.set(big_l, "fma.rn.f32", b.op("ld.global.f32", Address(ml, 4)), f, big_l)
        flat = b.op("mad.lo.u32", row, k.head_dim, elem)
        o = b.op("mov.f32", 0.0)
        b.set(o, "ld.global.f32", Address(b.op("mad.wide.u32", flat, 4, po)), guard=Guard(in_row))
        b.set(acc, "fma.rn.f32", o, f, acc)
    b.comment("phase: normalise and store")
    value = b.op("mov.f32", 0.0)
    nonempty = b.op("setp.gt.f32", big_l, 0.0)
    b.set(value, "div.rn.f32", acc, big_l, guard=Guard(nonempty))
    flat = b.op("mad.lo.u32", b.op("mad.lo.u32", seq, k.num_heads, head), k.head_dim, elem)
    addr = b.op("mad.wide.u32", flat, DTYPES[k.dtype], out)
    store_value(b, Address(addr), value, k.dtype, guard=Guard(in_row))
    b.op("ret")
    return b.build()
