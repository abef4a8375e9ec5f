"""The split-KV kernel: contract, validation, ptxas, and numbers against float64 on the
simulator and (marked gpu) the GPU, for f32, f16 and bf16, batch and per-sequence lengths."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

from explorer.kernels import SplitKVDecodeAttentionKernel
from explorer.kernels.split_kv_geometry import (
    CTAS_PER_SM,
    MIN_ROWS_PER_SPLIT,
    default_num_splits,
)
from explorer.ptx import parse
from explorer.ptx.ptxas import assemble, find_ptxas
from explorer.verify import compare, make_inputs, reference_output, verify

BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]

# (max_seq_len, head_dim, heads, kv_heads, batch, warps, splits, unroll, dtype); f16/bf16 rows
# with an unroll take the CUDA-core path (mma=False), rows with None the tensor-core path
CASES = [
    (96, 128, 8, 2, 1, 4, 3, 2, "f32"),
    (70, 64, 8, 8, 2, 2, 4, 1, "f32"),
    (50, 80, 12, 2, 3, 1, 5, 2, "f32"),
    (40, 256, 4, 1, 1, 2, 2, 3, "f32"),
    (33, 32, 4, 1, 2, 3, 7, 1, "f32"),
    (96, 128, 8, 2, 2, 4, 3, 2, "f16"),
    (50, 64, 12, 2, 1, 1, 4, 4, "f16"),
    (45, 80, 4, 1, 3, 2, 5, 2, "f16"),
    (64, 256, 4, 2, 1, 2, 2, 1, "f16"),
    (96, 128, 8, 2, 2, 4, 3, 2, "bf16"),
    (40, 32, 6, 3, 1, 2, 9, 2, "bf16"),
    (60, 64, 4, 4, 3, 1, 2, 1, "bf16"),
    # tensor cores: group 1..8, head_dim with partial chunks, several full tiles per warp
    (96, 128, 8, 2, 2, 4, 3, None, "f16"),
    (50, 64, 12, 2, 1, 1, 4, None, "f16"),
    (45, 80, 4, 1, 3, 2, 5, None, "f16"),
    (200, 128, 32, 8, 1, 2, 2, None, "f16"),
    (96, 128, 8, 2, 2, 4, 3, None, "bf16"),
    (40, 40, 8, 1, 1, 2, 3, None, "bf16"),
    (60, 24, 4, 4, 3, 1, 2, None, "bf16"),
    (300, 64, 8, 2, 2, 2, 2, "mma-pipelined", "f16"),
    (250, 128, 4, 1, 1, 1, 1, "mma-pipelined", "bf16"),
    (90, 80, 8, 1, 2, 2, 3, "mma-pipelined", "f16"),
    (96, 128, 32, 8, 1, 4, 2, None, "f16"),
]


def _kernel(case):
    msl, hd, h, kv, batch, warps, splits, unroll, dtype = case
    mma = unroll is None or isinstance(unroll, str)
    pipeline = True if unroll == "mma-pipelined" else None  # next tile's loads in flight
    return SplitKVDecodeAttentionKernel(msl, hd, h, kv, batch=batch, num_warps=warps,
                                        num_splits=splits, dtype=dtype, mma=mma,
                                        unroll=None if mma else unroll, pipeline=pipeline)


def _id(case):
    msl, hd, h, kv, batch, warps, splits, unroll, dtype = case
    path = "mma" if unroll is None else unroll if isinstance(unroll, str) else f"u{unroll}"
    return f"{dtype}-hd{hd}-h{h}kv{kv}-b{batch}-w{warps}-s{splits}-{path}-msl{msl}"


def _lengths(kernel):
    """Edge lengths, one list per run: all max, empty sequences, fewer rows than splits, a
    step boundary +-1; different lengths across the batch."""
    m, step = kernel.max_seq_len, kernel.rows_per_step
    picks = [m, 0, 1, kernel.num_splits - 1, step - 1, step + 1, m - 1]
    picks = [min(max(p, 0), m) for p in picks]
    runs = [[n] * kernel.batch for n in picks]
    runs.append([picks[(i * 3) % len(picks)] for i in range(kernel.batch)])
    return runs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["normal", "increasing"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_float64_reference(backend, kind, case):
    kernel = _kernel(case)
    failures = []
    for lengths in _lengths(kernel):
        got = verify(kernel, backend, lengths, inputs=kind, seed=11, states=False)
        if not got.passed:
            failures.append(f"lengths={lengths}: {got.comparison}")
    assert not failures, "\n".join(failures)


def test_batch_one_takes_the_seeds_layouts():
    kernel = SplitKVDecodeAttentionKernel(64, 32, 4, 2, num_splits=3)
    q, k, v = make_inputs(kernel, np.random.default_rng(1))
    got = verify(kernel, "sim", 50, inputs=(q[0], k[0], v[0]), states=False)
    assert got.out.shape == (4, 32) and got.passed, got.comparison


def test_contract():
    kernel = SplitKVDecodeAttentionKernel(4096, 128, 32, 8, batch=2, num_warps=4, num_splits=16)
    assert kernel.grid == (16, 8, 2) and kernel.block == (128, 1, 1)
    assert kernel.combine_grid == (32, 2, 1) and kernel.combine_block == (128, 1, 1)
    names = ("q_ptr", "k_ptr", "v_ptr", "seq_lens_ptr", "partial_o_ptr", "partial_ml_ptr")
    specs = {s.name: s for s in kernel.buffer_specs()}
    assert kernel.params == tuple((n, "u64") for n in names) and "counters" not in specs
    module = kernel.emit("sm_90")
    assert parse(module, kernel.entry) == kernel.kernel
    assert parse(module, kernel.combine_entry) == kernel.kernels[1]
    assert {n: (s.shape, s.dtype) for n, s in specs.items() if s.role == "workspace"} == {
        "partial_o": ((2, 32, 16, 128), "float32"), "partial_ml": ((2, 32, 16, 2), "float32")}
    assert all(np.isnan(specs[n].fill) for n in ("partial_o", "partial_ml", "out"))
    assert specs["seq_len"].shape == (2,) and specs["seq_len"].role == "input"
    assert [launch.args for launch in kernel.launches()] == [
        ("q", "k", "v", "seq_len", "partial_o", "partial_ml"), ("partial_o", "partial_ml", "out")]
    assert "ld.global.nc.v4.f32" in module and module.count("bar.sync") == 1
    assert ".maxntid 128, 1, 1" in module and "atom" not in module

    one = SplitKVDecodeAttentionKernel(4096, 128, 32, 8, batch=2, num_warps=4, num_splits=16,
                                       merge="last-cta")
    assert one.params == tuple((n, "u64") for n in (*names, "counters_ptr", "out_ptr"))
    counters = [s for s in one.buffer_specs() if s.role == "counter"]
    assert [(s.name, s.shape, s.fill) for s in counters] == [("counters", (2, 8), 0)]
    assert len(one.kernels) == 1 and len(one.launches()) == 1
    module = one.emit("sm_90")
    assert parse(module, one.entry) == one.kernel
    assert "atom.global.add.u32" in module and "membar.gl" in module


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES[::4], ids=_id)
def test_merging_in_the_last_cta_gives_the_same_answer(backend, case):
    """merge="last-cta" (one launch; the kernel leaves its counters at zero) against float64,
    on every fourth case. Counters reused across launches: the graph test below."""
    kernel = SplitKVDecodeAttentionKernel(**{**_init_args(_kernel(case)), "merge": "last-cta"})
    for lengths in _lengths(kernel):
        got = verify(kernel, backend, lengths, seed=12, states=False)
        assert got.passed, f"lengths={lengths}: {got.comparison}"


def _init_args(kernel) -> dict:
    params = inspect.signature(SplitKVDecodeAttentionKernel).parameters
    return {k: v for k, v in kernel.config().items() if k in params}


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(dtype="f64"), "dtype='f64'"),
        (dict(head_dim=81), "multiple of 4"),
        (dict(head_dim=100, dtype="f16"), "multiple of 8"),
        (dict(batch=0), "batch=0"),
        (dict(num_warps=17), "num_warps=17"),
        (dict(num_splits=0), "num_splits=0"),
        (dict(unroll=9), "unroll=9"),
        (dict(num_kv_heads=5), "num_kv_heads=5"),
        (dict(debug="yes"), "debug must be"),
        (dict(head_dim=256, num_heads=32, num_kv_heads=1, num_warps=8), "shared memory"),
        (dict(mma=True), "tf32"),
        (dict(mma=True, dtype="f16", num_heads=32, num_kv_heads=2), "at most 8"),
        (dict(dtype="f16", unroll=2), "mma=False"),
        (dict(mma="yes", dtype="f16"), "mma must be"),
        (dict(merge="cta"), "merge='cta'"),
        (dict(dtype="f16", tiles_in_flight=5), "tiles_in_flight=5 is outside.*1..4"),
        (dict(tiles_in_flight=2), "tiles_in_flight=2: tiles in flight per warp belong to the "
         "tensor-core path"),
        (dict(dtype="f16", mma=False, tiles_in_flight=1), "accepted: tiles_in_flight=None"),
        (dict(dtype="f16", pipeline=False, tiles_in_flight=3),
         "tiles_in_flight=3 with pipeline=False.*pipeline=True with 2..4"),
        (dict(dtype="bf16", pipeline=True, tiles_in_flight=1),
         "tiles_in_flight=1 with pipeline=True.*pipeline=False with tiles_in_flight=1"),
    ],
)
def test_bad_arguments_are_named(kwargs, words):
    args = dict(max_seq_len=256, head_dim=64, num_heads=8, num_kv_heads=2) | kwargs
    with pytest.raises(ValueError, match=words):
        SplitKVDecodeAttentionKernel(**args)


def test_tensor_core_path_is_the_half_default_and_needs_sm80():
    kernel = SplitKVDecodeAttentionKernel(256, 128, 32, 8, dtype="f16")
    assert kernel.mma and kernel.config()["mma"] is True
    module = kernel.emit("sm_80")
    assert "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32" in module
    assert "prmt.b32" in module and "cvt.rn.f16x2.f32" in module
    with pytest.raises(ValueError, match="sm_80 or newer"):
        kernel.emit("sm_75")
    assert not SplitKVDecodeAttentionKernel(256, 128, 32, 8).mma  # f32: CUDA cores
    assert not SplitKVDecodeAttentionKernel(256, 256, 32, 8, dtype="bf16").mma  # would spill
    assert not SplitKVDecodeAttentionKernel(256, 64, 32, 2, dtype="f16").mma  # group 16
    assert "mma.sync" not in SplitKVDecodeAttentionKernel(
        256, 128, 32, 8, dtype="f16", mma=False).emit("sm_75")


def test_splits_fill_whole_waves():
    assert default_num_splits(132, 8, 1, 65536) == 132 * CTAS_PER_SM // 8
    assert (default_num_splits(132, 8, 1, 65536) * 8) % 132 == 0
    assert default_num_splits(132, 8, 32, 65536) == max(1, 132 * CTAS_PER_SM // 256)
    assert default_num_splits(132, 8, 1, 100) == 100 // MIN_ROWS_PER_SPLIT
    assert default_num_splits(132, 8, 1, 10) == 1


@pytest.mark.skipif(find_ptxas() is None, reason="ptxas not installed (nvidia-cuda-nvcc)")
def test_ptxas_assembles_every_default_configuration_without_spills():
    failures = []
    grid = itertools.product(("f32", "f16", "bf16"), (32, 64, 80, 128, 256),
                             ((8, 8), (32, 8), (12, 2), (28, 4)), (2, 4))
    for dtype, hd, (h, kv), warps in grid:  # the default unroll for each
        try:
            kernel = SplitKVDecodeAttentionKernel(4096, hd, h, kv, num_warps=warps, dtype=dtype)
        except ValueError as err:  # too much shared memory for this group and warps
            assert "shared memory" in str(err)
            continue
        for target in ("sm_80", "sm_90"):
            reports = assemble(kernel.emit(target), target)
            spills = {e: r.spill_bytes for e, r in reports.items() if r.spill_bytes}
            if spills or reports[kernel.entry].shared_bytes != kernel.shared_bytes:
                failures.append(f"{kernel!r} {target}: {spills}")
    assert not failures, "\n".join(failures)


@pytest.mark.gpu
@pytest.mark.parametrize("merge", ["kernel", "last-cta"])
def test_one_captured_graph_serves_every_decode_step(merge):
    from explorer.runtime.cuda import DecodeGraph

    kernel = SplitKVDecodeAttentionKernel(2048, 128, 32, 8, batch=3, dtype="f16", merge=merge)
    q, k, v = make_inputs(kernel, np.random.default_rng(5))
    graph = DecodeGraph(kernel, q, k, v)
    for lengths in ([1, 2048, 7], [2048, 0, 1000], [513, 512, 511]):
        result = compare(graph.step(lengths), reference_output(kernel, q, k, v, lengths), "f16")
        assert result.passed, f"lengths={lengths}: {result}"


@pytest.mark.parametrize("kv_dtype", [None, "e4m3"])
def test_default_tensor_core_warps_fit_static_shared_memory(kv_dtype):
    # 8 q heads per KV head at head_dim 256: 8 warps' records would need 66,560 bytes
    kernel = SplitKVDecodeAttentionKernel(1100, 256, 16, 2, dtype="f16", kv_dtype=kv_dtype,
                                          mma=True)
    assert kernel.num_warps == 4 and kernel.shared_bytes <= 48 * 1024
    with pytest.raises(ValueError, match="use fewer warps"):  # asked for, it is refused
        SplitKVDecodeAttentionKernel(1100, 256, 16, 2, dtype="f16", kv_dtype=kv_dtype,
                                     mma=True, num_warps=8)


# -- tiles in flight: the tensor-core pipeline's depth ------------------------------------------
# one warp, two splits: 0 (1, 15, 17), 1 (33, 47), 2 (63), 3 (100), 4 (130) and 31 (1000) whole
# tiles per split, so every depth leaves its loop in the prologue and at each copy of its body
DEPTH_LENGTHS = (1, 15, 17, 33, 47, 63, 100, 130, 1000)


def depth_kernel(tiles, merge, dtype="f16", kv_dtype=None, head_dim=64, heads=8):
    return SplitKVDecodeAttentionKernel(1000, head_dim, heads, 2, dtype=dtype, kv_dtype=kv_dtype,
                                        num_warps=1, num_splits=2, merge=merge,
                                        tiles_in_flight=tiles)


@pytest.mark.parametrize("merge", ["kernel", "last-cta", "cluster"])
@pytest.mark.parametrize("tiles", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_every_depth_matches_float64_on_the_simulator(dtype, tiles, merge):
    kernel = depth_kernel(tiles, merge, dtype, head_dim=80 if dtype == "bf16" else 64)
    for i, n in enumerate(DEPTH_LENGTHS):
        for kind in ("normal", "increasing"):
            got = verify(kernel, "sim", n, inputs=kind, seed=i, states=False)
            assert got.passed, f"seq_len={n} {kind}: {got.comparison}"


@pytest.mark.parametrize("kv_dtype", [None, "e4m3"])
def test_depth_is_the_number_of_copies_of_the_tile_loop_body(kv_dtype):
    """Depth N unrolls the loop N times (N buffers) before the tail's copy; one tile in flight
    is the plain loop; f16/bf16 K/V default to two, the pipeline=True loop."""
    def mmas(**options):
        kernel = SplitKVDecodeAttentionKernel(4096, 128, 32, 8, dtype="f16", kv_dtype=kv_dtype,
                                              **options)
        return kernel.emit("sm_90").count("mma.sync")

    per_tile = mmas(tiles_in_flight=1) // 2
    assert per_tile > 0
    for tiles in (2, 3, 4):
        assert mmas(tiles_in_flight=tiles) == (tiles + 1) * per_tile
    assert mmas(pipeline=False) == 2 * per_tile
    if kv_dtype is None:
        f16 = SplitKVDecodeAttentionKernel(4096, 128, 32, 8, dtype="f16")
        assert (f16.tiles_in_flight, f16.pipeline) == (2, True)
        two = SplitKVDecodeAttentionKernel(4096, 128, 32, 8, dtype="f16", pipeline=True,
                                           tiles_in_flight=2)
        assert f16.emit("sm_90") == two.emit("sm_90") and type(f16)(**f16.config()).emit(
            "sm_90") == f16.emit("sm_90")
    assert SplitKVDecodeAttentionKernel(4096, 128, 32, 8, dtype="f16",
                                        mma=False).tiles_in_flight is None


@pytest.mark.gpu
@pytest.mark.parametrize("merge", ["kernel", "cluster"])
@pytest.mark.parametrize("tiles", [3, 4])
@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_deeper_pipelines_on_long_sequences_on_the_gpu(dtype, tiles, merge):
    kernel = SplitKVDecodeAttentionKernel(70000, 128, 32, 8, dtype=dtype, merge=merge,
                                          tiles_in_flight=tiles)
    for i, n in enumerate((65536, 69999)):
        got = verify(kernel, "cuda", n, seed=i, states=False)
        assert got.passed, f"seq_len={n}: {got.comparison}"
