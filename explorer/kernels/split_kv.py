"""`SplitKVDecodeAttentionKernel`: flash-decoding with the same emitter. The sequence is split
over CTAs so that every SM streams K/V; each CTA serves all q heads of one GQA group from one
read of its K/V slice, with 16-byte loads and several rows in flight per warp; a second entry
merges the splits (log-sum-exp). Batch >= 1 with per-sequence lengths in a device array.

Two paths for the per-split work: CUDA cores (f32 always; f16/bf16 with `mma=False`), where
lanes share a row and reduce dot products with shuffles, and tensor cores (f16/bf16 by
default, `split_kv_mma.py`), where q.k and p.v are `mma.sync` instructions.

With `kv_dtype="e4m3"` K and V are stored in one byte per element with a per-tensor scale
each (`k_scale`, `v_scale`: value = stored * scale), passed as `.f32` parameters of the split
entry; q and out stay f16 or bf16.

This module holds the kernel object: configuration, launches and buffer shapes. The split
entry's PTX is written phase by phase in `split_kv_build.py`, the combine's in
`split_kv_combine.py`.
"""

from __future__ import annotations

import math

from ..arch import ARCHS, MAX_STATIC_SHARED, PTX_VERSION
from ..dtypes import TABLE
from ..ptx import BufferSpec, Kernel, Launch
from ..schema import MAX_TILES_IN_FLIGHT
from .common import (
    NAN,
    AttentionKernelBase,
)
from .debug import POISON
from .split_kv_build import build_split
from .split_kv_cluster import CLUSTERS_SINCE, DEFAULT_CLUSTER_SPLITS, check_cluster_splits
from .split_kv_cluster import PARAMS as CLUSTER_PARAMS
from .split_kv_combine import build_combine
from .split_kv_debug import SplitDebugLayout
from .split_kv_geometry import (
    MAX_U32_INDEX,
    Geometry,
    counted_ctas_per_sm,
    default_f32_warps,
    default_num_splits,
    default_tiles_in_flight,
    default_unroll,
    mma_register_estimate,
    register_estimate,
)
from .split_kv_mma import (
    DEFAULT_MMA_PIPELINE,
    DEFAULT_MMA_WARPS,
    DEFAULT_PREFETCH,
    MAX_GROUP,
    TILE,
)
from .vector_io import elements_per_chunk

# cvt.rn.f16x2.e4m3x2 under the PTX ISA the emitter declares (8.0): sm_90 and newer (ptxas
# 13 takes it on sm_89 only from PTX ISA 8.1)
FP8_CVT_SINCE = (9, 0)
F32_MAX = 3.4028234663852886e38


