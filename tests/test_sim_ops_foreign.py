"""The instruction forms nvcc and Triton write that our own printer does not: bit operations,
warp votes/match/redux, atomics on global, shared and generic memory, directed rounding of f32
arithmetic and of every cvt pair, and the elementary functions. Each runs as a small PTX
snippet on random inputs plus edge cases (0, -1, INT_MIN, NaN, inf, subnormals, out-of-range
shifts) against an independent Python model: Python integers for the bits, `fractions` for
the roundings, NumPy per warp for the votes, and the order-free final state for atomics."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from sim_ptx import module

from explorer import sim
from explorer.ptx import spec

RNG = np.random.default_rng(20261201)
WIDTH_REG = {2: ("rs", "b16"), 4: ("r", "b32"), 8: ("rd", "b64")}


def elementwise(template: str, inputs: list[np.ndarray], out_dtype, pre: str = "") -> np.ndarray:
    """Run `template` once per thread (one CTA): {a} {b} {c} {d} are registers holding input
    k's element tid (loaded by width, so floats sit in %r/%rd as Triton keeps them) and {o}
    the output register; returns every thread's output."""
    n, out_dtype = len(inputs[0]), np.dtype(out_dtype)
    params = ".param .u64 out, " + ", ".join(f".param .u64 s{k}" for k in range(len(inputs)))
    kind, bits = WIDTH_REG[out_dtype.itemsize]
    regs = {"o": f"%{kind}9"}
    body = ["\tmov.u32 %r1, %tid.x;"]
    for k, arr in enumerate(inputs):
        ik, ib = WIDTH_REG[arr.dtype.itemsize]
        regs["abcd"[k]] = f"%{ik}{10 + k}"
        body += [f"\tld.param.u64 %rd{20 + k}, [s{k}];",
                 f"\tmul.wide.u32 %rd{24 + k}, %r1, {arr.dtype.itemsize};",
                 f"\tadd.s64 %rd{28 + k}, %rd{20 + k}, %rd{24 + k};",
                 f"\tld.global.{ib} {regs['abcd'[k]]}, [%rd{28 + k}];"]
    body += [pre, "\t" + template.format(**regs),
             "\tld.param.u64 %rd2, [out];",
             f"\tmul.wide.u32 %rd3, %r1, {out_dtype.itemsize};",
             "\tadd.s64 %rd4, %rd2, %rd3;",
             f"\tst.global.{bits} [%rd4], {regs['o']};", "\tret;"]
    out = np.zeros(n, out_dtype)
    sim.launch(module(params, "\n".join(body)), "k", 1, n, [out, *inputs])
    return out


def words(edge: list[int], n: int = 96, bits: int = 32) -> np.ndarray:
    dt = np.uint32 if bits == 32 else np.uint64
    rand = RNG.integers(0, 2**bits, n - len(edge), dtype=dt)
    shifts = RNG.integers(0, bits, n - len(edge)).astype(dt)
    rand[::3] >>= shifts[::3]  # small values and leading zeros too
    return np.concatenate([np.array(edge, dt), rand])


EDGE32 = [0, 1, 2, 0x80000000, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000, 0x00FF00FF]
EDGE64 = [0, 1, 2**63, 2**64 - 1, 2**32, 2**32 - 1, 0x8000_0000_0000_0001]


# -- bit operations -------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [32, 64])
def test_popc_clz_brev_bfind_match_python_integers(bits: int) -> None:
    x = words(EDGE32 if bits == 32 else EDGE64, bits=bits)
    b = f"b{bits}"
    as_int = [int(v) for v in x]
    assert elementwise(f"popc.{b} %r9, {{a}};", [x], np.uint32).tolist() == [
        v.bit_count() for v in as_int]
    assert elementwise(f"clz.{b} %r9, {{a}};", [x], np.uint32).tolist() == [
        bits - v.bit_length() for v in as_int]
    got = elementwise(f"brev.{b} {{o}}, {{a}};", [x], x.dtype)
    assert got.tolist() == [int(f"{v:0{bits}b}"[::-1], 2) for v in as_int]
    for t in (f"u{bits}", f"s{bits}"):
        for shiftamt in ("", ".shiftamt"):
            got = elementwise(f"bfind{shiftamt}.{t} %r9, {{a}};", [x], np.uint32)
            signed = [v - 2**bits if t[0] == "s" and v >> (bits - 1) else v for v in as_int]
            pos = [(~v if v < 0 else v).bit_length() - 1 for v in signed]
            want = [0xFFFFFFFF if p < 0 else (bits - 1 - p if shiftamt else p) for p in pos]
            assert got.tolist() == want, (t, shiftamt)


@pytest.mark.parametrize("mode", ["l.wrap", "l.clamp", "r.wrap", "r.clamp"])
def test_funnel_shifts_wrap_or_clamp_the_amount(mode: str) -> None:
    a, b = words(EDGE32), words(EDGE32[::-1])
    c = np.concatenate([np.arange(0, 70, dtype=np.uint32), RNG.integers(0, 2**32, 26,
                                                                         dtype=np.uint32)])
    got = elementwise(f"shf.{mode}.b32 {{o}}, {{a}}, {{b}}, {{c}};", [a, b, c], np.uint32)
    want = []
    for x, y, s in zip(a.tolist(), b.tolist(), c.tolist(), strict=True):
        n = min(s, 32) if mode.endswith("clamp") else s & 31
        wide = (y << 32) | x
        want.append((wide << n) >> 32 & 0xFFFFFFFF if mode[0] == "l" else wide >> n & 0xFFFFFFFF)
    assert got.tolist() == want


def ref_bfe(x: int, pos: int, length: int, bits: int, signed: bool) -> int:
    """The PTX ISA's bfe pseudo-code, bit by bit."""
    msb, pos, length = bits - 1, pos & 0xFF, length & 0xFF
    sbit = 0 if not signed or length == 0 else x >> min(pos + length - 1, msb) & 1
    return sum(((x >> (pos + i) & 1) if i < length and pos + i <= msb else sbit) << i
               for i in range(bits))


