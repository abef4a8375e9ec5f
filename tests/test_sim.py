"""The simulator on hand-written PTX (not emitted by this project): integer and float semantics,
all four shuffle modes against a NumPy model of the ISA formula, barriers and shared memory
addressed by raw 64-bit offsets, vector accesses, divergent loops, special registers, argument
checks, and the opcode table's coverage. The kernels themselves are checked in
test_backends.py; planted bugs in test_sim_planted.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sim_ptx import OUT_PROLOGUE, SRC_PROLOGUE, module

from explorer import sim
from explorer.dtypes import to_float64, to_storage
from explorer.kernels import MultiWarpIncrementalAttentionKernel
from explorer.ptx import spec
from explorer.sim.memory import SHARED_BASE
from explorer.sim.table import SEMANTICS, markdown_table
from explorer.verify import make_inputs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "simulator.md"


def test_table_covers_every_opcode_of_the_spec():
    assert set(SEMANTICS) == {op for op, row in spec.OPCODES.items() if row.simulated}


def test_docs_table_is_generated_from_the_semantics_table():
    assert markdown_table() in DOCS.read_text()


# -- integers ---------------------------------------------------------------------------------
INT_BODY = (
    OUT_PROLOGUE
    + """
	ld.param.u32 %r2, [x];
	add.u32 %r3, %r2, %r1;
	div.u32 %r4, %r3, 7;
	rem.u32 %r5, %r3, 7;
	st.global.u32 [%rd3], %r4;
	st.global.u32 [%rd3+128], %r5;
	sub.s32 %r6, 3, %r3;
	div.s32 %r7, %r6, 4;
	rem.s32 %r8, %r6, 4;
	st.global.u32 [%rd3+256], %r7;
	st.global.u32 [%rd3+384], %r8;
	mul.wide.s32 %rd5, %r6, -100000;
	cvt.u32.u64 %r9, %rd5;
	shr.u64 %rd6, %rd5, 32;
	cvt.u32.u64 %r10, %rd6;
	st.global.u32 [%rd3+512], %r9;
	st.global.u32 [%rd3+640], %r10;
	min.s32 %r11, %r6, -5;
	max.u32 %r12, %r6, 5;
	st.global.u32 [%rd3+768], %r11;
	st.global.u32 [%rd3+896], %r12;
	shl.b32 %r13, 1, %r1;
	shr.s32 %r14, %r6, %r1;
	st.global.u32 [%rd3+1024], %r13;
	st.global.u32 [%rd3+1152], %r14;
	mul.hi.u32 %r15, %r3, 0x9E3779B9;
	mul.lo.u32 %r16, %r3, 0x9E3779B9;
	st.global.u32 [%rd3+1280], %r15;
	st.global.u32 [%rd3+1408], %r16;
	setp.lt.s32 %p1, %r6, 0;
	selp.u32 %r17, 11, 22, %p1;
	st.global.u32 [%rd3+1536], %r17;
	cvt.s64.s32 %rd7, %r6;
	cvt.u16.u32 %r18, %r6;
	cvt.sat.u8.s32 %r19, %r6;
	mul.wide.u32 %rd8, %r1, 8;
	add.s64 %rd9, %rd2, %rd8;
	st.global.u64 [%rd9+2048], %rd7;
	st.global.u32 [%rd3+1664], %r18;
	st.global.u32 [%rd3+1792], %r19;
	ret;
