"""The simulator's opcode table: one row per opcode of `explorer.ptx.spec.OPCODES`.

Each row says how the scheduler treats the opcode (`compute`, `branch`, `barrier`, `exit`),
which decoder gives its semantics, and which forms are modelled (docs/simulator.md's table is
generated from these rows, and a test keeps the two and `spec.OPCODES` in step). Forms outside
a row raise `SimError("unsupported instruction ...")` when a thread reaches them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import convert, memops, mma, ops, warp


@dataclass(frozen=True)
class Semantics:
    kind: str  # compute | branch | barrier | exit
    decode: Callable | None  # compute rows: (Instruction, DecodeContext) -> run(m, sel)
    modelled: str


_INT = "integers (wrap modulo 2^N)"
_F = "f32 in float32 (.rn, .ftz, .sat)"
ROWS: dict[str, tuple[str, Callable | None, str]] = {
    "ld": (
        "compute",
        memops.TABLE["ld"],
        ".param (scalars), .global, .shared, generic; .v2/.v4; bounds-checked",
    ),
    "st": ("compute", memops.TABLE["st"], ".global, .shared, generic; .v2/.v4; bounds-checked"),
    "mov": (
        "compute",
        convert.TABLE["mov"],
        "registers, immediates, special registers, shared symbol addresses; "
        ".b32/.b64 packing and unpacking of register vectors",
    ),
    "cvt": (
        "compute",
        convert.TABLE["cvt"],
        "int<->int (.sat), int->float (.rn), float->int (.rni/.rzi/.rmi/.rpi, clamped), "
        "f32<->f64 (.rn), float->integral float; f16/bf16 <-> f32 (.rn), f16 <-> f64; "
        ".rn.f16x2/.bf16x2.f32 d, hi, lo",
    ),
    "cvta": ("compute", convert.TABLE["cvta"], "identity (one flat address space)"),
    "add": ("compute", ops.TABLE["add"], f"{_INT}, .sat.s32; {_F}; f64"),
    "sub": ("compute", ops.TABLE["sub"], f"{_INT}, .sat.s32; {_F}; f64"),
    "mul": ("compute", ops.TABLE["mul"], f".lo/.hi/.wide {_INT}; {_F}; f64"),
    "mad": ("compute", ops.TABLE["mad"], f".lo/.hi/.wide {_INT}; .f32 as fma.rn.f32"),
    "fma": ("compute", ops.TABLE["fma"], ".rn.f32, correctly rounded (.ftz, .sat)"),
    "div": (
        "compute",
        ops.TABLE["div"],
        "integers (truncating; x/0 gives all ones); .rn/.approx/.full f32 and f64 as IEEE",
    ),
    "rem": ("compute", ops.TABLE["rem"], "integers (sign of the dividend; x%0 gives x)"),
    "min": ("compute", ops.TABLE["min"], "integers; floats (one NaN: the other; .NaN: NaN)"),
    "max": ("compute", ops.TABLE["max"], "integers; floats (one NaN: the other; .NaN: NaN)"),
    "neg": ("compute", ops.TABLE["neg"], "integers (wrap); floats"),
    "abs": ("compute", ops.TABLE["abs"], "integers (wrap); floats"),
    "and": ("compute", ops.TABLE["and"], ".pred and .bN/.uN/.sN"),
    "or": ("compute", ops.TABLE["or"], ".pred and .bN/.uN/.sN"),
    "xor": ("compute", ops.TABLE["xor"], ".pred and .bN/.uN/.sN"),
    "not": ("compute", ops.TABLE["not"], ".pred and .bN/.uN/.sN"),
    "shl": ("compute", ops.TABLE["shl"], "shift amounts above the width clamp (result 0)"),
    "shr": (
        "compute",
        ops.TABLE["shr"],
        "logical for .b/.u, arithmetic for .s; amounts above the width clamp",
    ),
    "setp": (
        "compute",
        ops.TABLE["setp"],
        "all compare operators incl. unordered (equ..geu, num, nan) and lo/ls/hi/hs",
    ),
    "selp": ("compute", ops.TABLE["selp"], "every non-pred type"),
    "ex2": ("compute", ops.TABLE["ex2"], ".approx.f32 as float32 exp2 (.ftz)"),
    "lg2": ("compute", ops.TABLE["lg2"], ".approx.f32 as float32 log2 (.ftz)"),
    "rcp": ("compute", ops.TABLE["rcp"], ".rn/.approx.f32 and .rn.f64 as IEEE 1/x"),
    "sqrt": ("compute", ops.TABLE["sqrt"], ".rn/.approx.f32 and .rn.f64 as IEEE sqrt"),
    "atom": (
        "compute",
        memops.TABLE["atom"],
        ".global.add.u32 (.relaxed/.acq_rel/.gpu): the threads of a step in thread order",
    ),
    "membar": ("compute", memops.TABLE["membar"], ".gl/.cta: nothing to do (memory is "
               "sequentially consistent)"),
    "prefetch": (
        "compute",
        memops.TABLE["prefetch"],
        ".global.L1/.L2: the address is computed, nothing else (a hint, never a fault)",
    ),
    "prmt": (
        "compute",
        ops.TABLE["prmt"],
        ".b32 default mode (register or immediate selector, sign replication); no other modes",
    ),
    "mma": (
        "compute",
        mma.TABLE["mma"],
        ".sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32: f64 sum rounded once "
        "to f32; whole warp checked",
    ),
    "shfl": (
        "compute",
        warp.TABLE["shfl"],
        ".sync.{up,down,bfly,idx}.b32 with clamp/segment mask; member mask checked",
    ),
    "bar": ("barrier", None, "bar.sync N (immediate N); not bar.sync N, count"),
    "bra": ("branch", None, "bra and bra.uni to a label, with divergence"),
    "ret": ("exit", None, "ends the thread"),
    "exit": ("exit", None, "ends the thread"),
}
SEMANTICS: dict[str, Semantics] = {op: Semantics(*row) for op, row in ROWS.items()}


def markdown_table() -> str:
    """The docs table of supported instructions, generated from `SEMANTICS`."""
    lines = ["| opcode | scheduler | forms modelled |", "|---|---|---|"]
    lines += [f"| `{op}` | {s.kind} | {s.modelled} |" for op, s in SEMANTICS.items()]
    return "\n".join(lines)