@pytest.mark.parametrize("t", ["u32", "s32", "u64", "s64"])
def test_bit_field_extract_and_insert_follow_the_isa_pseudo_code(t: str) -> None:
    bits = int(t[1:])
    x = words(EDGE32 if bits == 32 else EDGE64, bits=bits)
    y = words([], bits=bits)
    pos = np.concatenate([np.array([0, 0, bits - 1, bits, 255, 300], np.uint32),
                          RNG.integers(0, bits + 8, 90).astype(np.uint32)])
    length = np.concatenate([np.array([0, bits, 1, 1, 4, 8], np.uint32),
                             RNG.integers(0, bits + 8, 90).astype(np.uint32)])
    got = elementwise(f"bfe.{t} {{o}}, {{a}}, {{b}}, {{c}};", [x, pos, length], x.dtype)
    want = [ref_bfe(int(v), int(p), int(n), bits, t[0] == "s")
            for v, p, n in zip(x, pos, length, strict=True)]
    assert got.tolist() == want
    got = elementwise(f"bfi.b{bits} {{o}}, {{a}}, {{b}}, {{c}}, {{d}};", [x, y, pos, length],
                      x.dtype)
    want = []
    for v, f, p, n in zip(x.tolist(), y.tolist(), pos.tolist(), length.tolist(), strict=True):
        for i in range(n & 0xFF):
            if (p & 0xFF) + i <= bits - 1:
                f = f & ~(1 << ((p & 0xFF) + i)) | ((v >> i & 1) << ((p & 0xFF) + i))
        want.append(f)
    assert got.tolist() == want


@pytest.mark.parametrize("lut", [0x00, 0xFF, 0x96, 0xE8, 0xF0, 0xCA, 0x1B])
def test_lop3_applies_its_truth_table_bitwise(lut: int) -> None:
    a, b, c = words(EDGE32), words(EDGE32[::-1]), words([0xAAAAAAAA])
    got = elementwise(f"lop3.b32 {{o}}, {{a}}, {{b}}, {{c}}, {lut:#x};", [a, b, c], np.uint32)
    want = [sum((lut >> ((x >> i & 1) << 2 | (y >> i & 1) << 1 | (z >> i & 1)) & 1) << i
                for i in range(32)) for x, y, z in zip(a.tolist(), b.tolist(), c.tolist(),
                                                       strict=True)]
    assert got.tolist() == want


def test_cnot_and_testp() -> None:
    x = words(EDGE32)
    assert elementwise("cnot.b32 {o}, {a};", [x], np.uint32).tolist() == (x == 0).astype(
        int).tolist()
    f = np.array([0.0, -0.0, 1e-45, -1e-40, 1.0, -np.inf, np.inf, np.nan, 3e38], np.float32)
    expected = {"finite": np.isfinite(f), "infinite": np.isinf(f), "number": ~np.isnan(f),
                "notanumber": np.isnan(f), "subnormal": (f != 0) & (np.abs(f) < 2.0**-126),
                "normal": np.isfinite(f) & (np.abs(f) >= 2.0**-126)}
    for test, want in expected.items():
        got = elementwise(f"testp.{test}.f32 %p1, {{a}};\n\tselp.u32 %r9, 1, 0, %p1;", [f],
                          np.uint32)
        assert got.tolist() == want.astype(int).tolist(), test
    d = np.array([5e-324, 1e-300, np.nan], np.float64)
    got = elementwise("testp.subnormal.f64 %p1, {a};\n\tselp.u32 %r9, 1, 0, %p1;", [d],
                      np.uint32)
    assert got.tolist() == [1, 0, 0]


def test_copysign_takes_the_sign_of_its_first_source() -> None:
    a = np.array([1, -1, -0.0, 0.0, np.nan, -np.inf, 3, -2], np.float32)
    b = np.array([-5, 5, 7, -7, -1, np.nan, -np.inf, 1e-45], np.float32)
    got = elementwise("copysign.f32 {o}, {a}, {b};", [a, b], np.float32)
    assert got.view(np.uint32).tolist() == np.copysign(b, a).view(np.uint32).tolist()


# -- warp votes, match, redux -----------------------------------------------------------------

VOTES = """
	mov.u32 %r1, %tid.x;
	mov.u32 %r2, %ctaid.x;
	mad.lo.u32 %r3, %r2, 80, %r1;
	ld.param.u64 %rd1, [src];
	mul.wide.u32 %rd2, %r3, 4;
	add.s64 %rd3, %rd1, %rd2;
	ld.global.u32 %r4, [%rd3];
	ld.param.u64 %rd4, [out];
	mul.wide.u32 %rd5, %r3, 64;
	add.s64 %rd6, %rd4, %rd5;
	activemask.b32 %r5;
	setp.gt.s32 %p1, %r4, 0;
	vote.sync.ballot.b32 %r6, %p1, %r5;
	setp.gt.s32 %p2, %r4, 900;
	vote.sync.any.pred %p3, %p2, %r5;
	selp.u32 %r7, 1, 0, %p3;
	setp.gt.s32 %p4, %r4, -900;
	vote.sync.all.pred %p5, %p4, %r5;
	selp.u32 %r8, 1, 0, %p5;
	vote.sync.uni.pred %p6, %p1, %r5;
	selp.u32 %r9, 1, 0, %p6;
	and.b32 %r10, %r4, 3;
	match.any.sync.b32 %r11, %r10, %r5;
	and.b32 %r12, %r4, 4096;
	match.all.sync.b32 %r13, %r12, %r5;
	redux.sync.add.u32 %r14, %r4, %r5;
	redux.sync.min.s32 %r15, %r4, %r5;
	redux.sync.max.s32 %r16, %r4, %r5;
	redux.sync.and.b32 %r17, %r4, %r5;
	redux.sync.or.b32 %r18, %r4, %r5;
	redux.sync.xor.b32 %r19, %r4, %r5;
	redux.sync.min.u32 %r20, %r4, %r5;
	redux.sync.max.u32 %r21, %r4, %r5;
	mov.u32 %r22, 0;
	and.b32 %r23, %r1, 1;
	setp.eq.u32 %p7, %r23, 0;
	@%p7 bra $L_even;
	and.b32 %r24, %r5, 0xAAAAAAAA;
	setp.ne.u32 %p8, %r10, 0;
	vote.sync.ballot.b32 %r22, %p8, %r24;
$L_even:
	st.global.v4.u32 [%rd6], {%r5, %r6, %r7, %r8};
	st.global.v4.u32 [%rd6+16], {%r9, %r11, %r13, %r14};
	st.global.v4.u32 [%rd6+32], {%r15, %r16, %r17, %r18};
	st.global.v4.u32 [%rd6+48], {%r19, %r20, %r21, %r22};
	ret;
"""


