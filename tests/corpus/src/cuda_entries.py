"""The CUDA C half of the corpus: which .cu file is compiled how (MODULES) and which kernel of
it runs with what launch and arguments (ENTRIES).

Each entry's `covers` lists labels of `corpus_spec.FEATURES` that its PTX must contain;
`make_corpus.py --dry-run` checks them against nvcc's output. Data only: nothing is compiled
or run here.
"""

from __future__ import annotations

from corpus_spec import (
    ATOMIC_F32,
    EXACT,
    MIXED_APPROX,
    SOFTMAX,
    array_in,
    array_inout,
    array_out,
    scalar,
)

LINEINFO = ["-lineinfo"]

# module name -> (source file in src/, extra nvcc flags after `-ptx -arch=sm_90`)
MODULES: dict[str, tuple[str, list[str]]] = {
    "shuffles": ("shuffles.cu", LINEINFO),
    "votes_bits": ("votes_bits.cu", LINEINFO),
    "shared_memory": ("shared_memory.cu", LINEINFO),
    "atomics": ("atomics.cu", []),
    "math_conversions": ("math_conversions.cu", []),
    "vector_memory": ("vector_memory.cu", LINEINFO),
    "device_functions": ("device_functions.cu", LINEINFO),
    "decode_attention": ("decode_attention.cu", LINEINFO),
    "grid_stride": ("grid_stride.cu", LINEINFO),
    "grid_stride_debug": ("grid_stride.cu", ["-G"]),
}


def entry(name, module, kernel, grid, block, args, covers, shared_bytes=0) -> dict:
    """One launch of `kernel` (its .entry name, mangled if C++) from `module`."""
    return {"name": name, "module": module, "entry": kernel, "grid": list(grid),
            "block": list(block), "shared_bytes": shared_bytes, "args": args,
            "covers": covers}


def _i32(name, shape, lo=-1000, hi=1000):
    return array_in(name, "int32", shape, ("randint", lo, hi))


def _f32(name, shape, lo=-1.0, hi=1.0):
    return array_in(name, "float32", shape, ("uniform", lo, hi))


def _out(name, dtype, shape, compare=EXACT):
    return array_out(name, dtype, shape, compare)


SHUFFLES = [
    entry("shfl_modes", "shuffles", "shfl_modes", (2, 1, 1), (64, 1, 1),
          [_i32("in", [128]), _out("out", "int32", [128, 16])],
          ["shfl.sync.down", "shfl.sync.up", "shfl.sync.bfly", "shfl.sync.idx",
           "shfl width < 32 (segment mask in c)", ".loc", ".file", "multi-entry module"]),
    entry("shfl_wide_types", "shuffles", "shfl_wide_types", (1, 1, 1), (64, 1, 1),
          [_f32("xf", [64]), array_in("x64", "int64", [64], ("bits",)),
           _out("of", "float32", [64, 2]), _out("o64", "int64", [64, 2]),
           _out("ohalf", "int32", [64])],
          ["shfl.sync.bfly", "shfl.sync.up", "shfl.sync.down", "shfl.sync.idx"]),
    entry("warp_sum_scan", "shuffles", "warp_sum_scan", (2, 1, 1), (64, 1, 1),
          [_f32("x", [128]), _i32("xi", [128], -50, 50),
           _out("sums", "float32", [128]), _out("scan", "int32", [128])],
          ["shfl.sync.bfly", "shfl.sync.up"]),
]

VOTES_BITS = [
    entry("votes_partial_warp", "votes_bits", "votes", (2, 1, 1), (80, 1, 1),
          [_i32("in", [160], -100, 100), _out("out", "uint32", [160, 8])],
          ["activemask", "vote.sync.ballot", "vote.sync.any", "vote.sync.all",
           "match.any.sync", "redux.sync", "popc"]),
    entry("bit_ops", "votes_bits", "bit_ops", (2, 1, 1), (128, 1, 1),
          [array_in("in32", "uint32", [200], ("bits",)),
           array_in("in64", "uint64", [200], ("bits",)),
           _out("out", "uint32", [200, 12]), scalar("n", "int32", 200)],
          ["popc", "clz", "brev", "bfind (__ffs)", "prmt (__byte_perm)",
           "shf (funnel shift)"]),
]

