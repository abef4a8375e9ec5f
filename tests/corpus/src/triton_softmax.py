"""Triton row kernels for the corpus: a masked row softmax (tl.max, tl.sum, tl.exp: cross-warp
reductions through global_smem, shfl.sync.bfly, ex2.approx.ftz) and NaN-propagating row
max/min (tl.reduce over tl.maximum/tl.minimum with PropagateNan.ALL: max.NaN/min.NaN).

Kernels only; `triton_entries.py` says how each is compiled and launched.
"""

# No `from __future__ import annotations`: Triton reads `tl.constexpr` annotations as objects.
import triton
import triton.language as tl


@triton.jit
def softmax_rows(x_ptr, y_ptr, n_cols, row_stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * row_stride + cols, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    e = tl.where(mask, e, 0.0)
    tl.store(y_ptr + row * row_stride + cols, e / tl.sum(e, axis=0), mask=mask)


@triton.jit
def _max_propagating_nan(a, b):
    return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def _min_propagating_nan(a, b):
    return tl.minimum(a, b, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def nan_minmax_rows(x_ptr, max_ptr, min_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    lo = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=-float("inf"))
    hi = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=float("inf"))
    tl.store(max_ptr + row, tl.reduce(lo, 0, _max_propagating_nan))
    tl.store(min_ptr + row, tl.reduce(hi, 0, _min_propagating_nan))