"""
)


def test_integer_semantics_wrap_truncate_and_clamp_like_ptx():
    ptx = module(".param .u64 out, .param .u32 x", INT_BODY)
    out = np.zeros(1024, dtype=np.uint32)
    sim.launch(ptx, "k", 1, 32, [out, 1000])
    t = np.arange(32, dtype=np.int64)
    x = 1000 + t
    s = 3 - x
    words = [out[i * 32 : (i + 1) * 32] for i in range(15)]
    as_i32 = [w.view(np.int32) for w in words]
    assert (words[0] == x // 7).all() and (words[1] == x % 7).all()
    assert (as_i32[2] == np.trunc(s / 4)).all() and (as_i32[3] == np.fmod(s, 4)).all()
    wide = s * -100000
    assert (words[4] == (wide & 0xFFFFFFFF)).all()
    assert (words[5] == ((wide >> 32) & 0xFFFFFFFF)).all()
    assert (as_i32[6] == np.minimum(s, -5)).all()
    assert (words[7] == np.maximum(s & 0xFFFFFFFF, 5)).all()
    assert (words[8] == (1 << t)).all()  # t < 32: no clamp needed here
    assert (as_i32[9] == s >> t).all()
    prod = x * 0x9E3779B9
    assert (words[10] == prod >> 32).all() and (words[11] == prod & 0xFFFFFFFF).all()
    assert (words[12] == np.where(s < 0, 11, 22)).all()
    assert (words[13] == s & 0xFFFF).all()
    assert (words[14] == np.clip(s, 0, 255)).all()
    assert (out.view(np.int64)[256:288] == s).all()


SHIFT_BODY = (
    OUT_PROLOGUE
    + """
	shl.b32 %r2, 0xF0F0F0F0, %r1;
	add.u32 %r3, %r1, 20;
	shr.u32 %r4, 0xF0F0F0F0, %r3;
	shr.s32 %r5, 0xF0F0F0F0, %r3;
	st.global.u32 [%rd3], %r2;
	st.global.u32 [%rd3+256], %r4;
	st.global.u32 [%rd3+512], %r5;
	ret;
"""
)


def test_shift_amounts_past_the_width_clamp():
    out = np.zeros(3 * 64, dtype=np.uint32)
    sim.launch(module(".param .u64 out", SHIFT_BODY), "k", 1, 64, [out])
    t = np.arange(64)
    v = 0xF0F0F0F0
    assert (out[:64] == np.where(t >= 32, 0, (v << np.minimum(t, 31)) & 0xFFFFFFFF)).all()
    amount = t + 20
    assert (out[64:128] == np.where(amount >= 32, 0, v >> np.minimum(amount, 31))).all()
    signed = np.int64(np.int32(np.uint32(v).view(np.int32)))
    assert (out[128:].view(np.int32) == signed >> np.minimum(amount, 31)).all()


# -- floats -----------------------------------------------------------------------------------
FLOAT_BODY = (
    OUT_PROLOGUE
    + """
	ld.param.u64 %rd5, [src];
	cvta.to.global.u64 %rd6, %rd5;
	mul.wide.u32 %rd7, %r1, 12;
	add.s64 %rd8, %rd6, %rd7;
	ld.global.f32 %f1, [%rd8];
	ld.global.f32 %f2, [%rd8+4];
	ld.global.f32 %f3, [%rd8+8];
	fma.rn.f32 %f4, %f1, %f2, %f3;
	div.rn.f32 %f5, %f1, %f2;
	rcp.rn.f32 %f6, %f2;
	ex2.approx.f32 %f7, %f3;
	min.f32 %f8, %f1, %f3;
	max.NaN.f32 %f9, %f1, %f3;
	cvt.rzi.s32.f32 %r2, %f5;
	cvt.rn.f32.s32 %f10, %r1;
	cvt.f64.f32 %fd1, %f1;
	add.f64 %fd2, %fd1, 0f3F800000;
	cvt.rn.f32.f64 %f11, %fd2;
	setp.neu.f32 %p1, %f1, %f3;
	selp.f32 %f12, 0f3F800000, 0f00000000, %p1;
	st.global.f32 [%rd3], %f4;
	st.global.f32 [%rd3+256], %f5;
	st.global.f32 [%rd3+512], %f6;
	st.global.f32 [%rd3+768], %f7;
	st.global.f32 [%rd3+1024], %f8;
	st.global.f32 [%rd3+1280], %f9;
	st.global.u32 [%rd3+1536], %r2;
	st.global.f32 [%rd3+1792], %f10;
	st.global.f32 [%rd3+2048], %f11;
	st.global.f32 [%rd3+2304], %f12;
	ret;