SHARED = [
    entry("block_sum_dynamic", "shared_memory", "block_sum_dynamic", (4, 1, 1), (128, 1, 1),
          [_f32("x", [500]), _out("sums", "float32", [4]), _out("positives", "int32", [4]),
           scalar("n", "int32", 500)],
          ["extern .shared (dynamic)", "bar.sync 0 (__syncthreads)"], shared_bytes=128 * 8),
    entry("transpose_tile", "shared_memory", "transpose_tile", (2, 2, 1), (32, 8, 1),
          [_f32("in", [64, 64]), _out("out", "float32", [64, 64]),
           scalar("width", "int32", 64)],
          ["static .shared array", "bar.sync 0 (__syncthreads)"]),
    entry("named_barriers", "shared_memory", "named_barriers", (2, 1, 1), (128, 1, 1),
          [_i32("in", [256]), _out("out", "int32", [256])],
          ["named barrier (bar.sync id, count)", "bar.arrive", "static .shared array"]),
    entry("barrier_votes", "shared_memory", "barrier_votes", (2, 1, 1), (96, 1, 1),
          [_i32("in", [192], -100, 100), _out("out", "int32", [192, 3])],
          ["bar.red (__syncthreads_count/and/or)"]),
]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1

ATOMICS = [
    entry("shared_atomics", "atomics", "shared_atomics", (3, 1, 1), (128, 1, 1),
          [_i32("in", [384], -5000, 5000), _f32("xf", [384]),
           _out("ints", "int32", [3, 8]), _out("fsums", "float32", [3], ATOMIC_F32),
           _out("hist", "int32", [3, 16])],
          ["atom.shared.add (int)", "atom.shared.add.f32", "atom.shared.min",
           "atom.shared.max", "atom.shared.and/or/xor", "atom.shared.inc"]),
    entry("global_atomics", "atomics", "global_atomics", (4, 1, 1), (256, 1, 1),
          [_i32("in", [1000], -100000, 100000), _f32("xf", [1000]),
           array_inout("counters", "int32", [8],
                       ("values", [0, INT_MAX, INT_MIN, 0, 11, 0, 5, INT_MIN]), EXACT),
           array_inout("bits", "uint32", [4], ("values", [2**32 - 1, 0, 0, 1]), EXACT),
           array_inout("total", "uint64", [1], ("values", [5]), EXACT),
           array_inout("fsum", "float32", [2], ("values", [0.5, -0.25]), ATOMIC_F32),
           array_inout("seen", "int32", [1000], ("fill", 0), EXACT),
           array_inout("per_block", "int32", [4], ("fill", 7), EXACT),
           scalar("n", "int32", 1000)],
          ["atom.global.add (int)", "atom.global.add.u64", "atom.global.add.f32",
           "atom.global.min", "atom.global.max", "atom.global.and/or/xor", "atom.global.exch",
           "atom scoped (.cta/.sys)", "atom generic address (atom.add.relaxed.gpu)",
           "red.global (int)", "red.global.add.f32", "cvta.to.global"]),
    entry("cas_exch", "atomics", "cas_exch", (3, 1, 1), (128, 1, 1),
          [_i32("in", [384], 0, 1000), _f32("xf", [384], -3.0, 3.0),
           array_inout("wins", "int32", [3, 8], ("fill", 0), EXACT),
           _out("swapped", "uint64", [3]),
           array_inout("flags", "uint64", [3], ("fill", 0), EXACT),
           array_inout("first", "int32", [3], ("fill", 0), EXACT),
           array_inout("fmax", "float32", [1], ("values", [0.0]), EXACT)],
          ["atom.shared.cas", "atom.shared.exch", "atom.shared.add (int)",
           "atom.global.cas", "atom.global.cas.b64"]),
]

