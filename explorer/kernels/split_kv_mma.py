"""The split-KV kernel's tensor-core path for f16 and bf16: q.k and p.v on
`mma.sync.aligned.m16n8k16` (f16/bf16 in, f32 accumulate), K and V read straight from global
memory into the fragments with 16-byte loads. PTX through the builder only.

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
"""

from __future__ import annotations

from ..ptx.ir import Address, Guard, Reg, Vector
from .common import LOG2E, NEG_INF, maybe_guard
from .split_kv_state import finite_or_zero

MMA = "mma.sync.aligned.m16n8k16.row.col.f32.{t}.{t}.f32"
LOW_HALVES, HIGH_HALVES = 0x5410, 0x7632  # prmt selectors: {a.lo, b.lo}, {a.hi, b.hi}
TILE = 16  # positions per warp per tile
MAX_GROUP = 8  # q heads per KV head that fit the rows 0..7 of one A fragment
# Measured on an H200 (docs/performance.md): pipelined, 8 warps, no L2 prefetch was the best
# at 4K, 16K and 64K; prefetching helps only the unpipelined loop.
DEFAULT_PREFETCH = 0  # tiles ahead a warp prefetches into L2 (0: none)
DEFAULT_MMA_PIPELINE = True
DEFAULT_MMA_WARPS = 8


