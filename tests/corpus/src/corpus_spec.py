"""The vocabulary of the corpus tables: argument records, comparison rules, input recipes,
the PTX features an entry can claim (one regex each) and the coverage list they answer.

`cuda_entries.py` and `triton_entries.py` describe the entries with these helpers;
`scripts/make_corpus.py` reads them to compile, run and check. Standard library only, so the
tables load on a machine without CUDA, CuPy or Triton. Nothing here compiles or runs a kernel.
"""

from __future__ import annotations

EXACT = {"rule": "exact"}


def close(rtol: float, atol: float, reason: str) -> dict:
    """An f32 comparison |sim - gpu| <= atol + rtol * |gpu|, NaN matching NaN."""
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    return {"rule": "allclose", "rtol": rtol, "atol": atol, "reason": reason}


# Documented errors (PTX ISA, "Floating point instructions"): ex2.approx.f32 2 ulp;
# rsqrt.approx and div.approx about 2^-22; lg2/sin/cos.approx absolute 2^-22 to 2^-20.9.
APPROX_1OP = close(4e-6, 1e-6, "one approximate op (ex2/rsqrt/div/lg2.approx): 2 ulp, scaled "
                               "by |x| for exp through ex2(x * log2 e)")
SIN_COS = close(0.0, 4e-6, "sin.approx/cos.approx: absolute error 2^-20.9 on [-pi, pi], more "
                           "after the hardware's range reduction")
ATOMIC_F32 = close(1e-5, 1e-5, "f32 atomic adds in the order threads arrive: rounding differs")
SOFTMAX = close(2e-5, 2e-6, "ex2.approx inside a normalised sum (a few ulp each)")
MIXED_APPROX = close(4e-6, 4e-6, "approximate ex2/rsqrt/div/lg2/sin/cos side by side: 2 ulp "
                                 "relative, 2^-20.9 absolute for sin/cos")


def array_in(name: str, dtype: str, shape, init) -> dict:
    """A pointer argument the kernel only reads, filled by the recipe `init`."""
    return {"name": name, "kind": "array", "dtype": dtype, "shape": list(shape),
            "role": "input", "init": list(init)}


def array_out(name: str, dtype: str, shape, compare: dict) -> dict:
    """A pointer argument the kernel writes; poisoned before the launch."""
    return {"name": name, "kind": "array", "dtype": dtype, "shape": list(shape),
            "role": "output", "compare": compare}


def array_inout(name: str, dtype: str, shape, init, compare: dict) -> dict:
    """A pointer argument with initial values that the kernel updates (atomics targets)."""
    return {"name": name, "kind": "array", "dtype": dtype, "shape": list(shape),
            "role": "inout", "init": list(init), "compare": compare}


def scalar(name: str, dtype: str, value) -> dict:
    """A by-value parameter."""
    return {"name": name, "kind": "scalar", "dtype": dtype, "value": value}


# Input recipes (first item names the recipe): see make_corpus.make_input.
#   ("uniform", lo, hi)        floats, never all zeros
#   ("randint", lo, hi)        integers in [lo, hi)
#   ("bits",)                  any bit pattern, with zeros and powers of two mixed in
#   ("values", [v0, v1, ...])  exactly these (the shape's size)
#   ("fill", v)                every element v (counters an atomic adds to)
#   ("uniform_nans", lo, hi, every)  uniform with a NaN at every `every`-th element
RECIPES = ("uniform", "randint", "bits", "values", "fill", "uniform_nans")


def _cvt(name: str) -> tuple[str, str]:
    return name, r"\b" + name.replace(".", r"\.") + r"\b"


