"""`explorer.kernels.online_softmax`: each helper emits the PTX its docstring names, and that
PTX computes the algebra (run on the simulator, one thread per input row, against float64
NumPy, random inputs with -inf mixed in)."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.kernels import online_softmax as osm
from explorer.ptx import KernelBuilder, emit
from explorer.ptx.ir import Address, Instruction
from explorer.sim import launch

THREADS = 64


def _opcodes(fn) -> list[str]:
    """The instructions `fn(b, *three f32 registers)` emits, by name."""
    b = KernelBuilder("k")
    regs = [b.fresh("f32") for _ in range(3)]
    start = len(b.build().body)
    fn(b, *regs)
    return [i.name for i in b.build().body[start:] if isinstance(i, Instruction)]


@pytest.mark.parametrize(("fn", "expected"), [
    (lambda b, x, y, z: osm.safe_max(b, x), ["setp.eq.f32", "selp.f32"]),
    (lambda b, x, y, z: osm.exp_diff(b, x, y), ["sub.f32", "mul.f32", "ex2.approx.f32"]),
    (lambda b, x, y, z: osm.exp2_diff(b, x, y), ["sub.f32", "ex2.approx.ftz.f32"]),
    (lambda b, x, y, z: osm.log2_score(b, x, 0.5), ["mul.f32"]),
    (lambda b, x, y, z: osm.running_max(b, x, [y, z]), ["max.f32", "max.f32"]),
    (lambda b, x, y, z: osm.rescale_sum(b, x, y, [z, z]), ["mul.f32", "add.f32", "add.f32"]),
    (lambda b, x, y, z: osm.online_weights(b, x, y, [z]),
     ["setp.eq.f32", "selp.f32", "sub.f32", "ex2.approx.ftz.f32", "sub.f32",
      "ex2.approx.ftz.f32"]),
])
def test_each_helper_emits_the_ptx_its_docstring_names(fn, expected):
    assert _opcodes(fn) == expected


def _run(fn, inputs: np.ndarray, outputs: int) -> np.ndarray:
    """Thread t loads `inputs[t]` (f32 words), stores `fn(b, *loaded)`'s registers."""
    b = KernelBuilder("k")
    src, dst = b.param("src", "u64"), b.param("dst", "u64")
    tid = b.special("tid.x")
    s = b.op("mad.wide.u32", tid, 4 * inputs.shape[1],
             b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(src))))
    d = b.op("mad.wide.u32", tid, 4 * outputs,
             b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(dst))))
    values = [b.op("ld.global.f32", Address(s, 4 * j)) for j in range(inputs.shape[1])]
    for j, reg in enumerate(fn(b, *values)):
        b.op("st.global.f32", Address(d, 4 * j), reg)
    b.op("ret")
    out = np.full((len(inputs), outputs), np.nan, dtype=np.float32)
    launch(emit(b.build()), "k", 1, len(inputs), [inputs.astype(np.float32), out])
    return out


def _inputs(rng, columns: int) -> np.ndarray:
    x = rng.normal(0.0, 4.0, (THREADS, columns))
    x[rng.random(x.shape) < 0.25] = -np.inf  # "nothing seen yet" and masked scores
    return x


def test_online_weights_match_float64_and_never_nan():
    rng = np.random.default_rng()
    x = _inputs(rng, 3)  # m_old, s0, s1 (log2 units)

    def step(b, m, s0, s1):
        m_new = osm.running_max(b, m, [s0, s1])
        corr, p = osm.online_weights(b, m, m_new, [s0, s1])
        return [m_new, corr, *p]

    got = _run(step, x, 4)
    m_new = x.max(axis=1)
    safe = np.where(m_new == -np.inf, 0.0, m_new)
    want = np.stack([m_new, *(np.exp2(x[:, j] - safe) for j in range(3))], axis=1)
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-30)


def test_rescale_factor_in_natural_units():
    rng = np.random.default_rng()
    x = _inputs(rng, 2)
    got = _run(lambda b, m, s: [*osm.rescale_factor(b, m, b.op("max.f32", m, s), True)], x, 2)
    m_new = x.max(axis=1)
    safe = np.where(m_new == -np.inf, 0.0, m_new)
    np.testing.assert_allclose(got, np.stack([safe, np.exp(x[:, 0] - safe)], axis=1),
                               rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize("parts_in_register", [False, True])
def test_chunk_bounds_cover_the_positions_once(parts_in_register):
    length, parts = 1000 + int(np.random.default_rng().integers(0, 100)), 7
    b = KernelBuilder("k")
    dst = b.param("dst", "u64")
    tid = b.special("tid.x")
    count = b.op("mov.u32", parts) if parts_in_register else parts
    start, end = osm.chunk_bounds(b, b.op("mov.u32", length), count, tid)
    d = b.op("mad.wide.u32", tid, 8,
             b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(dst))))
    b.op("st.global.u32", Address(d), start)
    b.op("st.global.u32", Address(d, 4), end)
    b.op("ret")
    out = np.zeros((parts + 2, 2), dtype=np.uint32)  # two chunks past the last are empty
    launch(emit(b.build()), "k", 1, parts + 2, [out])
    sizes = out[:, 1] - out[:, 0]
    assert out[0, 0] == 0 and out[parts - 1, 1] == length and sizes.sum() == length
    assert (out[1:, 0] == out[:-1, 1]).all() and (sizes[parts:] == 0).all()