class MmaStream:
    """Emits the tensor-core stream of one CTA into `sb` (a `_SplitBuilder`, whose
    coordinates, row range and cross-warp reduction it shares) and leaves per lane the state
    of q head g: `m` (log2 units, same in the quad), `l` (this lane's share of the sum) and
    `o[h][i] = (c0, c1)`."""

    def __init__(self, sb) -> None:
        self.sb, self.b, self.k = sb, sb.b, sb.k
        k = self.k
        self.kc = -(-k.head_dim // 32)  # K chunks per lane: dims 32c + 8t .. +8
        self.vc = -(-k.head_dim // 64)  # V chunks per lane: dims 64h + 8g .. +8
        self.mma = MMA.format(t=k.dtype)
        self.pack = f"cvt.rn.{k.dtype}x2.f32"
        self.row_bytes = k.head_dim * 2

    # -- setup ----------------------------------------------------------------------------
    def lanes(self) -> None:
        b, k = self.b, self.k
        self.g = b.op("shr.u32", self.sb.lane, 2)
        self.t = b.op("and.b32", self.sb.lane, 3)
        self.zero = b.op("mov.b32", 0)
        self.zf = b.op("mov.f32", 0.0)
        self.head_ok = b.op("setp.lt.u32", self.g, k.group)
        # chunk c of K/Q exists for this lane if 32c + 8t < head_dim; chunk h of V if 64h + 8g <
        self.k_ok = [self._below(self.t, 3, 8, 32 * c) for c in range(self.kc)]
        self.v_ok = [self._below(self.g, 7, 8, 64 * h) for h in range(self.vc)]

    def _below(self, idx: Reg, top: int, scale: int, base: int) -> Reg | None:
        """`base + scale * idx < head_dim` as a predicate (idx <= top); None where it always
        holds."""
        if base + scale * top < self.k.head_dim:
            return None
        limit = (self.k.head_dim - base + scale - 1) // scale
        return self.b.op("setp.lt.u32", idx, limit)

    def load_q(self, q_ptr: Reg) -> None:
        """Q of q head g (zero for rows past the group): the A fragments of every k-step."""
        b, k = self.b, self.k
        b.comment(f"phase: load Q ({k.group} q heads of this KV head, as {k.dtype} A fragments)")
        head = b.op("mad.lo.u32", self.sb.seq, k.num_heads,
                    b.op("mad.lo.u32", self.sb.kvh, k.group, self.g))
        row = b.op("add.s64", q_ptr, b.op("mul.wide.u32", head, self.row_bytes))
        row = b.op("add.s64", row, b.op("mul.wide.u32", self.t, 16))
        self.q = []
        for c in range(self.kc):
            words = Vector(tuple(b.op("mov.b32", 0) for _ in range(4)))
            ok = self.head_ok if self.k_ok[c] is None else b.op("and.pred", self.head_ok,
                                                                self.k_ok[c])
            b.set(words, "ld.global.nc.v4.b32", Address(row, 64 * c), guard=Guard(ok))
            self.q.append(words.regs)

    # -- the stream -----------------------------------------------------------------------
    def stream(self, k_ptr: Reg, v_ptr: Reg) -> None:
        b, k, sb = self.b, self.k, self.sb
        cache = b.op("mad.lo.u32", sb.seq, k.num_kv_heads, sb.kvh)
        offset = b.op("shl.b64", b.op("mul.wide.u32", cache, k.max_seq_len * k.head_dim), 1)
        k_lane = b.op("mad.lo.u32", self.g, self.row_bytes, b.op("shl.b32", self.t, 4))
        v_lane = b.op("mad.lo.u32", self.t, 2 * self.row_bytes, b.op("shl.b32", self.g, 4))
        self.k_cache = b.op("add.s64", k_ptr, offset)
        self.v_cache = b.op("add.s64", v_ptr, offset)
        self.k_base = b.op("add.s64", self.k_cache, b.op("cvt.u64.u32", k_lane))
        self.v_base = b.op("add.s64", self.v_cache, b.op("cvt.u64.u32", v_lane))
        self.m = b.op("mov.f32", NEG_INF)
        self.l = b.op("mov.f32", 0.0)
        self.o = [[(b.op("mov.f32", 0.0), b.op("mov.f32", 0.0)) for _ in range(8)]
                  for _ in range(self.vc)]
        self.step = step = TILE * k.num_warps
        first = b.op("mad.lo.u32", sb.warp, TILE, sb.start)
        # tiles at p < full_end are whole (p + TILE <= end)
        self.full_end = b.op("sub.u32", b.op("max.u32", sb.end, TILE - 1), TILE - 1)
        if k.pipeline:
            p0 = self._pipelined(first)
        else:
            b.comment(f"phase: tile loop ({TILE} positions per warp per step, {k.num_warps} "
                      "warps; K and V loads first, then q.k and p.v on tensor cores)")
            with b.loop(first, self.full_end, "tiles", step=step) as p0:
                self._consume(p0, *self._issue(p0))
        b.comment("phase: the last, partial tile (positions past the split masked)")
        with b.if_(b.op("setp.lt.u32", p0, sb.end), "tail"):
            self._consume(p0, *self._issue(p0, tail=True), tail=True)

    def _pipelined(self, first: Reg) -> Reg:
        """Whole tiles, software-pipelined over two register buffers: the next tile's loads
        are issued before this tile's mma and softmax, so a warp always has a tile in flight.
        Returns the register holding the first tile not consumed."""
        b, step = self.b, self.step
        b.comment(f"phase: tile loop, software-pipelined ({TILE} positions per warp per step, "
                  f"{self.k.num_warps} warps): the next tile's K and V loads are in flight "
                  "while this tile's q.k and p.v run on tensor cores")
        bufs = (self._buffer(), self._buffer())
        whole = (b.fresh("pred"), b.fresh("pred"))
        p = b.op("mov.u32", first)
        b.set(whole[0], "setp.lt.u32", p, self.full_end)
        self._issue(p, into=bufs[0], whole=whole[0])
        top, done = b.label("tiles"), b.label("tiles_end")
        b.place(top)
        for cur in (0, 1):
            nxt = 1 - cur
            b.op("bra", done, guard=Guard(whole[cur], negated=True))
            ahead = b.op("add.u32", p, step)
            b.set(whole[nxt], "setp.lt.u32", ahead, self.full_end)
            self._issue(ahead, into=bufs[nxt], whole=whole[nxt])
            self._consume(p, *bufs[cur])
            b.set(p, "mov.u32", ahead)
        b.op("bra.uni", top)
        b.place(done)
        return p

    def _buffer(self):
        """Registers for one tile's K and V fragments (zero where a chunk does not exist for
        this lane: those are never loaded)."""
        b = self.b

        def chunk(ok):
            return tuple(b.fresh("b32") if ok is None else b.op("mov.b32", 0) for _ in range(4))

        return ([[chunk(ok) for ok in self.k_ok] for _ in range(2)],
                [[chunk(ok) for ok in self.v_ok] for _ in range(4)])

    def _issue(self, p0: Reg, tail: bool = False, into=None, whole: Reg | None = None):
        """The K and V loads of the tile at p0 (K: position 8z + g, chunk c; V: positions
        2t + {0, 1, 8, 9}, chunk h). In the tail, rows past the split are zeros; with `into`
        the loads fill those registers where `whole` holds. Returns (K, V) fragments."""
        b = self.b
        row = b.op("mul.wide.u32", p0, self.row_bytes)
        k_addr = b.op("add.s64", self.k_base, row)
        v_addr = b.op("add.s64", self.v_base, row)
        into = into or ([None, None], [None] * 4)
        k_rows = [self._load_rows(k_addr, 8 * z * self.row_bytes, 64, self.k_ok,
                                  self._valid(p0, 8 * z, self.g, 1) if tail else whole,
                                  into[0][z])
                  for z in range(2)]
        v_rows = [self._load_rows(v_addr, d * self.row_bytes, 128, self.v_ok,
                                  self._valid(p0, d, self.t, 2) if tail else whole,
                                  into[1][i])
                  for i, d in enumerate((0, 1, 8, 9))]
        if self.k.prefetch and not tail:
            self._prefetch(b.op("add.u32", p0, self.k.prefetch * self.step))
        return k_rows, v_rows

    def _prefetch(self, ahead: Reg) -> None:
        """`prefetch.global.L2` of the K and V tile at `ahead` (16 contiguous rows, one
        128-byte line per lane and round) if that tile is whole: it is in L2 when this warp
        loads it, and the lines in flight cost no registers."""
        b = self.b
        lines = -(-TILE * self.row_bytes // 128)
        whole = b.op("setp.lt.u32", ahead, self.full_end)
        start = b.op("mul.wide.u32", ahead, self.row_bytes)
        lane_line = b.op("mul.wide.u32", self.sb.lane, 128)
        for cache in (self.k_cache, self.v_cache):
            addr = b.op("add.s64", b.op("add.s64", cache, start), lane_line)
            for r in range(-(-lines // 32)):
                guard = whole
                if 32 * (r + 1) > lines:  # the last round: lanes past the tile's lines idle
                    guard = b.op("and.pred", whole,
                                 b.op("setp.lt.u32", self.sb.lane, lines - 32 * r))
                b.op("prefetch.global.L2", Address(addr, 32 * 128 * r), guard=Guard(guard))

    def _consume(self, p0: Reg, k_rows, v_rows, tail: bool = False) -> None:
        """Scores, online softmax and `O += P V` for one tile."""
        b = self.b
        scores = [self._scores(chunks) for chunks in k_rows]
        if tail:
            scores = [[b.op("selp.f32", x, NEG_INF, self._valid(p0, 8 * z + j, self.t, 2))
                       for j, x in enumerate(pair)] for z, pair in enumerate(scores)]
        p = self._softmax([x for pair in scores for x in pair])
        a = Vector((b.op(self.pack, p[1], p[0]), self.zero, b.op(self.pack, p[3], p[2]),
                    self.zero))
        self._pv(a, v_rows)

    def _valid(self, p0: Reg, offset: int, idx: Reg, scale: int) -> Reg:
        """`p0 + offset + scale * idx < end`: the position exists in this split."""
        b = self.b
        pos = b.op("add.u32", b.op("mad.lo.u32", idx, scale, p0), offset)
        return b.op("setp.lt.u32", pos, self.sb.end)

    def _load_rows(self, addr: Reg, offset: int, stride: int, chunk_ok, valid: Reg | None,
                   into=None):
        """One row's 16-byte chunks at `addr + offset + stride * c`, where the chunk exists
        for this lane and `valid` (if given) holds. Into fresh registers (zeros where skipped),
        or into those of `into` (`_buffer` zeroed the chunks that never exist)."""
        b = self.b
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

    def _scores(self, chunks) -> tuple[Reg, Reg]:
        """c0, c1 of `Q K^T` for one 8-position tile: positions 2t, 2t+1, q head g, in log2
        units (times scale * log2 e)."""
        b = self.b
        s0, s1, j0, j1 = (b.fresh("f32") for _ in range(4))
        acc = Vector((self.zf,) * 4)
        for c, words in enumerate(chunks):
            for half in range(2):
                q0, q1 = self.q[c][2 * half], self.q[c][2 * half + 1]
                a = Vector((q0, self.zero, q1, self.zero))
                kb = Vector((words[2 * half], words[2 * half + 1]))
                b.set(Vector((s0, s1, j0, j1)), self.mma, a, kb, acc)
                acc = Vector((s0, s1, self.zf, self.zf))
        scale = self.k.scale * LOG2E
        return b.op("mul.f32", s0, scale), b.op("mul.f32", s1, scale)

    def _softmax(self, x: list[Reg]) -> list[Reg]:
        """The online-softmax update of q head g over the tile's 16 positions (this lane holds
        4 of them); returns the 4 weights p."""
        b = self.b
        mx = b.op("max.f32", b.op("max.f32", x[0], x[1]), b.op("max.f32", x[2], x[3]))
        for offset in (1, 2):
            other = b.set(b.fresh("f32"), "shfl.sync.bfly.b32", mx, offset, 31, -1)
            mx = b.op("max.f32", mx, other)
        m_new = b.op("max.f32", self.m, mx)
        safe = finite_or_zero(b, m_new)
        corr = b.op("ex2.approx.ftz.f32", b.op("sub.f32", self.m, safe))
        p = [b.op("ex2.approx.ftz.f32", b.op("sub.f32", xi, safe)) for xi in x]
        b.set(self.l, "mul.f32", self.l, corr)
        for pi in p:
            b.set(self.l, "add.f32", self.l, pi)
        for pairs in self.o:
            for c0, c1 in pairs:
                b.set(c0, "mul.f32", c0, corr)
                b.set(c1, "mul.f32", c1, corr)
        b.set(self.m, "mov.f32", m_new)
        return p

    def _pv(self, a: Vector, v_rows) -> None:
        """`O += P V` over the 16 positions: one mma per n-tile (8 output dims)."""
        b = self.b
        for h in range(self.vc):
            for i in range(8):
                sel = LOW_HALVES if i % 2 == 0 else HIGH_HALVES
                words = [v_rows[d][h][i // 2] for d in range(4)]  # positions 2t+{0,1,8,9}
                lo = b.op("prmt.b32", words[0], words[1], sel)
                hi = b.op("prmt.b32", words[2], words[3], sel)
                c0, c1 = self.o[h][i]
                j0, j1 = b.fresh("f32"), b.fresh("f32")
                b.set(Vector((c0, c1, j0, j1)), self.mma, a, Vector((lo, hi)),
                      Vector((c0, c1, self.zf, self.zf)))

    # -- after the stream -----------------------------------------------------------------
    def reduce_quad_sum(self) -> None:
        """The four lanes of a quad hold parts of q head g's sum: add them."""
        b = self.b
        b.comment("phase: quad reduction (the lanes of a q head add their parts of the sum)")
        for offset in (1, 2):
            other = b.set(b.fresh("f32"), "shfl.sync.bfly.b32", self.l, offset, 31, -1)
            b.set(self.l, "add.f32", self.l, other)

    def publish(self) -> None:
        """Lanes of q heads in the group write o (their dims), m and l to the warp's record."""
        b, k, sb = self.b, self.k, self.sb
        b.comment("phase: cross-warp merge (each warp publishes o, m, l per q head)")
        sb.base = b.op("mov.u32", sb.smem)
        rec = b.op("mad.lo.u32", sb.warp, k.warp_record_bytes, sb.base)
        rec = b.op("mad.lo.u32", self.g, k.record_words * 4, rec)
        col = b.op("mad.lo.u32", self.t, 64, rec)  # dim 16t: 64 bytes per t
        for h in range(self.vc):
            for j in range(2):
                ok = self._below(self.t, 3, 16, 64 * h + 8 * j)
                guard = self.head_ok if ok is None else b.op("and.pred", self.head_ok, ok)
                for i in range(8):
                    b.op("st.shared.f32", Address(col, 256 * h + 32 * j + 4 * i),
                         self.o[h][i][j], guard=Guard(guard))
        first = b.op("and.pred", self.head_ok, b.op("setp.eq.u32", self.t, 0))
        b.op("st.shared.f32", Address(rec, k.head_dim * 4), self.m, guard=Guard(first))
        b.op("st.shared.f32", Address(rec, k.head_dim * 4 + 4), self.l, guard=Guard(first))
        b.op("bar.sync", 0)
