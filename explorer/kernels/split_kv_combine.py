"""The merge of the split-KV kernel's splits: per (q head, sequence), the log-sum-exp merge of
the splits' partial outputs, written in the kernel's dtype. Either its own entry (one thread
per head-dim element), or the end of the split entry, run by the last CTA of a group
(`merge_in_last_cta`): one launch instead of two.

The number of splits is an immediate and the splits are read in chunks of `CHUNK`
independent loads, merged online (a running max, rescaled when a chunk raises it): one L2
latency per chunk. A rolled loop waited one latency per split, twice (66 splits cost about
20 us that way on an H200).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ptx import Kernel, KernelBuilder
from ..ptx.ir import Address, Guard, Reg
from .common import maybe_guard
from .online_softmax import NEG_INF, exp2_diff, rescale_factor, running_max
from .split_kv_debug import SplitRecorder
from .split_kv_setup import Ids, Pointers, head_elements, kv_index, q_head_row
from .vector_io import DTYPES, store_value

if TYPE_CHECKING:
    from .split_kv import SplitKVDecodeAttentionKernel as SplitKV

CHUNK = 32  # splits read at once per thread in the combine (3 loads each)


def build_combine(k: SplitKV) -> Kernel:
    """`out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s`, M = max_s m_s (log2 units);
    zeros where no position was attended."""
    b = KernelBuilder(k.combine_entry)
    syms = [b.param(n, "u64") for n in ("partial_o_ptr", "partial_ml_ptr", "out_ptr")]
    b.comment(f"phase: setup (q head, sequence, element; {k.num_splits} splits)")
    po, pml, out = (b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(s))) for s in syms)
    rec = SplitRecorder(b, k.debug_layout) if k.debug else None
    head, seq, elem = b.special("ctaid.x"), b.special("ctaid.y"), b.special("tid.x")
    in_row = b.op("setp.lt.u32", elem, k.head_dim)
    row = b.op("mad.lo.u32", seq, k.num_heads, head)  # (sequence, q head)
    if k.pdl:  # launched while the split kernel runs: its partials are complete after this
        b.op("griddepcontrol.wait")
    merge_and_store(b, k, row, elem, in_row, po, pml, out, "ld.global.f32", rec)
    b.op("ret")
    return b.build()


def merge_and_store(b: KernelBuilder, k: SplitKV, row: Reg, elem: Reg, in_row: Reg | None, po: Reg,
                    pml: Reg, out: Reg, load: str, rec: SplitRecorder | None = None) -> None:
    """Merge the splits of `row` (sequence * num_heads + q head) for element `elem` (in the row
    where `in_row`; always if None) and store it to out; partials read with `load` (`.cg`
    where other CTAs wrote them in this launch). `rec`: record the merge (debug)."""
    ml = b.op("mad.wide.u32", b.op("mul.lo.u32", row, k.num_splits), 8, pml)
    o_flat = b.op("mad.lo.u32", row, k.num_splits * k.head_dim, elem)
    o_base = b.op("mad.wide.u32", o_flat, 4, po)
    b.comment(f"phase: merge the splits, {CHUNK} at a time (online log-sum-exp)")
    big_m, big_l, acc = b.op("mov.f32", NEG_INF), b.op("mov.f32", 0.0), b.op("mov.f32", 0.0)
    split_m = []
    for chunk in _chunks(range(k.num_splits)):
        loads = [_load_split(b, ml, o_base, s, k.head_dim, in_row, load) for s in chunk]
        split_m += [m for m, _, _ in loads]
        new_m = running_max(b, big_m, [m for m, _, _ in loads])
        safe, rescale = rescale_factor(b, big_m, new_m)
        b.set(big_l, "mul.f32", big_l, rescale)
        b.set(acc, "mul.f32", acc, rescale)
        for m, l, o in loads:
            f = exp2_diff(b, m, safe)
            b.set(big_l, "fma.rn.f32", l, f, big_l)
            b.set(acc, "fma.rn.f32", o, f, acc)
        b.set(big_m, "mov.f32", new_m)
    if rec:
        rec.merge(row, elem, split_m, big_m, big_l)
    b.comment("phase: normalise and store")
    value = b.op("mov.f32", 0.0)
    nonempty = b.op("setp.neu.f32", big_l, 0.0)  # NaN stays NaN; 0 -> zeros
    b.set(value, "div.rn.f32", acc, big_l, guard=Guard(nonempty))
    flat = b.op("mad.lo.u32", row, k.head_dim, elem)
    addr = b.op("mad.wide.u32", flat, DTYPES[k.dtype], out)
    store_value(b, Address(addr), value, k.dtype, guard=maybe_guard(in_row))


def _chunks(splits: range) -> list[range]:
    return [splits[i:i + CHUNK] for i in range(0, len(splits), CHUNK)]


def _load_split(b: KernelBuilder, ml: Reg, o_base: Reg, s: int, head_dim: int, in_row: Reg,
                load: str):
    """Split s's max and sum (adjacent: one `.v2` load) and this thread's partial output
    element (0 past head_dim)."""
    m, l = b.op(load.replace(".f32", ".v2.f32"), Address(ml, 8 * s)).regs
    if in_row is None:
        return m, l, b.op(load, Address(o_base, 4 * s * head_dim))
    o = b.op("mov.f32", 0.0)
    b.set(o, load, Address(o_base, 4 * s * head_dim), guard=Guard(in_row))
    return m, l, o


def merge_in_last_cta(b: KernelBuilder, k: SplitKV, ids: Ids, ptrs: Pointers, base: Reg,
                      rec: SplitRecorder | None = None) -> None:
    """The end of the split entry when it merges: every thread makes its partial writes
    visible (`membar.gl`), thread 0 counts the CTA in (`atom.add` on the group's counter), and
    the CTA that counts last merges the group's q heads (reading the partials past L1, `.cg`)
    and resets the counter to 0 for the next launch. `base` is the shared word thread 0
    passes the count through (the warps' records, read by then); `rec` records the merge."""
    b.comment("phase: the last CTA of this (sequence, KV head) merges the splits")
    b.op("membar.gl")
    b.op("bar.sync", 0)
    counter = b.op("mad.wide.u32", kv_index(b, k, ids), 4, ptrs.counters)
    thread0 = b.op("setp.eq.u32", ids.tid, 0)
    with b.if_(thread0, "count"):
        before = b.op("atom.global.add.u32", Address(counter), 1)
        b.op("st.shared.u32", Address(base), before)
    b.op("bar.sync", 0)
    before = b.op("ld.shared.u32", Address(base))
    not_last = b.op("setp.ne.u32", before, k.num_splits - 1)
    b.op("ret", guard=Guard(not_last))
    b.op("membar.gl")
    with head_elements(b, k, ids, "merge") as (head, elem):
        row = q_head_row(b, k, ids, head)
        merge_and_store(b, k, row, elem, None, ptrs.partial_o, ptrs.partial_ml, ptrs.out,
                        "ld.global.cg.f32", rec)
    b.op("st.global.u32", Address(counter), 0, guard=Guard(thread0))
