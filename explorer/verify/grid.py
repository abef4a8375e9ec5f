"""One function that verifies a kernel over its edge-case sequence lengths on any backend:
0, 1, 2, the warp edges and max_seq_len. The GPU tests, `scripts/gpu_validate.py` and the
simulator tests run it over `explorer.kernels.grid.core_grid`, so they check the same cases
the same way. It builds no kernel objects (verify names no kernel class).
"""

from __future__ import annotations

from .inputs import INPUT_KINDS
from .pipeline import Verdict, verify


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