def warp_model(v: np.ndarray) -> np.ndarray:
    """What each lane of one (possibly partial) warp sees, in VOTES' 16 output columns."""
    n = len(v)
    lanes = np.arange(n)
    mask = sum(1 << int(k) for k in lanes)
    bits = lambda sel: sum(1 << int(k) for k in lanes[sel])  # noqa: E731
    u = v.astype(np.int64) % 2**32
    cols = [mask, bits(v > 0), int((v > 900).any()), int((v > -900).all()),
            int((v > 0).all() or (v <= 0).all())]
    out = np.zeros((n, 16), np.uint64)
    out[:, :5] = cols
    out[:, 5] = [bits((v & 3) == (x & 3)) for x in v]
    out[:, 6] = mask if len(set((v & 4096).tolist())) == 1 else 0
    out[:, 7] = u.sum() % 2**32
    out[:, 8], out[:, 9] = int(v.min()) % 2**32, int(v.max()) % 2**32
    out[:, 10] = np.bitwise_and.reduce(u)
    out[:, 11], out[:, 12] = np.bitwise_or.reduce(u), np.bitwise_xor.reduce(u)
    out[:, 13], out[:, 14] = u.min(), u.max()
    odd_yes = bits((lanes % 2 == 1) & ((v & 3) != 0))
    out[:, 15] = np.where(lanes % 2 == 1, odd_yes, 0)
    return out


def test_votes_match_and_redux_in_full_and_partial_warps() -> None:
    """Two CTAs of 80 threads (a 16-lane last warp); the odd lanes also ballot on their own."""
    v = RNG.integers(-1000, 1000, 160).astype(np.int32)
    v[:32] = np.abs(v[:32]) + 1  # a warp where all and uni hold
    v[32:64] |= 4096  # a warp that match.all accepts
    v[112:128] = np.array([2**31 - 1, -(2**31)] * 8, np.int32)  # extremes in a partial warp
    out = np.zeros((160, 16), np.uint32)
    sim.launch(module(".param .u64 out, .param .u64 src", VOTES), "k", 2, 80, [out, v])
    for start, size in [(0, 32), (32, 32), (64, 16), (80, 32), (112, 32), (144, 16)]:
        want = warp_model(v[start:start + size]).astype(np.uint32)
        np.testing.assert_array_equal(out[start:start + size], want, err_msg=f"warp at {start}")


@pytest.mark.parametrize(("line", "why", "tid"), [
    ("vote.sync.ballot.b32 %r6, %p1, 1;", "vote.sync: the thread's lane is not in membermask", 1),
    ("@%p1 vote.sync.any.pred %p2, %p1, -1;", "vote.sync not converged: lane(s) [0, 1, 2", 16),
    ("@%p1 redux.sync.add.u32 %r6, %r1, -1;", "redux.sync not converged", 16),
    ("@%p1 match.any.sync.b32 %r6, %r1, -1;", "match.sync not converged", 16),
])
def test_collectives_outside_their_member_mask_or_diverged_raise(line, why, tid) -> None:
    body = f"\tmov.u32 %r1, %tid.x;\n\tsetp.ge.u32 %p1, %r1, 16;\n\t{line}\n\tret;"
    with pytest.raises(sim.SimError) as err:
        sim.launch(module(".param .u64 out", body), "k", 1, 32, [np.zeros(1, np.uint32)])
    assert why in str(err.value) and f"tid ({tid},0,0)" in str(err.value), str(err.value)


# -- atomics ----------------------------------------------------------------------------------

HOT = 3  # thread t updates location t % HOT: several threads per location, several rounds


def atomic_kernel(instr: str, space: str, width: int, cas: bool) -> str:
    """Each thread applies `instr` ({o} old, {addr}, {b}, {c}) at location tid % HOT of `mem`
    (copied into shared memory and back for .shared) and stores the old value in olds[tid]."""
    k, b = WIDTH_REG[width]
    shared_addr = space in ("shared", "generic-shared")
    addr = {"global": "[%rd3]", "generic": "[%rd3]", "shared": "[%r4]",
            "generic-shared": "[%rd16]"}[space]
    lines = [
        "mov.u32 %r1, %tid.x;", f"rem.u32 %r2, %r1, {HOT};",
        "ld.param.u64 %rd1, [mem];", f"mul.wide.u32 %rd2, %r2, {width};",
        "add.s64 %rd3, %rd1, %rd2;",
        "ld.param.u64 %rd4, [src];", f"mul.wide.u32 %rd5, %r1, {width};",
        "add.s64 %rd6, %rd4, %rd5;", f"ld.global.{b} %{k}10, [%rd6];",
        "ld.param.u64 %rd7, [src2];", "add.s64 %rd8, %rd7, %rd5;",
        f"ld.global.{b} %{k}11, [%rd8];",
        "mov.u32 %r3, smem;", f"mad.lo.u32 %r4, %r2, {width}, %r3;",
        "cvt.u64.u32 %rd15, %r4;", "cvta.shared.u64 %rd16, %rd15;",
        f"setp.lt.u32 %p1, %r1, {HOT};",
    ]
    if shared_addr:
        lines += [f"@%p1 ld.global.{b} %{k}12, [%rd3];", f"@%p1 st.shared.{b} [%r4], %{k}12;",
                  "bar.sync 0;"]
    lines.append(instr.format(o=f"%{k}9", addr=addr, b=f"%{k}10", c=f"%{k}11"))
    if shared_addr:
        lines += ["bar.sync 0;", f"@%p1 ld.shared.{b} %{k}12, [%r4];",
                  f"@%p1 st.global.{b} [%rd3], %{k}12;"]
    if instr.startswith("atom"):
        lines += ["ld.param.u64 %rd13, [olds];", "add.s64 %rd14, %rd13, %rd5;",
                  f"st.global.{b} [%rd14], %{k}9;"]
    body = "\n".join("\t" + line for line in lines + ["ret;"])
    params = ".param .u64 mem, .param .u64 src, .param .u64 src2, .param .u64 olds"
    return module(params, body, shared="\t.shared .align 8 .b8 smem[64];\n")


