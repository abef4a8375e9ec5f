"""The split-KV kernel's tensor-core path for f16 and bf16: q.k and p.v on
`mma.sync.aligned.m16n8k16` (f16/bf16 in, f32 accumulate), K and V read straight from global
memory into the fragments with 16-byte loads. The phases are functions that pass frozen
records (`MmaLanes`, Q's A fragments, `MmaState`); the coordinates, range and shared-memory
record come from `split_kv_setup.py`. PTX through the builder only.

Fragments (PTX ISA, m16n8k16; lane = 4g + t): A reg0 = (row g, cols 2t, 2t+1), reg1 = row
g+8, reg2 = (row g, cols 2t+8, 2t+9), reg3 = row g+8 of those; B reg0 = (rows 2t, 2t+1; col g),
reg1 = rows 2t+8, 2t+9; C/D c0, c1 = (row g, cols 2t, 2t+1), c2, c3 = row g+8. Rows g+8 are
never used (a GQA group has at most 8 q heads): their A registers are a zero register.

Per warp and tile of 16 positions:

- Scores `S[head, pos] = Q[head, :] . K[pos, :]`: A = Q (row = q head g of the group), B = K^T
  (col = position). A dot product does not care in which order it visits head_dim, so each
  lane loads 16 contiguous bytes of K (dims `32c + 8t .. +8` of position g) and Q is loaded
  the same way: one load fills the B fragments of two k-steps. Two 8-position tiles.
- The scores come back as c0, c1 = positions 2t, 2t+1 of q head g: exactly the A fragment of
  `O += P V` (A = P, row = q head, col = position), once packed to f16x2/bf16x2. Online
  softmax per q head: a quad of lanes (t = 0..3) shares a head, so the tile's max needs two
  butterfly shuffles; the sum stays per lane until the end.
- `O += P V`: B = V (rows = positions 2t, 2t+1, 2t+8, 2t+9; col = an output dim). Each lane
  loads 16 contiguous bytes (dims `64h + 8g .. +8`) of its four positions and pairs the halves
  of two positions with `prmt`; n-tile `8h + i` holds dims `64h + 8n + i`, so the output of
  lane (g, t) is dims `64h + 16t + 8j + i` (j = 0, 1) of q head g.

With e4m3 K/V (`kv_dtype`) the same 16-byte loads hold 16 elements: E = 16 elements per load
instead of 8, so K/Q chunks are dims `64c + 16t .. +16` (four k-steps per load), V chunks
`128h + 16g .. +16` (16 n-tiles), and the output of lane (g, t) is dims `128h + 32t + 16j + i`.
The codes become fragments in `split_kv_fp8.py`; the mma instructions stay those of f16/bf16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ptx import KernelBuilder
from ..ptx.ir import Address, Guard, Reg, Symbol, Vector
from .common import maybe_guard, shuffle_xor
from .online_softmax import NEG_INF, masked_score, online_weights, rescale_sum
from .split_kv_fp8 import k_fragments, pv_type, v_fragments
from .split_kv_setup import (
    Ids,
    Scales,
    SplitRange,
    kv_slab_bytes,
    q_head_row,
    score_of,
    store_max_sum,
    warp_record,
)
from .vector_io import DTYPES, elements_per_chunk

if TYPE_CHECKING:
    from .split_kv import SplitKVDecodeAttentionKernel as SplitKV

MMA = "mma.sync.aligned.m16n8k16.row.col.f32.{t}.{t}.f32"
LOW_HALVES, HIGH_HALVES = 0x5410, 0x7632  # prmt selectors: {a.lo, b.lo}, {a.hi, b.hi}
TILE = 16  # positions per warp per tile
MAX_GROUP = 8  # q heads per KV head that fit the rows 0..7 of one A fragment
# Measured on an H200 (docs/performance.md): pipelined, 8 warps, no L2 prefetch was the best
# at 4K, 16K and 64K; prefetching helps only the unpipelined loop.
DEFAULT_PREFETCH = 0  # tiles ahead a warp prefetches into L2 (0: none)
DEFAULT_MMA_PIPELINE = True
DEFAULT_MMA_WARPS = 8


@dataclass(frozen=True)
class MmaLanes:
    """This lane's place in the fragments (lane = 4g + t), a zero b32 and f32 register,
    whether row g is a q head of the group, and per K/Q chunk (dims 32c + 8t .. +8) and V
    chunk (dims 64h + 8g .. +8) a predicate where it may lie past head_dim (None where it
    never does)."""

    lane: Reg
    g: Reg
    t: Reg
    zero: Reg
    zf: Reg
    head_ok: Reg
    k_ok: tuple[Reg | None, ...]
    v_ok: tuple[Reg | None, ...]


@dataclass(frozen=True)
class MmaState:
    """Loop-carried per lane for q head g: `m` (log2 units, same in the quad), `l` (this
    lane's share of the sum) and `o[h][i] = (c0, c1)`; updated in place, never replaced."""

    m: Reg
    l: Reg
    o: tuple[tuple[tuple[Reg, Reg], ...], ...]


@dataclass(frozen=True)
class _Tiles:
    """What the tile loop's steps read: the builder and kernel, the lane layout, Q's A
    fragments and the state, the instruction names, the K and V addresses (of the KV head's
    row 0, and of this lane's chunk in it), the end of the whole tiles and of the split."""

    b: KernelBuilder
    k: SplitKV
    lanes: MmaLanes
    q: tuple[tuple[Reg, ...], ...]
    state: MmaState
    mma: str
    pack: str
    mma_pv: str  # the p.v mma: `mma` but with e4m3 K/V and bf16 q (then f16: exact V, P)
    scales: Scales
    row_bytes: int
    step: int
    k_cache: Reg
    v_cache: Reg
    k_base: Reg
    v_base: Reg
    full_end: Reg  # tiles at p < full_end are whole (p + TILE <= end)
    end: Reg


def _per_load(k: SplitKV) -> int:
    return elements_per_chunk(k.kv_storage)  # E: K/V elements in a lane's 16-byte load


def _k_chunks(k: SplitKV) -> int:
    return -(-k.head_dim // (4 * _per_load(k)))  # K chunks per lane: dims 4Ec + Et .. +E


def _v_chunks(k: SplitKV) -> int:
    return -(-k.head_dim // (8 * _per_load(k)))  # V chunks per lane: dims 8Eh + Eg .. +E


# -- setup ----------------------------------------------------------------------------------
def mma_lanes(b: KernelBuilder, k: SplitKV, ids: Ids) -> MmaLanes:
    g = b.op("shr.u32", ids.lane, 2)
    t = b.op("and.b32", ids.lane, 3)
    zero = b.op("mov.b32", 0)
    zf = b.op("mov.f32", 0.0)
    head_ok = b.op("setp.lt.u32", g, k.group)
    # chunk c of K/Q exists for this lane if 4Ec + Et < head_dim; chunk h of V if 8Eh + Eg <
    e = _per_load(k)
    k_ok = tuple(_below(b, k.head_dim, t, 3, e, 4 * e * c) for c in range(_k_chunks(k)))
    v_ok = tuple(_below(b, k.head_dim, g, 7, e, 8 * e * h) for h in range(_v_chunks(k)))
    return MmaLanes(ids.lane, g, t, zero, zf, head_ok, k_ok, v_ok)


def _below(b: KernelBuilder, head_dim: int, idx: Reg, top: int, scale: int, base: int
           ) -> Reg | None:
    """`base + scale * idx < head_dim` as a predicate (idx <= top); None where it always
    holds."""
    if base + scale * top < head_dim:
        return None
    return b.op("setp.lt.u32", idx, (head_dim - base + scale - 1) // scale)


def load_q_fragments(b: KernelBuilder, k: SplitKV, ids: Ids, lanes: MmaLanes, q_ptr: Reg
                     ) -> tuple[tuple[Reg, ...], ...]:
    """Q of q head g (zero for rows past the group): the A fragments of every k-step."""
    b.comment(f"phase: load Q ({k.group} q heads of this KV head, as {k.dtype} A fragments)")
    e = _per_load(k)  # q's dims of a K chunk: 2E bytes per lane, 16 per load
    head = q_head_row(b, k, ids, lanes.g)
    row = b.op("add.s64", q_ptr, b.op("mul.wide.u32", head, k.head_dim * 2))
    row = b.op("add.s64", row, b.op("mul.wide.u32", lanes.t, 2 * e))
    q = []
    for c, k_ok in enumerate(lanes.k_ok):
        loads = [Vector(tuple(b.op("mov.b32", 0) for _ in range(4))) for _ in range(e // 8)]
        ok = lanes.head_ok if k_ok is None else b.op("and.pred", lanes.head_ok, k_ok)
        for part, words in enumerate(loads):
            b.set(words, "ld.global.nc.v4.b32", Address(row, 8 * e * c + 16 * part),
                  guard=Guard(ok))
        q.append(tuple(r for words in loads for r in words.regs))
    return tuple(q)


# -- the stream -----------------------------------------------------------------------------
def stream_tiles(b: KernelBuilder, k: SplitKV, ids: Ids, lanes: MmaLanes, q, span: SplitRange,
                 k_ptr: Reg, v_ptr: Reg, scales: Scales) -> MmaState:
    """The tile loop over [start, end), then the partial last tile: returns the state."""
    row_bytes = k.head_dim * DTYPES[k.kv_storage]
    offset = kv_slab_bytes(b, k, ids)
    k_lane = b.op("mad.lo.u32", lanes.g, row_bytes, b.op("shl.b32", lanes.t, 4))
    v_lane = b.op("mad.lo.u32", lanes.t, 2 * row_bytes, b.op("shl.b32", lanes.g, 4))
    k_cache = b.op("add.s64", k_ptr, offset)
    v_cache = b.op("add.s64", v_ptr, offset)
    k_base = b.op("add.s64", k_cache, b.op("cvt.u64.u32", k_lane))
    v_base = b.op("add.s64", v_cache, b.op("cvt.u64.u32", v_lane))
    state = MmaState(
        b.op("mov.f32", NEG_INF), b.op("mov.f32", 0.0),
        tuple(tuple((b.op("mov.f32", 0.0), b.op("mov.f32", 0.0)) for _ in range(_per_load(k)))
              for _ in range(_v_chunks(k))))
    step = TILE * k.num_warps
    first = b.op("mad.lo.u32", ids.warp, TILE, span.start)
    full_end = b.op("sub.u32", b.op("max.u32", span.end, TILE - 1), TILE - 1)
    pv = pv_type(k)
    t = _Tiles(b, k, lanes, q, state, MMA.format(t=k.dtype), f"cvt.rn.{pv}x2.f32",
               MMA.format(t=pv), scales, row_bytes, step, k_cache, v_cache, k_base, v_base,
               full_end, span.end)
    if k.tiles_in_flight > 1:
        p0 = _pipelined(t, first)
    else:
        b.comment(f"phase: tile loop ({TILE} positions per warp per step, {k.num_warps} "
                  "warps; K and V loads first, then q.k and p.v on tensor cores)")
        with b.loop(first, full_end, "tiles", step=step) as p0:
            _consume(t, p0, *_issue(t, p0))
    b.comment("phase: the last, partial tile (positions past the split masked)")
    with b.if_(b.op("setp.lt.u32", p0, span.end), "tail"):
        _consume(t, p0, *_issue(t, p0, tail=True), tail=True)
    return state


def _pipelined(t: _Tiles, first: Reg) -> Reg:
    """Whole tiles, software-pipelined over `tiles_in_flight` = N register buffers: tiles
    p .. p + (N-1) step are loaded before tile p's mma and softmax, so N tiles' loads are
    outstanding when its math starts (its own and the N-1 after it); the loop body is
    unrolled N times (buffer i is consumed in copy i).
    Returns the register holding the first tile not consumed.

    Deeper buffers rather than a wider step (32 positions: two tiles' K as one pair per row)
    for e4m3: a byte in flight costs the same register either way (4 per 16-byte load, held
    until consumed) and a lane has no load wider than 16 bytes, so the pair is two loads all
    the same; what differs is what else is live. A 32-position step converts and scores two
    tiles at once (twice the fragments and scores live at its mma), N buffers consume one
    16-position tile at a time; the wider step would halve the softmax's work per position,
    which matters less to a kernel whose issue slots are mostly idle. Depth costs code size."""
    b, depth = t.b, t.k.tiles_in_flight
    ahead_tiles = "the next tile's" if depth == 2 else f"the next {depth - 1} tiles'"
    b.comment(f"phase: tile loop, software-pipelined ({TILE} positions per warp per step, "
              f"{t.k.num_warps} warps): {ahead_tiles} K and V loads are in flight "
              "while this tile's q.k and p.v run on tensor cores")
    bufs = tuple(_buffer(t) for _ in range(depth))
    whole = tuple(b.fresh("pred") for _ in range(depth))
    p = b.op("mov.u32", first)
    for i in range(depth - 1):  # the prologue: tiles 0 .. N-2 in flight
        at = p if i == 0 else b.op("add.u32", p, i * t.step)
        b.set(whole[i], "setp.lt.u32", at, t.full_end)
        _issue(t, at, into=bufs[i], whole=whole[i])
    top, done = b.label("tiles"), b.label("tiles_end")
    b.place(top)
    for cur in range(depth):
        nxt = (cur + depth - 1) % depth
        b.op("bra", done, guard=Guard(whole[cur], negated=True))
        ahead = b.op("add.u32", p, (depth - 1) * t.step)
        b.set(whole[nxt], "setp.lt.u32", ahead, t.full_end)
        _issue(t, ahead, into=bufs[nxt], whole=whole[nxt])
        _consume(t, p, *bufs[cur])
        if depth == 2:  # the tile ahead is the next one
            b.set(p, "mov.u32", ahead)
        else:
            b.set(p, "add.u32", p, t.step)
    b.op("bra.uni", top)
    b.place(done)
    return p


def _buffer(t: _Tiles):
    """Registers for one tile's K and V fragments (zero where a chunk does not exist for
    this lane: those are never loaded)."""
    b = t.b

    def chunk(ok):
        return tuple(b.fresh("b32") if ok is None else b.op("mov.b32", 0) for _ in range(4))

    return ([[chunk(ok) for ok in t.lanes.k_ok] for _ in range(2)],
            [[chunk(ok) for ok in t.lanes.v_ok] for _ in range(4)])


def _issue(t: _Tiles, p0: Reg, tail: bool = False, into=None, whole: Reg | None = None):
    """The K and V loads of the tile at p0 (K: position 8z + g, chunk c; V: positions
    2t + {0, 1, 8, 9}, chunk h). In the tail, rows past the split are zeros; with `into`
    the loads fill those registers where `whole` holds. Returns (K, V) fragments."""
    b, lanes, row_bytes = t.b, t.lanes, t.row_bytes
    row = b.op("mul.wide.u32", p0, row_bytes)
    k_addr = b.op("add.s64", t.k_base, row)
    v_addr = b.op("add.s64", t.v_base, row)
    into = into or ([None, None], [None] * 4)
    stride = 4 * _per_load(t.k) * row_bytes // t.k.head_dim  # a K chunk: 4E dims, in bytes
    k_rows = [_load_rows(b, k_addr, 8 * z * row_bytes, stride, lanes.k_ok,
                         _valid(t, p0, 8 * z, lanes.g, 1) if tail else whole, into[0][z])
              for z in range(2)]
    v_rows = [_load_rows(b, v_addr, d * row_bytes, 2 * stride, lanes.v_ok,
                         _valid(t, p0, d, lanes.t, 2) if tail else whole, into[1][i])
              for i, d in enumerate((0, 1, 8, 9))]
    if t.k.prefetch and not tail:
        _prefetch(t, b.op("add.u32", p0, t.k.prefetch * t.step))
    return k_rows, v_rows


def _prefetch(t: _Tiles, ahead: Reg) -> None:
    """`prefetch.global.L2` of the K and V tile at `ahead` (16 contiguous rows, one
    128-byte line per lane and round) if that tile is whole: it is in L2 when this warp
    loads it, and the lines in flight cost no registers."""
    b = t.b
    lines = -(-TILE * t.row_bytes // 128)
    whole = b.op("setp.lt.u32", ahead, t.full_end)
    start = b.op("mul.wide.u32", ahead, t.row_bytes)
    lane_line = b.op("mul.wide.u32", t.lanes.lane, 128)
    for cache in (t.k_cache, t.v_cache):
        addr = b.op("add.s64", b.op("add.s64", cache, start), lane_line)
        for r in range(-(-lines // 32)):
            guard = whole
            if 32 * (r + 1) > lines:  # the last round: lanes past the tile's lines idle
                guard = b.op("and.pred", whole,
                             b.op("setp.lt.u32", t.lanes.lane, lines - 32 * r))
            b.op("prefetch.global.L2", Address(addr, 32 * 128 * r), guard=Guard(guard))


def _consume(t: _Tiles, p0: Reg, k_rows, v_rows, tail: bool = False) -> None:
    """Scores, online softmax and `O += P V` for one tile."""
    b = t.b
    if t.k.kv_dtype:  # e4m3 codes -> f16x2 (bf16x2 for bf16 q) words, 8 per chunk
        k_rows = [[k_fragments(b, t.k, words) for words in chunks] for chunks in k_rows]
    scores = [_scores(t, chunks) for chunks in k_rows]
    if tail:
        scores = [[masked_score(b, x, _valid(t, p0, 8 * z + j, t.lanes.t, 2))
                   for j, x in enumerate(pair)] for z, pair in enumerate(scores)]
    p = _softmax(t, [x for pair in scores for x in pair])
    zero = t.lanes.zero
    a = Vector((b.op(t.pack, p[1], p[0]), zero, b.op(t.pack, p[3], p[2]), zero))
    _pv(t, a, v_rows)


def _valid(t: _Tiles, p0: Reg, offset: int, idx: Reg, scale: int) -> Reg:
    """`p0 + offset + scale * idx < end`: the position exists in this split."""
    b = t.b
    pos = b.op("add.u32", b.op("mad.lo.u32", idx, scale, p0), offset)
    return b.op("setp.lt.u32", pos, t.end)


def _load_rows(b: KernelBuilder, addr: Reg, offset: int, stride: int, chunk_ok,
               valid: Reg | None, into=None):
    """One row's 16-byte chunks at `addr + offset + stride * c`, where the chunk exists
    for this lane and `valid` (if given) holds. Into fresh registers (zeros where skipped),
    or into those of `into` (`_buffer` zeroed the chunks that never exist)."""
    out = []
    for c, ok in enumerate(chunk_ok):
        guard = ok if valid is None else (valid if ok is None else b.op("and.pred", valid, ok))
        address = Address(addr, offset + stride * c)
        if into is not None:
            words = Vector(into[c])
        elif guard is None:
            out.append(b.op("ld.global.nc.v4.b32", address).regs)
            continue
        else:
            words = Vector(tuple(b.op("mov.b32", 0) for _ in range(4)))
        b.set(words, "ld.global.nc.v4.b32", address, guard=maybe_guard(guard))
        out.append(words.regs)
    return out


def _scores(t: _Tiles, chunks) -> tuple[Reg, Reg]:
    """c0, c1 of `Q K^T` for one 8-position tile: positions 2t, 2t+1, q head g, in log2
    units (times scale * log2 e)."""
    b, zero, zf = t.b, t.lanes.zero, t.lanes.zf
    s0, s1, j0, j1 = (b.fresh("f32") for _ in range(4))
    acc = Vector((zf,) * 4)
    for c, words in enumerate(chunks):
        for half in range(len(words) // 2):  # the k-steps of one 16-byte load
            q0, q1 = t.q[c][2 * half], t.q[c][2 * half + 1]
            a = Vector((q0, zero, q1, zero))
            kb = Vector((words[2 * half], words[2 * half + 1]))
            b.set(Vector((s0, s1, j0, j1)), t.mma, a, kb, acc)
            acc = Vector((s0, s1, zf, zf))
    return score_of(b, t.k, t.scales, s0), score_of(b, t.k, t.scales, s1)


def _softmax(t: _Tiles, x: list[Reg]) -> list[Reg]:
    """The online-softmax update of q head g over the tile's 16 positions (this lane holds
    4 of them); returns the 4 weights p."""
    b, state = t.b, t.state
    mx = b.op("max.f32", b.op("max.f32", x[0], x[1]), b.op("max.f32", x[2], x[3]))
    for offset in (1, 2):
        mx = b.op("max.f32", mx, shuffle_xor(b, mx, offset))
    m_new = b.op("max.f32", state.m, mx)
    corr, p = online_weights(b, state.m, m_new, x)
    rescale_sum(b, state.l, corr, p)
    for pairs in state.o:
        for c0, c1 in pairs:
            b.set(c0, "mul.f32", c0, corr)
            b.set(c1, "mul.f32", c1, corr)
    b.set(state.m, "mov.f32", m_new)
    return p


def _pv(t: _Tiles, a: Vector, v_rows) -> None:
    """`O += P V` over the 16 positions: one mma per n-tile (8 output dims)."""
    b, zf = t.b, t.lanes.zf
    if t.k.kv_dtype:
        for h, pairs in enumerate(t.state.o):
            frags = v_fragments(b, [v_rows[d][h] for d in range(4)])
            for (lo, hi), (c0, c1) in zip(frags, pairs, strict=True):
                j0, j1 = b.fresh("f32"), b.fresh("f32")
                b.set(Vector((c0, c1, j0, j1)), t.mma_pv, a, Vector((lo, hi)),
                      Vector((c0, c1, zf, zf)))
        return
    for h, pairs in enumerate(t.state.o):
        for i in range(8):
            sel = LOW_HALVES if i % 2 == 0 else HIGH_HALVES
            words = [v_rows[d][h][i // 2] for d in range(4)]  # positions 2t+{0,1,8,9}
            lo = b.op("prmt.b32", words[0], words[1], sel)
            hi = b.op("prmt.b32", words[2], words[3], sel)
            c0, c1 = pairs[i]
            j0, j1 = b.fresh("f32"), b.fresh("f32")
            b.set(Vector((c0, c1, j0, j1)), t.mma, a, Vector((lo, hi)),
                  Vector((c0, c1, zf, zf)))


# -- after the stream -----------------------------------------------------------------------
def reduce_quad_sum(b: KernelBuilder, state: MmaState) -> None:
    """The four lanes of a quad hold parts of q head g's sum: add them."""
    b.comment("phase: quad reduction (the lanes of a q head add their parts of the sum)")
    for offset in (1, 2):
        b.set(state.l, "add.f32", state.l, shuffle_xor(b, state.l, offset))


def publish_tiles(b: KernelBuilder, k: SplitKV, ids: Ids, lanes: MmaLanes, state: MmaState,
                  smem: Symbol) -> Reg:
    """Lanes of q heads in the group write o (their dims), m and l to the warp's record.
    Returns the address of the warps' records (warp w's at `base + w * warp_record_bytes`)."""
    e = _per_load(k)  # lane (g, t) holds dims 8Eh + 2Et + Ej + i of q head g
    base, rec = warp_record(b, k, ids, smem)
    rec = b.op("mad.lo.u32", lanes.g, k.record_words * 4, rec)
    col = b.op("mad.lo.u32", lanes.t, 8 * e, rec)  # dim 2Et: 8E bytes per t
    for h, pairs in enumerate(state.o):
        for j in range(2):
            ok = _below(b, k.head_dim, lanes.t, 3, 2 * e, 8 * e * h + e * j)
            guard = lanes.head_ok if ok is None else b.op("and.pred", lanes.head_ok, ok)
            for i in range(0, e, 2):  # e consecutive dims (even): v2 stores
                values = Vector((pairs[i][j], pairs[i + 1][j]))
                b.op("st.shared.v2.f32", Address(col, 32 * e * h + 4 * e * j + 4 * i), values,
                     guard=Guard(guard))
    first = b.op("and.pred", lanes.head_ok, b.op("setp.eq.u32", lanes.t, 0))
    store_max_sum(b, k, rec, 0, state.m, state.l, first)
    b.op("bar.sync", 0)
    return base
