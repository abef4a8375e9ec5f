"""The split entry of `SplitKVDecodeAttentionKernel` as PTX, phase by phase: setup
(`split_kv_setup.py`), the CUDA-core or tensor-core stream over the split's positions
(`split_kv_rows.py`, `split_kv_mma.py`), the merge of the CTA's warps into the split's
partial output, max and sum in the workspace, and with merge="last-cta" the merge of the
splits (`split_kv_combine.py`); with merge="cluster" the partials stay in shared memory
and the splits merge through the cluster (`split_kv_cluster.py`). Each phase returns a
frozen record of register handles that the next takes as an argument; loop-carried
registers are updated in place through the builder. The kernel's configuration, launches and
buffer shapes are `split_kv.py`'s.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ..ptx import Kernel, KernelBuilder
from ..ptx.ir import Address, Guard, Reg, SpecialReg, Vector
from . import split_kv_mma as mma
from . import split_kv_rows as rows
from .online_softmax import exp2_diff, running_max, safe_max
from .split_kv_cluster import load_cluster_pointers, merge_in_cluster
from .split_kv_combine import merge_in_last_cta
from .split_kv_debug import SplitRecorder
from .split_kv_setup import (
    Ids,
    Pointers,
    Scales,
    SplitRange,
    head_elements,
    load_ids,
    load_pointers,
    load_scales,
    q_head_row,
    split_range,
)

if TYPE_CHECKING:
    from .split_kv import SplitKVDecodeAttentionKernel as SplitKV


def build_split(k: SplitKV) -> Kernel:
    """The split entry of kernel `k` (a `SplitKVDecodeAttentionKernel`)."""
    # `.maxntid`: ptxas keeps registers within what one CTA of this size may use (16 warps:
    # 128 per thread), so a launch never fails for lack of registers
    b = KernelBuilder(k.entry, max_threads=32 * k.num_warps, cluster=k.cluster_dims)
    smem = b.shared("smem", "b8", k.shared_bytes, align=16)
    cluster = k.merge == "cluster"
    ptrs = load_cluster_pointers(b, k.params) if cluster else load_pointers(b, k.params)
    if k.pdl:  # the combine may launch now: its griddepcontrol.wait waits for this whole grid
        b.op("griddepcontrol.launch_dependents")
    ids = load_ids(b, ptrs.seq_lens)
    scales = load_scales(b, k)
    if k.mma:
        lanes = mma.mma_lanes(b, k, ids)
        q = mma.load_q_fragments(b, k, ids, lanes, ptrs.q)
        span = split_range(b, k.max_seq_len, ids)
        state = mma.stream_tiles(b, k, ids, lanes, q, span, ptrs.k, ptrs.v, scales)
        mma.reduce_quad_sum(b, state)
        base = mma.publish_tiles(b, k, ids, lanes, state, smem)
    else:
        lanes = rows.row_lanes(b, k, ids)
        q = rows.load_q(b, k, ids, lanes, ptrs.q)
        span = split_range(b, k.max_seq_len, ids)
        state = rows.stream_rows(b, k, ids, lanes, q, span, ptrs.k, ptrs.v, scales)
        rows.merge_row_slots(b, k, state)
        base = rows.publish_rows(b, k, ids, lanes, state, smem)
    if cluster:  # the splits of this KV head merge through the cluster's shared memory
        merge_in_cluster(b, k, ids, ptrs, base, functools.partial(
            merge_warp_records, v_scale=scales.value), MERGE_WIDTH)
        b.op("ret")
        return b.build()
    rec = SplitRecorder(b, k.debug_layout) if k.debug else None
    reduce_warps(b, k, ids, ptrs, base, scales, rec and (rec, span))
    if k.merge == "last-cta":
        merge_in_last_cta(b, k, ids, ptrs, base, rec)
    b.op("ret")
    return b.build()


# A thread merges this many consecutive elements of a head (`ld.shared.v4.f32` of each warp's
# outputs, `st.global.v4.f32` of the partial): head_dim is a multiple of 4 in every dtype
MERGE_WIDTH = 4


def reduce_warps(b: KernelBuilder, k: SplitKV, ids: Ids, ptrs: Pointers, base: Reg,
                 scales: Scales, debug: tuple[SplitRecorder, SplitRange] | None = None) -> None:
    """Threads share the (head, element) pairs, MERGE_WIDTH elements each: merge the warps'
    records at `base`, write the split's unnormalised output (times v_scale with e4m3 V: the
    merge is linear in it), its max (log2 units) and its sum to the workspace (and with
    `debug`, a recorder and the split's range, to the debug record)."""
    b.comment("phase: final sum (merge warps; write this split's partial output, max, sum)")
    with head_elements(b, k, ids, "pairs", MERGE_WIDTH) as (head, elem):
        big_m, big_l, outs, ms, ls = merge_warp_records(b, k, base, head, elem, scales.value)
        row = b.op("mad.lo.u32", q_head_row(b, k, ids, head),
                   b.op("mov.u32", SpecialReg("nctaid.x")), ids.split)
        flat = b.op("mad.lo.u32", row, k.head_dim, elem)
        b.op(f"st.global.v{MERGE_WIDTH}.f32",
             Address(b.op("mad.wide.u32", flat, 4, ptrs.partial_o)), Vector(outs))
        first = b.op("setp.eq.u32", elem, 0)
        ml = b.op("mad.wide.u32", row, 8, ptrs.partial_ml)
        b.op("st.global.v2.f32", Address(ml), Vector((big_m, big_l)), guard=Guard(first))
        if debug:
            recorder, span = debug
            recorder.split(row, span.start, span.end, big_m, big_l, ms, ls, first)


def merge_warp_records(b: KernelBuilder, k: SplitKV, base: Reg, head: Reg, elem: Reg,
                       v_scale: Reg | None = None):
    """The warps' records at `base` merged for (q head, elements elem .. elem + MERGE_WIDTH):
    the split's max M (log2 units), sum L and output elements (times `v_scale` when given:
    e4m3 V), and each warp's m_w and l_w as read (one `ld.shared.v2.f32` per warp; m and l
    are adjacent in its record)."""
    stride = k.warp_record_bytes
    rec = b.op("mad.lo.u32", head, k.record_words * 4, base)
    col = b.op("mad.lo.u32", elem, 4, rec)
    mls = [b.op("ld.shared.v2.f32", Address(rec, w * stride + k.head_dim * 4)).regs
           for w in range(k.num_warps)]
    ms, ls = [m for m, _ in mls], [l_w for _, l_w in mls]
    big_m = running_max(b, ms[0], ms[1:])
    safe = safe_max(b, big_m)
    big_l = b.op("mov.f32", 0.0)
    outs = [b.op("mov.f32", 0.0) for _ in range(MERGE_WIDTH)]
    for w, (m, l_w) in enumerate(mls):
        f = exp2_diff(b, m, safe)
        b.set(big_l, "fma.rn.f32", l_w, f, big_l)
        o_w = b.op(f"ld.shared.v{MERGE_WIDTH}.f32", Address(col, w * stride)).regs
        for out, o in zip(outs, o_w, strict=True):
            b.set(out, "fma.rn.f32", o, f, out)
    if v_scale is not None:
        for out in outs:
            b.set(out, "mul.f32", out, v_scale)
    return big_m, big_l, tuple(outs), ms, ls
