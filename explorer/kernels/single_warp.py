"""`IncrementalAttentionKernel`: the seed's single-warp decode attention (one warp per q head
walks every position). Kept for teaching and as the baseline the multi-warp kernel must beat."""

from __future__ import annotations

from ..ptx import Kernel, KernelBuilder
from ..ptx.ir import Guard
from .common import (
    AttentionKernelBase,
    attend_position,
    init_state,
    prologue,
    slot_guards,
    store_output,
)
from .debug import DebugRecorder


class IncrementalAttentionKernel(AttentionKernelBase):
    """One CTA of one warp per q head; grid `(num_heads, 1, 1)`, block `(32, 1, 1)`.

    Params: `q_ptr, k_ptr, v_ptr, out_ptr .u64`, then `seq_len .u32` (or `seq_len_ptr .u64`
    when `indirect_seq_len`). Layouts: q/out `[num_heads, head_dim]`, K/V
    `[num_kv_heads, max_seq_len, head_dim]`, all f32.

    Constructor options: `explorer.schema.KERNEL_OPTIONS["single-warp"]` (num_kv_heads
    defaults to num_heads, as the seed's `IncrementalAttentionKernel::new(max_seq_len,
    head_dim, num_heads)`).
    """

    name = "single-warp"
    base_entry = "incremental_attention"

    def configure(self, values: dict[str, object]) -> None:
        self.num_warps = 1

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.num_heads, 1, 1)

    @property
    def block(self) -> tuple[int, int, int]:
        return (32, 1, 1)

    @property
    def shared_bytes(self) -> int:
        return 0

    def build(self) -> Kernel:
        b = KernelBuilder(self.entry)
        shape = self.shape
        setup = prologue(b, shape, self.indirect_seq_len)
        rec = DebugRecorder(b, self.debug_layout, setup.head, setup.lane) if self.debug else None
        state = init_state(b, shape)
        b.comment("phase: position loop (online softmax over positions 0..seq_len)")
        with b.loop(0, setup.seq_len, "pos") as pos:
            score = attend_position(b, shape, setup, state, pos)
            if rec:
                rec.score(pos, score)
        b.comment("phase: normalise (out = o / l; zeros when seq_len is 0) and store")
        inv_l = b.op("mov.f32", 0.0)
        nonempty = b.op("setp.gt.f32", state.l, 0.0)
        if rec:
            _record_single_warp(rec, setup, state, nonempty)
        b.set(inv_l, "rcp.rn.f32", state.l, guard=Guard(nonempty))
        for reg, guard in zip(state.o, slot_guards(setup, shape), strict=False):
            b.set(reg, "mul.f32", reg, inv_l, guard=guard)
        store_output(b, shape, setup, state.o)
        b.op("ret")
        return b.build()


def _record_single_warp(rec: DebugRecorder, setup, state, nonempty) -> None:
    """One warp walked [0, seq_len): its state is the head's (factor 1, or 0 if empty)."""
    rec.b.comment("debug: record the warp's state (one warp: M = m, L = l)")
    rec.per_warp("chunk_start", None, rec.constant("u32", 0), "u32")
    rec.per_warp("chunk_end", None, setup.seq_len, "u32")
    rec.per_warp("m", None, state.m)
    rec.per_warp("l", None, state.l)
    rec.per_warp("factor", None, rec.zero_unless(rec.constant("f32", 1.0), nonempty))
    rec.per_head("M", state.m, lane0_only=True)
    rec.per_head("L", state.l, lane0_only=True)