class SplitKVDecodeAttentionKernel(AttentionKernelBase):
    """Grid `(num_splits, num_kv_heads, batch)` of `32 * num_warps` threads, then the combine
    grid `(num_heads, batch)`. Layouts: q/out `[batch, num_heads, head_dim]`, K/V
    `[batch, num_kv_heads, max_seq_len, head_dim]` (batch 1: the seed's layouts), all in
    `dtype` (f32, f16 or bf16; accumulation in f32); `seq_lens` u32 `[batch]` on the device;
    workspace f32 `partial_o [batch, num_heads, num_splits, head_dim]` and
    `partial_ml [batch, num_heads, num_splits, 2]` (max in log2 units, sum).

    `mma` picks tensor cores (default for f16/bf16 with <= 8 q heads per KV head and head_dim
    <= 128; needs sm_80+); `prefetch` (tensor cores only) prefetches a warp's tile that many
    tiles ahead into L2; `tiles_in_flight` (tensor cores only) is how many 16-position tiles'
    K/V loads a warp keeps in flight (1: unpipelined; default 2, with e4m3 K/V the deepest
    ptxas assembles without spills: `split_kv_geometry.default_tiles_in_flight`).
    `merge="last-cta"` merges the splits at the end of the split entry, in the CTA that
    finishes last (an atomic counter per group, u32 `counters [batch,
    num_kv_heads]` zeroed once and left at zero), instead of in a second kernel: one launch,
    but measured slower on an H200, so not the default. `merge="cluster"` (sm_90+): the
    splits of a (sequence, KV head) form one thread-block cluster and merge through
    distributed shared memory (`split_kv_cluster.py`): one launch, no workspace, at most 8
    splits (default: the splits heuristic's, capped at 8). Defaults for warps, splits,
    unroll and pipelining come from H200 sweeps (docs/performance.md).

    `debug=True`: both entries also write the split states to a u32 `debug` buffer
    (`split_kv_debug.SplitDebugLayout`), `results` decodes them to `SplitStates`.

    `kv_dtype="e4m3"`: K and V are e4m3 codes (uint8), q and out f16 or bf16; the split
    entry takes `k_scale` and `v_scale` (`.f32`, after the pointers) from `set_kv_scales`
    (default 1.0 each): k_scale is folded into the score scale, v_scale into the split's
    partial output, so the inner loop has no extra multiply. No debug variant."""

    name = "split-kv"
    base_entry = "split_kv_attention"

    indirect_seq_len = True  # the lengths are always a device array, one per sequence

    def configure(self, values: dict[str, object]) -> None:
        """The options' values, then the measured defaults (docs/performance.md) for those
        left None, then the checks that span several of them."""
        dtype, head_dim = values["dtype"], self.head_dim
        self.kv_dtype = _check_kv_dtype(values["kv_dtype"], dtype, self.debug)
        self.k_scale = self.v_scale = 1.0
        stored = self.kv_dtype or dtype
        if head_dim % elements_per_chunk(stored):
            raise ValueError(
                f"head_dim={head_dim} must be a multiple of {elements_per_chunk(stored)} for "
                f"{stored} K/V (16-byte loads)"
            )
        self.dtype, self.merge, self.pdl = dtype, values["merge"], values["pdl"]
        if self.pdl and self.merge != "kernel":
            raise ValueError("pdl=True: programmatic dependent launch overlaps the combine "
                             f"kernel with the split kernel; merge={self.merge!r} has no "
                             "combine kernel (accepted: merge='kernel' with pdl=True)")
        if self.merge == "cluster" and self.debug:
            raise ValueError("debug=True with merge='cluster': the debug record is written by "
                             "the workspace merges (accepted: merge='kernel' or 'last-cta' "
                             "with debug=True)")
        self.batch, self.sm_count = values["batch"], values["sm_count"]
        self.mma = _check_mma(values["mma"], dtype, self.group, head_dim)
        unroll, prefetch = values["unroll"], values["prefetch"]
        if self.mma and unroll not in (None, 1):
            raise ValueError(f"unroll={unroll!r}: rows in flight per lane belong to the "
                             "CUDA-core path (pass mma=False); the tensor-core path loads a "
                             "16-row tile per warp (tiles_in_flight of them)")
        self.prefetch = (DEFAULT_PREFETCH if self.mma else 0) if prefetch is None else prefetch
        if self.prefetch and not self.mma:
            raise ValueError(f"prefetch={prefetch!r}: L2 prefetching of later tiles belongs to "
                             "the tensor-core path (mma=True); the CUDA-core path pipelines")
        self.num_warps = values["num_warps"] or (
            _fitting_warps(DEFAULT_MMA_WARPS, self.warp_record_bytes) if self.mma else
            2 if dtype != "f32" else default_f32_warps(
                self.sm_count, self.num_kv_heads * self.batch, self.warp_record_bytes))
        self.pipeline, self.tiles_in_flight = _check_tiles(
            values["pipeline"], values["tiles_in_flight"], self.mma, dtype == "f32",
            default_tiles_in_flight(head_dim, stored, self.group, self.merge))
        self.unroll = unroll or (1 if self.mma else default_unroll(self.group, head_dim, stored,
                                                                   self.pipeline))
        self.num_splits = values["num_splits"] or default_num_splits(
            self.sm_count, self.num_kv_heads, self.batch, self.max_seq_len, self.ctas_per_sm,
            DEFAULT_CLUSTER_SPLITS if self.merge == "cluster" else None)
        if self.merge == "cluster":
            check_cluster_splits(self.num_splits)
        self._check_sizes()

    def _check_sizes(self) -> None:
        """The workspace's 32-bit indexing and the CTA's static shared memory."""
        partials = self.batch * self.num_heads * self.num_splits * self.head_dim
        if partials > MAX_U32_INDEX:  # the workspace and out are indexed in 32 bits
            raise ValueError(
                f"batch * num_heads * num_splits * head_dim = {partials} is too large for "
                f"32-bit indexing of the workspace (accepted: at most {MAX_U32_INDEX})"
            )
        self.geometry = Geometry(self.head_dim, self.kv_storage, self.num_warps, self.unroll)
        if self.shared_bytes > MAX_STATIC_SHARED:
            raise ValueError(
                f"num_warps={self.num_warps} with {self.group} q heads per KV head and head_dim "
                f"{self.head_dim} needs {self.shared_bytes} bytes of shared memory, over the "
                f"{MAX_STATIC_SHARED} a static allocation may use; " + (
                    "use fewer warps" if self.num_warps > 1 else
                    "fewer q heads per KV head or a smaller head_dim")
            )

    @property
    def register_estimate(self) -> int:
        if self.mma:
            return mma_register_estimate(self.head_dim, self.tiles_in_flight, self.kv_storage)
        return register_estimate(self.group, self.geometry.lane_elems, self.unroll,
                                 self.kv_storage, self.pipeline)

    @property
    def ctas_per_sm(self) -> int:
        """CTAs the splits heuristic counts on per SM (`split_kv_geometry.counted_ctas_per_sm`)."""
        registers = mma_register_estimate(self.head_dim, self.tiles_in_flight, self.kv_storage) if (
            self.mma) else None
        return counted_ctas_per_sm(self.num_warps, registers)

    @property
    def kv_storage(self) -> str:
        """The storage dtype of K and V: kv_dtype, else dtype."""
        return self.kv_dtype or self.dtype

    def set_kv_scales(self, k_scale: float, v_scale: float) -> SplitKVDecodeAttentionKernel:
        """The per-tensor scales of e4m3 K and V (value = stored * scale), passed to the split
        entry at every launch (a captured graph keeps the ones set when it was captured).
        Returns the kernel."""
        if not self.kv_dtype:
            raise ValueError("set_kv_scales: K and V are stored in "
                             f"{self.dtype}, unscaled (scales apply to kv_dtype='e4m3')")
        for name, value in (("k_scale", k_scale), ("v_scale", v_scale)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and 0 < value <= F32_MAX):
                raise ValueError(f"{name} must be a positive finite f32, got {value!r}")
        self.k_scale, self.v_scale = float(k_scale), float(v_scale)
        return self

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
        return self.base_entry + ("_debug" if self.debug else "")

    @property
    def combine_entry(self) -> str:
        return "split_kv_combine" + ("_debug" if self.debug else "")

    @property
    def warp_rows(self) -> tuple[int, int]:
        """(consecutive positions a warp takes, such rounds per step of the CTA's loop): a
        16-position tile on tensor cores; a row per row slot, `unroll` deep, on CUDA cores."""
        return (TILE, 1) if self.mma else (self.geometry.rows_per_warp, self.unroll)

    @property
    def debug_layout(self) -> SplitDebugLayout | None:
        """Where the debug variant writes the split states (None for a plain kernel)."""
        return SplitDebugLayout.of(self) if self.debug else None

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
        """The warps' records; with merge="cluster" one more, the split's partial."""
        records = self.num_warps + (self.merge == "cluster")
        return records * self.warp_record_bytes

    @property
    def cluster_dims(self) -> tuple[int, int, int] | None:
        """`.reqnctapercluster` of the split entry: the splits of a (sequence, KV head)."""
        return (self.num_splits, 1, 1) if self.merge == "cluster" else None

    @property
    def kernels(self) -> tuple[Kernel, ...]:
        if self.merge != "kernel":
            return (self.kernel,)
        return (self.kernel, build_combine(self))

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        scales = (("k_scale", "f32"), ("v_scale", "f32")) if self.kv_dtype else ()
        if self.merge == "cluster":
            return (*((n, "u64") for n in CLUSTER_PARAMS), *scales)
        names = ["q_ptr", "k_ptr", "v_ptr", "seq_lens_ptr", "partial_o_ptr", "partial_ml_ptr"]
        if self.merge == "last-cta":
            names += ["counters_ptr", "out_ptr"]
        return (*((n, "u64") for n in names), *scales)

    def buffer_specs(self) -> tuple[BufferSpec, ...]:
        """q/out `[batch, heads, head_dim]`, K/V `[batch, kv_heads, max_seq_len, head_dim]`,
        the u32 lengths `[batch]`, the f32 workspaces (poisoned), and for merge="last-cta"
        the u32 counters `[batch, kv_heads]` (zeros)."""
        b, h, kv, hd = self.batch, self.num_heads, self.num_kv_heads, self.head_dim
        rows = (b, h, self.num_splits)
        specs = [*self.attention_specs((b, h, hd), (b, kv, self.max_seq_len, hd)),
                 BufferSpec("seq_len", (b,), "uint32", "input")]
        if self.kv_dtype:  # K and V as their codes
            cache = (b, kv, self.max_seq_len, hd)
            specs[1:3] = [BufferSpec(n, cache, TABLE[self.kv_dtype].numpy.name, "input",
                                     storage=self.kv_dtype) for n in ("k", "v")]
        if self.merge == "cluster":  # no workspace: the partials stay in shared memory
            return tuple(specs)
        specs += [BufferSpec("partial_o", (*rows, hd), "float32", "workspace", fill=NAN),
                 BufferSpec("partial_ml", (*rows, 2), "float32", "workspace", fill=NAN)]
        if self.merge == "last-cta":
            specs.append(BufferSpec("counters", (b, kv), "uint32", "counter"))
        if self.debug:
            specs.append(BufferSpec("debug", (self.debug_layout.words,), "uint32", "output",
                                    fill=POISON))
        return tuple(specs)

    def launches(self) -> list[Launch]:
        debug = ("debug",) if self.debug else ()
        scales = (self.k_scale, self.v_scale) if self.kv_dtype else ()
        if self.merge == "cluster":
            return [Launch(self.entry, self.grid, self.block,
                           ("q", "k", "v", "seq_len", "out", *scales))]
        split = ("q", "k", "v", "seq_len", "partial_o", "partial_ml")
        if self.merge == "last-cta":
            return [Launch(self.entry, self.grid, self.block,
                           (*split, "counters", "out", *scales, *debug))]
        split, combine = (*split, *scales, *debug), ("partial_o", "partial_ml", "out", *debug)
        return [
            Launch(self.entry, self.grid, self.block, split),
            Launch(self.combine_entry, self.combine_grid, self.combine_block, combine,
                   programmatic=self.pdl),
        ]

    def results(self, outputs: dict, lengths: tuple[int, ...], out_shape=None):
        """The output (in `out_shape`, the caller's q layout), and for a debug kernel
        `(output, SplitStates)` decoded from its record."""
        out = outputs["out"] if out_shape is None else outputs["out"].reshape(out_shape)
        if self.debug:
            return out, self.debug_layout.decode(outputs["debug"])
        return out

    def check_target(self, target: str) -> str:
        if self.mma and target in ARCHS and not ARCHS[target].mma_f16:
            raise ValueError(f"target={target!r}: the tensor-core path (mma=True, "
                             f"mma.sync.m16n8k16 with {self.dtype}) needs sm_80 or newer; "
                             "pick a newer target or pass mma=False")
        if self.kv_dtype and target in ARCHS and ARCHS[target].capability < FP8_CVT_SINCE:
            raise ValueError(f"target={target!r}: kv_dtype='e4m3' converts K and V with "
                             f"cvt.rn.f16x2.e4m3x2, which needs sm_90 or newer under PTX ISA "
                             f"{PTX_VERSION} (sm_89 only from 8.1); pick sm_90 or sm_90a, or "
                             "pass kv_dtype=None")
        if self.merge == "cluster" and target in ARCHS and (
                ARCHS[target].capability < CLUSTERS_SINCE):
            raise ValueError(f"target={target!r}: merge='cluster' (thread-block clusters, "
                             "mapa, ld.shared::cluster, barrier.cluster) needs sm_90 or newer; "
                             "pick sm_90 or merge='kernel'")
        if self.pdl and target in ARCHS and not ARCHS[target].pdl:
            raise ValueError(f"target={target!r}: pdl=True (griddepcontrol) needs sm_90 or "
                             "newer; pick sm_90 or pass pdl=False")
        return super().check_target(target)

    def build(self) -> Kernel:
        return build_split(self)


