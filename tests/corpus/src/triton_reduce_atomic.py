"""Triton reductions and atomics for the corpus: per-program sum and max over 1024 elements
with 8 warps (shfl.sync.bfly inside warps, global_smem across them) and a histogram with
tl.atomic_add / tl.atomic_max (integer, order-free) plus a float tl.atomic_add of per-program
sums (order-dependent rounding).

Kernels only; `triton_entries.py` says how each is compiled and launched.
"""

# No `from __future__ import annotations`: Triton reads `tl.constexpr` annotations as objects.
import triton
import triton.language as tl


@triton.jit
def block_sum_max(x_ptr, sum_ptr, max_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(sum_ptr + pid, tl.sum(x, axis=0))
    tl.store(max_ptr + pid, tl.max(tl.where(mask, x, -float("inf")), axis=0))


@triton.jit
def histogram_atomic(v_ptr, xf_ptr, bins_ptr, total_ptr, vmax_ptr, n,
                     NBINS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(v_ptr + offs, mask=mask, other=0)
    tl.atomic_add(bins_ptr + v % NBINS, 1, mask=mask)
    tl.atomic_max(vmax_ptr, tl.max(tl.where(mask, v, -1), axis=0))
    xf = tl.load(xf_ptr + offs, mask=mask, other=0.0)
    tl.atomic_add(total_ptr, tl.sum(xf, axis=0))