def flush(x: np.float32) -> np.float32:
    return np.float32(0.0) * np.sign(x) if abs(x) < np.finfo(np.float32).tiny else x


MODEL = {  # op -> new value from (old, b, c), one thread at a time
    "add": lambda old, b, c: old + b, "min": lambda old, b, c: min(old, b),
    "max": lambda old, b, c: max(old, b), "and": lambda old, b, c: old & b,
    "or": lambda old, b, c: old | b, "xor": lambda old, b, c: old ^ b,
    "exch": lambda old, b, c: b, "cas": lambda old, b, c: c if old == b else old,
    "inc": lambda old, b, c: 0 if old >= b else old + 1,
    "dec": lambda old, b, c: b if old == 0 or old > b else old - 1,
}


def sequential(op: str, mem: np.ndarray, b: np.ndarray, c: np.ndarray, ftz: bool):
    """The model: threads in index order, each on the value the previous one left."""
    mem, olds = mem.copy(), np.zeros_like(b)
    with np.errstate(over="ignore"):
        for t in range(len(b)):
            old = mem[t % HOT]
            olds[t] = old
            new = MODEL[op](old, b[t], c[t])
            mem[t % HOT] = flush(flush(old) + flush(b[t])) if ftz else new
    return mem, olds


ATOMIC_CASES = [  # (op, type), with the values each takes
    ("add", "u32"), ("add", "s32"), ("add", "u64"), ("add", "f32"),
    ("add", "f64"), ("min", "s32"), ("min", "u32"), ("max", "s64"), ("max", "u64"),
    ("and", "b32"), ("or", "b64"), ("xor", "b32"), ("exch", "b32"), ("exch", "b64"),
    ("cas", "b32"), ("cas", "b64"), ("inc", "u32"), ("dec", "u32"),
]
NP = {"u32": np.uint32, "s32": np.int32, "u64": np.uint64, "s64": np.int64, "f32": np.float32,
      "f64": np.float64, "b32": np.uint32, "b64": np.uint64}


def atomic_values(op: str, t: str, n: int):
    dt = np.dtype(NP[t])
    if dt.kind == "f":
        b = (RNG.standard_normal(n) * 100).astype(dt)
        b[:4] = [1e-40, -0.0, 3.0e38, 1e-45] if t == "f32" else [1e-310, -0.0, 1e300, 5e-324]
        return np.zeros(HOT, dt), b, b
    info = np.iinfo(dt)
    b = RNG.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    if op in ("inc", "dec"):
        b = RNG.integers(0, 5, n).astype(dt)  # small bounds: the wrap happens
        return np.array([0, 3, 9], dt), b, b
    if op == "cas":  # thread t swaps in t + 1 where it finds the value it expects
        expect = np.concatenate([np.zeros(HOT, dt), np.arange(1, n - HOT + 1, dtype=dt)])
        return np.zeros(HOT, dt), expect, np.arange(1, n + 1, dtype=dt)
    b[:3] = [info.min, info.max, 0]
    return np.array([info.max, info.min, 7], dt), b, b


@pytest.mark.parametrize("space", ["global", "shared", "generic", "generic-shared"])
@pytest.mark.parametrize(("op", "t"), ATOMIC_CASES)
def test_atom_updates_in_thread_order_and_returns_the_old_value(space, op, t) -> None:
    n = 100  # a partial last warp
    mem, b, c = atomic_values(op, t, n)
    qualifier = {"global": ".global", "shared": ".shared"}.get(space, "")
    operands = "{o}, {addr}, {b}, {c}" if op == "cas" else "{o}, {addr}, {b}"
    ptx = atomic_kernel(f"atom{qualifier}.{op}.{t} {operands};", space, b.itemsize, op == "cas")
    got_mem, olds = mem.copy(), np.zeros(n, b.dtype)
    sim.launch(ptx, "k", 1, n, [got_mem, b, c, olds])
    ftz = (op, t) == ("add", "f32") and space in ("global", "generic")  # global f32 adds flush
    want_mem, want_olds = sequential(op, mem, b, c, ftz)
    assert got_mem.tobytes() == want_mem.tobytes()
    assert olds.tobytes() == want_olds.tobytes()
    if op == "cas":  # order-free: each location is claimed by a chain starting at its 0
        assert (olds[:HOT] == 0).all()


@pytest.mark.parametrize("space", ["global", "shared"])
def test_many_threads_adding_f32_into_few_counters_sum_in_thread_order(space) -> None:
    """1000 threads on 3 counters (one scan per counter); on global memory a partial sum that
    cancels to a subnormal is flushed before the next add."""
    n = 1000
    b = (RNG.standard_normal(n) * 10).astype(np.float32)
    b[[0, 3, 6]] = [1.5e-38, -1.4e-38, 1.0]  # counter 0 passes 1e-39, a subnormal
    mem = np.zeros(HOT, np.float32)
    ptx = atomic_kernel(f"atom.{space}.add.f32 {{o}}, {{addr}}, {{b}};", space, 4, False)
    olds = np.zeros(n, np.float32)
    sim.launch(ptx, "k", 1, n, [mem, b, b, olds])
    want_mem, want_olds = sequential("add", np.zeros(HOT, np.float32), b, b, space == "global")
    assert mem.tobytes() == want_mem.tobytes() and olds.tobytes() == want_olds.tobytes()
    assert (olds[6] == 0) == (space == "global")  # the flushed partial sum


