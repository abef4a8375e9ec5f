"""The validation grid of the core kernels and one function that verifies a kernel over its
edge-case sequence lengths on any backend. The GPU tests, `scripts/gpu_validate.py` and (with a
down-sized grid) the simulator tests all use it, so they check the same cases the same way.
Imported as `explorer.verify.grid` (it builds kernel objects; the rest of `verify` names none).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from ..kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from .inputs import INPUT_KINDS
from .pipeline import Verdict, verify

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


def check_kernel(kernel, backend: str = "sim", seq_lens=None, kinds=INPUT_KINDS,
                 seed: int = 0) -> list[Verdict]:
    """`verify` `kernel` on `backend` for every seq_len (default: `edge_seq_lens`) and input
    kind; the outputs against float64 (warp states are `test_debug`'s)."""
    lengths = edge_seq_lens(kernel) if seq_lens is None else seq_lens
    return [verify(kernel, backend, n, inputs=kind, seed=seed, states=False)
            for kind in kinds for n in lengths]
