"""Programmatic dependent launch for split-KV (`pdl=True`): the split entry lets the combine
launch at once (`griddepcontrol.launch_dependents`), the combine waits for the split grid
(`griddepcontrol.wait`) before it reads the partials, and the runtime launches the combine
with the programmatic-stream-serialization attribute. Same answers as without, on the
simulator (launches run one after another there) and on a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import verify
from explorer.kernels import SplitKVDecodeAttentionKernel

BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]


def kernel(**kw) -> SplitKVDecodeAttentionKernel:
    return SplitKVDecodeAttentionKernel(96, 64, 8, 2, batch=2, num_splits=3, pdl=True, **kw)


def test_the_ptx_waits_and_lets_the_combine_launch():
    ptx = kernel(dtype="f16").emit("sm_90")
    split, combine = ptx.split(".visible .entry split_kv_combine")
    assert split.count("griddepcontrol.launch_dependents;") == 1
    assert "griddepcontrol.wait" not in split
    assert combine.count("griddepcontrol.wait;") == 1
    wait = combine.index("griddepcontrol.wait")
    assert wait < combine.index("ld.global.f32")  # before the first partial is read
    assert "griddepcontrol" not in SplitKVDecodeAttentionKernel(96, 64, 8, 2).emit("sm_90")


def test_only_the_combine_launch_is_programmatic():
    split, combine = kernel().launches()
    assert not split.programmatic and combine.programmatic


@pytest.mark.parametrize("options, words", [
    ({"merge": "last-cta"}, "merge='last-cta' has no combine kernel"),
])
def test_refused_where_there_is_nothing_to_overlap(options, words):
    with pytest.raises(ValueError, match=words):
        kernel(**options)


def test_refused_before_sm_90():
    with pytest.raises(ValueError, match="needs sm_90 or newer"):
        kernel().emit("sm_80")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, mma", [("f32", None), ("f16", True), ("bf16", False)])
def test_pdl_gives_the_same_answer(backend, dtype, mma):
    k = kernel(dtype=dtype, mma=mma)
    got = verify.verify(k, backend, [96, 41], inputs="increasing", seed=5, states=False)
    assert got.passed, got


@pytest.mark.gpu
def test_pdl_in_a_captured_graph():
    k = SplitKVDecodeAttentionKernel(512, 128, 32, 8, dtype="f16", pdl=True)
    q, kk, v = verify.make_inputs(k, np.random.default_rng(1))
    from explorer.runtime.cuda import DecodeGraph

    graph = DecodeGraph(k, q, kk, v)
    for n in (512, 1, 300, 0):
        out = graph.step(n)
        want = verify.reference_output(k, q, kk, v, n)
        assert verify.compare(out, want, k.dtype).passed, n