@pytest.mark.parametrize("space", ["global", "shared", "generic"])
@pytest.mark.parametrize(("op", "t"), [("add", "u32"), ("add", "f32"), ("max", "s32"),
                                       ("min", "u64"), ("inc", "u32"), ("xor", "b64")])
def test_red_updates_memory_as_atom_does(space, op, t) -> None:
    n = 70
    mem, b, c = atomic_values(op, t, n)
    qualifier = {"global": ".global", "shared": ".shared"}.get(space, "")
    ptx = atomic_kernel(f"red{qualifier}.{op}.{t} {{addr}}, {{b}};", space, b.itemsize, False)
    got_mem = mem.copy()
    sim.launch(ptx, "k", 1, n, [got_mem, b, c, np.zeros(n, b.dtype)])
    want_mem, _ = sequential(op, mem, b, c, (op, t) == ("add", "f32") and space != "shared")
    assert got_mem.tobytes() == want_mem.tobytes()


def test_shared_f32_atomics_keep_subnormals_and_global_ones_flush() -> None:
    tiny = np.full(8, 1e-40, np.float32)  # a subnormal; sums of subnormals are exact
    counts = np.array([3, 3, 2], np.float32)  # threads per location
    for space, want in (("global", np.zeros(HOT, np.float32)), ("shared", counts * tiny[0])):
        mem = np.zeros(HOT, np.float32)
        ptx = atomic_kernel(f"atom.{space}.add.f32 {{o}}, {{addr}}, {{b}};", space, 4, False)
        sim.launch(ptx, "k", 1, 8, [mem, tiny, tiny, np.zeros(8, np.float32)])
        assert mem.tolist() == want.tolist(), space


@pytest.mark.parametrize("name", ["atom.global.gpu.acq_rel.add.u32", "atom.add.relaxed.gpu.u32",
                                  "atom.acquire.sys.global.add.u32", "red.release.cta.add.u32"])
def test_memory_order_and_scope_are_accepted_anywhere_before_the_type(name: str) -> None:
    n = 40
    operands = "{addr}, {b}" if name.startswith("red") else "{o}, {addr}, {b}"
    mem, b = np.zeros(HOT, np.uint32), np.arange(n, dtype=np.uint32)
    sim.launch(atomic_kernel(f"{name} {operands};", "global", 4, False), "k", 1, n,
               [mem, b, b, np.zeros(n, np.uint32)])
    assert mem.tolist() == [int(b[k::HOT].sum()) for k in range(HOT)]


def test_a_second_memory_order_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"\.acquire is a second sem after \.relaxed"):
        spec.check("atom", ("relaxed", "global", "acquire", "add", "u32"), 3)
    row = spec.form_of("atom", ("global", "gpu", "acq_rel", "add", "u32"))
    assert (row.get("scope"), row.get("sem"), row.get("space")) == ("gpu", "acq_rel", "global")


@pytest.mark.parametrize(("instr", "why"), [
    ("atom.global.inc.s32 {o}, {addr}, {b};", "atom.inc is defined for u32, not .s32"),
    ("atom.global.add.s64 {o}, {addr}, {b};", "atom.add is defined for u32, s32, u64"),
    ("atom.global.min.f32 {o}, {addr}, {b};", "atom.min is defined for"),
    ("atom.global.cas.b32 {o}, {addr}, {b};", "atom.cas takes two values"),
])
def test_atomic_forms_outside_the_isa_are_unsupported_instructions(instr, why) -> None:
    ptx = atomic_kernel(instr, "global", 4, False)
    with pytest.raises(sim.SimError, match="unsupported instruction: " + why):
        sim.launch(ptx, "k", 1, 4, [np.zeros(HOT, np.uint32)] + [np.zeros(4, np.uint32)] * 3)


def test_atomics_out_of_bounds_or_into_a_read_only_buffer_name_the_thread() -> None:
    ptx = atomic_kernel("atom.global.add.u32 {o}, {addr}, {b};", "global", 4, False)
    with pytest.raises(sim.SimError, match=r"out-of-bounds global .* tid \(2,0,0\)"):
        sim.launch(ptx, "k", 1, 8, [np.zeros(2, np.uint32)] + [np.zeros(8, np.uint32)] * 3)
    frozen = np.zeros(HOT, np.uint32)
    frozen.flags.writeable = False
    with pytest.raises(sim.SimError, match="read-only buffer mem"):
        sim.launch(ptx, "k", 1, 8, [frozen] + [np.zeros(8, np.uint32)] * 3)


# -- rounding: cvt and directed f32 arithmetic --------------------------------------------------

FLOAT = {"f64": np.float64, "f32": np.float32, "f16": np.float16}


def bf16_value(bits: int) -> float:
    return float(np.array([bits << 16], np.uint32).view(np.float32)[0])


def ref_round(x: Fraction, t: str, mode: str):
    """x rounded to type t by brute force: the two neighbours of x, then the mode's choice
    (bf16 as its bits). Independent of the simulator's round-to-odd."""
    if t == "bf16":
        near = int(np.array([float(x)], np.float32).view(np.uint32)[0]) >> 16
        cands = [k for k in (near - 1, near, near + 1, near + 2) if k >> 15 == near >> 15]
        value, parity = (lambda k: Fraction(bf16_value(k))), (lambda k: k & 1)
    else:
        ty = FLOAT[t]
        c = ty(float(x))
        cands = [np.nextafter(c, ty(-np.inf)), c, np.nextafter(c, ty(np.inf))]
        value = lambda k: Fraction(float(k))  # noqa: E731
        parity = lambda k: int(np.array([k]).view(f"u{ty().itemsize}")[0]) & 1  # noqa: E731
    lo = max((k for k in cands if value(k) <= x), key=value)
    hi = min((k for k in cands if value(k) >= x), key=value)
    if value(lo) == x:
        return lo
    if mode == "rn":
        d_lo, d_hi = x - value(lo), value(hi) - x
        return lo if d_lo < d_hi or (d_lo == d_hi and parity(lo) == 0) else hi
    return {"rz": lo if x > 0 else hi, "rm": lo, "rp": hi}[mode]


