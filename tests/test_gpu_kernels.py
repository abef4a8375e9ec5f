"""The core kernels on a real GPU against the float64 reference: the whole core grid, every
edge-case seq_len, normal and strictly-increasing scores, outputs poisoned with NaN. Also the
in-kernel seq_len clamp and CUDA-graph replay of indirect kernels. Skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import runtime
from explorer.kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from explorer.kernels.grid import core_grid
from explorer.verify import compare, make_inputs, reference, verify
from explorer.verify.grid import check_kernel

pytestmark = pytest.mark.gpu


def _id(kernel) -> str:
    w = getattr(kernel, "num_warps", 1)
    mode = "indirect" if kernel.indirect_seq_len else "direct"
    return (
        f"{kernel.name}-hd{kernel.head_dim}-w{w}-h{kernel.num_heads}kv{kernel.num_kv_heads}-{mode}"
    )


@pytest.mark.parametrize("kernel", list(core_grid()), ids=_id)
def test_matches_float64_reference(kernel):
    results = check_kernel(kernel, "cuda")
    failures = [str(r) for r in results if not r.comparison.passed]
    assert not failures, "\n".join(failures)


CLAMP_KERNELS = [
    MultiWarpIncrementalAttentionKernel(300, 96, 8, 2, 4, indirect_seq_len=ind)
    for ind in (False, True)
] + [IncrementalAttentionKernel(300, 64, 4, 1, indirect_seq_len=ind) for ind in (False, True)]


@pytest.mark.parametrize("kernel", CLAMP_KERNELS, ids=_id)
def test_kernel_clamps_seq_len_above_max(kernel):
    """A length past max_seq_len reaching the kernel (as a stale device value could) attends
    max_seq_len positions and reads nothing out of bounds."""
    for too_long in (kernel.max_seq_len + 1, 2**31, 2**32 - 1):
        got = verify(kernel, "cuda", too_long, seed=1, states=False, host_checks=False)
        assert got.passed, f"seq_len={too_long}: {got.comparison}"


def test_host_rejects_seq_len_above_max():
    kernel = CLAMP_KERNELS[0]
    q, k, v = make_inputs(kernel, np.random.default_rng(2))
    with pytest.raises(ValueError, match="seq_len"):
        runtime.run(kernel, q, k, v, kernel.max_seq_len + 1)


@pytest.mark.parametrize(
    "kernel",
    [
        MultiWarpIncrementalAttentionKernel(512, 128, 32, 8, 8, indirect_seq_len=True),
        IncrementalAttentionKernel(512, 80, 12, 2, indirect_seq_len=True),
    ],
    ids=_id,
)
def test_one_captured_graph_serves_every_decode_step(kernel):
    from explorer.runtime.cuda import DecodeGraph

    q, k, v = make_inputs(kernel, np.random.default_rng(3))
    graph = DecodeGraph(kernel, q, k, v)
    for seq_len in (1, 100, 33, 512, 0, 7, 511):
        ref = reference.attention(q, k, v, seq_len, scale=kernel.scale)
        result = compare(graph.step(seq_len), ref)
        assert result.passed, f"replay with seq_len={seq_len}: {result}"