"""
)


def test_float_semantics_are_ieee_f32():
    rng = np.random.default_rng(5)
    src = (rng.standard_normal((64, 3)) * 4).astype(np.float32)
    src[0] = [np.float32(24929 * 2.0**-15), np.float32(673 * 2.0**-9), np.float32(2.0**-80)]
    src[1, 0] = np.nan  # min ignores one NaN, max.NaN propagates it, neu is true
    src[2] = [1e30, -1e-30, 1.0]
    out = np.zeros(10 * 64, dtype=np.float32)
    sim.launch(module(".param .u64 out, .param .u64 src", FLOAT_BODY), "k", 1, 64, [out, src])
    a, b, c = src[:, 0], src[:, 1], src[:, 2]
    col = [out[i * 64 : (i + 1) * 64] for i in range(10)]
    with np.errstate(all="ignore"):  # 1e30 / -1e-30 overflows to -inf, as on the GPU
        check_float_columns(col, a, b, c)


def check_float_columns(col, a, b, c):
    exact = a.astype(np.float64) * b + c
    assert col[0][0] == np.float32(1 + 2**-23)  # single rounding, not f64-then-f32
    ok = ~np.isnan(a)
    assert (col[0][ok][1:] == exact.astype(np.float32)[ok][1:]).all()
    np.testing.assert_array_equal(col[1], a / b)
    np.testing.assert_array_equal(col[2], np.float32(1) / b)
    np.testing.assert_allclose(col[3], np.exp2(c.astype(np.float64)), rtol=2**-22)
    np.testing.assert_array_equal(col[4], np.fmin(a, c))
    np.testing.assert_array_equal(col[5], np.maximum(a, c))
    quotient = (a / b).astype(np.float64)
    want = np.where(
        np.isnan(quotient), 0, np.clip(np.trunc(np.nan_to_num(quotient)), -(2**31), 2**31 - 1)
    )
    assert (col[6].view(np.int32) == want).all()
    np.testing.assert_array_equal(col[7], np.arange(64, dtype=np.float32))
    np.testing.assert_array_equal(col[8], (a.astype(np.float64) + 1).astype(np.float32))
    np.testing.assert_array_equal(col[9], ((a != c) | np.isnan(a)).astype(np.float32))


HALF_BODY = (
    OUT_PROLOGUE
    + SRC_PROLOGUE
    + """
	ld.global.f32 %f1, [%rd7];
	cvt.rn.f16.f32 %rs1, %f1;
	cvt.f32.f16 %f2, %rs1;
	cvt.rn.bf16.f32 %rs2, %f1;
	cvt.f32.bf16 %f3, %rs2;
	mov.b32 %r2, {%rs1, %rs2};
	mov.b32 {%rs3, %rs4}, %r2;
	cvt.f32.bf16 %f4, %rs4;
	st.global.f32 [%rd3], %f2;
	st.global.f32 [%rd3+256], %f3;
	st.global.u32 [%rd3+512], %r2;
	st.global.f32 [%rd3+768], %f4;
	ret;
"""
)


def test_half_conversions_and_register_packing():
    src = (np.random.default_rng(3).standard_normal(64) * 1000).astype(np.float32)
    src[:3] = [np.nan, 65520.0, 1e-8]  # NaN, f16 overflow to inf, f16 subnormal
    out = np.zeros(4 * 64, dtype=np.float32)
    sim.launch(module(".param .u64 out, .param .u64 src", HALF_BODY), "k", 1, 64, [out, src])
    with np.errstate(over="ignore"):  # 65520 rounds to inf in f16, as on the GPU
        f16 = src.astype(np.float16)
    bf16 = to_storage(src, "bf16")
    np.testing.assert_array_equal(out[:64], f16.astype(np.float32))
    np.testing.assert_array_equal(out[64:128][1:], to_float64(bf16, "bf16")[1:])
    assert np.isnan(out[64])
    packed = out[128:192].view(np.uint32)
    assert (packed & 0xFFFF == f16.view(np.uint16)).all()
    np.testing.assert_array_equal(out[192:], out[64:128])


# -- shuffles ---------------------------------------------------------------------------------
def isa_shfl(mode: str, values: np.ndarray, b: int, c: int) -> np.ndarray:
    """The PTX ISA pseudo-code for shfl.sync, one lane at a time, one warp at a time."""
    out = values.copy()
    for warp in range(len(values) // 32):
        for lane in range(32):
            bval, cval, segmask = b & 31, c & 31, (c >> 8) & 31
            max_lane = (lane & segmask) | (cval & ~segmask & 31)
            min_lane = lane & segmask
            if mode == "up":
                j, pval = lane - bval, lane - bval >= max_lane
            elif mode == "down":
                j, pval = lane + bval, lane + bval <= max_lane
            elif mode == "bfly":
                j, pval = lane ^ bval, (lane ^ bval) <= max_lane
            else:
                j = min_lane | (bval & ~segmask & 31)
                pval = j <= max_lane
            out[32 * warp + lane] = values[32 * warp + (j if pval else lane)]
    return out


SHFL_BODY = (
    OUT_PROLOGUE
    + SRC_PROLOGUE
    + """
	ld.global.f32 %f1, [%rd7];
	ld.param.u32 %r2, [b];
	ld.param.u32 %r3, [c];
	shfl.sync.{mode}.b32 %f2, %f1, {b}, {c}, 0xffffffff;
	st.global.f32 [%rd3], %f2;
	ret;
