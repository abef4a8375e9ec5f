"""The runtime: its input checks (the same for every backend), the generic launch path any
PTX takes (`Program`, `Launch`, buffer specs), and the comparison's verdicts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer import runtime, sim
from explorer.kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from explorer.ptx import BufferSpec, Entry, Launch, Program
from explorer.verify import compare, make_inputs

KERNEL = MultiWarpIncrementalAttentionKernel(64, 40, 6, 2, 3)


def _inputs(kernel=KERNEL):
    return make_inputs(kernel, np.random.default_rng(0))


def test_valid_launch_arguments_pass():
    q, k, v = _inputs()
    assert runtime.check_launch(KERNEL, q, k, v, np.int64(17)) == (17,)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda q, k, v: (q[:, :-1], k, v), "q has shape"),
        (lambda q, k, v: (q, k[:1], v), "k has shape"),
        (lambda q, k, v: (q, k, v.astype(np.float64)), "v has dtype float64"),
        (lambda q, k, v: (np.asfortranarray(q), k, v), "q is not C-contiguous"),
        (lambda q, k, v: (q.tolist(), k, v), "q must be a NumPy or CuPy array"),
    ],
)
def test_bad_arrays_are_named(mutate, words):
    q, k, v = mutate(*_inputs())
    with pytest.raises(ValueError, match=words):
        runtime.check_launch(KERNEL, q, k, v, 3)


@pytest.mark.parametrize("seq_len", [-1, 65, 2**32, 3.0, True, "3"])
def test_bad_seq_len_is_named(seq_len):
    q, k, v = _inputs()
    with pytest.raises(ValueError, match="seq_len"):
        runtime.check_launch(KERNEL, q, k, v, seq_len)


def test_unknown_backend():
    q, k, v = _inputs()
    with pytest.raises(ValueError, match="backend='opencl'"):
        runtime.run(KERNEL, q, k, v, 3, backend="opencl")


def test_inputs_are_random_f32_never_zero():
    for kind in ("normal", "increasing"):
        q, k, v = make_inputs(KERNEL, np.random.default_rng(1), kind)
        assert q.dtype == k.dtype == v.dtype == np.float32
        assert np.count_nonzero(q) == q.size and np.count_nonzero(k) == k.size


def test_increasing_scores_increase_for_every_head():
    kernel = IncrementalAttentionKernel(200, 33, 12, 4)
    q, k, _ = make_inputs(kernel, np.random.default_rng(2), "increasing")
    for head in range(kernel.num_heads):
        kv = head * kernel.num_kv_heads // kernel.num_heads
        scores = (k[kv].astype(np.float64) @ q[head]) * kernel.scale
        assert np.all(np.diff(scores) > 0)
        assert 5 < scores[-1] < 200


def test_compare_fails_nan_and_far_outputs_and_passes_close_ones():
    ref = np.random.default_rng(3).standard_normal((4, 8))
    assert compare(ref.astype(np.float32), ref).passed
    poisoned = ref.copy()
    poisoned[1, 2] = np.nan
    assert not compare(poisoned, ref).passed
    assert not compare(ref * (1 + 1e-4), ref).passed
    assert compare(np.zeros((2, 2)), np.zeros((2, 2))).passed
    assert not compare(np.full((2, 2), 1e-3), np.zeros((2, 2))).passed


# -- any PTX through the generic path ------------------------------------------------------------

SQUARE_PTX = """.version 8.0
.target sm_80
.address_size 64