_CVTS = [
    "cvt.rzi.s32.f32", "cvt.rzi.u32.f32", "cvt.rzi.s64.f32", "cvt.rzi.u64.f32",
    "cvt.rni.s32.f32", "cvt.rmi.s32.f32", "cvt.rpi.s32.f32", "cvt.rzi.s32.f64",
    "cvt.rzi.s64.f64", "cvt.rn.f32.s32", "cvt.rn.f32.u32", "cvt.rn.f32.s64", "cvt.rn.f32.u64",
    "cvt.rz.f32.s32", "cvt.rn.f32.s16", "cvt.rn.f64.s32", "cvt.rn.f64.s64", "cvt.rn.f64.u64",
    "cvt.f64.f32", "cvt.rn.f32.f64", "cvt.sat.f32.f32", "cvt.rn.f16.f32", "cvt.rz.f16.f32",
    "cvt.f32.f16", "cvt.rn.bf16.f32", "cvt.f32.bf16", "cvt.s32.s8", "cvt.s32.s16",
    "cvt.s16.s8", "cvt.s64.s32", "cvt.u16.u32",
]

# label -> regex searched in the entry's text (its body and the .func bodies it calls); a
# "module:" prefix searches the whole module instead, and a "uses:" regex finds a module-level
# declaration whose name (group 1) the entry's text mentions.
FEATURES: dict[str, str] = dict([
    ("shfl.sync.down", r"shfl\.sync\.down\.b32"),
    ("shfl.sync.up", r"shfl\.sync\.up\.b32"),
    ("shfl.sync.bfly", r"shfl\.sync\.bfly\.b32"),
    ("shfl.sync.idx", r"shfl\.sync\.idx\.b32"),
    ("shfl width < 32 (segment mask in c)",
     r"mov\.u32\s+%r\d+,\s*(4127|6175|7199|4096|6144|7168);"),
    ("vote.sync.ballot", r"vote\.sync\.ballot\.b32"),
    ("vote.sync.any", r"vote\.sync\.any\.pred"),
    ("vote.sync.all", r"vote\.sync\.all\.pred"),
    ("activemask", r"activemask\.b32"),
    ("match.any.sync", r"match\.any\.sync\.b32"),
    ("redux.sync", r"redux\.sync\.add"),
    ("popc", r"\bpopc\.b(32|64)"),
    ("clz", r"\bclz\.b(32|64)"),
    ("brev", r"\bbrev\.b(32|64)"),
    ("bfind (__ffs)", r"\bbfind\.shiftamt"),
    ("prmt (__byte_perm)", r"\bprmt\.b32"),
    ("shf (funnel shift)", r"\bshf\.[lr]\.(wrap|clamp)\.b32"),
    ("extern .shared (dynamic)", r"uses:\.extern\s+\.shared\s+\.align\s+\d+\s+\.b8\s+(\w+)\[\]"),
    ("static .shared array", r"^\s*\.shared\s+\.align\s+\d+\s+\.b8\s+\w+\[\d+\]"),
    ("bar.sync 0 (__syncthreads)", r"\b(bar|barrier)\.sync\s+0;"),
    ("named barrier (bar.sync id, count)", r"\bbar\.sync\s+[1-9]\d*,\s*\d+;"),
    ("bar.arrive", r"\bbar\.arrive\s+\d+,\s*\d+;"),
    ("bar.red (__syncthreads_count/and/or)", r"\bbar\.red\.(popc|and|or)"),
    ("atom.shared.add (int)", r"atom\.shared\.add\.(u32|s32|u64)"),
    ("atom.shared.add.f32", r"atom\.shared\.add\.f32"),
    ("atom.shared.min", r"atom\.shared\.min\."),
    ("atom.shared.max", r"atom\.shared\.max\."),
    ("atom.shared.and/or/xor", r"atom\.shared\.(and|or|xor)\.b32"),
    ("atom.shared.exch", r"atom\.shared\.exch\."),
    ("atom.shared.cas", r"atom\.shared\.cas\."),
    ("atom.shared.inc", r"atom\.shared\.inc\."),
    ("atom.global.add (int)", r"atom\.global\.add\.(u32|s32)"),
    ("atom.global.add.u64", r"atom\.global\.add\.u64"),
    ("atom.global.add.f32", r"atom\.global\.add\.f32"),
    ("atom.global.min", r"atom\.global\.min\."),
    ("atom.global.max", r"atom\.global\.max\."),
    ("atom.global.and/or/xor", r"atom\.global\.(and|or|xor)\.b32"),
    ("atom.global.exch", r"atom\.global\.exch\."),
    ("atom.global.cas", r"atom\.global\.cas\.b32"),
    ("atom.global.cas.b64", r"atom\.global\.cas\.b64"),
    ("atom scoped (.cta/.sys)", r"atom\.global\.(cta|sys)\."),
    ("atom generic address (atom.add.relaxed.gpu)", r"\batom\.add\.relaxed\.gpu"),
    ("red.global (int)", r"red\.global\.(add|max|min)\.(u32|s32)"),
    ("red.global.add.f32", r"red\.global\.add\.f32"),
    ("64-bit loop bound (setp.*.u64)", r"setp\.(lt|le|gt|ge|ne)\.u64"),
    ("ex2.approx.f32", r"ex2\.approx\.f32"),
    ("ex2.approx.ftz.f32", r"ex2\.approx\.ftz\.f32"),
    ("rsqrt.approx", r"rsqrt\.approx\."),
    ("sqrt.rn.f32", r"sqrt\.rn\.f32"),
    ("div.rn.f32", r"div\.rn\.f32"),
    ("div.approx.f32", r"div\.approx\.f32"),
    ("div.full.f32", r"div\.full\.f32"),
    ("lg2.approx", r"lg2\.approx\."),
    ("sin/cos.approx", r"(sin|cos)\.approx\."),
    ("max.f32", r"\bmax\.f32"),
    ("min.f32", r"\bmin\.f32"),
    ("fma.rn.f32", r"\bfma\.rn\.f32"),
    ("mad.lo", r"\bmad\.lo\.s32"),
    ("mul.hi", r"\bmul\.hi\.(s32|u32|u64)"),
    ("mul.wide", r"\bmul\.wide\.(s32|u32)"),
    ("div.s32/rem.s32", r"\b(div|rem)\.s32"),
    ("selp", r"\bselp\."),
    *[_cvt(c) for c in _CVTS],
    ("ld.global.v2", r"ld\.global(\.nc)?\.v2\."),
    ("ld.global.v4", r"ld\.global(\.nc)?\.v4\."),
    ("st.global.v4", r"st\.global\.v4\."),
    ("ld.global.nc", r"ld\.global\.nc\."),
    ("ld generic (no state space)", r"^\s*ld\.(u|s|b|f)\d+\s"),
    ("cvta.to.global", r"cvta\.to\.global\.u64"),
    ("cvta.shared (generic from shared)", r"cvta\.(to\.)?shared\.u64"),
    ("bra.uni", r"\bbra\.uni\b"),
    (".func", r"^\.func\s"),
    (".func with a return value", r"^\.func\s+\(\.param"),
    ("call.uni", r"\bcall\.uni\b"),
    ("inline-asm scope block ({ ... } on one line)", r"^[ \t]*\{[ \t]*[.\w][^\n]*;"),
    ("multi-entry module", r"module:(?s)\.entry.*?\n\.visible\s+\.entry"),
    ("mangled C++ entry names", r"module:\.entry\s+_Z"),
    (".file", r"module:^\s*\.file\s+\d+"),
    (".loc", r"^\s*\.loc\s+\d+"),
    (".section .debug_*", r"module:\.section\s+\.debug_\w+"),
    (".pragma", r"\.pragma\s+\""),
    (".ptr .global .align N (param attribute)", r"\.ptr\s+\.global\s+\.align\s+\d+"),
    ("global_smem (.extern .shared)",
     r"uses:\.extern\s+\.shared\s+\.align\s+\d+\s+\.b8\s+(global_smem)\["),
    ("predicated load into a brace list", r"@%p\d+\s+ld\.global[^;]*\{"),
    ("predicated vector load into a brace list", r"@%p\d+\s+ld\.global(\.\w+)*\.v[248]\.\w+\s*\{"),
    ("hex integer immediate", r"[,\s]0x[0-9a-fA-F]+\s*;"),
    ("max.NaN.f32", r"max\.NaN\.f32"),
    ("min.NaN.f32", r"min\.NaN\.f32"),
    ("atom.global.gpu (Triton atomics)", r"atom\.global\.gpu\.(\w+\.)*add"),
    ("scratch pointer parameters", r"scratch:"),  # decided from the argument list, not the text
])