def as_bits(values, t: str) -> list[int]:
    if t == "bf16":
        return [int(v) for v in values]
    arr = np.array(values, FLOAT[t])
    return arr.view(f"u{arr.itemsize}").tolist()


MODES = ["rn", "rz", "rm", "rp"]
INT_INPUTS = {
    "s32": np.array([0, -1, 2**31 - 1, -(2**31), 2**24 + 1, 2**24 + 3, -(2**25) - 2, 16777217,
                     *RNG.integers(-(2**31), 2**31, 56)], np.int32),
    "u32": np.array([0, 1, 2**32 - 1, 2**24 + 1, 2**31 + 2**7, *RNG.integers(0, 2**32, 59)],
                    np.uint32),
    "s64": np.array([0, -1, 2**63 - 1, -(2**63), 2**53 + 1, -(2**60) - 2**36 - 1,
                     *RNG.integers(-(2**63), 2**63 - 1, 58)], np.int64),
    "u64": np.array([0, 2**64 - 1, 2**53 + 1, 2**63 + 2**39, *RNG.integers(0, 2**64 - 1, 60,
                                                                            dtype=np.uint64)],
                    np.uint64),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("dst", "src"), [("f32", "s32"), ("f32", "u32"), ("f32", "s64"),
                                          ("f32", "u64"), ("f64", "s64"), ("f64", "u64"),
                                          ("f16", "s32"), ("bf16", "s32"), ("bf16", "u64")])
def test_integer_to_float_cvt_rounds_once_in_every_mode(dst, src, mode) -> None:
    x = INT_INPUTS[src].copy()
    if dst == "f16":
        x = (x % 120000 - 60000).astype(np.int32)  # inside f16's range
    out = {"f16": np.float16, "bf16": np.uint16}.get(dst, FLOAT.get(dst))
    got = elementwise(f"cvt.{mode}.{dst}.{src} {{o}}, {{a}};", [x], out)
    want = [ref_round(Fraction(int(v)), dst, mode) for v in x]
    assert as_bits(got, dst) == as_bits(want, dst)


def float_inputs(src: str, dst: str, n: int = 64) -> np.ndarray:
    """Random values spread over dst's range, exact midpoints between dst neighbours, and
    values just off them."""
    ty = FLOAT[src]
    if dst == "f16":
        base = (RNG.standard_normal(n) * 300).astype(np.float16)
        ulp = np.spacing(np.abs(base)).astype(ty)
    elif dst == "bf16":
        base = (RNG.standard_normal(n) * 1e6).astype(np.float32)
        base = (base.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
        ulp = np.abs(base).astype(ty) * ty(2.0**-7)
    else:
        base = (RNG.standard_normal(n) * 2.0 ** RNG.integers(-60, 60, n)).astype(np.float32)
        ulp = np.spacing(np.abs(base)).astype(ty)
    x = base.astype(ty) + ulp / 2  # midpoints: ties
    x[: n // 2] += (ulp[: n // 2] / 7) * np.where(RNG.random(n // 2) < 0.5, 1, -1)
    return np.concatenate([x, -x]).astype(ty)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("dst", "src"), [("f32", "f64"), ("f16", "f32"), ("f16", "f64"),
                                          ("bf16", "f32"), ("bf16", "f64")])
def test_float_narrowing_cvt_rounds_once_in_every_mode(dst, src, mode) -> None:
    x = float_inputs(src, dst)
    out = {"f16": np.float16, "bf16": np.uint16}.get(dst, FLOAT.get(dst))
    got = elementwise(f"cvt.{mode}.{dst}.{src} {{o}}, {{a}};", [x], out)
    want = [ref_round(Fraction(float(v)), dst, mode) for v in x]
    assert as_bits(got, dst) == as_bits(want, dst)


def test_narrowing_overflow_and_nan_follow_the_mode() -> None:
    x = np.array([1e6, -1e6, 65520.0, 65519.0, np.inf, np.nan, -0.0, 1e-9], np.float32)
    want = {"rn": [np.inf, -np.inf, np.inf, 65504, np.inf, np.nan, -0.0, 0.0],
            "rz": [65504, -65504, 65504, 65504, np.inf, np.nan, -0.0, 0.0],
            "rm": [65504, -np.inf, 65504, 65504, np.inf, np.nan, -0.0, 0.0],
            "rp": [np.inf, -65504, np.inf, np.inf, np.inf, np.nan, -0.0, 2.0**-24]}
    for mode, values in want.items():
        got = elementwise(f"cvt.{mode}.f16.f32 {{o}}, {{a}};", [x], np.float16)
        np.testing.assert_array_equal(got, np.array(values, np.float16), err_msg=mode)
    assert elementwise("cvt.rz.bf16.f32 {o}, {a};", [x[4:6]], np.uint16).tolist() == [
        0x7F80, 0x7FFF]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "fma"])
def test_f32_arithmetic_rounds_the_exact_result_once_in_every_mode(op, mode) -> None:
    n = 96
    a, b, c = ((RNG.standard_normal(n) * 2.0 ** RNG.integers(-30, 30, n)).astype(np.float32)
               for _ in range(3))
    a[:6] = [1 + 2**-23, 1.5, 2.0**-149, -3.0, 2.0, -0.0]  # ties, subnormals, exact zeros
    b[:6] = [1 + 2**-23, 2.0**-30, 0.5, 3.0, 2.0, -0.0]
    c[:6] = [2.0**-60, -1.0, 2.0**-149, -0.0, -4.0, -0.0]
    operands = "{o}, {a}, {b}, {c}" if op == "fma" else "{o}, {a}, {b}"
    got = elementwise(f"{op}.{mode}.f32 {operands};", [a, b, c], np.float32)
    fa, fb, fc = ([Fraction(float(v)) for v in arr] for arr in (a, b, c))
    exact = {"add": lambda i: fa[i] + fb[i], "sub": lambda i: fa[i] - fb[i],
             "mul": lambda i: fa[i] * fb[i], "fma": lambda i: fa[i] * fb[i] + fc[i]}[op]
    p = a.astype(np.float64) * b if op in ("mul", "fma") else a.astype(np.float64)
    q = {"add": b, "sub": -b, "fma": c, "mul": p}[op]
    want = []
    for i in range(n):  # an exact zero: -0 for two -0 addends, or in .rm for opposite signs
        negative = np.signbit(p[i]) and np.signbit(q[i]) or (
            mode == "rm" and np.signbit(p[i]) != np.signbit(q[i]))
        zero = np.float32(-0.0 if (negative if op != "mul" else np.signbit(p[i])) else 0.0)
        want.append(ref_round(exact(i), "f32", mode) if exact(i) != 0 else zero)
    assert as_bits(got, "f32") == as_bits(want, "f32")