.visible .entry square(.param .u64 x, .param .u64 out, .param .u32 n)
{
    .reg .pred %p<2>;
    .reg .u32 %r<4>;
    .reg .f32 %f<3>;
    .reg .u64 %rd<7>;
    ld.param.u64 %rd1, [x];
    cvta.to.global.u64 %rd2, %rd1;
    ld.param.u64 %rd3, [out];
    cvta.to.global.u64 %rd4, %rd3;
    ld.param.u32 %r1, [n];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %tid.x;
    mad.lo.u32 %r2, %r2, 32, %r3;
    setp.lt.u32 %p1, %r2, %r1;
    mul.wide.u32 %rd5, %r2, 4;
    add.s64 %rd6, %rd2, %rd5;
    @%p1 ld.global.f32 %f1, [%rd6];
    @%p1 mul.f32 %f2, %f1, %f1;
    add.s64 %rd6, %rd4, %rd5;
    @%p1 st.global.f32 [%rd6], %f2;
    ret;
}
"""
SQUARE = Launch("square", (2, 1, 1), (32, 1, 1), ("x", "out", 40))
BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]


def test_program_reads_entries_and_parameters():
    program = Program.from_ptx(SQUARE_PTX)
    assert program.entries == (Entry("square", (("x", "u64"), ("out", "u64"), ("n", "u32"))),)
    with pytest.raises(ValueError, match="entry 'cube' is not in this program"):
        program.entry("cube")
    kernel = MultiWarpIncrementalAttentionKernel(64, 40, 6, 2, 3, debug=True)
    assert Program.from_ptx(kernel.emit()) == kernel.program()


@pytest.mark.parametrize("backend", BACKENDS)
def test_any_ptx_runs_through_the_generic_launch(backend):
    x = np.random.default_rng(4).standard_normal(64).astype(np.float32)
    out = np.zeros(64, dtype=np.float32)
    got = runtime.launch(Program.from_ptx(SQUARE_PTX), [SQUARE], {"x": x, "out": out},
                         backend=backend)
    assert set(got) == {"x", "out"} and np.array_equal(got["x"], x)
    np.testing.assert_array_equal(got["out"][:40], x[:40] * x[:40])
    assert not got["out"][40:].any() and not out.any()  # a copy ran; the caller's array stays


@pytest.mark.parametrize("backend", BACKENDS)
def test_specs_poison_outputs_and_inputs_are_read_only(backend):
    x = np.ones(64, dtype=np.float32)
    specs = [BufferSpec("x", (64,), "float32", "input"),
             BufferSpec("out", (64,), "float32", "output", fill=float("nan"))]
    got = runtime.launch(Program.from_ptx(SQUARE_PTX), [SQUARE], {"x": x}, backend, specs)
    assert set(got) == {"out"} and (got["out"][:40] == 1).all()
    assert np.isnan(got["out"][40:]).all()  # what no thread wrote shows


def test_a_kernel_writing_an_input_fails_on_the_simulator():
    specs = [BufferSpec("x", (64,), "float32", "output", fill=0.0),
             BufferSpec("out", (64,), "float32", "input")]
    with pytest.raises(sim.SimError, match="read-only"):
        runtime.launch(Program.from_ptx(SQUARE_PTX), [SQUARE], {"out": np.ones(64, np.float32)},
                       "sim", specs)


@pytest.mark.parametrize(
    "launch, words",
    [
        (Launch("square", (1, 1, 1), (32, 1, 1), ("x", "out")), "takes 3 arguments (x, out, n)"),
        (Launch("square", (1, 1, 1), (32, 1, 1), ("x", "y", 4)), "names buffer 'y'"),
        (Launch("square", (1, 1, 1), (32, 1, 1), ("x", "out", "x")), "parameter n is .u32"),
        (Launch("square", (1, 1, 1), (32, 1, 1), ("x", "out", None)), "got NoneType"),
        (Launch("cube", (1, 1, 1), (32, 1, 1), ()), "entry 'cube'"),
        (Launch("square", (1, 1, 1), (32, 1, 1), ("x", "out", 4), shared_bytes=10**9),
         "shared_bytes=1000000000 is outside 0..232448"),
    ],
)
def test_launch_mistakes_are_named(launch, words):
    x = np.ones(32, dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape(words)):
        runtime.launch(Program.from_ptx(SQUARE_PTX), [launch], {"x": x, "out": x}, "sim")


def test_bad_specs_and_programs_are_named():
    with pytest.raises(ValueError, match="role='scratch'"):
        BufferSpec("x", (4,), "float32", "scratch")
    with pytest.raises(ValueError, match="program must be an explorer.ptx.Program"):
        runtime.launch(SQUARE_PTX, [SQUARE], {}, "sim")
    with pytest.raises(ValueError, match="buffer 'x' is an input of this run"):
        runtime.launch(Program.from_ptx(SQUARE_PTX), [SQUARE], {}, "sim",
                       [BufferSpec("x", (4,), "float32", "input")])


def test_the_runtime_imports_no_kernel():
    code = ("import sys, explorer.runtime, explorer.runtime.cuda, explorer.runtime.sim; "
            "print(sorted(m for m in sys.modules if m.startswith(('explorer.kernels', "
            "'explorer.verify', 'explorer.app'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "[]"


def test_backend_choice_is_one_function():
    assert runtime.choose_backend("sim") == ("sim", "the CPU simulator (chosen)")
    assert runtime.default_backend() == runtime.choose_backend("auto")[0]
    with pytest.raises(ValueError, match="backend='gpu'; accepted: auto, cuda, sim"):
        runtime.choose_backend("gpu")
