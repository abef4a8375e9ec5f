"""The validation grid of the core kernels (multi-warp and single-warp over head_dim, warps,
head counts and both seq_len modes), as kernel objects. `explorer.verify.grid.check_kernel`
verifies each over its edge-case lengths."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from .multi_warp import MultiWarpIncrementalAttentionKernel
from .single_warp import IncrementalAttentionKernel

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
