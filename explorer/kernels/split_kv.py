"""`SplitKVDecodeAttentionKernel`: flash-decoding with the same emitter. The sequence is split
over CTAs so that every SM streams K/V; each CTA serves all q heads of one GQA group from one
read of its K/V slice, with 16-byte loads and several rows in flight per warp; a second entry
merges the splits (log-sum-exp). Batch >= 1 with per-sequence lengths in a device array.

Two paths for the per-split work: CUDA cores (f32 always; f16/bf16 with `mma=False`), where
lanes share a row and reduce dot products with shuffles, and tensor cores (f16/bf16 by
default, `split_kv_mma.py`), where q.k and p.v are `mma.sync` instructions.
"""

from __future__ import annotations

import math

from ..ptx import BufferSpec, Kernel, KernelBuilder, Launch
from ..ptx.ir import Address, Guard, Reg, SpecialReg, Vector
from .common import (
    LOG2E,
    NAN,
    NEG_INF,
    TARGETS,
    AttentionKernelBase,
    AttentionShape,
    maybe_guard,
    require_int,
)
from .split_kv_combine import build_combine, merge_in_last_cta
from .split_kv_geometry import (
    CTAS_PER_SM,
    DEFAULT_SM_COUNT,
    MAX_STATIC_SHARED,
    MAX_U32_INDEX,
    WARPS_PER_SM,
    Geometry,
    default_f32_warps,
    default_num_splits,
    default_unroll,
    register_estimate,
    resident_ctas,
)
from .split_kv_mma import (
    DEFAULT_MMA_PIPELINE,
    DEFAULT_MMA_WARPS,
    DEFAULT_PREFETCH,
    MAX_GROUP,
    MIN_TARGET,
    TILE,
    MmaStream,
)
from .split_kv_state import SoftmaxStates, finite_or_zero
from .vector_io import DTYPES, elements_per_chunk, load_chunk


