"""What the split-KV kernel's CUDA-core and tensor-core paths share in the split entry: the
first phases and the frozen records they hand on (the global pointers from the parameters,
`Pointers`; this CTA's and this thread's coordinates, `Ids`; the positions this split walks,
`SplitRange`; the e4m3 K/V scales, `Scales`), the indices derived from them, and the warps'
records in shared memory that both paths publish to. PTX through the builder only; the
per-path lane layouts live in `split_kv_rows.py` and `split_kv_mma.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ptx import KernelBuilder
from ..ptx.ir import Address, Guard, Reg, Symbol
from .common import lane_and_warp
from .online_softmax import LOG2E, chunk_bounds, log2_score
from .vector_io import DTYPES

if TYPE_CHECKING:
    from .split_kv import SplitKVDecodeAttentionKernel as SplitKV


@dataclass(frozen=True)
class Pointers:
    """Global addresses of the split entry's parameters, in parameter order."""

    q: Reg
    k: Reg
    v: Reg
    seq_lens: Reg
    partial_o: Reg
    partial_ml: Reg
    counters: Reg | None = None  # merge="last-cta" only
    out: Reg | None = None  # merge="last-cta" only


@dataclass(frozen=True)
class Ids:
    """This CTA's split, KV head and sequence, the number of splits, this thread's id, lane
    and warp, and the sequence's length as loaded (not yet clamped to max_seq_len)."""

    split: Reg
    kv_head: Reg
    seq: Reg
    splits: Reg
    tid: Reg
    lane: Reg
    warp: Reg
    raw_len: Reg


@dataclass(frozen=True)
class SplitRange:
    """The positions [start, end) of the sequence this CTA's split walks."""

    start: Reg
    end: Reg


@dataclass(frozen=True)
class Scales:
    """How scores and values are scaled: with e4m3 K/V, `score` = k_scale * scale * log2 e and
    `value` = v_scale (`.f32` registers from the parameters); None for K/V stored unscaled
    (the score scale is then an immediate)."""

    score: Reg | None = None
    value: Reg | None = None


def load_pointers(b: KernelBuilder, params: tuple[tuple[str, str], ...]) -> Pointers:
    """`ld.param.u64` and `cvta.to.global.u64` of every pointer parameter, in order (the
    `.f32` scales after them are declared here and loaded by `load_scales`)."""
    syms = [b.param(n, t) for n, t in params if t == "u64"]
    for n, t in params:
        if t != "u64":
            b.param(n, t)
    b.comment("phase: setup (split, KV head, sequence, this lane's row slot and chunk)")
    q, k, v, lens, po, pml, *merge = (
        b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(s))) for s in syms
    )
    return Pointers(q, k, v, lens, po, pml, *merge)


def load_scales(b: KernelBuilder, k: SplitKV) -> Scales:
    """e4m3 K/V: `ld.param.f32` of k_scale and v_scale, and `mul.f32` of k_scale by scale *
    log2 e, the one factor from a dot product to its score in log2 units. Else no scales."""
    if not k.kv_dtype:
        return Scales()
    k_scale, v_scale = (b.op("ld.param.f32", Address(Symbol(n))) for n in ("k_scale", "v_scale"))
    return Scales(b.op("mul.f32", k_scale, k.scale * LOG2E), v_scale)


def score_of(b: KernelBuilder, k: SplitKV, scales: Scales, dot: Reg) -> Reg:
    """A dot product's score in log2 units: `mul.f32` by the immediate scale * log2 e, or by
    the scales' register (k_scale folded in)."""
    if scales.score is None:
        return log2_score(b, dot, k.scale)
    return b.op("mul.f32", dot, scales.score)


def load_ids(b: KernelBuilder, seq_lens: Reg) -> Ids:
    """This CTA's split, KV head, sequence, thread, lane and warp, and the load of the
    sequence's length (clamped by `split_range`, after the q loads: both loads are in
    flight)."""
    split, kv_head, seq = (b.special(f"ctaid.{a}") for a in "xyz")
    splits = b.special("nctaid.x")
    tid = b.special("tid.x")
    lane, warp = lane_and_warp(b, tid)
    raw_len = b.op("ld.global.u32", Address(b.op("mad.wide.u32", seq, 4, seq_lens)))
    return Ids(split, kv_head, seq, splits, tid, lane, warp, raw_len)


