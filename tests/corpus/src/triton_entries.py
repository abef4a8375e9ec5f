"""The Triton half of the corpus: for each entry, the kernel (module and function in src/),
how to compile it (constexprs, which arguments are known divisible by 16, num_warps) and how
to launch it (grid in programs; the block is num_warps * 32 threads).

`args` lists the kernel's non-constexpr parameters in order; the Triton signature is derived
from their dtypes. The scratch pointers Triton appends are not listed: `make_corpus.py` reads
them off the compiled PTX and metadata. Data only, so it loads without Triton installed.
"""

from __future__ import annotations

from corpus_spec import (
    APPROX_1OP,
    ATOMIC_F32,
    EXACT,
    SOFTMAX,
    array_in,
    array_inout,
    array_out,
    scalar,
)


def triton_entry(name, module, kernel, grid, num_warps, args, constexprs, divisible_by_16,
                 covers) -> dict:
    """One compiled specialisation of `module.kernel`, launched on `grid` programs."""
    return {"name": name, "module": module, "kernel": kernel, "grid": list(grid),
            "num_warps": num_warps, "args": args, "constexprs": constexprs,
            "divisible_by_16": divisible_by_16, "covers": covers}


def _f32(name, shape, lo=-1.0, hi=1.0):
    return array_in(name, "float32", shape, ("uniform", lo, hi))


ENTRIES: list[dict] = [
    triton_entry(
        "triton_softmax_rows", "triton_softmax", "softmax_rows", (6, 1, 1), 4,
        [_f32("x", [6, 100], -4.0, 4.0), array_out("y", "float32", [6, 100], SOFTMAX),
         scalar("n_cols", "int32", 100), scalar("row_stride", "int32", 100)],
        {"BLOCK": 128}, ["x", "y"],
        ["shfl.sync.bfly", "ex2.approx.ftz.f32", "global_smem (.extern .shared)",
         ".ptr .global .align N (param attribute)", "scratch pointer parameters"]),
    triton_entry(
        "triton_nan_minmax_rows", "triton_softmax", "nan_minmax_rows", (5, 1, 1), 4,
        [array_in("x", "float32", [5, 100], ("uniform_nans", -10.0, 10.0, 211)),
         array_out("row_max", "float32", [5], EXACT),
         array_out("row_min", "float32", [5], EXACT), scalar("n_cols", "int32", 100)],
        {"BLOCK": 128}, ["x", "row_max", "row_min"],
        ["max.NaN.f32", "min.NaN.f32", "shfl.sync.bfly", "global_smem (.extern .shared)"]),
    triton_entry(
        "triton_add_masked_v4", "triton_elementwise", "add_masked", (4, 1, 1), 2,
        [_f32("x", [1008]), _f32("y", [1008]), array_out("out", "float32", [1008], EXACT),
         scalar("n", "int32", 1008)],
        {"BLOCK": 256}, ["x", "y", "out", "n"],
        ["predicated vector load into a brace list", "hex integer immediate",
         ".ptr .global .align N (param attribute)"]),
    triton_entry(
        "triton_add_masked_scalar", "triton_elementwise", "add_masked", (4, 1, 1), 2,
        [_f32("x", [1000]), _f32("y", [1000]), array_out("out", "float32", [1000], EXACT),
         scalar("n", "int32", 1000)],
        {"BLOCK": 256}, ["x", "y", "out"],
        ["predicated load into a brace list", "hex integer immediate"]),
    triton_entry(
        "triton_sigmoid_exp", "triton_elementwise", "sigmoid_exp", (4, 1, 1), 4,
        [_f32("x", [1000], -6.0, 6.0), array_out("sig", "float32", [1000], APPROX_1OP),
         array_out("misc", "float32", [1000, 2], APPROX_1OP), scalar("n", "int32", 1000)],
        {"BLOCK": 256}, ["x", "sig", "misc"],
        ["ex2.approx.ftz.f32", "predicated load into a brace list"]),
    triton_entry(
        "triton_block_sum_max", "triton_reduce_atomic", "block_sum_max", (3, 1, 1), 8,
        [_f32("x", [3000]), array_out("sums", "float32", [3], EXACT),
         array_out("maxes", "float32", [3], EXACT), scalar("n", "int32", 3000)],
        {"BLOCK": 1024}, ["x", "sums", "maxes"],
        ["shfl.sync.bfly", "global_smem (.extern .shared)"]),
    triton_entry(
        "triton_histogram_atomic", "triton_reduce_atomic", "histogram_atomic", (4, 1, 1), 4,
        [array_in("v", "int32", [2000], ("randint", 0, 1000)), _f32("xf", [2000]),
         array_inout("bins", "int32", [16], ("fill", 2), EXACT),
         array_inout("total", "float32", [1], ("values", [0.75]), ATOMIC_F32),
         array_inout("vmax", "int32", [1], ("values", [-1]), EXACT),
         scalar("n", "int32", 2000)],
        {"NBINS": 16, "BLOCK": 512}, ["v", "xf", "bins"],
        ["atom.global.gpu (Triton atomics)", "shfl.sync.bfly"]),
]