"""
)
WIDTHS = (32, 16, 8, 4, 2, 1)
SHFL_CASES = (
    [("up", d, ((32 - w) << 8)) for d in (0, 1, 3, 16, 31) for w in WIDTHS]
    + [
        (m, d, ((32 - w) << 8) | 0x1F)
        for m in ("down", "bfly", "idx")
        for d in (0, 1, 5, 16, 31)
        for w in WIDTHS
    ]
    + [
        (m, int(b), int(c))
        for m in ("up", "down", "bfly", "idx")
        for b, c in np.random.default_rng(7).integers(0, 2**16, size=(6, 2))
    ]
)


@pytest.mark.parametrize("immediate", [False, True], ids=["register-bc", "immediate-bc"])
@pytest.mark.parametrize("mode,b,c", SHFL_CASES)
def test_shfl_matches_the_isa_formula(mode, b, c, immediate):
    body = SHFL_BODY.format(mode=mode, b=b if immediate else "%r2", c=c if immediate else "%r3")
    ptx = module(".param .u64 out, .param .u64 src, .param .u32 b, .param .u32 c", body)
    src = np.random.default_rng(b ^ c).standard_normal(64).astype(np.float32)
    out = np.full(64, np.nan, dtype=np.float32)
    sim.launch(ptx, "k", 2, 64, [out, src, b, c])  # 2 CTAs of 2 warps: 4 independent warps
    want = isa_shfl(mode, src, b, c)
    np.testing.assert_array_equal(out, want)


# -- barriers, shared memory by raw 64-bit offsets, vectors -----------------------------------
SHARED_BODY = (
    OUT_PROLOGUE
    + """
	mov.u64 %rd10, smem;
	shl.b32 %r2, %r1, 4;
	cvt.u64.u32 %rd11, %r2;
	add.s64 %rd12, %rd10, %rd11;
	cvt.rn.f32.u32 %f1, %r1;
	add.f32 %f2, %f1, 0f3F000000;
	add.f32 %f3, %f1, 0f3F800000;
	add.f32 %f4, %f1, 0f40000000;
	st.shared.v4.f32 [%rd12], {%f1, %f2, %f3, %f4};
	bar.sync 0;
	mov.u32 %r3, %ntid.x;
	sub.u32 %r4, %r3, %r1;
	sub.u32 %r5, %r4, 1;
	shl.b32 %r6, %r5, 4;
	cvt.u64.u32 %rd13, %r6;
	add.s64 %rd14, %rd10, %rd13;
	ld.shared.v4.f32 {%f5, %f6, %f7, %f8}, [%rd14];
	mul.wide.u32 %rd15, %r1, 16;
	add.s64 %rd16, %rd2, %rd15;
	st.global.v4.f32 [%rd16], {%f5, %f6, %f7, %f8};
	mov.u32 %r7, smem;
	st.global.u32 [%rd16+2048], %r7;
	ret;
"""
)


def test_barrier_orders_shared_memory_between_warps_of_every_cta():
    shared = "\t.shared .align 16 .b8 smem[2048];\n"
    ptx = module(".param .u64 out", SHARED_BODY, shared)
    out = np.zeros(128 * 4 + 128 * 4, dtype=np.float32)
    # 3 CTAs with their own shared memory write the same values: any mix-up would show.
    sim.launch(ptx, "k", 3, 128, [out], check_races=True)
    reversed_ids = np.arange(127, -1, -1, dtype=np.float32)
    got = out[:512].reshape(128, 4)
    np.testing.assert_array_equal(got[:, 0], reversed_ids)
    np.testing.assert_array_equal(got[:, 3], reversed_ids + 2)
    assert out[512:].view(np.uint32)[0] == SHARED_BASE  # the symbol is not at address 0


LOOP_BODY = (
    OUT_PROLOGUE
    + """
	and.b32 %r2, %r1, 7;
	mov.u32 %r3, 0;
	mov.u32 %r4, 0;
