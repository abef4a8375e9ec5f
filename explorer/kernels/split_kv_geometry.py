"""How the split-KV kernel lays its work out: which lanes read which 16-byte chunks of a row
(`Geometry`), how many rows each lane keeps in flight (`default_unroll`, from a register
estimate), and how many splits a sequence gets (`default_num_splits`). Numbers only; no PTX.
"""

from __future__ import annotations

from dataclasses import dataclass

from .vector_io import DTYPES, elements_per_chunk

DEFAULT_SM_COUNT = 132  # H100 SXM and H200; pass the real count (the runtime does)
CTAS_PER_SM = 4  # the splits heuristic's target of resident CTAs per SM
MIN_ROWS_PER_SPLIT = 32
MAX_STATIC_SHARED = 48 * 1024
MAX_U32_INDEX = 2**32 - 1  # the largest element index a u32 register holds
REGISTER_BUDGET = 200  # the default unroll keeps the estimate below this (ptxas' cap: 255)


def register_estimate(group: int, lane_elems: int, unroll: int, dtype: str,
                      pipeline: bool = True) -> int:
    """Rough registers per thread: q and o for each q head of the group, K and V rows (and
    their packed halves) per unrolled row, twice when pipelined, and about 40 for addresses
    and softmax state. Fitted to ptxas 13.5's counts for sm_90; ptxas' report is the truth."""
    packed = lane_elems // 2 if DTYPES[dtype] == 2 else 0
    buffers = unroll * (2 if pipeline else 1)
    return 40 + 2 * group * lane_elems + 2 * buffers * (2 * lane_elems + packed)


def default_unroll(group: int, head_dim: int, dtype: str, pipeline: bool = True) -> int:
    """The deepest unroll (4, 2 or 1 rows in flight per lane) within REGISTER_BUDGET."""
    elems = Geometry(head_dim, dtype, 1, 1).lane_elems
    for unroll in (4, 2):
        if register_estimate(group, elems, unroll, dtype, pipeline) <= REGISTER_BUDGET:
            return unroll
    return 1


def default_num_splits(sm_count: int, num_kv_heads: int, batch: int, max_seq_len: int) -> int:
    """Splits per sequence: enough CTAs (splits x KV heads x sequences) to give every SM
    `CTAS_PER_SM` of them in one whole wave, but no split shorter than MIN_ROWS_PER_SPLIT rows
    at max_seq_len (a split that short spends more on its setup and merge than on streaming)."""
    per_wave = sm_count * CTAS_PER_SM
    splits = max(1, per_wave // (num_kv_heads * batch))
    return max(1, min(splits, max_seq_len // MIN_ROWS_PER_SPLIT))


@dataclass(frozen=True)
class Geometry:
    """How a warp covers K/V rows: `lanes_per_row` lanes read one row in 16-byte chunks,
    `chunks_per_lane` each; a warp reads `rows_per_warp` rows per load, `unroll` loads deep."""

    head_dim: int
    dtype: str
    num_warps: int
    unroll: int

    @property
    def elems(self) -> int:
        return elements_per_chunk(self.dtype)

    @property
    def chunks(self) -> int:
        return self.head_dim // self.elems

    @property
    def lanes_per_row(self) -> int:
        return 32 if self.chunks >= 32 else 1 << (self.chunks - 1).bit_length()

    @property
    def chunks_per_lane(self) -> int:
        return -(-self.chunks // self.lanes_per_row)

    @property
    def rows_per_warp(self) -> int:
        return 32 // self.lanes_per_row

    @property
    def rows_per_step(self) -> int:
        return self.num_warps * self.rows_per_warp * self.unroll

    @property
    def lane_elems(self) -> int:
        return self.chunks_per_lane * self.elems
