"""The debug variants' record: where each warp's softmax state lands in `debug_ptr`, and the
PTX that stores it.

`DebugLayout` is the one place the layout is defined (derived from heads, warps and
max_seq_len); `DebugRecorder` emits the stores, computing addresses in the builder's side
register family so that the debug variant renames none of the kernel's registers: its diff
against the plain kernel is the added parameter, the side registers and the stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ptx import KernelBuilder
from ..ptx.ir import Address, Guard, Reg
from ..verify.states import WarpStates

DEBUG_MAX_POSITIONS = 4096  # scores are recorded for positions below this (and max_seq_len)
POISON = 0xFFFFFFFF  # a NaN as f32; debug buffers are filled with it before a launch


@dataclass(frozen=True)
class DebugLayout:
    """The debug buffer: `num_heads` records of 32-bit words, one per q head. A record holds,
    for W warps and S score slots, in order:

    | words | field | type |
    |---|---|---|
    | `[0, W)` | chunk_start of each warp | u32 |
    | `[W, 2W)` | chunk_end of each warp | u32 |
    | `[2W, 3W)` | m_w, local max of scaled scores | f32 |
    | `[3W, 4W)` | l_w, local sum before the merge | f32 |
    | `[4W, 5W)` | merge factor exp(m_w - M) (0 for an empty warp) | f32 |
    | `5W` | M, global max | f32 |
    | `5W + 1` | L, global sum | f32 |
    | `[5W + 2, 5W + 2 + S)` | scaled score of position t | f32 |

    S = min(max_seq_len, DEBUG_MAX_POSITIONS); positions at or past S are not recorded.
    """

    num_heads: int
    num_warps: int
    score_slots: int

    FIELDS = ("chunk_start", "chunk_end", "m", "l", "factor")
    kind = "warp"  # which reference and figures these states take (verify, app)

    @staticmethod
    def of(kernel) -> DebugLayout:
        slots = min(kernel.max_seq_len, DEBUG_MAX_POSITIONS)
        return DebugLayout(kernel.num_heads, kernel.num_warps, slots)

    def word(self, field: str) -> int:
        """Word offset of a field inside a head's record."""
        w = self.num_warps
        if field in self.FIELDS:
            return self.FIELDS.index(field) * w
        return {"M": 5 * w, "L": 5 * w + 1, "scores": 5 * w + 2}[field]

    @property
    def record_words(self) -> int:
        return 5 * self.num_warps + 2 + self.score_slots

    @property
    def words(self) -> int:
        return self.num_heads * self.record_words

    def decode(self, buffer: np.ndarray, seq_len: int) -> WarpStates:
        """`WarpStates` from a filled buffer (`words` uint32 words)."""
        words = np.asarray(buffer, dtype=np.uint32).reshape(self.num_heads, self.record_words)
        floats = words.view(np.float32)
        w = self.num_warps

        def field(name, n=w):
            return words[:, self.word(name) : self.word(name) + n]

        recorded = min(seq_len, self.score_slots)
        return WarpStates(
            chunk_start=field("chunk_start").astype(np.int64),
            chunk_end=field("chunk_end").astype(np.int64),
            m=field("m").view(np.float32).copy(),
            l=field("l").view(np.float32).copy(),
            factor=field("factor").view(np.float32).copy(),
            M=floats[:, self.word("M")].copy(),
            L=floats[:, self.word("L")].copy(),
            scores=floats[:, self.word("scores") : self.word("scores") + recorded].copy(),
        )


class DebugRecorder:
    """Emits the debug stores of one kernel into its builder (side registers only)."""

    def __init__(self, b: KernelBuilder, layout: DebugLayout, head: Reg, lane: Reg) -> None:
        self.b, self.layout = b, layout
        param = b.param("debug_ptr", "u64")
        with b.side_registers():
            b.comment("debug: this head's record in debug_ptr")
            base = b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(param)))
            self.record = b.op("mad.wide.u32", head, layout.record_words * 4, base)
            self.lane0 = b.op("setp.eq.u32", lane, 0)
        self._warp_records: dict[Reg, Reg] = {}

    def per_warp(self, field: str, warp: Reg | None, value: Reg, type: str = "f32") -> None:
        """Lane 0 stores `value` as `field[warp]` (warp None: the only warp, W = 1)."""
        addr = Address(self._warp_record(warp), self.layout.word(field) * 4)
        self.b.op(f"st.global.{type}", addr, value, guard=Guard(self.lane0))

    def _warp_record(self, warp: Reg | None) -> Reg:
        """The record's address plus 4 * warp, computed once per warp register."""
        if warp is None:
            return self.record
        if warp not in self._warp_records:
            with self.b.side_registers():
                self._warp_records[warp] = self.b.op("mad.wide.u32", warp, 4, self.record)
        return self._warp_records[warp]

    def per_head(self, field: str, value: Reg, lane0_only: bool = False) -> None:
        """Store `value` as the head's `field` (M or L). The caller runs it on one thread, or
        on one warp with `lane0_only`."""
        guard = Guard(self.lane0) if lane0_only else None
        addr = Address(self.record, self.layout.word(field) * 4)
        self.b.op("st.global.f32", addr, value, guard=guard)

    def score(self, pos: Reg, score: Reg) -> None:
        """Lane 0 stores the scaled score of position `pos` if it has a slot."""
        b = self.b
        with b.side_registers():
            b.comment("debug: record this position's scaled score")
            has_slot = b.op("setp.lt.u32", pos, self.layout.score_slots)
            store = b.op("and.pred", has_slot, self.lane0)
            addr = b.op("mad.wide.u32", pos, 4, self.record)
            offset = self.layout.word("scores") * 4
            b.op("st.global.f32", Address(addr, offset), score, guard=Guard(store))

    def zero_unless(self, value: Reg, keep: Reg) -> Reg:
        """`keep ? value : 0.0` in a side register."""
        with self.b.side_registers():
            return self.b.op("selp.f32", value, 0.0, keep)

    def constant(self, type: str, value: int | float) -> Reg:
        with self.b.side_registers():
            return self.b.op(f"mov.{type}", value)
