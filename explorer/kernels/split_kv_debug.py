"""The split-KV kernel's debug record: where each split's (and each warp's) softmax state and
the merge's weights land in `debug_ptr`, and the PTX that stores them.

`SplitDebugLayout` is the one place the layout is defined (derived from batch, heads, splits
and warps); `SplitRecorder` emits the stores, computing addresses in the builder's side
register family, so the debug variant renames none of the plain kernel's registers: its diff
is the added parameter, the side registers and the stores. It does not change what the
kernel computes; the merge weights are recomputed from the registers the merge read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ptx import KernelBuilder
from ..ptx.ir import Address, Guard, Reg
from ..verify.states import SplitStates
from .online_softmax import exp2_diff, safe_max

# (field, what it is indexed by, type): the record's fields, in order, each a dense block
FIELDS = (
    ("start", "split", "u32"),
    ("end", "split", "u32"),
    ("m", "split", "f32"),
    ("l", "split", "f32"),
    ("warp_m", "warp", "f32"),
    ("warp_l", "warp", "f32"),
    ("weight", "split", "f32"),
    ("M", "head", "f32"),
    ("L", "head", "f32"),
)


@dataclass(frozen=True)
class SplitDebugLayout:
    """The debug buffer: u32 words, one dense block per field (`FIELDS`), each in C order
    over its index. For B sequences, H q heads, S splits and W warps:

    | block | field | indexed by | type |
    |---|---|---|---|
    | 0 | start: first position of the split | `[B, H, S]` | u32 |
    | 1 | end: one past its last position | `[B, H, S]` | u32 |
    | 2 | m: the split's partial max, log2 units | `[B, H, S]` | f32 |
    | 3 | l: the split's partial sum | `[B, H, S]` | f32 |
    | 4 | warp_m: each warp's local max, log2 units | `[B, H, S, W]` | f32 |
    | 5 | warp_l: each warp's local sum | `[B, H, S, W]` | f32 |
    | 6 | weight: 2^(m - M), the split's merge weight | `[B, H, S]` | f32 |
    | 7 | M: global max, log2 units | `[B, H]` | f32 |
    | 8 | L: global sum | `[B, H]` | f32 |

    `warp_rows` and `warp_unroll` say which positions a warp walks (`reference.split_warp_of`):
    `warp_rows` consecutive positions per warp, `warp_unroll` such rounds per step.
    """

    batch: int
    num_heads: int
    num_splits: int
    num_warps: int
    warp_rows: int
    warp_unroll: int

    kind = "split"  # which reference and figures these states take (verify, app)

    @staticmethod
    def of(kernel) -> SplitDebugLayout:
        rows, unroll = kernel.warp_rows
        return SplitDebugLayout(kernel.batch, kernel.num_heads, kernel.num_splits,
                                kernel.num_warps, rows, unroll)

    def shape(self, per: str) -> tuple[int, ...]:
        heads = (self.batch, self.num_heads)
        return {"head": heads, "split": (*heads, self.num_splits),
                "warp": (*heads, self.num_splits, self.num_warps)}[per]

    def word(self, field: str) -> int:
        """Word offset of a field's block."""
        offset = 0
        for name, per, _ in FIELDS:
            if name == field:
                return offset
            offset += int(np.prod(self.shape(per)))
        raise ValueError(f"field={field!r}; accepted: {', '.join(f[0] for f in FIELDS)}")

    @property
    def words(self) -> int:
        return sum(int(np.prod(self.shape(per))) for _, per, _ in FIELDS)

    def decode(self, buffer: np.ndarray) -> SplitStates:
        """`SplitStates` from a filled buffer (`words` uint32 words)."""
        words = np.asarray(buffer, dtype=np.uint32).reshape(self.words)
        fields = {}
        for name, per, type_ in FIELDS:
            shape = self.shape(per)
            block = words[self.word(name):self.word(name) + int(np.prod(shape))].reshape(shape)
            fields[name] = block.astype(np.int64) if type_ == "u32" else (
                block.view(np.float32).copy())
        return SplitStates(**fields)


class SplitRecorder:
    """Emits the debug stores of the split entry or the combine (side registers only)."""

    def __init__(self, b: KernelBuilder, layout: SplitDebugLayout) -> None:
        self.b, self.layout = b, layout
        param = b.param("debug_ptr", "u64")
        with b.side_registers():
            b.comment("debug: the record in debug_ptr")
            self.base = b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(param)))
        self._rows: dict[tuple[Reg, int], Reg] = {}

    def _store(self, field: str, index: Reg, stride: int, value: Reg, guard: Reg,
               at: int = 0) -> None:
        """`field[index * stride + at] = value` where `guard` holds."""
        type_ = next(t for name, _, t in FIELDS if name == field)
        if (index, stride) not in self._rows:  # one address per index and stride
            with self.b.side_registers():
                self._rows[index, stride] = self.b.op("mad.wide.u32", index, 4 * stride,
                                                      self.base)
        addr = self._rows[index, stride]
        offset = 4 * (self.layout.word(field) + at)
        self.b.op(f"st.global.{type_}", Address(addr, offset), value, guard=Guard(guard))

    def split(self, row: Reg, start: Reg, end: Reg, m: Reg, l: Reg, warp_m: list[Reg],
              warp_l: list[Reg], guard: Reg) -> None:
        """The split's range, partial max and sum and its warps' (as the CTA merged them) for
        `row` = (sequence * H + q head) * S + split, where `guard` holds."""
        self.b.comment("debug: record this split's range, max, sum and each warp's max, sum")
        for field, value in (("start", start), ("end", end), ("m", m), ("l", l)):
            self._store(field, row, 1, value, guard)
        w = self.layout.num_warps
        for i, (m_w, l_w) in enumerate(zip(warp_m, warp_l, strict=True)):
            self._store("warp_m", row, w, m_w, guard, i)
            self._store("warp_l", row, w, l_w, guard, i)

    def merge(self, row: Reg, elem: Reg, split_m: list[Reg], big_m: Reg, big_l: Reg) -> None:
        """The merge's global max and sum and each split's weight 2^(m_s - M) for `row` =
        sequence * H + q head, by the thread of element 0."""
        b = self.b
        b.comment("debug: record the global max, sum and each split's merge weight")
        with b.side_registers():
            first = b.op("setp.eq.u32", elem, 0)
            safe = safe_max(b, big_m)
            weights = [exp2_diff(b, m, safe) for m in split_m]
        self._store("M", row, 1, big_m, first)
        self._store("L", row, 1, big_l, first)
        for s, weight in enumerate(weights):
            self._store("weight", row, self.layout.num_splits, weight, first, s)