def split_range(b: KernelBuilder, max_seq_len: int, ids: Ids) -> SplitRange:
    """This CTA's row range [start, end) of the sequence (its length clamped to
    max_seq_len)."""
    seq_len = b.op("min.u32", ids.raw_len, max_seq_len)  # never read past the cache
    return SplitRange(*chunk_bounds(b, seq_len, ids.splits, ids.split))


def kv_index(b: KernelBuilder, k: SplitKV, ids: Ids) -> Reg:
    """`seq * num_kv_heads + kv_head` (`mad.lo.u32`): this CTA's (sequence, KV head) pair,
    the index of its K/V slab and of its merge counter."""
    return b.op("mad.lo.u32", ids.seq, k.num_kv_heads, ids.kv_head)


def kv_slab_bytes(b: KernelBuilder, k: SplitKV, ids: Ids) -> Reg:
    """The byte offset of this CTA's K/V slab (row 0 of its KV head in its sequence):
    `kv_index`, `mul.wide.u32` by max_seq_len * head_dim, `shl.b64` by log2 of the element
    size."""
    elems = b.op("mul.wide.u32", kv_index(b, k, ids), k.max_seq_len * k.head_dim)
    shift = int(math.log2(DTYPES[k.kv_storage]))
    return b.op("shl.b64", elems, shift) if shift else elems


def q_head_row(b: KernelBuilder, k: SplitKV, ids: Ids, head: Reg) -> Reg:
    """`seq * num_heads + kv_head * group + head`: the (sequence, q head) row of q, out and
    the workspace for q head `head` of this CTA's group (`mad.lo.u32`, `mad.lo.u32`)."""
    q_head = b.op("mad.lo.u32", ids.kv_head, k.group, head)
    return b.op("mad.lo.u32", ids.seq, k.num_heads, q_head)


@contextmanager
def head_elements(b: KernelBuilder, k: SplitKV, ids: Ids, hint: str,
                  width: int = 1) -> Iterator[tuple[Reg, Reg]]:
    """The CTA's threads loop over the (q head of the group, element) pairs, `width`
    consecutive elements of one head at a time (head_dim is a multiple of it), yielding
    `(head, elem)` of the first: `b.loop` from tid below group * head_dim / width by the
    thread count, `shl.b32` by log2 width, then `div.u32` and `rem.u32` by head_dim."""
    if k.head_dim % width or width & (width - 1):
        raise ValueError(f"width {width} must be a power of two dividing head_dim "
                         f"{k.head_dim}")
    items = k.group * k.head_dim // width
    with b.loop(ids.tid, items, hint, step=32 * k.num_warps) as idx:
        flat = b.op("shl.b32", idx, int(math.log2(width))) if width > 1 else idx
        yield b.op("div.u32", flat, k.head_dim), b.op("rem.u32", flat, k.head_dim)


def warp_record(b: KernelBuilder, k: SplitKV, ids: Ids, smem: Symbol) -> tuple[Reg, Reg]:
    """`(base, rec)`, after the publish phase's comment: the address of the warps' records in
    shared memory (`mov.u32` from the symbol) and this warp's (`mad.lo.u32` by
    warp_record_bytes). A warp's record holds per q head of the group `record_words` words:
    head_dim outputs, m, l and two pad words."""
    b.comment("phase: cross-warp merge (each warp publishes o, m, l per q head)")
    base = b.op("mov.u32", smem)
    return base, b.op("mad.lo.u32", ids.warp, k.warp_record_bytes, base)


def store_max_sum(b: KernelBuilder, k: SplitKV, rec: Reg, head_offset: int, m: Reg, l: Reg,
                  guard: Reg) -> None:
    """m and l after the head_dim outputs of the q head's record at `rec + head_offset`: two
    `st.shared.f32`, guarded."""
    at = head_offset + k.head_dim * 4
    b.op("st.shared.f32", Address(rec, at), m, guard=Guard(guard))
    b.op("st.shared.f32", Address(rec, at + 4), l, guard=Guard(guard))
