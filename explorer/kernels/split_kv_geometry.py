"""How the split-KV kernel lays its work out: which lanes read which 16-byte chunks of a row
(`Geometry`), how many rows each lane keeps in flight (`default_unroll`, from a register
estimate), how many CTAs per SM the splits heuristic counts on (`counted_ctas_per_sm`, through
`explorer.arch`'s occupancy formula) and how many splits a sequence gets
(`default_num_splits`). Numbers only; no PTX.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch import MAX_STATIC_SHARED, TUNED, ctas_by_registers
from ..schema import MAX_HEAD_DIM
from .vector_io import DTYPES, elements_per_chunk, row_load_bytes

CTAS_PER_SM = 4  # the splits heuristic's target of resident CTAs per SM
MIN_ROWS_PER_SPLIT = 32
MAX_U32_INDEX = 2**32 - 1  # the largest element index a u32 register holds
WARPS_PER_SM = 16  # the CUDA-core path's target of resident warps per SM (not a hardware limit)
MIN_SPLITS_F32 = 4
# e4m3 K/V: (head_dim up to, default tiles in flight), the deepest ptxas 13 assembles for
# sm_90 without spills at every GQA ratio and merge (4: 250-254 registers at head_dim 128);
# past 128 even two tiles spill
E4M3_TILES_IN_FLIGHT = ((128, 4), (MAX_HEAD_DIM, 1))
# the cluster merge with more q heads per KV head than 7, past head_dim 112, spills with 4
# tiles (232-244 bytes): 3 there
E4M3_CLUSTER_GROUP, E4M3_CLUSTER_HEAD_DIM, E4M3_CLUSTER_TILES = 7, 112, 3
REGISTER_BUDGET = 200  # the default unroll keeps the estimate below this (ptxas' cap: 255)


def register_estimate(group: int, lane_elems: int, unroll: int, dtype: str,
                      pipeline: bool = True) -> int:
    """Rough registers per thread: q and o for each q head of the group, K and V rows (and
    their packed halves) per unrolled row, twice when pipelined, and about 40 for addresses
    and softmax state. Fitted to ptxas 13.5's counts for sm_90; ptxas' report is the truth.
    `dtype` is K/V's storage: 16- and 8-bit elements are unpacked through registers."""
    packed = lane_elems // 2 if DTYPES[dtype] <= 2 else 0
    buffers = unroll * (2 if pipeline else 1)
    return 40 + 2 * group * lane_elems + 2 * buffers * (2 * lane_elems + packed)


def default_unroll(group: int, head_dim: int, dtype: str, pipeline: bool = True) -> int:
    """The deepest unroll (4, 2 or 1 rows in flight per lane) within REGISTER_BUDGET."""
    elems = Geometry(head_dim, dtype, 1, 1).lane_elems
    for unroll in (4, 2):
        if register_estimate(group, elems, unroll, dtype, pipeline) <= REGISTER_BUDGET:
            return unroll
    return 1


def default_f32_warps(sm_count: int, sequences_x_kv_heads: int, warp_bytes: int) -> int:
    """Warps per CTA for the f32 (CUDA-core) path: the largest of 16, 8 and 4 that still
    gives every sequence at least MIN_SPLITS_F32 splits with WARPS_PER_SM warps per SM. Fewer,
    larger CTAs mean fewer partial results to merge; measured on an H200 (docs/performance.md):
    16 warps for one sequence, 8 for a batch of 8, 4 for 32 (32 q / 8 KV heads). A CTA's
    shared memory (`warp_bytes` per warp) must stay within MAX_STATIC_SHARED."""
    fitting = [w for w in (16, 8, 4, 2, 1) if w * warp_bytes <= MAX_STATIC_SHARED]
    for warps in fitting:
        if warps <= 4 or sm_count * (WARPS_PER_SM // warps) // sequences_x_kv_heads >= (
                MIN_SPLITS_F32):
            return warps
    return 1


