"""Fuzzing with hypothesis, bounded: a fixed example budget per test and a recorded seed
(`@seed(SEED)`, no example database), so runs of the same code try the same cases
(docs/reliability.md: Hypothesis also draws literals from the project's modules).

(a) Random valid configurations of each kernel: `parse(emit(k)) == k` for every entry; a few
    assemble with ptxas without spills; the simulator matches the float64 reference for a
    random seq_len.
(b) Random invalid configurations (one parameter made bad, or a bad combination) raise
    ValueError naming the parameter: never TypeError, KeyError or ZeroDivisionError.
(c) Random mutations of valid PTX (lines deleted, duplicated, swapped or inserted; tokens,
    numbers and register names changed; the text truncated) make the parser or the simulator
    raise PtxParseError, ValueError or SimError naming the line, or run to completion within
    `MUTANT_MAX_STEPS` group-steps: no other exception, no hang.

The number of cases tried is printed at the end of the module (pytest's terminal, with or
without -s). docs/reliability.md records the budget and the time it takes.
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import math
import re
import time

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="fuzzing needs hypothesis (the dev extra)")

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from explorer import runtime, sim  # noqa: E402
from explorer.kernels import (  # noqa: E402
    TARGETS,
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)
from explorer.kernels.split_kv_geometry import MAX_STATIC_SHARED, REGISTER_BUDGET  # noqa: E402
from explorer.ptx import Program, PtxParseError, parse  # noqa: E402
from explorer.ptx.ptxas import assemble, find_ptxas  # noqa: E402
from explorer.verify import make_inputs, verify  # noqa: E402

SEED = 20261127
MUTANT_MAX_STEPS = 3000
BUDGET = {"build": 150, "ptxas": 16, "simulate": 120, "invalid": 400, "mutate": 700}
TRIED: collections.Counter = collections.Counter()
SLOWEST = {"mutant_seconds": 0.0}


def fuzz(name: str):
    return settings(max_examples=BUDGET[name], deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def report_cases_tried(request):
    yield
    tried = ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items()))
    line = (f"test_fuzz: cases tried (seed {SEED}): {tried}; slowest mutant "
            f"{SLOWEST['mutant_seconds']:.2f} s")
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin(
        "capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)


# -- (a) valid configurations ------------------------------------------------------------------

Single, Multi, Split = (IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel,
                        SplitKVDecodeAttentionKernel)
ELEMS = {"f32": 4, "f16": 8, "bf16": 8}  # elements per 16-byte load


@st.composite
def valid_kernels(draw, max_seq_len=48, max_heads=8):
    """A kernel of any class with a valid configuration (small enough to simulate)."""
    cls = draw(st.sampled_from([Single, Multi, Split]))
    kv = draw(st.integers(1, 4))
    heads = kv * draw(st.integers(1, max_heads // kv))
    base = dict(max_seq_len=draw(st.integers(1, max_seq_len)), num_heads=heads,
                num_kv_heads=kv, scale=draw(st.none() | st.floats(0.01, 4.0)))
    if cls is not Split:
        base |= dict(head_dim=draw(st.integers(1, 256)), indirect_seq_len=draw(st.booleans()),
                     debug=draw(st.booleans()))
        if cls is Multi:
            base["num_warps"] = draw(st.integers(1, 32))
        return cls(**base)
    dtype = draw(st.sampled_from(sorted(ELEMS)))
    head_dim = ELEMS[dtype] * draw(st.integers(1, 256 // ELEMS[dtype]))
    warp_limit = max(1, min(16, MAX_STATIC_SHARED // ((heads // kv) * (head_dim + 4) * 4)))
    tensor_cores = dtype != "f32" and heads // kv <= 8 and draw(st.booleans())
    path = dict(mma=True) if tensor_cores else dict(
        mma=False if dtype != "f32" else None, unroll=draw(st.none() | st.integers(1, 4)))
    return cls(**base, head_dim=head_dim, dtype=dtype, batch=draw(st.integers(1, 2)),
               num_warps=draw(st.integers(1, warp_limit)),
               num_splits=draw(st.none() | st.integers(1, 6)), **path)


@seed(SEED)
@fuzz("build")
@given(kernel=valid_kernels(max_seq_len=2**31 // 256, max_heads=32),
       target=st.sampled_from(TARGETS))
def test_valid_configurations_round_trip(kernel, target):
    TRIED["(a) build+parse"] += 1
    if getattr(kernel, "mma", False) and target == "sm_75":  # mma.m16n8k16 needs sm_80
        with pytest.raises(ValueError, match="sm_80 or newer"):
            kernel.emit(target)
        return
    module = kernel.emit(target)
    for entry in kernel.kernels:
        assert parse(module, entry.entry) == entry


@pytest.mark.skipif(find_ptxas() is None, reason="ptxas not installed (nvidia-cuda-nvcc)")
@seed(SEED)
@fuzz("ptxas")
@given(kernel=valid_kernels(max_seq_len=4096, max_heads=32),
       target=st.sampled_from(["sm_80", "sm_90"]))
def test_valid_configurations_assemble_without_spills(kernel, target):
    TRIED["(a) ptxas"] += 1
    reports = assemble(kernel.emit(target), target)
    within_budget = getattr(kernel, "register_estimate", 0) <= REGISTER_BUDGET
    if within_budget:  # an explicit unroll past the kernel's register budget may spill
        assert {e: r.spill_bytes for e, r in reports.items() if r.spill_bytes} == {}


@seed(SEED)
@fuzz("simulate")
@given(kernel=valid_kernels(), data=st.data())
def test_valid_configurations_match_the_reference_on_the_simulator(kernel, data):
    TRIED["(a) simulate"] += 1
    lengths = [data.draw(st.integers(0, kernel.max_seq_len)) for _ in range(kernel.batch)]
    got = verify(kernel, "sim", lengths, seed=data.draw(st.integers(0, 2**32)),
                 states=kernel.debug)
    assert got.state_problems == ()
    assert got.comparison.passed, f"{kernel!r} lengths={lengths}: {got.comparison}"


# -- (b) invalid configurations ----------------------------------------------------------------

NOT_INTS = st.sampled_from(["4", "", 4.5, math.nan, math.inf, -math.inf, True, False, [4], (4,),
                            {"n": 4}, b"4", 4j, np.float32(4), np.bool_(True), object]) | st.text(
    max_size=3)
NOT_BOOLS = st.sampled_from([None, 0, 1, "True", "", 1.0, [True], np.bool_(True)]) | st.integers()


def _ranges(cls, kwargs) -> dict[str, tuple[int, int]]:
    ranges = {"max_seq_len": (1, 2**31 - 1), "head_dim": (1, 256), "num_heads": (1, 65535),
              "num_kv_heads": (1, kwargs["num_heads"])}
    if cls is Multi:
        ranges["num_warps"] = (1, 32)
    if cls is Split:
        ranges |= {"num_warps": (1, 16), "batch": (1, 65535), "num_splits": (1, 65535),
                   "unroll": (1, 8), "sm_count": (1, 10_000)}
    return ranges


@st.composite
def invalid_configurations(draw):
    """(class, kwargs, the parameter a message must name): one parameter made bad, or a
    combination of valid values that is not accepted."""
    kernel = draw(valid_kernels(max_seq_len=4096))
    cls = type(kernel)
    kwargs = {k: v for k, v in kernel.config().items()
              if k in inspect.signature(cls).parameters}
    ranges = _ranges(cls, kwargs)
    flags = [f for f in ("indirect_seq_len", "debug", "pipeline")
             if f in inspect.signature(cls).parameters]
    bad = draw(st.sampled_from([*ranges, *flags, "scale", "combination"]
                               + (["dtype"] if cls is Split else [])))
    # None means the default there (num_kv_heads: num_heads)
    optional = bad in ("num_splits", "unroll", "num_warps", "num_kv_heads")
    if bad in ranges:
        lo, hi = ranges[bad]
        kwargs[bad] = draw(st.integers(max_value=lo - 1) | st.integers(min_value=hi + 1)
                           | (NOT_INTS if optional else NOT_INTS | st.none()))
    elif bad in flags:
        kwargs[bad] = draw(NOT_BOOLS)
    elif bad == "scale":
        kwargs[bad] = draw(st.floats(max_value=1e-30, exclude_max=True)
                           | st.floats(min_value=1e30, exclude_min=True)
                           | st.sampled_from([math.nan, "0.1", True, [0.1], 1j]))
    elif bad == "dtype":
        kwargs[bad] = draw(st.text(max_size=4).filter(lambda s: s not in ELEMS) | NOT_INTS)
    else:
        return _bad_combination(draw, cls, kwargs)
    return cls, kwargs, bad


def _bad_combination(draw, cls, kwargs):
    heads = kwargs["num_heads"]
    non_divisors = [n for n in range(2, heads) if heads % n]
    choices = ["cache"] + (["divisor"] if non_divisors else []) + (
        ["alignment", "shared"] if cls is Split else [])
    which = draw(st.sampled_from(choices))
    if which == "cache":  # max_seq_len * head_dim past 32-bit indexing
        hd = kwargs["head_dim"] = max(2, kwargs["head_dim"])
        kwargs["max_seq_len"] = draw(st.integers((2**31 - 1) // hd + 1, 2**31 - 1))
        return cls, kwargs, "max_seq_len"
    if which == "divisor":
        kwargs["num_kv_heads"] = draw(st.sampled_from(non_divisors))
        return cls, kwargs, "num_kv_heads"
    if which == "alignment":
        kwargs["head_dim"] = draw(st.integers(1, 256).filter(
            lambda d: d % ELEMS[kwargs["dtype"]]))
        return cls, kwargs, "head_dim"
    kwargs.pop("mma", None)  # 64 q heads per KV head: the CUDA-core path (the default)
    kwargs.pop("tiles_in_flight", None)  # tensor cores only
    kwargs |= dict(num_heads=64, num_kv_heads=1, head_dim=256, num_warps=draw(st.integers(1, 16)))
    return cls, kwargs, "shared memory"


@seed(SEED)
@fuzz("invalid")
@given(case=invalid_configurations())
def test_invalid_configurations_raise_value_error_naming_the_parameter(case):
    TRIED["(b) invalid"] += 1
    cls, kwargs, name = case
    with pytest.raises(ValueError) as err:
        cls(**kwargs)
    assert name in str(err.value)


@seed(SEED)
@fuzz("invalid")
@given(kernel=valid_kernels(max_seq_len=64),
       seq_len=st.integers() | NOT_INTS.filter(lambda x: not isinstance(x, (list, tuple)))
       | st.none() | st.lists(st.integers(-5, 5), max_size=4).filter(lambda x: len(x) != 1))
def test_invalid_lengths_raise_value_error(kernel, seq_len):
    TRIED["(b) invalid seq_len"] += 1
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    if isinstance(seq_len, int) and not isinstance(seq_len, bool) and 0 <= seq_len <= 64:
        seq_len = kernel.max_seq_len + 1 + seq_len  # always outside 0..max_seq_len
    if isinstance(seq_len, list) and len(seq_len) == kernel.batch:
        seq_len.append(0)  # one length too many
    with pytest.raises(ValueError, match="seq_len"):
        runtime.check_launch(kernel, q, k, v, seq_len)


# -- (c) mutated PTX ---------------------------------------------------------------------------

MUTANT_KERNELS = [
    Single(8, 32, 2, 1, indirect_seq_len=True),
    Multi(8, 40, 2, 1, 2),
    Multi(8, 32, 2, 1, 2, debug=True),
    Split(16, 32, 2, 1, num_splits=2, num_warps=1, dtype="f16"),
    Split(16, 32, 4, 2, num_splits=2, num_warps=2, unroll=2),
]
ODD_LINES = [
    "bra $L__x;", "$L__x:", "bar.sync 1;", "bar.sync 0, 32;", "exit;", "@%p1 exit;",
    "@!%p2 bra $L__x;", "shfl.sync.idx.b32 %r1, 5, %r2, 31, -1;", "mov.b32 {%rs1, %p1}, %r1;",
    "ld.shared.v4.f32 {%f1,%f2,%f3,%f4}, [smem+4];", "st.global.v2.f32 [%rd1+-8], {%f1,%f2};",
    "cvt.rzi.s32.f32 %r1, %f1;", "div.u32 %r1, %r1, 0;", "rem.s32 %r1, %r1, -1;",
    "ld.param.u32 %r1, [q_ptr+4];", "ld.global.u8 %rs1, [%rd1];", "shl.b64 %rd1, %rd1, 99999;",
    "ld.global.f32 %f1, [%r1];", "st.shared.f32 [%rd1], %f1;", "ld.f32 %f1, [%rd1];",
    ".shared .align 8 .b8 extra[64];", ".reg .f32 %f<9>;", "mul.hi.s64 %rd1, %rd1, -1;",
]
NUMBERS = [0, 1, -1, 2, 31, 32, 33, 255, 1024, 2**31, 2**32 - 1, 2**32, 2**63, 2**64, 10**30]
NUMBER = re.compile(r"(?<![%\w])-?(0[xXfF][0-9a-fA-F]+|\d+)")
REGISTER = re.compile(r"%(rd|rs|fd|r|f|p)(\d+)")
TOKEN = re.compile(r"[^\s,;\[\]{}()]+")

index = st.integers(0, 10**6)  # taken modulo what it indexes
mutation = st.one_of(
    st.tuples(st.just("delete"), index),
    st.tuples(st.just("duplicate"), index, index),
    st.tuples(st.just("swap"), index, index),
    st.tuples(st.just("token"), index, index, index),
    st.tuples(st.just("number"), index, index, st.sampled_from(NUMBERS) | st.integers(-999, 999)),
    st.tuples(st.just("register"), index, index, st.sampled_from(["r", "rd", "f", "p", "q"]),
              st.integers(0, 200)),
    st.tuples(st.just("insert"), index, st.sampled_from(ODD_LINES) | index),
    st.tuples(st.just("truncate"), index),
)


def mutate(text: str, op: tuple) -> str:
    """One mutation of PTX text; indices wrap around what they index."""
    lines = text.split("\n")
    kind, i = op[0], op[1] % len(lines)
    if kind == "delete":
        del lines[i]
    elif kind in ("duplicate", "swap"):
        j = op[2] % len(lines)
        if kind == "duplicate":
            lines.insert(j, lines[i])
        else:
            lines[i], lines[j] = lines[j], lines[i]
    elif kind == "insert":
        extra = op[2] if isinstance(op[2], str) else lines[op[2] % len(lines)]
        lines.insert(i, extra)
    elif kind == "truncate":
        return text[: op[1] % (len(text) + 1)]
    else:
        pattern = {"token": TOKEN, "number": NUMBER, "register": REGISTER}[kind]
        found = list(pattern.finditer(lines[i]))
        if found:
            m = found[op[2] % len(found)]
            if kind == "token":
                tokens = TOKEN.findall(text)
                new = tokens[op[3] % len(tokens)]
            else:
                new = str(op[3]) if kind == "number" else f"%{op[3]}{op[4]}"
            lines[i] = lines[i][: m.start()] + new + lines[i][m.end():]
    return "\n".join(lines)


def _run_mutant(kernel, text: str) -> None:
    """The kernel's launches and buffers with `text` as its PTX, through the runtime's
    generic path (the launches are checked against the kernel's own parameter lists; the
    simulator parses the mutated text)."""
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    values = {"q": q, "k": k, "v": v,
              **kernel.length_arguments((kernel.max_seq_len,) * kernel.batch)}
    program = Program(text, kernel.program().entries)
    runtime.launch(program, kernel.launches(), values,
                   runtime.get_backend("sim", max_steps=MUTANT_MAX_STEPS), kernel.buffer_specs())


@seed(SEED)
@fuzz("mutate")
@given(which=st.integers(0, len(MUTANT_KERNELS) - 1),
       ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_ptx_fails_clearly_or_runs(which, ops):
    kernel = MUTANT_KERNELS[which]
    text = kernel.emit()
    for op in ops:
        text = mutate(text, op)
    start = time.perf_counter()
    try:
        _run_mutant(kernel, text)
        outcome = "ran"
    except PtxParseError as err:
        assert str(err).startswith("line "), err
        outcome = "PtxParseError"
    except sim.SimError as err:
        assert "line " in str(err), err
        outcome = "SimError"
    except ValueError as err:  # the launch no longer fits the mutated parameters or entry
        assert str(err), "empty message"
        outcome = "ValueError"
    TRIED[f"(c) mutants: {outcome}"] += 1
    SLOWEST["mutant_seconds"] = max(SLOWEST["mutant_seconds"], time.perf_counter() - start)