def test_directed_rounding_with_ftz_flushes_inputs_and_result() -> None:
    a = np.array([2.0**-140, 2.0**-100, 1.0], np.float32)
    b = np.array([1.0, 2.0**-30, 2.0**-140], np.float32)
    got = elementwise("mul.rp.ftz.f32 {o}, {a}, {b};", [a, b], np.float32)
    assert got.tolist() == [0.0, 0.0, 0.0]  # a subnormal input, a subnormal product, input b
    got = elementwise("mul.rp.f32 {o}, {a}, {b};", [a, b], np.float32)
    assert got.tolist() == [2.0**-140, 2.0**-130, 2.0**-140]


@pytest.mark.parametrize("src", ["f32", "f64", "f16"])
@pytest.mark.parametrize("dst", ["s32", "u32", "s64", "u64"])
def test_float_to_integer_cvt_rounds_clamps_and_sends_nan_to_zero(src, dst) -> None:
    with np.errstate(over="ignore"):  # 1e30 is inf as f16
        x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.7, 3.7, np.nan, np.inf, -np.inf, 1e30,
                      -1e30, -0.0, 65504, 2.0**31, 2.0**32 - 1, 1e19], FLOAT[src])
    info = np.iinfo(NP[dst])
    for rounding, fn in (("rni", round), ("rzi", int), ("rmi", np.floor), ("rpi", np.ceil)):
        got = elementwise(f"cvt.{rounding}.{dst}.{src} {{o}}, {{a}};", [x], NP[dst])
        want = [0 if np.isnan(v) else info.max if v == np.inf else info.min if v == -np.inf
                else min(max(int(fn(Fraction(float(v)))), int(info.min)), int(info.max))
                for v in x]
        assert got.tolist() == want, rounding


def test_half_sources_convert_to_every_type() -> None:
    h = np.array([1.5, -2.5, 65504, -0.0, np.inf, 6e-8], np.float16)
    assert elementwise("cvt.rni.s32.f16 {o}, {a};", [h], np.int32).tolist() == [
        2, -2, 65504, 0, 2**31 - 1, 0]
    assert elementwise("cvt.f64.f16 {o}, {a};", [h], np.float64).tolist() == h.astype(
        float).tolist()
    bits = np.array([0x3FC0, 0xC020, 0x7F80, 0x0001], np.uint16)  # bf16 1.5, -2.5, inf, tiny
    got = elementwise("cvt.rn.f16.bf16 {o}, {a};", [bits], np.float16)
    assert got.tolist() == [1.5, -2.5, np.inf, 0.0]


# -- elementary functions ---------------------------------------------------------------------

ELEMENTARY = [  # (opcode, float64 function, inputs, relative tolerance: the hardware's bound)
    ("ex2", np.exp2, (RNG.random(64) * 250 - 125), 2**-22),
    ("lg2", np.log2, 2.0 ** (RNG.random(64) * 200 - 100), 2**-22),
    ("rsqrt", lambda x: 1 / np.sqrt(x), 2.0 ** (RNG.random(64) * 200 - 100), 2**-22),
    ("sin", np.sin, RNG.random(64) * 200 - 100, 2**-21),
    ("cos", np.cos, RNG.random(64) * 200 - 100, 2**-21),
    ("tanh", np.tanh, RNG.standard_normal(64) * 3, 2**-11),
]


@pytest.mark.parametrize(("opcode", "fn", "x", "rtol"), ELEMENTARY)
def test_approx_functions_are_within_the_hardware_error_of_the_exact_value(opcode, fn, x,
                                                                           rtol) -> None:
    x = x.astype(np.float32)
    got = elementwise(f"{opcode}.approx.f32 {{o}}, {{a}};", [x], np.float32)
    exact = fn(x.astype(np.float64))
    np.testing.assert_allclose(got, exact, rtol=rtol, atol=2**-22 if opcode in ("sin", "cos")
                               else 0)


def test_approx_special_values_and_ftz() -> None:
    x = np.array([-140.0, 0.0, -np.inf, np.inf, np.nan, 2.0**-140], np.float32)
    got = elementwise("ex2.approx.f32 {o}, {a};", [x], np.float32)
    np.testing.assert_array_equal(got[:5], np.array([2.0**-140, 1, 0, np.inf, np.nan],
                                                     np.float32))
    got = elementwise("ex2.approx.ftz.f32 {o}, {a};", [x], np.float32)
    assert got[0] == 0 and got[5] == 1  # subnormal result and subnormal input flushed
    y = np.array([0.0, -0.0, -1.0, np.inf, 2.0**-140], np.float32)
    got = elementwise("rsqrt.approx.f32 {o}, {a};", [y], np.float32)
    np.testing.assert_array_equal(got[:4], np.array([np.inf, -np.inf, np.nan, 0], np.float32))
    assert got[4] == np.float32(2.0**70)
    got = elementwise("lg2.approx.ftz.f32 {o}, {a};", [y], np.float32)
    np.testing.assert_array_equal(got, np.array([-np.inf, -np.inf, np.nan, np.inf, -np.inf],
                                                np.float32))
    got = elementwise("sin.approx.f32 {o}, {a};", [y[3:4]], np.float32)
    assert np.isnan(got).all()


# -- half-precision arithmetic ------------------------------------------------------------------


