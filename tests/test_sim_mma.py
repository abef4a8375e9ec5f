"""The simulator's tensor-core and packing instructions on small kernels built with
`KernelBuilder`: `mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}` against a NumPy matmul of
matrices whose fragments are laid out here, by hand, from the PTX ISA's description (not from
the simulator's tables); `cvt.rn.{f16x2,bf16x2}.f32` and `prmt.b32` against pure-Python
references; and the mma's whole-warp checks.

Random inputs every run, never zeros. The mma inputs sit on a grid (f16: k * 2^-10, bf16:
k * 2^-6, C: k * 2^-20) on which every float64 partial sum is exact, so the one rounding to
f32 is the only one and the results must match bit for bit.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from explorer import sim
from explorer.ptx import KernelBuilder, emit
from explorer.ptx.ir import Address, Guard, Vector

MMA = "mma.sync.aligned.m16n8k16.row.col.f32.{t}.{t}.f32"
WORDS = 10  # per lane: a0..a3, b0, b1, c0..c3 (C as its f32 bits)
rng = np.random.default_rng(20261127)  # fixed: a failure reproduces


def store_words_and_emit(b: KernelBuilder, tid, words: list, out) -> str:
    """Thread `tid` stores `words` (.b32 each) at out + 4 * len(words) * tid; then `ret`."""
    dst = b.op("mad.wide.u32", tid, 4 * len(words), out)
    for i, word in enumerate(words):
        b.op("st.global.b32", Address(dst, 4 * i), word)
    b.op("ret")
    return emit(b.build())


def _pointers(b: KernelBuilder, *names: str) -> list:
    """A global address register for each `.u64` pointer parameter, declared in order."""
    return [b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(b.param(n, "u64"))))
            for n in names]


# -- mma: inputs, fragments by hand, the kernel -------------------------------------------------
def grid_values(shape, dtype: str) -> np.ndarray:
    """Nonzero values exact in `dtype` ("f16", "bf16", "f32"), as float64."""
    bits, scale = {"f16": (11, 2.0**-10), "bf16": (8, 2.0**-6), "f32": (24, 2.0**-20)}[dtype]
    k = rng.integers(1, 2**bits, size=shape) * rng.choice([-1, 1], size=shape)
    return k * scale


def half_bits(values: np.ndarray, dtype: str) -> np.ndarray:
    """The 16-bit patterns of values exact in f16 or bf16."""
    if dtype == "f16":
        return values.astype(np.float16).view(np.uint16)
    return (values.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def widen(bits: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "f16":
        return bits.view(np.float16).astype(np.float64)
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def fragments(a_bits, b_bits, c) -> np.ndarray:
    """(W*32, WORDS) words, lane by lane, in the ISA's m16n8k16 layout (g = lane >> 2,
    t = lane & 3; a register's low half is its lower column of A, lower row of B)."""
    w = len(a_bits)
    words = np.zeros((w, 32, WORDS), dtype=np.uint32)
    for warp in range(w):
        for lane in range(32):
            g, t = lane >> 2, lane & 3
            for r, (row, col) in enumerate(
                [(g, 2 * t), (g + 8, 2 * t), (g, 2 * t + 8), (g + 8, 2 * t + 8)]
            ):
                words[warp, lane, r] = (
                    int(a_bits[warp, row, col]) | int(a_bits[warp, row, col + 1]) << 16
                )
            for r, k in enumerate([2 * t, 2 * t + 8]):
                words[warp, lane, 4 + r] = (
                    int(b_bits[warp, k, g]) | int(b_bits[warp, k + 1, g]) << 16
                )
            for r, (row, col) in enumerate(accumulator_positions(lane)):
                words[warp, lane, 6 + r] = np.float32(c[warp, row, col]).view(np.uint32)
    return words.reshape(-1, WORDS)


def accumulator_positions(lane: int) -> list[tuple[int, int]]:
    g, t = lane >> 2, lane & 3
    return [(g, 2 * t), (g, 2 * t + 1), (g + 8, 2 * t), (g + 8, 2 * t + 1)]


