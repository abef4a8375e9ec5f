"""e4m3 (fp8) K/V in the split-KV kernel: the e4m3 storage of the dtype table against an
exhaustive decoding, the kernel's options and refusals, its PTX, and its numbers against
float64 computed from the same rounded inputs, on the simulator always and (marked gpu) on the
GPU over head_dim 64/128/256, GQA 1/4/8, lengths 1..70000, batch 1 and 4, f16 and bf16 q, both
paths. Random inputs every run (never zeros), K/V quantised with per-tensor scales amax / 448.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from explorer import runtime
from explorer.dtypes import (
    E4M3_MAX,
    E4M3_VALUES,
    TABLE,
    e4m3_scale,
    quantise,
    to_e4m3,
    to_float64,
    to_storage,
)
from explorer.kernels import SplitKVDecodeAttentionKernel
from explorer.ptx import parse
from explorer.ptx.ptxas import assemble, find_ptxas
from explorer.verify import compare, make_inputs, reference_output, verify

FINITE = np.flatnonzero(~np.isnan(E4M3_VALUES)).astype(np.uint8)


def fp8(max_seq_len, head_dim, heads, kv_heads, dtype="f16", **options):
    return SplitKVDecodeAttentionKernel(max_seq_len, head_dim, heads, kv_heads, dtype=dtype,
                                        kv_dtype="e4m3", **options)


# -- the e4m3 storage ---------------------------------------------------------------------------
def test_every_finite_code_round_trips():
    assert len(FINITE) == 254  # 256 codes less the two NaNs
    assert np.array_equal(to_e4m3(E4M3_VALUES[FINITE]), FINITE)
    assert np.array_equal(to_storage(to_float64(FINITE, "e4m3"), "e4m3"), FINITE)


def test_midpoints_round_to_the_even_code():
    positive = FINITE[FINITE < 0x7E]  # each code and the next one up (both finite, >= 0)
    low, high = E4M3_VALUES[positive], E4M3_VALUES[positive + 1]
    mid = (low + high) / 2  # exact in float64
    even = np.where(positive % 2 == 0, positive, positive + 1).astype(np.uint8)
    assert np.array_equal(to_e4m3(mid), even)
    assert np.array_equal(to_e4m3(-mid), even | 0x80)
    just_above = np.nextafter(mid, np.inf)
    assert np.array_equal(to_e4m3(just_above), (positive + 1).astype(np.uint8))


def test_values_beyond_448_saturate_and_nan_stays_nan():
    big = np.array([448.0, 449.0, 464.0, 480.0, 1e6, np.inf, 3e38])
    assert np.array_equal(to_e4m3(big), np.full(7, 0x7E, np.uint8))
    assert np.array_equal(to_e4m3(-big), np.full(7, 0xFE, np.uint8))
    assert to_e4m3(np.array([np.nan]))[0] == 0x7F
    assert to_e4m3(np.array([-np.nan]))[0] == 0xFF
    assert np.isnan(to_float64(np.array([0x7F, 0xFF], np.uint8), "e4m3")).all()
    assert E4M3_VALUES[0x7E] == E4M3_MAX and E4M3_VALUES[0x01] == 2.0**-9


def test_subnormals_and_signed_zero():
    assert np.array_equal(to_e4m3(np.array([2.0**-10, 3 * 2.0**-11, -0.0, 0.0])),
                          np.array([0x00, 0x01, 0x80, 0x00], np.uint8))


def test_scales_map_the_largest_magnitude_to_448():
    rng = np.random.default_rng()
    x = rng.standard_normal(1000) * 7
    scale = e4m3_scale(x)
    codes = quantise(x, "e4m3", scale)
    assert np.abs(to_float64(codes, "e4m3")).max() == 448.0
    assert np.allclose(to_float64(codes, "e4m3") * scale, x, rtol=2**-4, atol=2**-9 * scale)
    assert e4m3_scale(np.zeros(3)) == 1.0
    assert TABLE["e4m3"].tolerance[0] == 2e-2 and TABLE["e4m3"].kv_only


# -- options, refusals, PTX ---------------------------------------------------------------------
def test_kernel_takes_one_byte_k_and_v_and_two_f32_scales():
    k = fp8(64, 64, 8, 2, batch=2)
    specs = {s.name: s for s in k.buffer_specs()}
    assert specs["k"].dtype == specs["v"].dtype == "uint8" and specs["k"].storage == "e4m3"
    assert specs["q"].dtype == specs["out"].dtype == "float16"
    assert k.params[-2:] == (("k_scale", "f32"), ("v_scale", "f32"))
    k.set_kv_scales(0.5, 2.0)
    assert k.launches()[0].args[-2:] == (0.5, 2.0)
    assert type(k)(**k.config()).emit("sm_90") == k.emit("sm_90")


@pytest.mark.parametrize("mma", [True, False])
@pytest.mark.parametrize("merge", ["kernel", "last-cta"])
def test_ptx_converts_with_cvt_and_parses_back(mma, merge):
    k = fp8(100, 128, 8, 2, mma=mma, merge=merge)
    module = k.emit("sm_90")
    assert "cvt.rn.f16x2.e4m3x2" in module and "ld.param.f32" in module
    for entry in k.kernels:
        assert parse(module, entry.entry) == entry


def test_refusals_name_the_option_and_what_is_accepted():
    with pytest.raises(ValueError, match="kv_dtype='e4m3' with dtype='f32'.*f16 or bf16"):
        fp8(64, 64, 4, 1, dtype="f32")
    with pytest.raises(ValueError, match="debug=True with kv_dtype='e4m3'"):
        fp8(64, 64, 4, 1, debug=True)
    with pytest.raises(ValueError, match="kv_dtype='f16'; accepted: e4m3, None"):
        SplitKVDecodeAttentionKernel(64, 64, 4, 1, dtype="f16", kv_dtype="f16")
    with pytest.raises(ValueError, match="head_dim=40 must be a multiple of 16 for e4m3"):
        fp8(64, 40, 4, 1)
    for target in ("sm_75", "sm_80", "sm_86", "sm_87", "sm_89"):  # ptxas refuses sm_89 too
        with pytest.raises(ValueError, match=f"target='{target}'.*needs sm_90 or newer under "
                           "PTX ISA 8.0"):
            fp8(64, 64, 4, 1, mma=False).emit(target)
    assert "cvt.rn.f16x2.e4m3x2" in fp8(64, 64, 4, 1).emit("sm_90a")
    with pytest.raises(ValueError, match="k_scale must be a positive finite f32"):
        fp8(64, 64, 4, 1).set_kv_scales(0.0, 1.0)
    with pytest.raises(ValueError, match="v_scale must be a positive finite f32"):
        fp8(64, 64, 4, 1).set_kv_scales(1.0, float("inf"))
    with pytest.raises(ValueError, match="set_kv_scales: K and V are stored in f16"):
        SplitKVDecodeAttentionKernel(64, 64, 4, 1, dtype="f16").set_kv_scales(1.0, 1.0)


def test_no_debug_variant_and_verify_says_so():
    verdict = verify(fp8(40, 32, 2, 1), "sim", 17)
    assert verdict.passed and verdict.states is None
    assert any("debug" in note for note in verdict.notes)


# -- numbers on the simulator (and the GPU) -----------------------------------------------------
# (max_seq_len, head_dim, heads, kv_heads, batch, dtype, mma, merge, lengths)
SIM_CASES = [
    (80, 64, 4, 1, 1, "f16", True, "kernel", (1, 17, 80)),
    (80, 64, 4, 1, 1, "bf16", True, "kernel", (33, 79)),
    (70, 128, 8, 1, 2, "f16", True, "last-cta", ((61, 3), (0, 70))),
    (70, 48, 8, 8, 1, "bf16", True, "kernel", (37,)),
    (50, 256, 2, 2, 1, "f16", True, "kernel", (49,)),
    (80, 64, 4, 1, 1, "f16", False, "kernel", (1, 17, 80)),
    (80, 64, 4, 1, 3, "bf16", False, "kernel", ((5, 80, 41),)),
    (60, 256, 8, 1, 1, "bf16", False, "last-cta", (59,)),
    (45, 32, 6, 3, 1, "f16", False, "kernel", (45,)),
    (80, 64, 4, 1, 1, "f16", True, "cluster", (1, 17, 80)),
    (70, 128, 8, 1, 2, "bf16", False, "cluster", ((61, 3), (0, 70))),
]


def _sim_id(case):
    msl, hd, h, kv, batch, dtype, mma, merge, _ = case
    return f"{dtype}-hd{hd}-{h}q{kv}kv-b{batch}-{'mma' if mma else 'cuda'}-{merge}"


@pytest.mark.parametrize("case", SIM_CASES, ids=_sim_id)
def test_matches_float64_on_the_simulator(case):
    msl, hd, h, kv, batch, dtype, mma, merge, lengths = case
    kernel = fp8(msl, hd, h, kv, dtype=dtype, batch=batch, mma=mma, merge=merge,
                 num_splits=3, num_warps=2)
    for i, n in enumerate(lengths):
        for kind in ("normal", "increasing"):
            verdict = verify(kernel, "sim", list(n) if isinstance(n, tuple) else n,
                             inputs=kind, seed=i, states=False)
            assert verdict.passed, str(verdict)


# one warp, two splits: 0 (1, 15, 17), 1 (33, 47), 2 (63), 3 (100), 4 (130) and 31 (1000) whole
# tiles per split, so every depth leaves its loop in the prologue and at each copy of its body
DEPTH_LENGTHS = (1, 15, 17, 33, 47, 63, 100, 130, 1000)


@pytest.mark.parametrize("merge", ["kernel", "last-cta", "cluster"])
@pytest.mark.parametrize("tiles", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype, head_dim, heads", [("f16", 128, 16), ("bf16", 64, 8)])
def test_every_depth_matches_float64_on_the_simulator(dtype, head_dim, heads, tiles, merge):
    kernel = fp8(1000, head_dim, heads, 2, dtype=dtype, num_warps=1, num_splits=2,
                 merge=merge, tiles_in_flight=tiles)
    for i, n in enumerate(DEPTH_LENGTHS):
        for kind in ("normal", "increasing"):
            verdict = verify(kernel, "sim", n, inputs=kind, seed=i, states=False)
            assert verdict.passed, f"seq_len={n} {kind}: {verdict}"


def test_default_depth_is_the_deepest_ptxas_assembles_without_spills():
    def tiles(head_dim=128, heads=32, **options):
        k = fp8(4096, head_dim, heads, 8, **options)
        return k.tiles_in_flight, k.pipeline

    assert tiles() == tiles(64) == tiles(128, 8) == tiles(128, 64) == (4, True)
    assert tiles(dtype="bf16", merge="last-cta") == tiles(merge="cluster") == (4, True)
    assert tiles(128, 64, merge="cluster") == (3, True)  # 8 q heads: 4 tiles spill there
    assert tiles(256, mma=True) == (1, False)  # two tiles already spill
    assert tiles(256, mma=True, pipeline=True) == (2, True)  # asked for
    assert tiles(pipeline=False) == (1, False) and tiles(tiles_in_flight=2) == (2, True)
    assert tiles(mma=False) == (None, False)  # CUDA cores: rows in flight, not tiles
    k = fp8(4096, 128, 32, 8)
    assert type(k)(**k.config()).emit("sm_90") == k.emit("sm_90")


@pytest.mark.skipif(find_ptxas() is None, reason="ptxas not installed (nvidia-cuda-nvcc)")
def test_ptxas_assembles_every_default_depth_without_spills():
    failures = []
    for dtype, hd, heads, merge in itertools.product(
        ("f16", "bf16"), (64, 128), (8, 32, 64), ("kernel", "last-cta", "cluster")
    ):
        k = fp8(65536, hd, heads, 8, dtype=dtype, merge=merge)
        report = assemble(k.emit("sm_90"), "sm_90")[k.entry]
        if report.spill_bytes or k.tiles_in_flight < 3:
            failures.append(f"{k!r}: {report.registers} registers, {report.spill_bytes} spilled")
    for heads in (8, 32, 64):  # head_dim 256 on tensor cores: one tile in flight
        k = fp8(65536, 256, heads, 8, mma=True)
        if assemble(k.emit("sm_90"), "sm_90")[k.entry].spill_bytes:
            failures.append(f"{k!r} spills")
    assert not failures, "\n".join(failures)


BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mma", [True, False])
def test_non_trivial_scales_are_applied(backend, mma):
    """K and V quantised with scales far from 1 (and from amax / 448): the output is that of
    the dequantised values, and differs from the output the unscaled codes would give."""
    kernel = fp8(64, 64, 8, 2, mma=mma, num_splits=2)
    rng = np.random.default_rng()
    q = to_storage(rng.standard_normal((1, 8, 64)), "f16")
    k_scale, v_scale = 0.0371, 5.25
    kf = rng.standard_normal((1, 2, 64, 64)) * 3
    vf = rng.standard_normal((1, 2, 64, 64)) * 100
    k, v = quantise(kf, "e4m3", k_scale), quantise(vf, "e4m3", v_scale)
    kernel.set_kv_scales(k_scale, v_scale)
    out = runtime.run(kernel, q, k, v, 57, backend=backend)
    result = compare(out, reference_output(kernel, q, k, v, 57), "f16", "e4m3")
    assert result.passed, str(result)
    unscaled = fp8(64, 64, 8, 2, mma=mma, num_splits=2)  # scales 1: another answer
    assert not compare(out, reference_output(unscaled, q, k, v, 57), "f16", "e4m3").passed


def test_inputs_are_quantised_with_amax_scales_set_on_the_kernel():
    kernel = fp8(64, 64, 4, 1)
    q, k, v = make_inputs(kernel, np.random.default_rng())
    assert k.dtype == v.dtype == np.uint8 and q.dtype == np.float16
    for codes, scale in ((k, kernel.k_scale), (v, kernel.v_scale)):
        assert np.abs(to_float64(codes, "e4m3")).max() == 448.0 and scale != 1.0
        assert (codes & 0x7F).any()  # never all zeros


# -- the GPU grid -------------------------------------------------------------------------------
GPU_LENGTHS = {1: (1, 2, 17, 255, 1027, 1100), 4: ((1, 333, 1027, 1100), (1100, 0, 63, 999))}
GPU_GRID = list(itertools.product((64, 128, 256), (1, 4, 8), (1, 4), ("f16", "bf16"),
                                  (True, False)))
# long sequences: odd lengths up to 70000 on both paths
GPU_LONG = [(128, 4, "f16", True), (128, 8, "bf16", True), (64, 1, "f16", True),
            (256, 4, "bf16", False), (128, 4, "f16", False), (64, 8, "bf16", False)]


def _gpu_id(case):
    hd, gqa, batch, dtype, mma = case
    return f"{dtype}-hd{hd}-gqa{gqa}-b{batch}-{'mma' if mma else 'cuda'}"


@pytest.mark.gpu
@pytest.mark.parametrize("case", GPU_GRID, ids=_gpu_id)
def test_matches_float64_on_the_gpu(case):
    hd, gqa, batch, dtype, mma = case
    kernel = fp8(1100, hd, 2 * gqa, 2, dtype=dtype, batch=batch, mma=mma)
    for i, n in enumerate(GPU_LENGTHS[batch]):
        for kind in ("normal", "increasing"):
            verdict = verify(kernel, "cuda", list(n) if isinstance(n, tuple) else n,
                             inputs=kind, seed=i, states=False)
            assert verdict.passed, str(verdict)


@pytest.mark.gpu
@pytest.mark.parametrize("case", GPU_LONG, ids=lambda c: f"{c[2]}-hd{c[0]}-gqa{c[1]}-"
                         f"{'mma' if c[3] else 'cuda'}")
def test_long_sequences_on_the_gpu(case):
    hd, gqa, dtype, mma = case
    kernel = fp8(70000, hd, 2 * gqa, 2, dtype=dtype, mma=mma)
    for i, n in enumerate((65536, 69999, 4097)):
        verdict = verify(kernel, "cuda", n, seed=i, states=False)
        assert verdict.passed, str(verdict)


@pytest.mark.gpu
@pytest.mark.parametrize("mma", [True, False])
def test_one_captured_graph_serves_every_decode_step(mma):
    from explorer.runtime.cuda import DecodeGraph

    kernel = fp8(2048, 128, 32, 8, batch=2, mma=mma)
    q, k, v = make_inputs(kernel, np.random.default_rng(5))  # sets the scales it captures
    graph = DecodeGraph(kernel, q, k, v)
    for lengths in ((1, 2048), (777, 3), (0, 1500)):
        ref = reference_output(kernel, q, k, v, lengths)
        result = compare(graph.step(list(lengths)), ref, "f16", "e4m3")
        assert result.passed, f"replay with {lengths}: {result}"


@pytest.mark.gpu
@pytest.mark.parametrize("mma", [True, False], ids=["mma", "cuda"])
@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_the_cluster_merge_on_the_gpu(dtype, mma):
    kernel = fp8(70000, 128, 32, 8, dtype=dtype, mma=mma, merge="cluster", batch=2)
    for i, lengths in enumerate(((1, 1024), (4097, 0), (69999, 65536))):
        verdict = verify(kernel, "cuda", list(lengths), seed=i, states=False)
        assert verdict.passed, str(verdict)


@pytest.mark.gpu
@pytest.mark.parametrize("merge", ["kernel", "cluster"])
@pytest.mark.parametrize("tiles", [3, 4])
@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_deeper_pipelines_on_long_sequences_on_the_gpu(dtype, tiles, merge):
    kernel = fp8(70000, 128, 32, 8, dtype=dtype, merge=merge, tiles_in_flight=tiles)
    for i, n in enumerate((65536, 69999)):
        verdict = verify(kernel, "cuda", n, seed=i, states=False)
        assert verdict.passed, f"seq_len={n}: {verdict}"