MATH = [
    entry("float_math", "math_conversions", "float_math", (2, 1, 1), (128, 1, 1),
          [_f32("x", [256], -3.0, 3.0), _f32("y", [256], 0.5, 4.0),
           _out("exact", "float32", [256, 6]), _out("approx", "float32", [256, 8],
                                                    MIXED_APPROX),
           scalar("n", "int32", 256)],
          ["sqrt.rn.f32", "div.rn.f32", "max.f32", "min.f32", "fma.rn.f32", "selp",
           "ex2.approx.f32", "ex2.approx.ftz.f32", "rsqrt.approx", "div.approx.f32",
           "lg2.approx", "sin/cos.approx"]),
    entry("int_math", "math_conversions", "int_math", (2, 1, 1), (128, 1, 1),
          [_i32("a", [200], INT_MIN, INT_MAX), _i32("b", [200], INT_MIN, INT_MAX),
           _i32("c", [200], 1, 1000), _out("out32", "int32", [200, 6]),
           _out("out64", "int64", [200, 3]), scalar("n", "int32", 200)],
          ["mad.lo", "mul.hi", "mul.wide", "div.s32/rem.s32"]),
    entry("conversions", "math_conversions", "conversions", (2, 1, 1), (128, 1, 1),
          [_f32("f", [256], -3000.0, 3000.0),
           array_in("d", "float64", [256], ("uniform", -2e9, 2e9)),
           _i32("s", [256], INT_MIN, INT_MAX), array_in("w", "int64", [256], ("bits",)),
           _out("to_i32", "int32", [256, 10]), _out("to_i64", "int64", [256, 4]),
           _out("to_f32", "float32", [256, 10]), _out("to_f64", "float64", [256, 4]),
           _out("halves", "uint16", [256, 3]), scalar("n", "int32", 256)],
          ["cvt.rzi.s32.f32", "cvt.rzi.u32.f32", "cvt.rzi.s64.f32", "cvt.rzi.u64.f32",
           "cvt.rni.s32.f32", "cvt.rmi.s32.f32", "cvt.rpi.s32.f32", "cvt.rzi.s32.f64",
           "cvt.rzi.s64.f64", "cvt.rn.f32.s32", "cvt.rn.f32.u32", "cvt.rn.f32.s64",
           "cvt.rn.f32.u64", "cvt.rz.f32.s32", "cvt.rn.f32.s16", "cvt.rn.f64.s32",
           "cvt.rn.f64.s64", "cvt.rn.f64.u64", "cvt.f64.f32", "cvt.rn.f32.f64",
           "cvt.sat.f32.f32", "cvt.rn.f16.f32", "cvt.rz.f16.f32", "cvt.f32.f16",
           "cvt.rn.bf16.f32", "cvt.f32.bf16", "cvt.s32.s8", "cvt.s32.s16", "cvt.s16.s8",
           "cvt.s64.s32", "cvt.u16.u32", "inline-asm scope block ({ ... } on one line)"]),
]

VECTORS = [
    entry("scale_float4", "vector_memory", "scale_float4", (1, 1, 1), (128, 1, 1),
          [_f32("x", [100, 4]), _out("y", "float32", [100, 4]),
           scalar("a", "float32", 1.5), scalar("b", "float32", -0.25),
           scalar("n4", "int32", 100)],
          ["ld.global.nc", "ld.global.v4", "st.global.v4"]),
    entry("gather_ldg", "vector_memory", "gather_ldg", (3, 1, 1), (128, 1, 1),
          [_f32("x", [512]), _i32("idx", [300], 0, 512), _out("out", "float32", [300]),
           scalar("n", "int32", 300)],
          ["ld.global.nc"]),
    entry("mixed_vectors", "vector_memory", "mixed_vectors", (1, 1, 1), (128, 1, 1),
          [_i32("pairs", [100, 2], -10**6, 10**6),
           array_in("doubles", "float64", [100, 2], ("uniform", -100.0, 100.0)),
           array_in("bytes", "uint8", [100, 4], ("randint", 0, 256)),
           _out("out", "int32", [100, 4]), scalar("n", "int32", 100)],
          ["ld.global.v2", "ld.global.v4", "st.global.v4", "ld.global.nc"]),
]

