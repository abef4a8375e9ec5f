"""The opcode table: one row per PTX instruction the project writes, reads or simulates.

The builder validates against it, the printer and parser accept exactly its opcodes, and
the result type of a builder call is derived from it. It covers a subset of the PTX ISA,
not the whole of it: a new instruction is one new row.
"""

from __future__ import annotations

from dataclasses import dataclass

INT_TYPES = frozenset(
    {"b16", "u16", "s16", "b32", "u32", "s32", "b64", "u64", "s64"}
)
FLOAT_TYPES = frozenset({"f16", "bf16", "f16x2", "bf16x2", "f32", "f64"})
TYPES = INT_TYPES | FLOAT_TYPES | {"pred", "b8", "u8", "s8"}

ROUNDING = frozenset({"rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi"})
COMPARE = frozenset(
    {"eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs",
     "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan"}
)
SPACES = frozenset({"param", "global", "shared", "local", "const"})
CACHE = frozenset({"ca", "cg", "cs", "lu", "cv", "nc", "wb", "wt"})
VECTORS = frozenset({"v2", "v4"})


@dataclass(frozen=True)
class OpSpec:
    """How an opcode is written: its modifiers, operand count, whether operand 0 is written."""

    opcode: str
    modifiers: frozenset[str]
    operands: tuple[int, int]  # (min, max) operand count
    writes_first: bool
    summary: str


def _row(opcode, modifiers, operands, writes_first, summary):
    if isinstance(operands, int):
        operands = (operands, operands)
    return OpSpec(opcode, frozenset(modifiers), operands, writes_first, summary)


_ARITH = TYPES | {"sat", "ftz"} | ROUNDING
OPCODES: dict[str, OpSpec] = {
    row.opcode: row
    for row in (
        _row("ld", SPACES | CACHE | VECTORS | TYPES, 2, True, "load from a state space"),
        _row("st", SPACES | CACHE | VECTORS | TYPES, 2, False, "store to a state space"),
        _row("mov", TYPES, 2, True, "copy a register, immediate, symbol or special register"),
        _row("cvt", TYPES | ROUNDING | {"sat", "ftz"}, (2, 3), True,
             "convert between types (f16x2/bf16x2 from two f32: d, hi, lo)"),
        _row("cvta", {"to", "shared", "global", "local", "u32", "u64"}, 2, True,
             "convert a state-space address to a generic one"),
        _row("add", _ARITH, 3, True, "a + b"),
        _row("sub", _ARITH, 3, True, "a - b"),
        _row("mul", _ARITH | {"lo", "hi", "wide"}, 3, True, "a * b (lo, hi or wide for integers)"),
        _row("mad", _ARITH | {"lo", "hi", "wide"}, 4, True, "a * b + c"),
        _row("fma", _ARITH, 4, True, "fused a * b + c, one rounding"),
        _row("div", _ARITH | {"approx", "full"}, 3, True, "a / b"),
        _row("rem", INT_TYPES, 3, True, "a % b"),
        _row("min", TYPES | {"ftz", "NaN"}, 3, True, "minimum"),
        _row("max", TYPES | {"ftz", "NaN"}, 3, True, "maximum"),
        _row("neg", TYPES | {"ftz"}, 2, True, "-a"),
        _row("abs", TYPES | {"ftz"}, 2, True, "|a|"),
        _row("and", TYPES, 3, True, "bitwise and"),
        _row("or", TYPES, 3, True, "bitwise or"),
        _row("xor", TYPES, 3, True, "bitwise xor"),
        _row("not", TYPES, 2, True, "bitwise not"),
        _row("shl", TYPES, 3, True, "shift left"),
        _row("shr", TYPES, 3, True, "shift right (arithmetic for signed types)"),
        _row("setp", COMPARE | TYPES | {"ftz"}, 3, True, "compare into a predicate"),
        _row("selp", TYPES, 4, True, "select a or b by a predicate"),
        _row("ex2", {"approx", "ftz", "f32"}, 2, True, "2^a, the hardware exponential"),
        _row("lg2", {"approx", "ftz", "f32"}, 2, True, "log2(a)"),
        _row("rcp", {"approx", "ftz", "f32", "f64"} | ROUNDING, 2, True, "1 / a"),
        _row("sqrt", {"approx", "ftz", "f32", "f64"} | ROUNDING, 2, True, "square root"),
        _row("atom", {"global", "add", "u32", "relaxed", "acq_rel", "gpu"}, 3, True,
             "atomic read-modify-write of memory: d = the old value"),
        _row("membar", {"gl", "cta"}, 0, False,
             "memory barrier: this thread's earlier accesses are seen before its later ones"),
        _row("prefetch", {"global", "L1", "L2"}, 1, False,
             "bring the line holding an address into a cache (a hint: no value, no fault)"),
        _row("prmt", {"b32"}, 4, True, "byte permute: d's byte i is byte c[4i+3:4i] of {b, a}"),
        _row("mma", {"sync", "aligned", "m16n8k16", "row", "col", "f32", "f16", "bf16"}, 4, True,
             "warp matrix multiply-accumulate: D = A x B + C from per-lane fragments"),
        _row("shfl", {"sync", "up", "down", "bfly", "idx", "b32"}, 5, True,
             "warp shuffle: dst, value, lane or delta, clamp/segment mask, member mask"),
        _row("bar", {"sync", "cta", "aligned"}, (1, 2), False, "CTA barrier"),
        _row("bra", {"uni"}, 1, False, "branch to a label"),
        _row("ret", set(), 0, False, "return from the kernel"),
        _row("exit", set(), 0, False, "end the thread"),
    )
}

WIDER = {"u16": "u32", "s16": "s32", "u32": "u64", "s32": "s64"}


def type_bits(type_: str) -> int:
    """Width of a PTX type in bits (`pred` counts as 1)."""
    if type_ == "pred":
        return 1
    scalar, pair = type_.removesuffix("x2"), type_.endswith("x2")
    return int(scalar.lstrip("bfsu")) * (2 if pair else 1)


def result_type(opcode: str, modifiers: tuple[str, ...]) -> str:
    """The PTX type of what an instruction writes to operand 0."""
    if opcode == "setp":
        return "pred"
    types = [m for m in modifiers if m in TYPES]
    if not types:
        raise ValueError(f"{'.'.join((opcode, *modifiers))}: no type modifier")
    if opcode == "cvt":
        return types[0]
    if "wide" in modifiers:
        if types[-1] not in WIDER:
            raise ValueError(
                f"{'.'.join((opcode, *modifiers))}: .wide needs a 16- or 32-bit integer type"
            )
        return WIDER[types[-1]]
    return types[-1]


def check(opcode: str, modifiers: tuple[str, ...], n_operands: int) -> OpSpec:
    """Validate an instruction against the table; raise ValueError saying what is wrong."""
    spec = OPCODES.get(opcode)
    name = ".".join((opcode, *modifiers))
    if spec is None:
        raise ValueError(f"{name}: unsupported opcode {opcode!r} (supported: {sorted(OPCODES)})")
    unknown = [m for m in modifiers if m not in spec.modifiers]
    if unknown:
        raise ValueError(f"{name}: modifier(s) {unknown} not valid for {opcode}")
    lo, hi = spec.operands
    if not lo <= n_operands <= hi:
        raise ValueError(f"{name}: {n_operands} operands, expected {lo}..{hi}")
    return spec
