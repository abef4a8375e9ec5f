"""The split-KV kernel's CUDA-core path (f32 always; f16/bf16 with `mma=False`): lanes share
a K/V row in 16-byte chunks (`Geometry`), reduce dot products with butterfly shuffles, keep
`unroll` rows in flight (twice that when software-pipelined) and fold each step into the
online-softmax state of every q head of the group; then the warp's row slots merge and row
slot 0 publishes each head's (o, m, l) to shared memory. PTX through the builder only; the
phases before (ids, range) and after (the warps' merge) are `split_kv_setup.py`'s and
`split_kv_build.py`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ptx import KernelBuilder
from ..ptx.ir import Address, Guard, Reg, Symbol, Vector
from .common import maybe_guard, shuffle_xor
from .online_softmax import masked_score
from .split_kv_setup import (
    Ids,
    Scales,
    SplitRange,
    kv_slab_bytes,
    score_of,
    store_max_sum,
    warp_record,
)
from .split_kv_state import SoftmaxStates
from .vector_io import DTYPES, elements_per_chunk, load_chunk

if TYPE_CHECKING:
    from .split_kv import SplitKVDecodeAttentionKernel as SplitKV


@dataclass(frozen=True)
class RowLanes:
    """This lane's row slot (which of the warp's rows it reads), its column (which 16-byte
    chunks of the row), per chunk of the lane a predicate where the chunk may lie past
    head_dim (None where it never does), and the column's byte offset."""

    slot: Reg
    col: Reg
    chunk_ok: tuple[Reg | None, ...]
    col_bytes: Reg


@dataclass(frozen=True)
class _Rows:
    """What the chunk loop's steps read: the builder, the kernel, this lane's layout and q,
    the K and V addresses of this lane's column in row 0, this lane's first row in a step,
    and the split's end."""

    b: KernelBuilder
    k: SplitKV
    lanes: RowLanes
    q: tuple[tuple[Reg, ...], ...]
    k_base: Reg
    v_base: Reg
    first_row: Reg
    end: Reg
    scales: Scales


def row_lanes(b: KernelBuilder, k: SplitKV, ids: Ids) -> RowLanes:
    g = k.geometry
    slot = b.op("shr.u32", ids.lane, int(math.log2(g.lanes_per_row)))
    col = b.op("and.b32", ids.lane, g.lanes_per_row - 1)
    chunk_ok = tuple(
        b.op("setp.lt.u32", col, g.chunks - j * g.lanes_per_row)
        if (j + 1) * g.lanes_per_row > g.chunks else None
        for j in range(g.chunks_per_lane)
    )
    return RowLanes(slot, col, chunk_ok, b.op("mul.wide.u32", col, g.load_bytes))


