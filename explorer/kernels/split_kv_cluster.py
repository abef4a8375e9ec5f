"""The split-KV kernel's `merge="cluster"` (sm_90+): one launch per step, the splits of one
(sequence, KV head) merging through distributed shared memory instead of a global workspace
and a second kernel.

The `num_splits` CTAs of a (sequence, KV head) form one thread-block cluster (the entry
declares `.reqnctapercluster num_splits, 1, 1`, so a plain launch runs the grid as clusters:
cluster rank = split). Each CTA merges its warps as the other merges do, but keeps its
split's partial (unnormalised output, max in log2 units and sum per q head of the group) in a
record after the warps' records in its own shared memory. A cluster barrier
(`barrier.cluster.arrive.release` / `wait.acquire`) publishes the records; then CTA r merges
a contiguous slice r of the group's (q head, element) pairs, reading every split's max, sum
and output element through `mapa.shared::cluster` + `ld.shared::cluster`, and writes the
normalised output in the kernel's dtype. A second cluster barrier keeps every CTA's shared
memory alive until all remote reads are done.

PTX through the builder only; the configuration, the refusals and the launch are
`split_kv.py`'s, the phases before this one `split_kv_build.py`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ptx import KernelBuilder
from ..ptx.ir import Address, Guard, Reg, SpecialReg, Vector
from .online_softmax import exp2_diff, running_max, safe_max
from .split_kv_setup import Ids, Pointers, head_elements, q_head_row
from .vector_io import DTYPES, store_value

if TYPE_CHECKING:
    from .split_kv import SplitKVDecodeAttentionKernel as SplitKV

MAX_CLUSTER = 8  # the portable cluster size: splits of one KV head that merge in a cluster
# At most 8 splits by default, fewer where the CTAs of every (sequence, KV head) would
# overfill one wave (batches): on an H200, 8 KV heads x 8 CTAs of one SM each fit at once
DEFAULT_CLUSTER_SPLITS = MAX_CLUSTER
CLUSTERS_SINCE = (9, 0)  # thread-block clusters and distributed shared memory
PARAMS = ("q_ptr", "k_ptr", "v_ptr", "seq_lens_ptr", "out_ptr")


def check_cluster_splits(num_splits: int) -> None:
    """ValueError unless `num_splits` CTAs fit one portable cluster."""
    if not 1 <= num_splits <= MAX_CLUSTER:
        raise ValueError(
            f"num_splits={num_splits} with merge='cluster': the splits of one KV head form one "
            f"thread-block cluster (accepted: 1..{MAX_CLUSTER}, the portable cluster size; "
            "16, sm_90's non-portable maximum, would not be co-resident: 8 KV heads x 16 CTAs "
            "of one SM each do not fit 132 SMs in one wave)")


def load_cluster_pointers(b: KernelBuilder, params: tuple[tuple[str, str], ...]) -> Pointers:
    """`ld.param.u64` and `cvta.to.global.u64` of q, k, v, seq_lens and out (no workspace;
    e4m3's `.f32` scales after them are declared here and loaded by `load_scales`)."""
    syms = [b.param(n, t) for n, t in params if t == "u64"]
    for n, t in params:
        if t != "u64":
            b.param(n, t)
    b.comment("phase: setup (split = cluster rank, KV head, sequence, this lane's slots)")
    q, k, v, lens, out = (
        b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(s))) for s in syms
    )
    return Pointers(q, k, v, lens, None, None, out=out)


def merge_in_cluster(b: KernelBuilder, k: SplitKV, ids: Ids, ptrs: Pointers, base: Reg,
                     merge_warps, width: int) -> None:
    """The end of the split entry with merge="cluster". `base`: the warps' records in shared
    memory; the split's record follows them. `merge_warps(b, k, base, head, elem)` is the
    warps' merge (`split_kv_build.merge_warp_records`) of `width` consecutive elements: (M, L,
    output elements, ...)."""
    b.comment("phase: final sum (merge warps; keep this split's partial in shared memory)")
    part = b.op("add.u32", base, k.num_warps * k.warp_record_bytes)
    with head_elements(b, k, ids, "pairs", width) as (head, elem):
        big_m, big_l, outs = merge_warps(b, k, base, head, elem)[:3]
        rec = b.op("mad.lo.u32", head, k.record_words * 4, part)
        b.op(f"st.shared.v{width}.f32", Address(b.op("mad.lo.u32", elem, 4, rec)),
             Vector(outs))
        first = b.op("setp.eq.u32", elem, 0)
        b.op("st.shared.v2.f32", Address(rec, k.head_dim * 4), Vector((big_m, big_l)),
             guard=Guard(first))
    b.comment("phase: cluster barrier (every split's partial is in its shared memory)")
    b.op("barrier.cluster.arrive.release.aligned")
    b.op("barrier.cluster.wait.acquire.aligned")
    merge_slice(b, k, ids, ptrs, part)
    b.comment("phase: cluster barrier (no CTA exits while others read its shared memory)")
    b.op("barrier.cluster.arrive.release.aligned")
    b.op("barrier.cluster.wait.acquire.aligned")


def merge_slice(b: KernelBuilder, k: SplitKV, ids: Ids, ptrs: Pointers, part: Reg) -> None:
    """CTA r (cluster rank) merges pairs [r * chunk, min((r + 1) * chunk, pairs)) of the group:
    per pair, every split's m, l and output element from its record (`mapa` to rank s, then
    `ld.shared::cluster`), the log-sum-exp merge, and the store in the kernel's dtype."""
    pairs = k.group * k.head_dim
    chunk = -(-pairs // k.num_splits)
    b.comment(f"phase: merge the {k.num_splits} splits of {chunk} (q head, element) pairs "
              "from the cluster's shared memory")
    rank = b.op("mov.u32", SpecialReg("cluster_ctarank"))
    start = b.op("mad.lo.u32", rank, chunk, ids.tid)
    stop = b.op("min.u32", b.op("mad.lo.u32", rank, chunk, chunk), pairs)
    with b.loop(start, stop, "slice", step=32 * k.num_warps) as idx:
        head, elem = b.op("div.u32", idx, k.head_dim), b.op("rem.u32", idx, k.head_dim)
        rec = b.op("mad.lo.u32", head, k.record_words * 4, part)
        col = b.op("mul.lo.u32", elem, 4)
        ms, ls, os = [], [], []
        for s in range(k.num_splits):
            remote = b.op("mapa.shared::cluster.u32", rec, s)
            m, l = b.op("ld.shared::cluster.v2.f32", Address(remote, k.head_dim * 4)).regs
            ms.append(m)
            ls.append(l)
            os.append(b.op("ld.shared::cluster.f32", Address(b.op("add.u32", remote, col))))
        safe = safe_max(b, running_max(b, ms[0], ms[1:]))
        big_l, acc = b.op("mov.f32", 0.0), b.op("mov.f32", 0.0)
        for m, l, o in zip(ms, ls, os, strict=True):
            f = exp2_diff(b, m, safe)
            b.set(big_l, "fma.rn.f32", l, f, big_l)
            b.set(acc, "fma.rn.f32", o, f, acc)
        value = b.op("mov.f32", 0.0)
        nonempty = b.op("setp.neu.f32", big_l, 0.0)  # NaN stays NaN; an empty sequence: 0
        b.set(value, "div.rn.f32", acc, big_l, guard=Guard(nonempty))
        flat = b.op("mad.lo.u32", q_head_row(b, k, ids, head), k.head_dim, elem)
        addr = b.op("mad.wide.u32", flat, DTYPES[k.dtype], ptrs.out)
        store_value(b, Address(addr), value, k.dtype)