def gather_d(out: np.ndarray, warps: int) -> np.ndarray:
    """D (W, 16, 8) from the lanes' four f32 each."""
    d = np.full((warps, 16, 8), np.float32(-999.0), dtype=np.float32)
    lanes = out.reshape(warps, 32, 4)
    for warp in range(warps):
        for lane in range(32):
            for r, (row, col) in enumerate(accumulator_positions(lane)):
                d[warp, row, col] = lanes[warp, lane, r]
    return d


def reference(a_bits, b_bits, c, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"):  # inf - inf, and f64 -> f32 overflow, are the point
        exact = np.matmul(widen(a_bits, dtype), widen(b_bits, dtype)) + c
        return exact.astype(np.float32)


def mma_kernel(
    dtype: str,
    plant=None,
    guard_lanes_below: int | None = None,
    same_b: bool = False,
    name: str | None = None,
) -> str:
    """Each lane loads its WORDS words, runs one mma (D = C in place), stores D as v4.f32.
    `plant(b, lane)` emits code before the mma; `guard_lanes_below` guards the mma with
    tid.x < n; `same_b` passes {b0, b0} as B."""
    b = KernelBuilder("mma")
    frag, out = _pointers(b, "frag", "out")
    tid = b.special("tid.x")
    gid = b.op("mad.lo.u32", b.special("ctaid.x"), b.special("ntid.x"), tid)
    src = b.op("mad.wide.u32", gid, 4 * WORDS, frag)
    a = Vector(tuple(b.op("ld.global.b32", Address(src, 4 * i)) for i in range(4)))
    bw = [b.op("ld.global.b32", Address(src, 16 + 4 * i)) for i in range(2)]
    acc = Vector(tuple(b.op("ld.global.f32", Address(src, 24 + 4 * i)) for i in range(4)))
    if plant is not None:
        plant(b, b.special("laneid"))
    guard = None
    if guard_lanes_below is not None:
        guard = Guard(b.op("setp.lt.u32", tid, guard_lanes_below))
    bv = Vector((bw[0], bw[0])) if same_b else Vector(tuple(bw))
    b.set(acc, name or MMA.format(t=dtype), a, bv, acc, guard=guard)
    b.op("st.global.v4.f32", Address(b.op("mad.wide.u32", gid, 16, out)), acc)
    b.op("ret")
    return emit(b.build())


def run_mma(ptx: str, words: np.ndarray, grid: int, block: int) -> np.ndarray:
    out = np.full((len(words), 4), np.nan, dtype=np.float32)
    sim.launch(ptx, "mma", grid, block, [words, out])
    return out


def random_problem(warps: int, dtype: str):
    a = half_bits(grid_values((warps, 16, 16), dtype), dtype)
    b = half_bits(grid_values((warps, 16, 8), dtype), dtype)
    return a, b, grid_values((warps, 16, 8), "f32")


# -- mma: results -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_mma_matches_a_numpy_matmul_for_every_warp(dtype):
    a, b, c = random_problem(6, dtype)  # 2 CTAs x 3 warps, each warp its own matrices
    out = run_mma(mma_kernel(dtype), fragments(a, b, c), 2, 96)
    d = gather_d(out, 6)
    np.testing.assert_array_equal(d, reference(a, b, c, dtype))
    assert (d != (np.matmul(widen(a, dtype), widen(b, dtype))).astype(np.float32)).any()  # C counts


def test_mma_reads_a_register_named_twice_and_accumulates_in_place():
    a, b, c = random_problem(2, "bf16")
    b[:, 8:] = b[:, :8]  # B = {b0, b0}: rows 2t+8, 2t+9 repeat rows 2t, 2t+1
    out = run_mma(mma_kernel("bf16", same_b=True), fragments(a, b, c), 1, 64)
    np.testing.assert_array_equal(gather_d(out, 2), reference(a, b, c, "bf16"))


def test_mma_f16_special_values_and_subnormals():
    a, b, c = random_problem(1, "f16")
    a64 = widen(a, "f16")
    a64[0, 0, 3] = np.inf  # row 0: +-inf
    a64[0, 1, 5] = np.nan  # row 1: NaN
    a64[0, 2, 0], a64[0, 2, 1] = np.inf, -np.inf  # row 2: NaN where B[0] and B[1] agree in sign
    a64[0, 3] = rng.integers(1, 1024, size=16) * 2.0**-24 * rng.choice([-1, 1], size=16)
    a = half_bits(a64, "f16")
    expected = reference(a, b, c, "f16")
    d = gather_d(run_mma(mma_kernel("f16"), fragments(a, b, c), 1, 32), 1)
    np.testing.assert_array_equal(d, expected)
    assert np.isinf(d[0, 0]).all() and np.isnan(d[0, 1]).all()
    flushed = a.copy()
    flushed[0, 3] = 0
    assert (d[0, 3] != reference(flushed, b, c, "f16")[0, 3]).any()  # subnormals honoured


def test_mma_bf16_overflow_gives_inf():
    a, b, c = random_problem(1, "bf16")
    a64, b64 = widen(a, "bf16"), widen(b, "bf16")
    a64[0, 4, 0], b64[0, 0] = 2.0**100, 2.0**100 * np.sign(b64[0, 0])  # row 4: 2^200 -> inf
    a, b = half_bits(a64, "bf16"), half_bits(b64, "bf16")
    d = gather_d(run_mma(mma_kernel("bf16"), fragments(a, b, c), 1, 32), 1)
    np.testing.assert_array_equal(d, reference(a, b, c, "bf16"))
    assert (np.abs(d[0, 4]) == np.inf).all() and np.isfinite(d[0, 5]).all()


def test_a_guard_uniform_per_warp_skips_whole_warps():
    a, b, c = random_problem(2, "f16")
    out = run_mma(mma_kernel("f16", guard_lanes_below=32), fragments(a, b, c), 1, 64)
    d = gather_d(out, 2)
    np.testing.assert_array_equal(d[0], reference(a, b, c, "f16")[0])
    np.testing.assert_array_equal(d[1], c[1].astype(np.float32))  # warp 1 skipped: D = C


# -- mma: the whole-warp checks ---------------------------------------------------------------
def _kernel_with_branch_over_mma() -> str:
    """Lanes 0-15 branch over the mma; lanes 16-31 run it alone."""
    b = KernelBuilder("mma")
    frag, out = _pointers(b, "frag", "out")
    tid = b.special("tid.x")
    src = b.op("mad.wide.u32", tid, 4 * WORDS, frag)
    a = Vector(tuple(b.op("ld.global.b32", Address(src, 4 * i)) for i in range(4)))
    bv = Vector(tuple(b.op("ld.global.b32", Address(src, 16 + 4 * i)) for i in range(2)))
    acc = Vector(tuple(b.op("ld.global.f32", Address(src, 24 + 4 * i)) for i in range(4)))
    with b.if_(b.op("setp.ge.u32", b.special("laneid"), 16), "upper_half"):
        b.set(acc, MMA.format(t="f16"), a, bv, acc)
    b.op("st.global.v4.f32", Address(b.op("mad.wide.u32", tid, 16, out)), acc)
    b.op("ret")
    return emit(b.build())


def test_mma_in_a_branch_taken_by_half_the_warp_is_an_error():
    words = fragments(*random_problem(1, "f16"))
    with pytest.raises(
        sim.SimError,
        match=r"mma.sync.aligned not converged: lane\(s\) "
        r"\[0, 1, .*, 15\] are not executing it",
    ) as err:
        run_mma(_kernel_with_branch_over_mma(), words, 1, 32)
    assert err.value.lane == 16 and err.value.line is not None
    assert "mma.sync.aligned.m16n8k16" in err.value.instruction


def test_mma_after_some_lanes_exited_is_an_error():
    def exit_lanes_below_4(b, lane):
        b.op("ret", guard=Guard(b.op("setp.lt.u32", lane, 4)))

    words = fragments(*random_problem(1, "bf16"))
    with pytest.raises(sim.SimError, match=r"lane\(s\) \[0, 1, 2, 3\] have exited") as err:
        run_mma(mma_kernel("bf16", plant=exit_lanes_below_4), words, 1, 32)
    assert err.value.lane == 4


def test_mma_with_a_guard_that_differs_within_the_warp_is_an_error():
    words = fragments(*random_problem(1, "f16"))
    with pytest.raises(sim.SimError, match=r"diverged, or the guard @%p\d+ is not the same"):
        run_mma(mma_kernel("f16", guard_lanes_below=16), words, 1, 32)


def test_mma_in_a_partial_warp_is_an_error():
    words = fragments(*random_problem(2, "f16"))[:48]
    with pytest.raises(sim.SimError, match="needs a warp of 32 lanes; this warp has 16") as err:
        run_mma(mma_kernel("f16"), words, 1, 48)
    assert err.value.tid == (32, 0, 0)


@pytest.mark.parametrize(
    "name",
    [
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.bf16.f32",
        "mma.sync.aligned.m16n8k16.col.row.f32.f16.f16.f32",
    ],
)
def test_unmodelled_mma_forms_are_reported(name):
    words = fragments(*random_problem(1, "f16"))
    with pytest.raises(sim.SimError, match=r"unsupported instruction: .*only mma\.sync\.aligned"):
        run_mma(mma_kernel("f16", name=name), words, 1, 32)


def test_mma_without_aligned_is_refused_by_the_builder():
    with pytest.raises(ValueError, match=r"no aligned modifier \(mma needs one of \.aligned\)"):
        mma_kernel("f16", name="mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32")


# -- cvt.rn.{f16x2,bf16x2}.f32 ------------------------------------------------------------------
FORMATS = {"f16": (10, 5), "bf16": (7, 8)}  # (fraction bits, exponent bits)


def round_to_half(x: float, dtype: str) -> int:
    """Pure-Python round-to-nearest-even of x to f16/bf16 bits (NaN: any NaN pattern)."""
    man, exp = FORMATS[dtype]
    bias = 2 ** (exp - 1) - 1
    sign = (1 << 15) if np.copysign(1.0, x) < 0 else 0
    if x != x:
        return 0x7FFF
    if abs(x) == float("inf"):
        return sign | ((2**exp - 1) << man)
    if x == 0:
        return sign
    e = max(math.frexp(abs(x))[1] - 1, 1 - bias)  # floor(log2 |x|), not below the subnormals'
    n = round(Fraction(abs(x)) / Fraction(2) ** (e - man))  # Fraction rounds half to even
    if n == 2 ** (man + 1):
        e, n = e + 1, n // 2
    if e > bias:
        return sign | ((2**exp - 1) << man)
    if n < 2**man:  # subnormal
        return sign | n
    return sign | ((e + bias) << man) | (n - 2**man)


def is_half_nan(bits: int, dtype: str) -> bool:
    man, exp = FORMATS[dtype]
    return (bits >> man) & (2**exp - 1) == 2**exp - 1 and bits & (2**man - 1) != 0


def f32(bits: int) -> np.float32:
    return np.uint32(bits).view(np.float32)


F16_TIES = [1 + 2.0**-11, 1 + 3 * 2.0**-11]  # to even: down, then up
F16_EDGES = [np.nextafter(np.float32(65520), np.float32(0)), 65520.0, -65520.0]  # max, overflow
F16_SUBNORMALS = [2.0**-25, 3 * 2.0**-26, 1.5 * 2.0**-24]  # ties and rounding below 2^-14
IEEE_SPECIALS = [np.inf, -np.inf, np.nan, -0.0]
BF16_CASES = [f32(0x7F7FFFFF), f32(0x3F808000), f32(0x3F818000), f32(0x3F808001), f32(0x18000)]
SPECIAL_F32 = F16_TIES + F16_EDGES + F16_SUBNORMALS + IEEE_SPECIALS + BF16_CASES


def _cvt_kernel() -> str:
    b = KernelBuilder("cvt")
    src, out = _pointers(b, "src", "out")
    tid = b.special("tid.x")
    at = b.op("mad.wide.u32", tid, 8, src)
    hi, lo = b.op("ld.global.f32", Address(at)), b.op("ld.global.f32", Address(at, 4))
    words = [
        b.op("cvt.rn.f16x2.f32", hi, lo),
        b.op("cvt.rn.bf16x2.f32", hi, lo),
        b.op("cvt.rn.f16x2.f32", 1.5, lo),
    ]
    return store_words_and_emit(b, tid, words, out)


def test_cvt_pairs_round_each_half_and_put_the_first_source_high():
    n = 64
    pool = np.concatenate(
        [
            np.array(SPECIAL_F32, dtype=np.float32),
            (rng.standard_normal(n) * 10.0 ** rng.integers(-9, 6, n)).astype(np.float32),
        ]
    )
    src = np.stack([rng.permutation(pool)[:n], rng.permutation(pool)[:n]], axis=1)
    out = np.zeros((n, 3), dtype=np.uint32)
    sim.launch(_cvt_kernel(), "cvt", 1, n, [src, out])
    for (hi, lo), words in zip(src.tolist(), out.tolist(), strict=True):
        for word, dtype, high in (
            (words[0], "f16", hi),
            (words[1], "bf16", hi),
            (words[2], "f16", 1.5),
        ):
            for got, x in ((word >> 16, high), (word & 0xFFFF, lo)):
                if x != x:
                    assert is_half_nan(got, dtype), (dtype, x, hex(got))
                else:
                    assert got == round_to_half(x, dtype), (dtype, x, hex(got))


def test_round_to_half_reference_on_known_cases():
    assert round_to_half(1 + 2.0**-11, "f16") == 0x3C00
    assert round_to_half(1 + 3 * 2.0**-11, "f16") == 0x3C02
    assert round_to_half(65520.0, "f16") == 0x7C00
    assert round_to_half(65519.99609375, "f16") == 0x7BFF
    assert round_to_half(2.0**-25, "f16") == 0 and round_to_half(3 * 2.0**-26, "f16") == 1
    assert round_to_half(float(f32(0x3F808000)), "bf16") == 0x3F80
    assert round_to_half(float(f32(0x3F818000)), "bf16") == 0x3F82
    assert round_to_half(float(f32(0x7F7FFFFF)), "bf16") == 0x7F80
    assert round_to_half(-2.5, "bf16") == 0xC020


# -- prmt.b32 ---------------------------------------------------------------------------------
SELECTORS = [0x5410, 0x7632, 0x3210, 0x7654, 0x0123, 0x8888, 0xF9B1, 0x4C6E]


def prmt_reference(a: int, b: int, c: int) -> int:
    source = b << 32 | a  # bytes {b3 b2 b1 b0 a3 a2 a1 a0}, numbered 7..0
    d = 0
    for i in range(4):
        nibble = c >> 4 * i & 0xF
        byte = source >> 8 * (nibble & 7) & 0xFF
        if nibble & 8:
            byte = 0xFF if byte & 0x80 else 0x00
        d |= byte << 8 * i
    return d


def _prmt_kernel() -> str:
    b = KernelBuilder("prmt")
    src, out = _pointers(b, "src", "out")
    tid = b.special("tid.x")
    at = b.op("mad.wide.u32", tid, 12, src)
    a, bb, c = (b.op("ld.global.b32", Address(at, 4 * i)) for i in range(3))
    results = [b.op("prmt.b32", a, bb, c), b.op("prmt.b32", 0x80FF7F01, bb, c)]
    results += [b.op("prmt.b32", a, bb, sel) for sel in SELECTORS]
    return store_words_and_emit(b, tid, results, out)


def test_prmt_matches_the_byte_permute_reference():
    n = 64
    src = rng.integers(0, 2**32, size=(n, 3), dtype=np.uint64).astype(np.uint32)
    out = np.zeros((n, 2 + len(SELECTORS)), dtype=np.uint32)
    sim.launch(_prmt_kernel(), "prmt", 1, n, [src, out])
    for (a, b, c), row in zip(src.tolist(), out.tolist(), strict=True):
        expected = [prmt_reference(a, b, c), prmt_reference(0x80FF7F01, b, c)]
        expected += [prmt_reference(a, b, sel) for sel in SELECTORS]
        assert row == expected, (hex(a), hex(b), hex(c))
        assert row[2] == (b & 0xFFFF) << 16 | (a & 0xFFFF)  # 0x5410: {b.lo16, a.lo16}
        assert row[3] == (b >> 16) << 16 | (a >> 16)  # 0x7632: {b.hi16, a.hi16}
        assert row[4] == a and row[5] == b
        assert row[7] == (0xFFFFFFFF if a & 0x80 else 0)  # 0x8888: byte 0's sign, four times