def load_q(b: KernelBuilder, k: SplitKV, ids: Ids, lanes: RowLanes, q_ptr: Reg
           ) -> tuple[tuple[Reg, ...], ...]:
    """This lane's q elements of every q head of the group, as f32 (0 past head_dim): the
    elements of the K/V chunks it reads (with e4m3 K/V a chunk's 8 elements are 8 bytes of K/V
    and 16 of q)."""
    g = k.geometry
    b.comment(f"phase: load Q ({k.group} q heads of this KV head, as f32)")
    esize = DTYPES[k.dtype]
    first = b.op("mad.lo.u32", ids.seq, k.num_heads, b.op("mul.lo.u32", ids.kv_head, k.group))
    row = b.op("add.s64", q_ptr, b.op("mul.wide.u32", first, k.head_dim * esize))
    chunk_bytes = g.elems * esize  # a K/V chunk's elements, in q's dtype
    col = lanes.col_bytes if chunk_bytes == g.load_bytes else b.op("mul.wide.u32", lanes.col,
                                                                      chunk_bytes)
    row = b.op("add.s64", row, col)
    per_load = elements_per_chunk(k.dtype)
    q = []
    for i in range(k.group):
        regs = [b.op("mov.f32", 0.0) for _ in range(g.lane_elems)]
        for j in range(g.chunks_per_lane):
            for part in range(g.elems // per_load):
                addr = Address(row, i * k.head_dim * esize + j * g.lanes_per_row * chunk_bytes
                               + 16 * part)
                at = j * g.elems + part * per_load
                load_chunk(b, addr, k.dtype, regs[at:at + per_load],
                           maybe_guard(lanes.chunk_ok[j]))
        q.append(tuple(regs))
    return tuple(q)


def stream_rows(b: KernelBuilder, k: SplitKV, ids: Ids, lanes: RowLanes, q, span: SplitRange,
                k_ptr: Reg, v_ptr: Reg, scales: Scales) -> SoftmaxStates:
    """The chunk loop over [start, end): returns the lane's softmax state of every head."""
    g = k.geometry
    offset = b.op("add.s64", kv_slab_bytes(b, k, ids), lanes.col_bytes)
    k_base, v_base = b.op("add.s64", k_ptr, offset), b.op("add.s64", v_ptr, offset)
    state = SoftmaxStates.initial(b, k.group, g.lane_elems)
    first_row = b.op("mad.lo.u32", ids.warp, g.rows_per_warp, lanes.slot)
    r = _Rows(b, k, lanes, q, k_base, v_base, first_row, span.end, scales)
    step = g.rows_per_step
    if not k.pipeline:
        b.comment(f"phase: chunk loop ({step} rows per step: {g.num_warps} warps x "
                  f"{g.rows_per_warp} rows x {g.unroll} deep; K and V loads issued first)")
        buf = _buffer(r)
        with b.loop(span.start, span.end, "rows", step=step) as row0:
            _issue(r, buf, row0, 0)
            _consume(r, state, buf)
        return state
    b.comment(f"phase: chunk loop, software-pipelined: the next {step} rows' K and V loads "
              f"are in flight while this step's {step} rows are computed")
    ping, pong = _buffer(r), _buffer(r)
    _issue(r, ping, span.start, 0)
    with b.loop(span.start, span.end, "rows", step=2 * step) as row0:
        _issue(r, pong, row0, step)
        _consume(r, state, ping)
        _issue(r, ping, row0, 2 * step)
        _consume(r, state, pong)
    return state


def _buffer(r: _Rows) -> tuple[list[list[Reg]], list[Reg]]:
    """Registers for one step's rows: K and V values (zeroed: a guarded-off load leaves
    them finite) and a valid predicate per unrolled row."""
    b, g = r.b, r.k.geometry
    values = [[b.op("mov.f32", 0.0) for _ in range(2 * g.lane_elems)]
              for _ in range(g.unroll)]
    return values, [b.fresh("pred") for _ in range(g.unroll)]


def _issue(r: _Rows, buf, row0: Reg, ahead: int) -> None:
    """Load the K and V rows of the step starting `ahead` rows after `row0`."""
    b, k, g = r.b, r.k, r.k.geometry
    values, valid = buf
    for u in range(g.unroll):
        pos = b.op("add.u32", b.op("add.u32", row0, r.first_row),
                   ahead + u * g.num_warps * g.rows_per_warp)
        b.set(valid[u], "setp.lt.u32", pos, r.end)
        row = b.op("mul.wide.u32", pos, k.head_dim * DTYPES[k.kv_storage])
        for base, regs in ((r.k_base, values[u][:g.lane_elems]),
                           (r.v_base, values[u][g.lane_elems:])):
            _load_row(r, b.op("add.s64", base, row), regs, valid[u])


def _consume(r: _Rows, state: SoftmaxStates, buf) -> None:
    """Scores of a step's rows for every q head, then the online-softmax update."""
    g, (values, valid) = r.k.geometry, buf
    keys = [v[:g.lane_elems] for v in values]
    vals = [v[g.lane_elems:] for v in values]
    for i in range(r.k.group):
        scores = [_score(r, i, keys[u], valid[u]) for u in range(g.unroll)]
        state.update(r.b, i, scores, vals)


def _load_row(r: _Rows, addr: Reg, regs: list[Reg], valid: Reg) -> None:
    b, g, chunk_ok = r.b, r.k.geometry, r.lanes.chunk_ok
    for j in range(g.chunks_per_lane):
        guard = valid if chunk_ok[j] is None else b.op("and.pred", valid, chunk_ok[j])
        load_chunk(b, Address(addr, j * g.lanes_per_row * g.load_bytes), r.k.kv_storage,
                   regs[j * g.elems:(j + 1) * g.elems], Guard(guard))


def _score(r: _Rows, head: int, k_regs: list[Reg], valid: Reg) -> Reg:
    """log2-domain score of this row for one q head: dot over the row's lanes (butterfly
    shuffles within the lane group), times scale * log2 e; -inf past the split's end."""
    b, q = r.b, r.q[head]
    dot = b.op("mul.f32", q[0], k_regs[0])
    for qv, kv in zip(q[1:], k_regs[1:], strict=True):
        b.set(dot, "fma.rn.f32", qv, kv, dot)
    offset = r.k.geometry.lanes_per_row // 2
    while offset:
        dot = b.op("add.f32", dot, shuffle_xor(b, dot, offset))
        offset //= 2
    return masked_score(b, score_of(b, r.k, r.scales, dot), valid)


def merge_row_slots(b: KernelBuilder, k: SplitKV, state: SoftmaxStates) -> None:
    """The warp's row slots hold separate states: merge them with butterfly shuffles."""
    g = k.geometry
    if g.rows_per_warp == 1:
        return
    b.comment("phase: warp reduction (merge the warp's row slots)")
    offset = g.lanes_per_row
    while offset < 32:
        for i in range(k.group):
            other = [shuffle_xor(b, x, offset) for x in (state.m[i], state.l[i], *state.o[i])]
            state.merge(b, i, other[0], other[1], other[2:])
        offset *= 2


def publish_rows(b: KernelBuilder, k: SplitKV, ids: Ids, lanes: RowLanes, state: SoftmaxStates,
                 smem: Symbol) -> Reg:
    """Row slot 0 of each warp writes its (o, m, l) per head to shared memory. Returns the
    address of the warps' records (warp w's at `base + w * warp_record_bytes`)."""
    g = k.geometry
    base, rec = warp_record(b, k, ids, smem)
    col = b.op("mad.lo.u32", lanes.col, g.elems * 4, rec)
    slot0 = b.op("setp.eq.u32", lanes.slot, 0)
    lane0 = b.op("setp.eq.u32", ids.tid, b.op("shl.b32", ids.warp, 5))
    for i in range(k.group):
        head = i * k.record_words * 4
        for j in range(g.chunks_per_lane):
            ok = slot0 if lanes.chunk_ok[j] is None else b.op("and.pred", slot0,
                                                              lanes.chunk_ok[j])
            for v4 in range(g.elems // 4):
                regs = state.o[i][j * g.elems + 4 * v4: j * g.elems + 4 * v4 + 4]
                off = head + j * g.lanes_per_row * g.elems * 4 + 16 * v4
                b.op("st.shared.v4.f32", Address(col, off), Vector(tuple(regs)),
                     guard=Guard(ok))
        store_max_sum(b, k, rec, head, state.m[i], state.l[i], lane0)
    b.op("bar.sync", 0)
    return base
