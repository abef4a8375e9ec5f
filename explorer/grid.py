"""The validation grid of the core kernels and one function that checks a kernel over its
edge-case sequence lengths on any backend. The GPU tests, `scripts/gpu_validate.py` and (with a
down-sized grid) the simulator tests all use it, so they check the same cases the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .check import INPUT_KINDS, Comparison, compare, make_inputs, reference_output
from .kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel

HEAD_DIMS = (32, 64, 80, 96, 128, 160, 256)
WARPS = (1, 2, 4, 8, 16, 32)
HEAD_COUNTS = ((8, 8), (32, 8), (12, 2), (28, 4), (4, 1))
GRID_MAX_SEQ_LEN = 1100  # above 32*32 + 1, so every warp-edge length fits


def core_grid(
    max_seq_len: int = GRID_MAX_SEQ_LEN,
    head_dims=HEAD_DIMS,
    warps=WARPS,
    head_counts=HEAD_COUNTS,
) -> Iterator:
    """Every kernel of the core grid: multi-warp over head_dim x warps x heads x indirect,
    then single-warp over head_dim x heads x indirect."""
    for hd, w, (h, kv), ind in itertools.product(head_dims, warps, head_counts, (False, True)):
        yield MultiWarpIncrementalAttentionKernel(max_seq_len, hd, h, kv, w, indirect_seq_len=ind)
    for hd, (h, kv), ind in itertools.product(head_dims, head_counts, (False, True)):
        yield IncrementalAttentionKernel(max_seq_len, hd, h, kv, indirect_seq_len=ind)


def edge_seq_lens(kernel) -> list[int]:
    """0, 1, 2, 31, 32, 33, 32W - 1, 32W + 1 and max_seq_len (those that fit)."""
    w = kernel.num_warps
    lens = {0, 1, 2, 31, 32, 33, 32 * w - 1, 32 * w + 1, kernel.max_seq_len}
    return sorted(n for n in lens if 0 <= n <= kernel.max_seq_len)


@dataclass(frozen=True)
class CaseResult:
    kernel: object
    seq_len: int
    inputs: str
    comparison: Comparison

    def __str__(self) -> str:
        return f"{self.kernel!r} seq_len={self.seq_len} inputs={self.inputs}: {self.comparison}"


Runner = Callable[..., np.ndarray]  # runner(kernel, q, k, v, seq_len) -> out


def check_kernel(kernel, runner: Runner, seq_lens=None, kinds=INPUT_KINDS, seed=0):
    """Run `kernel` through `runner` on every seq_len and input kind; compare with float64."""
    results = []
    for kind in kinds:
        q, k, v = make_inputs(kernel, np.random.default_rng(seed), kind)
        for n in edge_seq_lens(kernel) if seq_lens is None else seq_lens:
            ref = reference_output(kernel, q, k, v, n)
            got = compare(runner(kernel, q, k, v, n), ref, kernel.dtype)
            results.append(CaseResult(kernel, n, kind, got))
    return results