$L__loop:
	setp.lt.u32 %p1, %r3, %r2;
	@!%p1 bra $L__done;
	add.u32 %r4, %r4, %r3;
	add.u32 %r3, %r3, 1;
	bra.uni $L__loop;
$L__done:
	shfl.sync.bfly.b32 %r5, %r4, 1, 31, -1;
	add.u32 %r6, %r4, %r5;
	st.global.u32 [%rd3], %r6;
	ret;
"""
)


def test_loops_of_different_trip_counts_reconverge_before_a_shuffle():
    out = np.zeros(64, dtype=np.uint32)
    sim.launch(module(".param .u64 out", LOOP_BODY), "k", 1, 64, [out])
    n = np.arange(64) & 7
    tri = n * (n - 1) // 2
    assert (out == tri + tri[np.arange(64) ^ 1]).all()


SPECIAL_BODY = """
	ld.param.u64 %rd1, [out];
	cvta.to.global.u64 %rd2, %rd1;
	mov.u32 %r1, %tid.x;
	mov.u32 %r2, %tid.y;
	mov.u32 %r3, %tid.z;
	mov.u32 %r4, %ntid.x;
	mov.u32 %r5, %ntid.y;
	mad.lo.u32 %r6, %r3, %r5, %r2;
	mad.lo.u32 %r7, %r6, %r4, %r1;
	mov.u32 %r8, %ctaid.x;
	mov.u32 %r9, %ctaid.y;
	mov.u32 %r10, %nctaid.x;
	mad.lo.u32 %r11, %r9, %r10, %r8;
	mov.u32 %r12, %ntid.z;
	mul.lo.u32 %r13, %r4, %r5;
	mul.lo.u32 %r14, %r13, %r12;
	mad.lo.u32 %r15, %r11, %r14, %r7;
	mul.wide.u32 %rd3, %r15, 16;
	add.s64 %rd4, %rd2, %rd3;
	mov.u32 %r16, %laneid;
	mov.u32 %r17, %warpid;
	mov.u32 %r18, %nctaid.y;
	st.global.v4.u32 [%rd4], {%r7, %r16, %r17, %r18};
	ret;
"""


QUALIFIED_BODY = (
    OUT_PROLOGUE
    + SRC_PROLOGUE
    + """
	ld.relaxed.gpu.global.L1::evict_last.u32 %r2, [%rd7];
	ld.global.nc.L1::no_allocate.L2::128B.u32 %r3, [%rd7];
	add.u32 %r4, %r2, %r3;
	st.relaxed.sys.global.L1::no_allocate.u32 [%rd3], %r4;
	ret;
"""
)


def test_memory_order_cache_and_eviction_qualifiers_change_no_value():
    """Forms other tools write (nvcc, Triton): each qualifier is one more alternative in a group
    of the ld/st rows, and the simulator's sequentially consistent memory ignores it."""
    src = np.arange(32, dtype=np.uint32) * 7
    out = np.zeros(32, dtype=np.uint32)
    sim.launch(module(".param .u64 out, .param .u64 src", QUALIFIED_BODY), "k", 1, 32, [out, src])
    np.testing.assert_array_equal(out, 2 * src)