# What the corpus must cover: (compiler, bullet, labels that together cover it).
BULLETS: list[tuple[str, str, list[str]]] = [
    ("nvcc", "warp shuffles: down/up/xor/idx, widths < 32, clamps",
     ["shfl.sync.down", "shfl.sync.up", "shfl.sync.bfly", "shfl.sync.idx",
      "shfl width < 32 (segment mask in c)"]),
    ("nvcc", "votes: __ballot_sync, __any_sync, __all_sync, __activemask",
     ["vote.sync.ballot", "vote.sync.any", "vote.sync.all", "activemask"]),
    ("nvcc", "__popc/__clz/__brev/__ffs", ["popc", "clz", "brev", "bfind (__ffs)"]),
    ("nvcc", "dynamic extern __shared__ sized at launch", ["extern .shared (dynamic)"]),
    ("nvcc", "static shared arrays", ["static .shared array"]),
    ("nvcc", "__syncthreads and named barriers",
     ["bar.sync 0 (__syncthreads)", "named barrier (bar.sync id, count)"]),
    ("nvcc", "atomics/reductions on shared and global: add, min, max, exch, cas, and/or/xor; "
             "f32 and integer",
     ["atom.shared.add (int)", "atom.shared.add.f32", "atom.shared.min", "atom.shared.max",
      "atom.shared.and/or/xor", "atom.shared.exch", "atom.shared.cas", "atom.global.add (int)",
      "atom.global.add.f32", "atom.global.min", "atom.global.max", "atom.global.and/or/xor",
      "atom.global.exch", "atom.global.cas", "red.global (int)", "red.global.add.f32"]),
    ("nvcc", "64-bit grid-stride loops", ["64-bit loop bound (setp.*.u64)"]),
    ("nvcc", "__expf/expf/rsqrtf/sqrtf/division/fmaxf",
     ["ex2.approx.f32", "rsqrt.approx", "sqrt.rn.f32", "div.rn.f32", "max.f32"]),
    ("nvcc", "fma", ["fma.rn.f32"]),
    ("nvcc", "mad.lo/mul.hi/mul.wide", ["mad.lo", "mul.hi", "mul.wide"]),
    ("nvcc", "selp", ["selp"]),
    ("nvcc", "cvt between the integer and float types nvcc emits", list(_CVTS)),
    ("nvcc", "vector loads and stores", ["ld.global.v2", "ld.global.v4", "st.global.v4"]),
    ("nvcc", "ld.global.nc", ["ld.global.nc"]),
    ("nvcc", "cvta", ["cvta.to.global", "cvta.shared (generic from shared)"]),
    ("nvcc", "bra.uni", ["bra.uni"]),
    ("nvcc", "device functions (.func + call)", [".func", ".func with a return value",
                                                 "call.uni"]),
    ("nvcc", "multi-entry modules", ["multi-entry module"]),
    ("nvcc", "debug directives of -lineinfo / -G builds",
     [".file", ".loc", ".section .debug_*", ".pragma"]),
    ("triton", "parameter attributes (.ptr .global .align N)",
     [".ptr .global .align N (param attribute)"]),
    ("triton", ".extern .shared global_smem", ["global_smem (.extern .shared)"]),
    ("triton", "predicated vector loads into brace lists",
     ["predicated vector load into a brace list"]),
    ("triton", "hex integer immediates", ["hex integer immediate"]),
    ("triton", "shfl.sync.bfly", ["shfl.sync.bfly"]),
    ("triton", "max.NaN / min.NaN", ["max.NaN.f32", "min.NaN.f32"]),
    ("triton", "ex2.approx.ftz", ["ex2.approx.ftz.f32"]),
    ("triton", "the scratch-pointer parameters Triton appends", ["scratch pointer parameters"]),
]