class SplitKVDecodeAttentionKernel(AttentionKernelBase):
    """Grid `(num_splits, num_kv_heads, batch)` of `32 * num_warps` threads, then the combine
    grid `(num_heads, batch)`. Layouts: q/out `[batch, num_heads, head_dim]`, K/V
    `[batch, num_kv_heads, max_seq_len, head_dim]` (batch 1: the seed's layouts), all in
    `dtype` (f32, f16 or bf16; accumulation in f32); `seq_lens` u32 `[batch]` on the device;
    workspace f32 `partial_o [batch, num_heads, num_splits, head_dim]` and
    `partial_ml [batch, num_heads, num_splits, 2]` (max in log2 units, sum).

    `mma` picks tensor cores (default for f16/bf16 with <= 8 q heads per KV head and head_dim
    <= 128; needs sm_80+); `prefetch` (tensor cores only) prefetches a warp's tile that many
    tiles ahead into L2. `merge="last-cta"` merges the splits at the end of the split entry,
    in the CTA that finishes last (an atomic counter per group, u32 `counters [batch,
    num_kv_heads]` zeroed once and left at zero), instead of in a second kernel: one launch,
    but measured slower on an H200, so not the default. Defaults for warps, splits, unroll
    and pipelining come from H200 sweeps (docs/performance.md)."""

    name = "split-kv"
    base_entry = "split_kv_attention"

    def __init__(
        self,
        max_seq_len: int,
        head_dim: int,
        num_heads: int,
        num_kv_heads: int,
        batch: int = 1,
        num_warps: int | None = None,
        num_splits: int | None = None,
        dtype: str = "f32",
        unroll: int | None = None,
        pipeline: bool | None = None,
        scale: float | None = None,
        sm_count: int = DEFAULT_SM_COUNT,
        debug: bool = False,
        mma: bool | None = None,
        prefetch: int | None = None,
        merge: str = "kernel",
    ) -> None:
        shape = AttentionShape.checked(max_seq_len, head_dim, num_heads, num_kv_heads, scale)
        if debug is not False:
            raise ValueError(f"debug={debug!r}: the split-kv kernel has no debug variant yet "
                             "(accepted: False)")
        super().__init__(shape, indirect_seq_len=True, debug=False)
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r}; accepted: {', '.join(DTYPES)}")
        if head_dim % elements_per_chunk(dtype):
            raise ValueError(
                f"head_dim={head_dim} must be a multiple of {elements_per_chunk(dtype)} for "
                f"{dtype} (16-byte loads)"
            )
        self.dtype = dtype
        if merge not in MERGES:
            raise ValueError(f"merge={merge!r}; accepted: {', '.join(map(repr, MERGES))} (the "
                             "last CTA of a group merges its splits, or a second kernel does)")
        self.merge = merge
        self.batch = require_int("batch", batch, 1, 65535)
        self.mma = _check_mma(mma, dtype, num_heads // num_kv_heads, head_dim)
        if self.mma and unroll not in (None, 1):
            raise ValueError(f"unroll={unroll!r}: rows in flight per lane belong to the "
                             "CUDA-core path (pass mma=False); the tensor-core path loads a "
                             "16-row tile per warp (pipeline=True: two)")
        if prefetch is None:
            prefetch = DEFAULT_PREFETCH if self.mma else 0
        self.prefetch = require_int("prefetch", prefetch, 0, 4)
        if self.prefetch and not self.mma:
            raise ValueError(f"prefetch={prefetch!r}: L2 prefetching of later tiles belongs to "
                             "the tensor-core path (mma=True); the CUDA-core path pipelines")
        if num_warps is None:  # the fastest measured (docs/performance.md)
            num_warps = DEFAULT_MMA_WARPS if self.mma else 2 if dtype != "f32" else (
                default_f32_warps(sm_count, num_kv_heads * self.batch, self.warp_record_bytes))
        self.num_warps = require_int("num_warps", num_warps, 1, 16)
        if pipeline is None:  # measured (docs/performance.md)
            pipeline = DEFAULT_MMA_PIPELINE if self.mma else dtype == "f32"
        if not isinstance(pipeline, bool):
            raise ValueError(f"pipeline must be True or False, got {pipeline!r}")
        self.pipeline = pipeline
        if unroll is None:
            unroll = 1 if self.mma else default_unroll(num_heads // num_kv_heads, head_dim,
                                                       dtype, pipeline)
        self.unroll = require_int("unroll", unroll, 1, 8)
        self.sm_count = require_int("sm_count", sm_count, 1, 10_000)
        if num_splits is None:
            num_splits = default_num_splits(sm_count, num_kv_heads, batch, max_seq_len,
                                            self.ctas_per_sm)
        self.num_splits = require_int("num_splits", num_splits, 1, 65535)
        partials = self.batch * num_heads * self.num_splits * head_dim
        if partials > MAX_U32_INDEX:  # the workspace and out are indexed in 32 bits
            raise ValueError(
                f"batch * num_heads * num_splits * head_dim = {partials} is too large for "
                f"32-bit indexing of the workspace (accepted: at most {MAX_U32_INDEX})"
            )
        self.geometry = Geometry(head_dim, dtype, self.num_warps, self.unroll)
        if self.shared_bytes > MAX_STATIC_SHARED:
            raise ValueError(
                f"num_warps={self.num_warps} with {self.group} q heads per KV head and head_dim "
                f"{head_dim} needs {self.shared_bytes} bytes of shared memory, over the "
                f"{MAX_STATIC_SHARED} a static allocation may use; " + (
                    "use fewer warps" if self.num_warps > 1 else
                    "fewer q heads per KV head or a smaller head_dim")
            )

    @property
    def register_estimate(self) -> int:
        if self.mma:  # 40 + Q, o, and K and V fragments of a tile (two when pipelined)
            kc, vc = -(-self.head_dim // 32), -(-self.head_dim // 64)
            return 40 + 4 * kc + 16 * vc + (2 if self.pipeline else 1) * (8 * kc + 16 * vc)
        return register_estimate(self.group, self.geometry.lane_elems, self.unroll, self.dtype,
                                 self.pipeline)

    @property
    def ctas_per_sm(self) -> int:
        """CTAs the splits heuristic counts on per SM (at most CTAS_PER_SM): CUDA cores, enough
        for WARPS_PER_SM warps; tensor cores, as many as their registers allow (at head_dim 128
        the estimate, 152 / 216 pipelined, gives the CTA counts of ptxas' 148 / 255 for 2, 4
        and 8 warps)."""
        if not self.mma:  # 16 warps per SM: 4 CTAs of 4 warps, 1 of 16
            return max(1, min(CTAS_PER_SM, WARPS_PER_SM // self.num_warps))
        return max(1, min(CTAS_PER_SM, resident_ctas(self.register_estimate,
                                                     32 * self.num_warps)))

    @property
    def rows_per_step(self) -> int:
        """Rows a CTA reads per step of its loop (a 16-row tile per warp on tensor cores)."""
        return TILE * self.num_warps if self.mma else self.geometry.rows_per_step

    @property
    def group(self) -> int:
        """q heads per KV head."""
        return self.num_heads // self.num_kv_heads

    @property
    def entry(self) -> str:
        return self.base_entry

    combine_entry = "split_kv_combine"

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.num_splits, self.num_kv_heads, self.batch)

    @property
    def block(self) -> tuple[int, int, int]:
        return (32 * self.num_warps, 1, 1)

    @property
    def combine_grid(self) -> tuple[int, int, int]:
        return (self.num_heads, self.batch, 1)

    @property
    def combine_block(self) -> tuple[int, int, int]:
        return (32 * -(-self.head_dim // 32), 1, 1)

    @property
    def record_words(self) -> int:
        """Shared words per (warp, head): head_dim outputs, m, l, two pad (16-byte rows)."""
        return self.head_dim + 4

    @property
    def warp_record_bytes(self) -> int:
        """Shared bytes of one warp's records (every q head of the group)."""
        return self.group * self.record_words * 4

    @property
    def shared_bytes(self) -> int:
        return self.num_warps * self.warp_record_bytes

    @property
    def kernels(self) -> tuple[Kernel, ...]:
        return (self.kernel,) if self.merge == "last-cta" else (self.kernel, build_combine(self))

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        names = ["q_ptr", "k_ptr", "v_ptr", "seq_lens_ptr", "partial_o_ptr", "partial_ml_ptr"]
        if self.merge == "last-cta":
            names += ["counters_ptr", "out_ptr"]
        return tuple((n, "u64") for n in names)

    def buffer_specs(self) -> tuple[BufferSpec, ...]:
        """q/out `[batch, heads, head_dim]`, K/V `[batch, kv_heads, max_seq_len, head_dim]`,
        the u32 lengths `[batch]`, the f32 workspaces (poisoned), and for merge="last-cta"
        the u32 counters `[batch, kv_heads]` (zeros)."""
        b, h, kv, hd = self.batch, self.num_heads, self.num_kv_heads, self.head_dim
        rows = (b, h, self.num_splits)
        specs = [*self.attention_specs((b, h, hd), (b, kv, self.max_seq_len, hd)),
                 BufferSpec("seq_len", (b,), "uint32", "input"),
                 BufferSpec("partial_o", (*rows, hd), "float32", "workspace", fill=NAN),
                 BufferSpec("partial_ml", (*rows, 2), "float32", "workspace", fill=NAN)]
        if self.merge == "last-cta":
            specs.append(BufferSpec("counters", (b, kv), "uint32", "counter"))
        return tuple(specs)

    def launches(self) -> list[Launch]:
        split = ("q", "k", "v", "seq_len", "partial_o", "partial_ml")
        if self.merge == "last-cta":
            return [Launch(self.entry, self.grid, self.block, (*split, "counters", "out"))]
        combine = ("partial_o", "partial_ml", "out")
        return [
            Launch(self.entry, self.grid, self.block, split),
            Launch(self.combine_entry, self.combine_grid, self.combine_block, combine),
        ]

    def config(self) -> dict[str, object]:
        cfg = {k: v for k, v in super().config().items() if k not in ("indirect_seq_len", "debug")}
        return {**cfg, "batch": self.batch, "num_warps": self.num_warps,
                "num_splits": self.num_splits, "dtype": self.dtype, "unroll": self.unroll,
                "pipeline": self.pipeline, "mma": self.mma, "prefetch": self.prefetch,
                "merge": self.merge}

    def check_target(self, target: str) -> str:
        if self.mma and target in TARGETS and int(target[3:5]) < MIN_TARGET:
            raise ValueError(f"target={target!r}: the tensor-core path (mma=True, "
                             f"mma.sync.m16n8k16 with {self.dtype}) needs sm_80 or newer; "
                             "pick a newer target or pass mma=False")
        return super().check_target(target)

    def build(self) -> Kernel:
        return _SplitBuilder(self).build()


class _SplitBuilder:
    """Writes the split entry; one method per phase."""

    def __init__(self, kernel: SplitKVDecodeAttentionKernel) -> None:
        self.k, self.g = kernel, kernel.geometry
        # `.maxntid`: ptxas keeps registers within what one CTA of this size may use (16 warps:
        # 128 per thread), so a launch never fails for lack of registers
        self.b = KernelBuilder(kernel.entry, max_threads=32 * kernel.num_warps)

    def build(self) -> Kernel:
        b, k = self.b, self.k
        self.smem = b.shared("smem", "b8", k.shared_bytes, align=16)
        syms = [b.param(n, t) for n, t in k.params]
        b.comment("phase: setup (split, KV head, sequence, this lane's row slot and chunk)")
        q, kp, vp, lens, self.po, self.pml, *merge_ptrs = (
            b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(s))) for s in syms
        )
        if k.mma:
            self._ids_and_length(lens)
            tc = MmaStream(self)
            tc.lanes()
            tc.load_q(q)
            self._range()
            tc.stream(kp, vp)
            tc.reduce_quad_sum()
            tc.publish()
        else:
            self._coordinates(lens)
            self._load_q(q)
            self._range()
            state = self._stream(kp, vp)
            self._merge_row_slots(state)
            self._publish(state)
        self._reduce_warps()
        if k.merge == "last-cta":
            merge_in_last_cta(b, k, self, *merge_ptrs)
        b.op("ret")
        return b.build()

    def _ids_and_length(self, lens: Reg) -> None:
        """This CTA's split, KV head, sequence, thread, lane and warp, and the load of the
        sequence's length (used by `_range`, after the q loads: both loads are in flight)."""
        b = self.b
        self.split, self.kvh, self.seq = (b.special(f"ctaid.{a}") for a in "xyz")
        self.splits = b.special("nctaid.x")
        self.tid = b.special("tid.x")
        self.lane = b.op("and.b32", self.tid, 31)
        self.warp = b.op("shr.u32", self.tid, 5)
        self.raw_len = b.op("ld.global.u32", Address(b.op("mad.wide.u32", self.seq, 4, lens)))

    def _range(self) -> None:
        """This CTA's row range [start, end) of the sequence (its length clamped to
        max_seq_len)."""
        b, k, splits = self.b, self.k, self.splits
        seq_len = b.op("min.u32", self.raw_len, k.max_seq_len)  # never read past the cache
        chunk = b.op("div.u32", b.op("add.u32", seq_len, b.op("sub.u32", splits, 1)), splits)
        self.start = b.op("min.u32", b.op("mul.lo.u32", self.split, chunk), seq_len)
        self.end = b.op("min.u32", b.op("add.u32", self.start, chunk), seq_len)

    def _coordinates(self, lens: Reg) -> None:
        b, g = self.b, self.g
        self._ids_and_length(lens)
        self.slot = b.op("shr.u32", self.lane, int(math.log2(g.lanes_per_row)))
        self.col = b.op("and.b32", self.lane, g.lanes_per_row - 1)
        self.chunk_ok = [
            b.op("setp.lt.u32", self.col, g.chunks - j * g.lanes_per_row)
            if (j + 1) * g.lanes_per_row > g.chunks else None
            for j in range(g.chunks_per_lane)
        ]
        self.col_bytes = b.op("mul.wide.u32", self.col, 16)

    def _load_q(self, q_ptr: Reg) -> None:
        b, k, g = self.b, self.k, self.g
        b.comment(f"phase: load Q ({k.group} q heads of this KV head, as f32)")
        esize = DTYPES[k.dtype]
        first = b.op("mad.lo.u32", self.seq, k.num_heads, b.op("mul.lo.u32", self.kvh, k.group))
        row = b.op("add.s64", q_ptr, b.op("mul.wide.u32", first, k.head_dim * esize))
        row = b.op("add.s64", row, self.col_bytes)
        self.q = []
        for i in range(k.group):
            regs = [b.op("mov.f32", 0.0) for _ in range(g.lane_elems)]
            for j in range(g.chunks_per_lane):
                addr = Address(row, i * k.head_dim * esize + j * g.lanes_per_row * 16)
                load_chunk(b, addr, k.dtype, regs[j * g.elems:(j + 1) * g.elems],
                           maybe_guard(self.chunk_ok[j]))
            self.q.append(regs)

    def _stream(self, k_ptr: Reg, v_ptr: Reg):
        b, k, g = self.b, self.k, self.g
        esize = DTYPES[k.dtype]
        cache = b.op("mad.lo.u32", self.seq, k.num_kv_heads, self.kvh)
        offset = b.op("mul.wide.u32", cache, k.max_seq_len * k.head_dim)
        offset = b.op("add.s64", b.op("shl.b64", offset, int(math.log2(esize))), self.col_bytes)
        k_base, v_base = b.op("add.s64", k_ptr, offset), b.op("add.s64", v_ptr, offset)
        self.k_base, self.v_base = k_base, v_base
        state = SoftmaxStates.initial(b, k.group, g.lane_elems)
        self.first_row = b.op("mad.lo.u32", self.warp, g.rows_per_warp, self.slot)
        step = g.rows_per_step
        if not k.pipeline:
            b.comment(f"phase: chunk loop ({step} rows per step: {g.num_warps} warps x "
                      f"{g.rows_per_warp} rows x {g.unroll} deep; K and V loads issued first)")
            rows = self._buffer()
            with b.loop(self.start, self.end, "rows", step=step) as row0:
                self._issue(rows, row0, 0)
                self._consume(state, rows)
            return state
        b.comment(f"phase: chunk loop, software-pipelined: the next {step} rows' K and V loads "
                  f"are in flight while this step's {step} rows are computed")
        ping, pong = self._buffer(), self._buffer()
        self._issue(ping, self.start, 0)
        with b.loop(self.start, self.end, "rows", step=2 * step) as row0:
            self._issue(pong, row0, step)
            self._consume(state, ping)
            self._issue(ping, row0, 2 * step)
            self._consume(state, pong)
        return state

    def _buffer(self) -> tuple[list[list[Reg]], list[Reg]]:
        """Registers for one step's rows: K and V values (zeroed: a guarded-off load leaves
        them finite) and a valid predicate per unrolled row."""
        b, g = self.b, self.g
        values = [[b.op("mov.f32", 0.0) for _ in range(2 * g.lane_elems)]
                  for _ in range(g.unroll)]
        return values, [b.fresh("pred") for _ in range(g.unroll)]

    def _issue(self, rows, row0: Reg, ahead: int) -> None:
        """Load the K and V rows of the step starting `ahead` rows after `row0`."""
        b, k, g = self.b, self.k, self.g
        values, valid = rows
        for u in range(g.unroll):
            pos = b.op("add.u32", b.op("add.u32", row0, self.first_row),
                       ahead + u * g.num_warps * g.rows_per_warp)
            b.set(valid[u], "setp.lt.u32", pos, self.end)
            row = b.op("mul.wide.u32", pos, k.head_dim * DTYPES[k.dtype])
            for base, regs in ((self.k_base, values[u][:g.lane_elems]),
                               (self.v_base, values[u][g.lane_elems:])):
                self._load_row(b.op("add.s64", base, row), regs, valid[u])

    def _consume(self, state, rows) -> None:
        """Scores of a step's rows for every q head, then the online-softmax update."""
        g, values, valid = self.g, *rows
        keys = [v[:g.lane_elems] for v in values]
        vals = [v[g.lane_elems:] for v in values]
        for i in range(self.k.group):
            scores = [self._score(i, keys[u], valid[u]) for u in range(g.unroll)]
            state.update(self.b, i, scores, vals)

    def _load_row(self, addr: Reg, regs: list[Reg], valid: Reg) -> None:
        b, g = self.b, self.g
        for j in range(g.chunks_per_lane):
            guard = valid if self.chunk_ok[j] is None else b.op(
                "and.pred", valid, self.chunk_ok[j])
            load_chunk(b, Address(addr, j * g.lanes_per_row * 16), self.k.dtype,
                       regs[j * g.elems:(j + 1) * g.elems], Guard(guard))

    def _score(self, head: int, k_regs: list[Reg], valid: Reg) -> Reg:
        """log2-domain score of this row for one q head: dot over the row's lanes (butterfly
        shuffles within the lane group), times scale * log2 e; -inf past the split's end."""
        b = self.b
        dot = b.op("mul.f32", self.q[head][0], k_regs[0])
        for qv, kv in zip(self.q[head][1:], k_regs[1:], strict=True):
            b.set(dot, "fma.rn.f32", qv, kv, dot)
        offset = self.g.lanes_per_row // 2
        while offset:
            other = b.set(b.fresh("f32"), "shfl.sync.bfly.b32", dot, offset, 31, -1)
            dot = b.op("add.f32", dot, other)
            offset //= 2
        score = b.op("mul.f32", dot, self.k.scale * LOG2E)
        return b.op("selp.f32", score, NEG_INF, valid)

    def _merge_row_slots(self, state) -> None:
        """The warp's row slots hold separate states: merge them with butterfly shuffles."""
        b, g = self.b, self.g
        if g.rows_per_warp == 1:
            return
        b.comment("phase: warp reduction (merge the warp's row slots)")
        offset = g.lanes_per_row
        while offset < 32:
            for i in range(self.k.group):
                other = [b.set(b.fresh("f32"), "shfl.sync.bfly.b32", x, offset, 31, -1)
                         for x in (state.m[i], state.l[i], *state.o[i])]
                state.merge(b, i, other[0], other[1], other[2:])
            offset *= 2

    def _publish(self, state) -> None:
        """Row slot 0 of each warp writes its (o, m, l) per head to shared memory."""
        b, k, g = self.b, self.k, self.g
        b.comment("phase: cross-warp merge (each warp publishes o, m, l per q head)")
        self.base = b.op("mov.u32", self.smem)
        rec = b.op("mad.lo.u32", self.warp, k.warp_record_bytes, self.base)
        col = b.op("mad.lo.u32", self.col, g.elems * 4, rec)
        slot0 = b.op("setp.eq.u32", self.slot, 0)
        lane0 = b.op("setp.eq.u32", self.tid, b.op("shl.b32", self.warp, 5))
        for i in range(k.group):
            head = i * k.record_words * 4
            for j in range(g.chunks_per_lane):
                ok = slot0 if self.chunk_ok[j] is None else b.op("and.pred", slot0,
                                                                 self.chunk_ok[j])
                for v4 in range(g.elems // 4):
                    regs = state.o[i][j * g.elems + 4 * v4: j * g.elems + 4 * v4 + 4]
                    off = head + j * g.lanes_per_row * g.elems * 4 + 16 * v4
                    b.op("st.shared.v4.f32", Address(col, off), _vector(regs), guard=Guard(ok))
            b.op("st.shared.f32", Address(rec, head + k.head_dim * 4), state.m[i],
                 guard=Guard(lane0))
            b.op("st.shared.f32", Address(rec, head + k.head_dim * 4 + 4), state.l[i],
                 guard=Guard(lane0))
        b.op("bar.sync", 0)

    def _reduce_warps(self) -> None:
        """Threads share the (head, element) pairs: merge the warps' records, write the split's
        unnormalised output, its max (log2 units) and its sum to the workspace."""
        b, k = self.b, self.k
        b.comment("phase: final sum (merge warps; write this split's partial output, max, sum)")
        total, threads = k.group * k.head_dim, 32 * k.num_warps
        stride = k.warp_record_bytes
        with b.loop(self.tid, total, "pairs", step=threads) as idx:
            head = b.op("div.u32", idx, k.head_dim)
            elem = b.op("rem.u32", idx, k.head_dim)
            rec = b.op("mad.lo.u32", head, k.record_words * 4, self.base)
            col = b.op("mad.lo.u32", elem, 4, rec)
            ms = [b.op("ld.shared.f32", Address(rec, w * stride + k.head_dim * 4))
                  for w in range(k.num_warps)]
            big_m = ms[0]
            for m in ms[1:]:
                big_m = b.op("max.f32", big_m, m)
            safe = finite_or_zero(b, big_m)
            big_l, out = b.op("mov.f32", 0.0), b.op("mov.f32", 0.0)
            for w, m in enumerate(ms):
                f = b.op("ex2.approx.ftz.f32", b.op("sub.f32", m, safe))
                l_w = b.op("ld.shared.f32", Address(rec, w * stride + k.head_dim * 4 + 4))
                b.set(big_l, "fma.rn.f32", l_w, f, big_l)
                o_w = b.op("ld.shared.f32", Address(col, w * stride))
                b.set(out, "fma.rn.f32", o_w, f, out)
            q_head = b.op("mad.lo.u32", self.kvh, k.group, head)
            row = b.op("mad.lo.u32", b.op("mad.lo.u32", self.seq, k.num_heads, q_head),
                       b.op("mov.u32", SpecialReg("nctaid.x")), self.split)
            flat = b.op("mad.lo.u32", row, k.head_dim, elem)
            b.op("st.global.f32", Address(b.op("mad.wide.u32", flat, 4, self.po)), out)
            first = b.op("setp.eq.u32", elem, 0)
            ml = b.op("mad.wide.u32", row, 8, self.pml)
            b.op("st.global.f32", Address(ml), big_m, guard=Guard(first))
            b.op("st.global.f32", Address(ml, 4), big_l, guard=Guard(first))


MERGES = ("last-cta", "kernel")
MMA_CHOICES = {"auto": None, "on": True, "off": False}  # a control's word -> the mma argument


def _check_mma(mma, dtype: str, group: int, head_dim: int) -> bool:
    """The tensor-core path: on by default for f16/bf16 with at most MAX_GROUP q heads per KV
    head and head_dim <= 128 (beyond, its registers spill: mma=True still builds it)."""
    if mma is None:
        return dtype != "f32" and group <= MAX_GROUP and head_dim <= 128
    if not isinstance(mma, bool):
        raise ValueError(f"mma must be True, False or None, got {mma!r}")
    if mma and dtype == "f32":
        raise ValueError("mma=True: the tensor-core path takes f16 or bf16 (dtype='f32' would "
                         "lose precision in tf32); use dtype='f16'/'bf16' or mma=False")
    if mma and group > MAX_GROUP:
        raise ValueError(f"mma=True: {group} q heads per KV head; the tensor-core path serves "
                         f"at most {MAX_GROUP} (one fragment's rows); use mma=False")
    return mma


def _vector(regs: list[Reg]) -> Vector:
    return Vector(tuple(regs))