DEVICE_FUNCTIONS = [
    entry("poly_smooth_3", "device_functions", "_ZN6corpus11poly_smoothILi3EEEvPKfPfi",
          (2, 1, 1), (128, 1, 1),
          [_f32("x", [200], -2.0, 2.0), _out("y", "float32", [200]), scalar("n", "int32", 200)],
          [".func", ".func with a return value", "call.uni", "mangled C++ entry names"]),
    entry("poly_smooth_5", "device_functions", "_ZN6corpus11poly_smoothILi5EEEvPKfPfi",
          (2, 1, 1), (128, 1, 1),
          [_f32("x", [200], -2.0, 2.0), _out("y", "float32", [200]), scalar("n", "int32", 200)],
          [".func", "call.uni"]),
    entry("shared_through_generic", "device_functions", "_Z22shared_through_genericPKiPi",
          (2, 1, 1), (64, 1, 1),
          [_i32("in", [128]), _out("out", "int32", [128, 2])],
          [".func", "call.uni", "cvta.shared (generic from shared)",
           "ld generic (no state space)"]),
]

ATTENTION_SCALE = 0.125  # 1 / sqrt(head_dim 64)

ATTENTION = [
    entry("decode_attention_gqa4", "decode_attention", "decode_attention_gqa",
          (8, 1, 1), (128, 1, 1),
          [_f32("q", [8, 64]), _f32("k", [2, 37, 64]), _f32("v", [2, 37, 64]),
           _out("out", "float32", [8, 64], SOFTMAX), scalar("seq_len", "int32", 37),
           scalar("group", "int32", 4), scalar("scale", "float32", ATTENTION_SCALE)],
          ["shfl.sync.bfly", "ex2.approx.f32", "max.f32", "extern .shared (dynamic)",
           "div.rn.f32"], shared_bytes=4 * 66 * 4),
    entry("decode_attention_empty_warps", "decode_attention", "decode_attention_gqa",
          (8, 1, 1), (256, 1, 1),
          [_f32("q", [8, 64], -2.0, 2.0), _f32("k", [1, 3, 64]), _f32("v", [1, 3, 64]),
           _out("out", "float32", [8, 64], SOFTMAX), scalar("seq_len", "int32", 3),
           scalar("group", "int32", 8), scalar("scale", "float32", ATTENTION_SCALE)],
          ["shfl.sync.bfly", "extern .shared (dynamic)"], shared_bytes=8 * 66 * 4),
]


def _grid_stride(module: str, suffix: str, debug: list[str]) -> list[dict]:
    return [
        entry("saxpy_grid_stride" + suffix, module, "saxpy_grid_stride", (3, 1, 1), (64, 1, 1),
              [_f32("x", [1000]), array_inout("y", "float32", [1000], ("uniform", -1, 1), EXACT),
               scalar("a", "float32", 2.5), scalar("n", "uint64", 1000)],
              ["64-bit loop bound (setp.*.u64)", *debug]),
        entry("byte_histogram" + suffix, module, "byte_histogram", (4, 1, 1), (128, 1, 1),
              [array_in("data", "uint8", [3000], ("randint", 0, 256)),
               array_inout("bins", "uint32", [256], ("fill", 3), EXACT),
               scalar("n", "uint64", 3000)],
              ["64-bit loop bound (setp.*.u64)", "static .shared array", "bra.uni",
               *debug]),
    ]


GRID_STRIDE = _grid_stride("grid_stride", "", [".loc", ".file"]) + _grid_stride(
    "grid_stride_debug", "_debug", [".section .debug_*", ".loc", ".file"])

ENTRIES: list[dict] = (SHUFFLES + VOTES_BITS + SHARED + ATOMICS + MATH + VECTORS
                       + DEVICE_FUNCTIONS + ATTENTION + GRID_STRIDE)
