"""One test body, two backends: the kernels against the float64 reference on the simulator
always and on CUDA where a GPU is present, over a down-sized core grid (every head_dim class,
1 to 32 warps, every GQA ratio, direct and indirect seq_len), every edge-case seq_len
(`verify.grid.edge_seq_lens`: 0, empty warps, lengths not a multiple of the warp count,
max_seq_len), normal and strictly increasing scores, outputs poisoned with NaN, the project's
tolerances.

The full product of the down-sized axes (150 kernels, about 2,000 launches) runs on the
simulator in about 30 s on this project's 2-core CPU machine.
"""

from __future__ import annotations

import pytest

from explorer.kernels.grid import core_grid
from explorer.verify.grid import check_kernel

HEAD_DIMS = (1, 32, 80, 128, 256)
WARPS = (1, 3, 4, 32)
HEAD_COUNTS = ((8, 8), (12, 2), (4, 1))
MAX_SEQ_LEN = 160  # not a multiple of 3; fits 32W+1 for W up to 4


def backend_grid() -> list:
    """Multi-warp over head_dim x warps x head counts x seq_len mode, then single-warp over
    head_dim x head counts x seq_len mode."""
    return list(core_grid(MAX_SEQ_LEN, HEAD_DIMS, WARPS, HEAD_COUNTS))


def _id(kernel) -> str:
    mode = "indirect" if kernel.indirect_seq_len else "direct"
    return (
        f"{kernel.name}-hd{kernel.head_dim}-w{kernel.num_warps}-"
        f"h{kernel.num_heads}kv{kernel.num_kv_heads}-{mode}"
    )


@pytest.mark.parametrize("backend", ["sim", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("kernel", backend_grid(), ids=_id)
def test_kernel_matches_float64_reference(kernel, backend):
    results = check_kernel(kernel, backend)
    failures = [str(r) for r in results if not r.comparison.passed]
    assert not failures, "\n".join(failures)
    assert len(results) >= 2 * 6  # both input kinds, every edge length that fits