def half_inputs(kind: str, n: int = 96) -> np.ndarray:
    """16-bit patterns: random values over a wide range, zeros, subnormals, inf, NaN."""
    scale = 2.0 ** RNG.integers(-20, 14, n) if kind == "f16" else 2.0 ** RNG.integers(-60, 60, n)
    x = RNG.standard_normal(n) * scale
    if kind == "f16":
        bits = x.astype(np.float16).view(np.uint16)
        bits[:6] = [0x0000, 0x8000, 0x0001, 0x83FF, 0x7C00, 0x7E00]
    else:
        bits = np.array([int(v) for v in ref_bits_bf16(x)], np.uint16)
        bits[:6] = [0x0000, 0x8000, 0x0001, 0x807F, 0x7F80, 0x7FC0]
    return bits


def ref_bits_bf16(x: np.ndarray) -> list[int]:
    return [int(np.array([v], np.float32).view(np.uint32)[0]) >> 16 for v in x]


def half_value(bits: int, kind: str) -> float:
    return bf16_value(bits) if kind == "bf16" else float(np.array([bits], np.uint16).view(
        np.float16)[0])


def ref_half(op: str, xs: list[float], kind: str, ftz: bool) -> int:
    """The 16 bits of op(xs) rounded to nearest even in kind (Fraction arithmetic; zeros,
    infinities and NaN by IEEE; bf16 NaN as 0x7FFF)."""
    tiny = 2.0**-14
    if ftz:
        xs = [np.copysign(0.0, v) if abs(v) < tiny else v for v in xs]
    p = xs[0] * xs[1] if op in ("mul", "fma") else xs[0]
    q = xs[2] if op == "fma" else -xs[1] if op == "sub" else xs[1]
    with np.errstate(all="ignore"):
        value = p if op == "mul" else p + q  # right for zeros, infinities and NaN
    if np.isfinite(value) and all(np.isfinite(xs)):
        f = [Fraction(v) for v in xs]
        exact = {"add": lambda: f[0] + f[1], "sub": lambda: f[0] - f[1],
                 "mul": lambda: f[0] * f[1], "fma": lambda: f[0] * f[1] + f[2]}[op]()
        limit = 65504.0 if kind == "f16" else bf16_value(0x7F7F)
        half_ulp = Fraction(16 if kind == "f16" else 2**119)
        if abs(exact) >= Fraction(limit) + half_ulp:  # rounds past the largest finite value
            value = np.copysign(np.inf, float(exact))
        elif exact != 0:
            r = ref_round(exact, kind, "rn")
            value = bf16_value(int(r)) if kind == "bf16" else float(r)
    if ftz and abs(value) < tiny:
        value = np.copysign(0.0, value)
    if kind == "bf16":
        return 0x7FFF if np.isnan(value) else ref_bits_bf16(np.array([value]))[0]
    return int(np.array([value], np.float16).view(np.uint16)[0])


@pytest.mark.parametrize(("kind", "ftz"), [("f16", ""), ("f16", ".ftz"), ("bf16", "")])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "fma"])
def test_half_arithmetic_rounds_once(kind, op, ftz) -> None:
    a, b, c = (half_inputs(kind) for _ in range(3))
    mode = ".rn" if op == "fma" else ""
    operands = "{o}, {a}, {b}, {c}" if op == "fma" else "{o}, {a}, {b}"
    got = elementwise(f"{op}{mode}{ftz}.{kind} {operands};", [a, b, c], np.uint16)
    want = [ref_half(op, [half_value(int(v), kind) for v in (x, y, z)], kind, bool(ftz))
            for x, y, z in zip(a, b, c, strict=True)]
    nan = np.isnan([half_value(int(v), kind) for v in got])
    want_nan = np.isnan([half_value(v, kind) for v in want])
    assert (nan == want_nan).all()
    assert [int(v) for v in got[~nan]] == [w for w, n in zip(want, want_nan, strict=True)
                                           if not n]


def test_packed_half_pairs_compute_each_half_and_sign_ops_flip_bits() -> None:
    lo, hi = half_inputs("f16"), half_inputs("f16")
    words = lo.astype(np.uint32) | (hi.astype(np.uint32) << 16)
    other = words[::-1].copy()
    got = elementwise("add.f16x2 {o}, {a}, {b};", [words, other], np.uint32)
    for k, (x, y) in enumerate([(lo, other & 0xFFFF), (hi, other >> 16)]):
        half = (got >> (16 * k)) & 0xFFFF
        want = np.array([ref_half("add", [half_value(int(p), "f16"), half_value(int(q), "f16")],
                                  "f16", False) for p, q in zip(x, y, strict=True)])
        finite = ~np.isnan(np.array(want, np.uint16).view(np.float16))
        assert (half[finite] == want[finite]).all()
    neg = elementwise("neg.bf16x2 {o}, {a};", [words], np.uint32)
    assert (neg == words ^ np.uint32(0x80008000)).all()
    absolute = elementwise("abs.f16 {o}, {a};", [lo], np.uint16)
    assert (absolute == lo & np.uint16(0x7FFF)).all()


def test_half_min_max_and_compare() -> None:
    x = np.array([1.0, np.nan, -2.0, 0.5, np.inf, -0.0], np.float16)
    y = np.array([2.0, 3.0, np.nan, 0.25, 1.0, 0.0], np.float16)
    got = elementwise("min.f16 {o}, {a}, {b};", [x, y], np.float16)
    np.testing.assert_array_equal(got[:5], np.fmin(x, y)[:5])
    got = elementwise("max.NaN.f16 {o}, {a}, {b};", [x, y], np.float16)
    np.testing.assert_array_equal(got, np.maximum(x, y))
    got = elementwise("setp.lt.f16 %p1, {a}, {b};\n\tselp.u32 %r9, 1, 0, %p1;", [x, y],
                      np.uint32)
    assert got.tolist() == (x < y).astype(int).tolist()
    got = elementwise("setp.gtu.f16 %p1, {a}, {b};\n\tselp.u32 %r9, 1, 0, %p1;", [x, y],
                      np.uint32)
    assert got.tolist() == ((x > y) | np.isnan(x) | np.isnan(y)).astype(int).tolist()
