"""`MultiWarpIncrementalAttentionKernel`: the seed's multi-warp decode attention. Each of W warps
of a q head's CTA walks one chunk of the positions; the partial softmax states are merged
through shared memory behind three barriers, and warp 0 sums the rescaled rows."""

from __future__ import annotations

from ..ptx import Kernel, KernelBuilder
from ..ptx.ir import Address, Guard, Reg, Symbol
from .common import (
    MAX_SLOTS,
    AttentionKernelBase,
    Setup,
    SoftmaxState,
    attend_position,
    init_state,
    prologue,
    slot_guards,
    store_output,
)
from .debug import DebugRecorder
from .online_softmax import NEG_INF, chunk_bounds, exp_diff


class MultiWarpIncrementalAttentionKernel(AttentionKernelBase):
    """One CTA of `num_warps` warps per q head; grid `(num_heads, 1, 1)`,
    block `(32 * num_warps, 1, 1)`.

    Shared memory, f32 words: `[0, W)` local maxes, `[W, 2W)` local sums, `2W` global max,
    `2W + 1` global sum, then W rows of head_dim partial outputs.

    Constructor options: `explorer.schema.KERNEL_OPTIONS["multi-warp"]` (num_warps 4 unless
    given).
    """

    name = "multi-warp"
    base_entry = "multi_warp_attention"

    def configure(self, values: dict[str, object]) -> None:
        self.num_warps = values["num_warps"]

    @property
    def num_warps_per_head(self) -> int:
        """The seed's name for `num_warps`."""
        return self.num_warps

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.num_heads, 1, 1)

    @property
    def block(self) -> tuple[int, int, int]:
        return (32 * self.num_warps, 1, 1)

    @property
    def rows_offset(self) -> int:
        """Byte offset of the first partial-output row in shared memory."""
        return (2 * self.num_warps + 2) * 4

    @property
    def shared_bytes(self) -> int:
        return self.rows_offset + self.num_warps * self.head_dim * 4

    def build(self) -> Kernel:
        b = KernelBuilder(self.entry)
        shape, w = self.shape, self.num_warps
        smem = b.shared("smem", "b8", self.shared_bytes)
        setup = prologue(b, shape, self.indirect_seq_len)
        rec = DebugRecorder(b, self.debug_layout, setup.head, setup.lane) if self.debug else None
        state = init_state(b, shape)
        b.comment("phase: chunk loop (warp w walks [w*chunk, min((w+1)*chunk, seq_len)))")
        start, end = chunk_bounds(b, setup.seq_len, w, setup.warp)
        with b.loop(start, end, "chunk") as pos:
            score = attend_position(b, shape, setup, state, pos)
            if rec:
                rec.score(pos, score)
        if rec:
            b.comment("debug: record this warp's chunk, local max and local sum")
            for field, value, type_ in (
                ("chunk_start", start, "u32"), ("chunk_end", end, "u32"),
                ("m", state.m, "f32"), ("l", state.l, "f32"),
            ):
                rec.per_warp(field, setup.warp, value, type_)
        b.comment("phase: warp reduction done; lane 0 of each warp publishes m_w and l_w")
        base = b.op("mov.u32", smem)  # shared addresses from the symbol, not from 0
        self._publish_warp_state(b, setup, state, base)
        self._merge_on_thread0(b, setup, base, smem, rec)
        lane_col = b.op("mad.lo.u32", setup.lane, 4, base)  # this lane's column of a row
        self._rescale_rows(b, setup, state, lane_col, smem, rec)
        self._sum_rows_on_warp0(b, setup, lane_col)
        b.op("ret")
        return b.build()

    def _publish_warp_state(self, b, setup: Setup, state: SoftmaxState, base: Reg) -> None:
        slot = b.op("add.u32", base, b.op("shl.b32", setup.warp, 2))
        lane0 = b.op("setp.eq.u32", setup.lane, 0)
        b.op("st.shared.f32", Address(slot), state.m, guard=Guard(lane0))
        b.op("st.shared.f32", Address(slot, 4 * self.num_warps), state.l, guard=Guard(lane0))
        b.op("bar.sync", 0)

    def _merge_on_thread0(self, b, setup: Setup, base: Reg, smem: Symbol, rec) -> None:
        w = self.num_warps
        b.comment("phase: cross-warp merge (thread 0: M = max m_w, L = sum l_w 2^((m_w-M)log2e))")
        thread0 = b.op("setp.eq.u32", setup.tid, 0)
        with b.if_(thread0, "thread0"):
            big_m = b.op("mov.f32", NEG_INF)
            with b.loop(0, w, "max") as i:
                m_w = b.op("ld.shared.f32", Address(b.op("mad.lo.u32", i, 4, base)))
                b.set(big_m, "max.f32", big_m, m_w)
            big_l = b.op("mov.f32", 0.0)
            any_position = b.op("setp.gt.f32", big_m, NEG_INF)  # else every warp was empty
            with b.if_(any_position, "nonempty"), b.loop(0, w, "sum") as i:
                slot = b.op("mad.lo.u32", i, 4, base)
                m_w = b.op("ld.shared.f32", Address(slot))
                l_w = b.op("ld.shared.f32", Address(slot, 4 * w))
                factor = exp_diff(b, m_w, big_m)
                b.set(big_l, "fma.rn.f32", l_w, factor, big_l)
            b.op("st.shared.f32", Address(smem, 8 * w), big_m)
            b.op("st.shared.f32", Address(smem, 8 * w + 4), big_l)
            if rec:
                rec.per_head("M", big_m)
                rec.per_head("L", big_l)
        b.op("bar.sync", 0)

    def _rescale_rows(self, b, setup, state: SoftmaxState, lane_col: Reg, smem, rec) -> None:
        w, shape = self.num_warps, self.shape
        b.comment("phase: rescale (f = 2^((m_w - M)log2e) / L; 0 when seq_len is 0) and publish")
        big_m = b.op("ld.shared.f32", Address(smem, 8 * w))
        big_l = b.op("ld.shared.f32", Address(smem, 8 * w + 4))
        f = b.op("mov.f32", 0.0)
        nonempty = b.op("setp.gt.f32", big_l, 0.0)
        factor = exp_diff(b, state.m, big_m)
        b.set(f, "div.rn.f32", factor, big_l, guard=Guard(nonempty))
        if rec:
            rec.per_warp("factor", setup.warp, rec.zero_unless(factor, nonempty))
        row = b.op("mad.lo.u32", setup.warp, shape.head_dim * 4, lane_col)
        for s, (reg, guard) in enumerate(zip(state.o, slot_guards(setup, shape), strict=False)):
            b.set(reg, "mul.f32", reg, f, guard=guard)
            addr = Address(row, self.rows_offset + 128 * s)
            b.op("st.shared.f32", addr, reg, guard=guard)
        b.op("bar.sync", 0)

    def _sum_rows_on_warp0(self, b, setup: Setup, lane_col: Reg) -> None:
        shape = self.shape
        b.comment("phase: final sum (warp 0 adds the W rows and stores out)")
        warp0 = b.op("setp.eq.u32", setup.warp, 0)
        with b.if_(warp0, "warp0"):
            acc = b.reserve("f32", shape.slots, MAX_SLOTS)
            for reg in acc:
                b.set(reg, "mov.f32", 0.0)
            x = b.reserve("f32", shape.slots, MAX_SLOTS)
            guards = slot_guards(setup, shape)
            with b.loop(0, self.num_warps, "rows") as i:
                row = b.op("mad.lo.u32", i, shape.head_dim * 4, lane_col)
                for s in range(shape.slots):
                    addr = Address(row, self.rows_offset + 128 * s)
                    b.set(x[s], "ld.shared.f32", addr, guard=guards[s])
                    b.set(acc[s], "add.f32", acc[s], x[s], guard=guards[s])
            store_output(b, shape, setup, acc)

