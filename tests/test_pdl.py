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


def test_the_launch_structures_have_the_driver_layout():
    """cuda.h's CUlaunchConfig (six dims, shared bytes, stream at 32, attrs at 40, count at
    48) and CUlaunchAttribute (id, pad to 8, a 64-byte union): the driver reads them raw."""
    import ctypes

    from explorer.runtime import cuda_launch_ex as ex

    assert ctypes.sizeof(ex.LaunchAttribute) == 72
    assert ex.LaunchAttribute.value.offset == 8
    assert ctypes.sizeof(ex.LaunchConfig) == 56
    assert (ex.LaunchConfig.stream.offset, ex.LaunchConfig.attrs.offset,
            ex.LaunchConfig.num_attrs.offset) == (32, 40, 48)
    cfg, attr = ex.config((16, 8, 1), (256, 1, 1), 1024, 0)
    assert list(cfg.grid) == [16, 8, 1] and list(cfg.block) == [256, 1, 1]
    assert cfg.shared_bytes == 1024 and cfg.num_attrs == 1 and cfg.stream is None
    assert attr.id == 6 and bytes(attr.value)[:4] == (1).to_bytes(4, "little")
    assert ctypes.addressof(cfg.attrs.contents) == ctypes.addressof(attr)


OVERLAP_PTX = """.version 8.0
.target sm_90
.address_size 64

.visible .entry primary(.param .u64 flag, .param .u64 seen)
{
    .reg .pred %p<3>;
    .reg .b32 %r<2>;
    .reg .b64 %rd<8>;
    griddepcontrol.launch_dependents;
    ld.param.u64 %rd1, [flag];
    cvta.to.global.u64 %rd1, %rd1;
    ld.param.u64 %rd2, [seen];
    cvta.to.global.u64 %rd2, %rd2;
    mov.u64 %rd3, %globaltimer;
SPIN:
    ld.volatile.global.u32 %r1, [%rd1];
    setp.ne.u32 %p1, %r1, 0;
    @%p1 bra DONE;
    mov.u64 %rd4, %globaltimer;
    sub.u64 %rd5, %rd4, %rd3;
    setp.lt.u64 %p2, %rd5, 200000000;
    @%p2 bra SPIN;
DONE:
    st.global.u32 [%rd2], %r1;
    ret;
}

.visible .entry secondary(.param .u64 flag)
{
    .reg .b32 %r<2>;
    .reg .b64 %rd<2>;
    ld.param.u64 %rd1, [flag];
    cvta.to.global.u64 %rd1, %rd1;
    mov.u32 %r1, 1;
    st.volatile.global.u32 [%rd1], %r1;
    ret;
}
"""


@pytest.mark.gpu
@pytest.mark.parametrize("programmatic", [True, False])
def test_the_programmatic_launch_overlaps_the_kernel_before_it(programmatic):
    """A kernel that lets its dependents launch, then spins (up to 200 ms) until the next
    kernel on the stream sets a flag: with the attribute the flag is seen, with a plain launch
    it cannot be (the control: the test can fail)."""
    import cupy as cp

    from explorer.runtime.cuda_launch_ex import launch_programmatic

    module = cp.cuda.function.Module()
    module.load(OVERLAP_PTX.encode())  # the driver's JIT, like the kernels
    primary, secondary = module.get_function("primary"), module.get_function("secondary")
    flag, seen = cp.zeros(1, dtype=cp.uint32), cp.full(1, 7, dtype=cp.uint32)
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        primary((1,), (1,), (flag, seen))
        if programmatic:
            launch_programmatic(secondary, (1, 1, 1), (1, 1, 1), 0, (flag,), stream.ptr)
        else:
            secondary((1,), (1,), (flag,))
    stream.synchronize()
    assert int(seen[0]) == (1 if programmatic else 0)
    assert int(flag[0]) == 1
