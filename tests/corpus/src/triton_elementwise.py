"""Triton element-wise kernels for the corpus: a masked vector add whose size is not a
multiple of the block (predicated loads into brace lists; vector ones when the size and
pointers are known divisible by 16) and a sigmoid / exp2 / sqrt kernel (tl.exp lowers to
ex2.approx.ftz after a multiply by log2 e).

Kernels only; `triton_entries.py` says how each is compiled and launched.
"""

# No `from __future__ import annotations`: Triton reads `tl.constexpr` annotations as objects.
import triton
import triton.language as tl


@triton.jit
def add_masked(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


@triton.jit
def sigmoid_exp(x_ptr, sig_ptr, misc_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(sig_ptr + offs, 1.0 / (1.0 + tl.exp(-x)), mask=mask)
    tl.store(misc_ptr + offs * 2, tl.exp2(x * 0.5), mask=mask)
    tl.store(misc_ptr + offs * 2 + 1, tl.sqrt(tl.abs(x) + 1.0), mask=mask)