def test_special_registers_of_a_3d_launch():
    block, grid = (8, 3, 2), (2, 3)
    out = np.zeros((6 * 48, 4), dtype=np.uint32)
    sim.launch(module(".param .u64 out", SPECIAL_BODY), "k", grid, block, [out])
    linear = np.tile(np.arange(48), 6)
    assert (out[:, 0] == linear).all()
    assert (out[:, 1] == linear % 32).all()
    assert (out[:, 2] == linear // 32).all()
    assert (out[:, 3] == 3).all()


GENERIC_BODY = (
    OUT_PROLOGUE
    + """
	ld.param.u64 %rd5, [out];
	add.s64 %rd6, %rd5, %rd4;
	st.u32 [%rd6], %r1;
	ret;
"""
)


def test_generic_addresses_reach_global_buffers():
    out = np.zeros(32, dtype=np.uint32)
    sim.launch(module(".param .u64 out", GENERIC_BODY), "k", 1, 32, [out])
    assert (out == np.arange(32)).all()


@pytest.mark.parametrize(
    "warps,head_dim,seq_len", [(4, 128, 100), (3, 80, 33), (32, 1, 5), (8, 256, 160), (2, 32, 0)]
)
def test_the_multi_warp_kernel_has_no_shared_memory_race(warps, head_dim, seq_len):
    kernel = MultiWarpIncrementalAttentionKernel(160, head_dim, 12, 2, warps)
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    out = np.full((12, head_dim), np.nan, np.float32)
    args = [q, k, v, out, seq_len]
    sim.launch(kernel.emit(), kernel.entry, kernel.grid, kernel.block, args, check_races=True)
    assert np.isfinite(out).all()


# -- arguments --------------------------------------------------------------------------------
ARGS_PTX = module(".param .u64 out, .param .u32 n", OUT_PROLOGUE + "\tret;")


@pytest.mark.parametrize(
    "args,match",
    [
        ([np.zeros(4, np.float32)], "takes 2 arguments"),
        ([np.zeros((4, 4), np.float32)[:, 0], 1], "out.*C-contiguous"),
        ([np.zeros(4, np.float32), np.zeros(1)], "n is .u32"),
        ([np.zeros(4, np.float32), -1], "n=-1 is outside"),
        ([np.zeros(4, np.float32), 2**32], "n=4294967296 is outside"),
        ([np.zeros(4, np.float32), True], "parameter n"),
        (["not an array", 1], "parameter out"),
    ],
)
def test_bad_arguments_name_the_parameter(args, match):
    with pytest.raises(ValueError, match=match):
        sim.launch(ARGS_PTX, "k", 1, 32, args)


@pytest.mark.parametrize("grid,block", [(0, 32), ((1, 2, 3, 4), 32), (1, -1), (1, "32")])
def test_bad_launch_dimensions(grid, block):
    with pytest.raises(ValueError, match="grid|block"):
        sim.launch(ARGS_PTX, "k", grid, block, [np.zeros(4, np.float32), 1])


def test_every_message_names_line_instruction_and_thread():
    """The format the planted-kernel tests rely on."""
    body = OUT_PROLOGUE + "\tst.global.u32 [%rd3+4], %r1;\n\tret;"
    with pytest.raises(sim.SimError) as err:
        sim.launch(module(".param .u64 out", body), "k", 1, 32, [np.zeros(32, np.uint32)])
    message = str(err.value)
    assert re.search(r"line \d+ `st\.global\.u32 \[%rd3\+4\], %r1;`", message)
    assert "ctaid (0,0,0) tid (31,0,0) lane 31" in message
    assert err.value.lane == 31 and err.value.tid == (31, 0, 0)


def test_atom_add_counts_in_thread_order_and_membar_is_accepted():
    """`atom.global.add.u32`: every thread gets the value before its own add, threads of a
    step in thread order; two counters, each thread adding its lane % 3 + 1."""
    from explorer.ptx import KernelBuilder, emit
    from explorer.ptx.ir import Address

    b = KernelBuilder("k")
    counters, olds = b.param("counters", "u64"), b.param("olds", "u64")
    ctr = b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(counters)))
    out = b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(olds)))
    tid = b.special("tid.x")
    which = b.op("and.b32", tid, 1)
    amount = b.op("add.u32", b.op("rem.u32", tid, 3), 1)
    old = b.op("atom.global.add.u32", Address(b.op("mad.wide.u32", which, 4, ctr)), amount)
    b.op("membar.gl")
    b.op("st.global.u32", Address(b.op("mad.wide.u32", tid, 4, out)), old)
    b.op("ret")
    counts = np.array([10, 2**32 - 3], dtype=np.uint32)
    got = np.zeros(40, dtype=np.uint32)
    sim.launch(emit(b.build()), "k", 1, 40, [counts, got])
    want, total = np.zeros(40, dtype=np.uint64), [10, 2**32 - 3]
    for t in range(40):
        want[t] = total[t & 1]
        total[t & 1] += t % 3 + 1
    assert got.tolist() == (want % 2**32).tolist()
    assert counts.tolist() == [x % 2**32 for x in total]