def mma_register_estimate(head_dim: int, tiles: int, kv_dtype: str = "f16") -> int:
    """Rough registers per thread of the tensor-core path: 40, plus Q and o, plus the K and V
    fragments of `tiles` tiles in flight, for K/V stored in `kv_dtype` (16 bytes a lane
    loads hold 8 or, e4m3, 16 elements: half the chunks, Q and o the same size)."""
    per_load = elements_per_chunk(kv_dtype)
    kc, vc = -(-head_dim // (4 * per_load)), -(-head_dim // (8 * per_load))
    q_o = per_load // 2 * kc + 2 * per_load * vc
    return 40 + q_o + tiles * (8 * kc + 16 * vc)


def default_tiles_in_flight(head_dim: int, kv_dtype: str, group: int, merge: str) -> int:
    """K/V tiles a warp of the pipelined tensor-core path keeps in flight by default: 2 for
    f16/bf16 K/V (measured on an H200), for e4m3 K/V the deepest ptxas 13 assembles for
    sm_90 without spills (E4M3_TILES_IN_FLIGHT; docs/kernels.md has the counts)."""
    if DTYPES[kv_dtype] > 1:
        return 2
    tiles = next(t for hd, t in E4M3_TILES_IN_FLIGHT if head_dim <= hd)
    if merge == "cluster" and group > E4M3_CLUSTER_GROUP and head_dim > E4M3_CLUSTER_HEAD_DIM:
        return min(tiles, E4M3_CLUSTER_TILES)
    return tiles


def counted_ctas_per_sm(num_warps: int, registers: int | None = None) -> int:
    """CTAs the splits heuristic counts on per SM, 1..CTAS_PER_SM. CUDA cores (`registers`
    None): enough for WARPS_PER_SM warps (4 CTAs of 4 warps, 1 of 16). Tensor cores: as many
    as `registers` (an estimate) allow on the tuned architecture, by whole warps and with no
    255 cap (at head_dim 128 the estimate, 152 / 216 pipelined, gives the CTA counts of
    ptxas' 148 / 255 for 2, 4 and 8 warps)."""
    if registers is None:
        return max(1, min(CTAS_PER_SM, WARPS_PER_SM // num_warps))
    fit = ctas_by_registers(TUNED, registers, num_warps, warp_granularity=1, max_registers=None)
    return max(1, min(CTAS_PER_SM, fit))


def default_num_splits(sm_count: int, num_kv_heads: int, batch: int, max_seq_len: int,
                       ctas_per_sm: int = CTAS_PER_SM, max_splits: int | None = None) -> int:
    """Splits per sequence: enough CTAs (splits x KV heads x sequences) to give every SM
    `ctas_per_sm` of them in one whole wave, but no split shorter than MIN_ROWS_PER_SPLIT rows
    at max_seq_len (a split that short spends more on its setup and merge than on streaming).
    A wave and a third (more CTAs than fit) would leave most SMs idle in the last third.
    `max_splits`: at most that many (the splits of a thread-block cluster)."""
    per_wave = sm_count * ctas_per_sm
    splits = min(max(1, per_wave // (num_kv_heads * batch)), max_splits or per_wave)
    return max(1, min(splits, max_seq_len // MIN_ROWS_PER_SPLIT))


@dataclass(frozen=True)
class Geometry:
    """How a warp covers K/V rows: `lanes_per_row` lanes read one row in chunks of
    `load_bytes` (16; e4m3: 8, so that a lane's row holds as many elements as f16's),
    `chunks_per_lane` each; a warp reads `rows_per_warp` rows per load, `unroll` loads deep."""

    head_dim: int
    dtype: str
    num_warps: int
    unroll: int

    @property
    def load_bytes(self) -> int:
        return row_load_bytes(self.dtype)

    @property
    def elems(self) -> int:
        return self.load_bytes // DTYPES[self.dtype]

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