def _check_kv_dtype(kv_dtype: str | None, dtype: str, debug: bool) -> str | None:
    """kv_dtype (None: K and V in dtype): e4m3 goes with q and out in f16 or bf16, and has no
    debug variant."""
    if kv_dtype is None:
        return None
    if dtype not in ("f16", "bf16"):
        raise ValueError(f"kv_dtype={kv_dtype!r} with dtype={dtype!r}: e4m3 K/V go with q and "
                         "out in f16 or bf16 (accepted: dtype='f16' or 'bf16', or "
                         "kv_dtype=None)")
    if debug:
        raise ValueError(f"debug=True with kv_dtype={kv_dtype!r}: the debug variant is not "
                         "built for e4m3 K/V (accepted: debug=False, or kv_dtype=None)")
    return kv_dtype


def _fitting_warps(warps: int, record_bytes: int) -> int:
    """`warps`, halved until their records fit a static shared allocation (8 q heads per KV
    head at head_dim 256 need 8 KB per warp: 4 warps, not a refusal of the default)."""
    while warps > 1 and warps * record_bytes > MAX_STATIC_SHARED:
        warps //= 2
    return warps


def _check_tiles(pipeline, tiles, mma: bool, f32: bool, default: int
                 ) -> tuple[bool, int | None]:
    """(pipeline, tiles_in_flight). Tensor cores: `tiles` K/V tiles in flight per warp
    (pipelined iff more than one; default `default` when pipelined); CUDA cores: no tiles
    (None), pipelined by default for f32 only."""
    if not mma:
        if tiles is not None:
            raise ValueError(f"tiles_in_flight={tiles}: tiles in flight per warp belong to the "
                             "tensor-core path (mma=True); the CUDA-core path keeps `unroll` "
                             "rows in flight per lane (accepted: tiles_in_flight=None)")
        return (f32 if pipeline is None else pipeline), None
    if tiles is None:
        if pipeline is None:  # a default of one tile is the unpipelined loop
            pipeline = DEFAULT_MMA_PIPELINE and default > 1
        return pipeline, max(default, 2) if pipeline else 1
    if pipeline is not None and pipeline != (tiles > 1):
        raise ValueError(f"tiles_in_flight={tiles} with pipeline={pipeline}: one tile in flight "
                         "is the unpipelined loop (accepted: pipeline=None, or pipeline=False "
                         f"with tiles_in_flight=1, pipeline=True with 2..{MAX_TILES_IN_FLIGHT})")
    return tiles > 1, tiles


def _check_mma(mma, dtype: str, group: int, head_dim: int) -> bool:
    """The tensor-core path: on by default for f16/bf16 with at most MAX_GROUP q heads per KV
    head and head_dim <= 128 (beyond, its registers spill: mma=True still builds it)."""
    if mma is None:
        return dtype != "f32" and group <= MAX_GROUP and head_dim <= 128
    if mma and dtype == "f32":
        raise ValueError("mma=True: the tensor-core path takes f16 or bf16 (dtype='f32' would "
                         "lose precision in tf32); use dtype='f16'/'bf16' or mma=False")
    if mma and group > MAX_GROUP:
        raise ValueError(f"mma=True: {group} q heads per KV head; the tensor-core path serves "
                         f"at most {MAX_GROUP} (one fragment's rows); use mma=False")
    return mma

