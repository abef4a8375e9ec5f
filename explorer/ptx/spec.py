"""The opcode table: one row per PTX instruction the project writes, reads or simulates.

A row lists the opcode's modifier groups in the order PTX writes them (comparison, rounding,
state space, vector width, type...), each a set of alternatives, required or optional; how
many operands it takes; whether operand 0 is a destination; and its control-flow kind
(`compute`, `branch`, `barrier`, `exit`). The builder, the parser, the highlighter, the
barrier check and the simulator's decoders all read these rows, and the result type of a
builder call is derived from them. It covers a subset of the PTX ISA, not the whole of it:
a new instruction is one row plus its simulator semantics, a new modifier one alternative.

Validation (`check`) sorts an instruction's modifiers into its row's groups, left to right
(a `loose` group, such as atom's `.sem` and `.scope`, at any position, as ptxas takes it):
an unknown modifier, a second one from one group (`setp.lt.gt`), one out of order or a missing
required group is an error naming that modifier and the accepted alternatives. The type rules
of a group (`Group.only_with`: `.rn` only on float types) are checked when `strict`: the
builder is strict, the parser is not (PTX from other tools is ptxas's to judge on those, and
the simulator refuses what it does not model). It knows no registers and no semantics.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

SIGNED = ("s16", "s32", "s64")
UNSIGNED = ("u16", "u32", "u64")
BITS = ("b16", "b32", "b64")
BYTES = ("b8", "u8", "s8")
HALVES = ("f16", "bf16", "f16x2", "bf16x2")
F8_PAIRS = ("e4m3x2", "e5m2x2")  # two 8-bit floats in a .b16 (cvt's source only)
TYPES = frozenset(SIGNED + UNSIGNED + BITS + BYTES + HALVES + F8_PAIRS + ("f32", "f64", "pred"))
SPACES = ("param", "global", "shared", "local", "const")
# Shared memory of this CTA, or of any CTA of its thread-block cluster (sm_90+; `mapa` makes
# the addresses of another CTA's shared memory)
CLUSTER_SPACES = ("shared::cta", "shared::cluster")
VECTOR_WIDTH = {"v2": 2, "v4": 4}
WIDER = {"u16": "u32", "s16": "s32", "u32": "u64", "s32": "s64"}  # what .wide writes
FLOWS = ("compute", "branch", "barrier", "exit")


@dataclass(frozen=True)
class Group:
    """One slot of an opcode's modifier chain: at most one of `alternatives` (exactly one
    if `required`). `only_with[m]`: the types modifier `m` may be written with."""

    name: str
    alternatives: tuple[str, ...]
    required: bool = False
    holds_type: bool = False
    only_with: Mapping[str, frozenset[str]] = field(default_factory=dict)
    anywhere: bool = False  # ptxas accepts it at any position in the chain (atom's .sem)

    def describe(self) -> str:
        return f"{self.name} {'|'.join('.' + a for a in self.alternatives)}"


def _group(name: str, alternatives: str, required: bool, only_with) -> Group:
    alts = tuple(alternatives.split())
    if isinstance(only_with, str):  # one rule for every alternative
        only_with = {alternatives: only_with}
    rules = {
        alt: frozenset(types.split())
        for alts_text, types in (only_with or {}).items()
        for alt in alts_text.split()
    }
    return Group(name, alts, required, False, rules)


def req(name: str, alternatives: str, only_with: str | dict | None = None) -> Group:
    return _group(name, alternatives, True, only_with)


def opt(name: str, alternatives: str, only_with: str | dict | None = None) -> Group:
    return _group(name, alternatives, False, only_with)


def loose(name: str, alternatives: str) -> Group:
    """An optional group written anywhere in the chain (`atom.global.gpu.acq_rel.add`)."""
    return Group(name, tuple(alternatives.split()), anywhere=True)


def typ(alternatives: str, name: str = "type") -> Group:
    """A required group of PTX types."""
    return Group(name, tuple(alternatives.split()), required=True, holds_type=True)


@dataclass(frozen=True)
class OpSpec:
    """How an opcode is written and what kind of step it is."""

    opcode: str
    groups: tuple[Group, ...]
    operands: tuple[int, int]  # (min, max) operand count
    flow: str  # one of FLOWS: how the simulator's scheduler and the barrier check treat it
    writes: bool  # operand 0 is a destination (a register or a vector of them)
    summary: str
    result: str = "type"  # the group whose type operand 0 holds, or a fixed type ("pred")
    per_thread: bool = False  # its result differs per thread whatever its sources
    simulated: bool = True  # False: parsed and printed, but the simulator has no semantics
    # Operand counts of particular modifiers (bar.red, barrier.cluster), where they differ
    mode_operands: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # modifier -> (group, the alternatives it needs there): `barrier.cluster` only with
    # .arrive or .wait, `.acquire` only with .wait
    needs: Mapping[str, tuple[str, frozenset[str]]] = field(default_factory=dict)


F = "f32 f64"
FH = "f16 f16x2 bf16 bf16x2 f32 f64"
FTZ = "f32 f16 f16x2"  # .ftz flushes f32 and f16 subnormals; bf16 and f64 have none
I16_64 = "u16 u32 u64 s16 s32 s64"  # the integer types of arithmetic
ROUND = "rn rz rm rp"
INT_ROUND = "rni rzi rmi rpi"
CVT_TYPES = "u8 u16 u32 u64 s8 s16 s32 s64 f16 bf16 f32 f64"


def _needs(**rules: tuple[str, str]) -> dict[str, tuple[str, frozenset[str]]]:
    """`OpSpec.needs` from `modifier=(group, "alternatives")`."""
    return {mod: (group, frozenset(alts.split())) for mod, (group, alts) in rules.items()}


def _arith(opcode: str, summary: str, n: int, *, mode: bool = False) -> OpSpec:
    """add, sub, mul, mad: `.lo/.hi/.wide` (integers) or rounding, `.ftz`, `.sat` (floats)."""
    groups = (
        *([opt("mode", "lo hi wide", {"lo hi": I16_64, "wide": " ".join(WIDER)})] if mode else []),
        opt("rounding", ROUND, FH),
        opt("ftz", "ftz", FTZ),
        opt("sat", "sat", "s32 f32 f16 f16x2"),
        typ(f"{I16_64} {FH}"),
    )
    return _row(opcode, groups, n, summary)


def _row(opcode, groups, operands, summary, flow="compute", writes=True, **extra) -> OpSpec:
    if isinstance(operands, int):
        operands = (operands, operands)
    return OpSpec(opcode, tuple(groups), operands, flow, writes, summary, **extra)


_EVICTION = "L1::evict_normal L1::evict_unchanged L1::evict_first L1::evict_last L1::no_allocate"


def _ordering(sem: str) -> list[Group]:
    """ld/st's memory-ordering qualifiers: `.weak`, `.volatile`, `.relaxed` or `sem`, a scope."""
    return [opt("sem", f"weak volatile relaxed {sem}"), opt("scope", "cta gpu sys")]


def _atomic_ordering() -> list[Group]:
    """atom/red's `.sem`, `.scope` (ptxas takes them anywhere) and state space."""
    return [loose("sem", "relaxed acquire release acq_rel"), loose("scope", "cta gpu sys"),
            opt("space", "global shared")]


_ATOMIC_OPS = "add inc dec min max and or xor"
_ATOMIC_TYPES = "b32 b64 u32 u64 s32 s64 f32 f64"
_VECTORS = " ".join(VECTOR_WIDTH)
_LOAD_TYPES = "b8 b16 b32 b64 u8 u16 u32 u64 s8 s16 s32 s64 f16 f16x2 bf16 bf16x2 f32 f64"
_MOVE_TYPES = "pred b16 b32 b64 u16 u32 u64 s16 s32 s64 f32 f64"
_ROWS = (
    _row("ld", [*_ordering("acquire"), opt("space", " ".join(SPACES + CLUSTER_SPACES)),
                opt("cache", "ca cg cs lu cv"), opt("nc", "nc"), opt("eviction", _EVICTION),
                opt("prefetch_size", "L2::64B L2::128B L2::256B"), opt("vector", _VECTORS),
                typ(_LOAD_TYPES)], 2, "load from a state space"),
    _row("st", [*_ordering("release"),
                opt("space", " ".join(("global", "shared", "local", "param") + CLUSTER_SPACES)),
                opt("cache", "wb cg cs wt"), opt("eviction", _EVICTION), opt("vector", _VECTORS),
                typ(_LOAD_TYPES)], 2, "store to a state space", writes=False),
    _row("mov", [typ(_MOVE_TYPES)], 2, "copy a register, immediate, symbol or special register"),
    _row("cvt", [opt("rounding", f"{ROUND} {INT_ROUND}", FH), opt("ftz", "ftz", FTZ),
                 opt("sat", "sat"), typ(f"{CVT_TYPES} f16x2 bf16x2", "dtype"),
                 typ(f"{CVT_TYPES} {' '.join(F8_PAIRS)}", "atype")], (2, 3),
         "convert between types (f16x2/bf16x2 from two f32: d, hi, lo; f16x2 from two 8-bit "
         "floats: sm_90+, sm_89 from PTX 8.1)", result="dtype"),
    _row("cvta", [opt("to", "to"), req("space", "global shared local const param"),
                  typ("u32 u64")], 2, "convert a state-space address to a generic one"),
    _arith("add", "a + b", 3),
    _arith("sub", "a - b", 3),
    _arith("mul", "a * b (lo, hi or wide for integers)", 3, mode=True),
    _arith("mad", "a * b + c", 4, mode=True),
    _row("fma", [req("rounding", ROUND), opt("ftz", "ftz", FTZ), opt("sat", "sat", FTZ),
                 typ(FH)], 4, "fused a * b + c, one rounding"),
    _row("div", [opt("rounding", f"approx full {ROUND}", F), opt("ftz", "ftz", "f32"),
                 typ(f"{I16_64} {F}")], 3, "a / b"),
    _row("rem", [typ(I16_64)], 3, "a % b"),
    _row("min", [opt("ftz", "ftz", FTZ), opt("NaN", "NaN", FH), typ(f"{I16_64} {FH}")], 3,
         "minimum"),
    _row("max", [opt("ftz", "ftz", FTZ), opt("NaN", "NaN", FH), typ(f"{I16_64} {FH}")], 3,
         "maximum"),
    _row("neg", [opt("ftz", "ftz", FTZ), typ(f"s16 s32 s64 {FH}")], 2, "-a"),
    _row("abs", [opt("ftz", "ftz", FTZ), typ(f"s16 s32 s64 {FH}")], 2, "|a|"),
    _row("copysign", [typ(F)], 3, "b with the sign of a"),
    _row("and", [typ("pred b16 b32 b64")], 3, "bitwise and"),
    _row("or", [typ("pred b16 b32 b64")], 3, "bitwise or"),
    _row("xor", [typ("pred b16 b32 b64")], 3, "bitwise xor"),
    _row("not", [typ("pred b16 b32 b64")], 2, "bitwise not"),
    _row("cnot", [typ("b16 b32 b64")], 2, "C's logical not: 1 if a is 0, else 0"),
    _row("shl", [typ("b16 b32 b64")], 3, "shift left"),
    _row("shr", [typ(f"b16 b32 b64 {I16_64}")], 3, "shift right (arithmetic for signed types)"),
    _row("shf", [req("direction", "l r"), req("mode", "wrap clamp"), typ("b32")], 4,
         "funnel shift: d = 32 bits of {b, a} shifted by c"),
    _row("popc", [typ("b32 b64")], 2, "population count (number of one bits)", result="u32"),
    _row("clz", [typ("b32 b64")], 2, "count leading zeros", result="u32"),
    _row("brev", [typ("b32 b64")], 2, "reverse the bits"),
    _row("bfind", [opt("shiftamt", "shiftamt"), typ("u32 u64 s32 s64")], 2,
         "position of the most significant non-sign bit (0xffffffff if none)", result="u32"),
    _row("bfe", [typ("u32 u64 s32 s64")], 4, "extract c bits of a from bit b"),
    _row("bfi", [typ("b32 b64")], 5, "insert the d low bits of a into b at bit c"),
    _row("lop3", [typ("b32")], 5, "any logic function of a, b, c given by its truth table"),
    _row("setp", [req("compare", "eq ne lt le gt ge lo ls hi hs equ neu ltu leu gtu geu num nan",
                      {"lt le gt ge": f"{I16_64} {FH}", "lo ls hi hs": "u16 u32 u64",
                       "equ neu ltu leu gtu geu num nan": FH}),
                  opt("ftz", "ftz", FTZ), typ(f"b16 b32 b64 {I16_64} {FH}")], 3,
         "compare into a predicate", result="pred"),
    _row("testp", [req("class", "finite infinite number notanumber normal subnormal"),
                   typ(F)], 2, "test a float's class into a predicate", result="pred"),
    _row("selp", [typ(f"b16 b32 b64 {I16_64} {F}")], 4, "select a or b by a predicate"),
    _row("ex2", [req("approx", "approx"), opt("ftz", "ftz", "f32"), typ("f32")], 2,
         "2^a, the hardware exponential"),
    _row("lg2", [req("approx", "approx"), opt("ftz", "ftz", "f32"), typ("f32")], 2, "log2(a)"),
    _row("rcp", [req("rounding", f"approx {ROUND}"), opt("ftz", "ftz"), typ(F)], 2, "1 / a"),
    _row("sqrt", [req("rounding", f"approx {ROUND}"), opt("ftz", "ftz"), typ(F)], 2,
         "square root"),
    _row("rsqrt", [req("approx", "approx"), opt("ftz", "ftz", "f32"), typ(F)], 2,
         "1 / sqrt(a)"),
    _row("sin", [req("approx", "approx"), opt("ftz", "ftz"), typ("f32")], 2, "sine"),
    _row("cos", [req("approx", "approx"), opt("ftz", "ftz"), typ("f32")], 2, "cosine"),
    _row("tanh", [req("approx", "approx"), typ("f32")], 2, "hyperbolic tangent"),
    _row("atom", [*_atomic_ordering(), req("op", f"{_ATOMIC_OPS} exch cas"),
                  typ(_ATOMIC_TYPES)], (3, 4),
         "atomic read-modify-write of memory: d = the old value (cas: d, [a], compare, new)",
         per_thread=True),
    _row("red", [*_atomic_ordering(), req("op", _ATOMIC_OPS), typ(_ATOMIC_TYPES)], 2,
         "atomic reduction into memory, no result", writes=False),
    _row("membar", [req("level", "cta gl sys")], 0,
         "memory barrier: this thread's earlier accesses are seen before its later ones",
         writes=False),
    _row("griddepcontrol", [req("mode", "wait launch_dependents")], 0,
         "programmatic dependent launch: wait for the grids this one depends on, or let the "
         "grids that depend on this one launch", writes=False),
    _row("prefetch", [opt("space", "global local"), req("level", "L1 L2")], 1,
         "bring the line holding an address into a cache (a hint: no value, no fault)",
         writes=False),
    _row("prmt", [typ("b32"), opt("mode", "f4e b4e rc8 ecl ecr rc16")], 4,
         "byte permute: d's byte i is byte c[4i+3:4i] of {b, a}"),
    _row("mma", [req("sync", "sync"), req("aligned", "aligned"), req("shape", "m16n8k16"),
                 req("alayout", "row col"), req("blayout", "row col"), typ("f32 f16", "dtype"),
                 typ("f16 bf16", "atype"), typ("f16 bf16", "btype"), typ("f32 f16", "ctype")],
         4, "warp matrix multiply-accumulate: D = A x B + C from per-lane fragments",
         result="dtype"),
    _row("vote", [req("sync", "sync"), req("mode", "all any uni ballot"), typ("pred b32")], 3,
         "warp vote over the member mask: all, any, uni (.pred) or ballot (.b32 lane mask)",
         per_thread=True),
    _row("activemask", [typ("b32")], 1, "the lanes of the warp executing this instruction",
         per_thread=True),
    _row("match", [req("mode", "any all"), req("sync", "sync"), typ("b32 b64")], 3,
         "the member lanes holding the same value as this lane (any) or all of them (all)",
         result="b32", per_thread=True),
    _row("redux", [req("sync", "sync"), req("op", "add min max and or xor"),
                   typ("u32 s32 b32")], 3,
         "warp reduction over the member mask (add/min/max: .u32/.s32; and/or/xor: .b32)",
         per_thread=True),
    _row("shfl", [req("sync", "sync"), req("mode", "up down bfly idx"), typ("b32")], 5,
         "warp shuffle: dst, value, lane or delta, clamp/segment mask, member mask",
         per_thread=True),
    _row("bar", [opt("scope", "cta"), req("mode", "sync arrive red"), opt("aligned", "aligned"),
                 opt("op", "popc and or"), opt("type", "u32 pred")],
         (1, 2), "CTA barrier: wait (sync), arrive without waiting (arrive) or reduce a "
         "predicate over the CTA (red); barrier number, thread count", flow="barrier",
         writes=False, mode_operands={"red": (3, 4)}),
    _row("barrier", [opt("scope", "cta cluster"), req("mode", "sync arrive red wait"),
                     opt("sem", "release relaxed acquire"), opt("aligned", "aligned"),
                     opt("op", "popc and or"), opt("type", "u32 pred")],
         (1, 2), "CTA barrier (bar.sync is barrier.sync.aligned); barrier.cluster.arrive and "
         ".wait: the split barrier of every thread of the thread-block cluster (sm_90+)",
         flow="barrier", writes=False, mode_operands={"red": (3, 4), "cluster": (0, 0)},
         needs=_needs(cluster=("mode", "arrive wait"), wait=("scope", "cluster"),
                      release=("mode", "arrive"), relaxed=("mode", "arrive"),
                      acquire=("mode", "wait"))),
    _row("mapa", [opt("space", "shared::cluster"), typ("u32 u64")], 3,
         "the address in the shared memory of cluster CTA b (a rank) of shared address a"),
    _row("fence", [req("sem", "sc acq_rel"), req("scope", "cta cluster gpu sys")], 0,
         "memory fence: this thread's accesses before and after are ordered at the scope",
         writes=False),
    _row("bra", [opt("uni", "uni")], 1, "branch to a label", flow="branch", writes=False),
    _row("call", [opt("uni", "uni")], (1, 3),
         "call a .func: (return parameters), function, (argument parameters)", writes=False),
    _row("ret", [opt("uni", "uni")], 0, "return from a .func, or end the thread in an entry",
         flow="exit", writes=False),
    _row("exit", [], 0, "end the thread", flow="exit", writes=False),
)
OPCODES: dict[str, OpSpec] = {row.opcode: row for row in _ROWS}


@dataclass(frozen=True)
class Form:
    """An instruction's modifiers sorted into its row's groups."""

    row: OpSpec
    chosen: Mapping[str, str]  # group name -> the modifier written for it

    def get(self, group: str) -> str | None:
        return self.chosen.get(group)

    @property
    def types(self) -> tuple[str, ...]:
        """The type modifiers, in the row's order (cvt: destination then source)."""
        return tuple(self.chosen[g.name] for g in self.row.groups
                     if g.holds_type and g.name in self.chosen)


def type_bits(type_: str) -> int:
    """Width of a PTX type in bits (`pred` counts as 1)."""
    if type_ == "pred":
        return 1
    scalar, pair = type_.removesuffix("x2"), type_.endswith("x2")
    bits = 8 if scalar in ("e4m3", "e5m2") else int(scalar.lstrip("bfsu"))
    return bits * (2 if pair else 1)


def result_type(form: Form) -> str:
    """The PTX type of what an instruction writes to operand 0."""
    row = form.row
    if row.result not in {g.name for g in row.groups}:
        return row.result
    written = form.chosen[row.result]
    if form.get("mode") != "wide":
        return written
    if written not in WIDER:
        raise ValueError(f"{row.opcode}.wide.{written}: .wide needs one of "
                         f"{_dotted(WIDER)}")
    return WIDER[written]


def check(opcode: str, modifiers: tuple[str, ...], n_operands: int, strict: bool = True) -> Form:
    """Validate an instruction against the table; raise ValueError naming what is wrong."""
    form = form_of(opcode, tuple(modifiers), strict)
    lo, hi = operand_counts(form.row, form.chosen.values())
    if not lo <= n_operands <= hi:
        name = ".".join((opcode, *modifiers))
        raise ValueError(f"{name}: {n_operands} operands, expected {lo}..{hi}")
    return form


def operand_counts(row: OpSpec, modifiers) -> tuple[int, int]:
    """(min, max) operands of `row` written with `modifiers` (the first with counts of its
    own in `mode_operands` decides: `bar.red`, `barrier.cluster`)."""
    return next((row.mode_operands[m] for m in modifiers if m in row.mode_operands),
                row.operands)


@functools.lru_cache(maxsize=1024)
def form_of(opcode: str, modifiers: tuple[str, ...], strict: bool = True) -> Form:
    """The modifiers sorted into the groups of `opcode`'s row (cached: decoders call it per
    instruction). Raises ValueError naming the first modifier that does not fit."""
    name = ".".join((opcode, *modifiers))
    row = OPCODES.get(opcode)
    if row is None:
        raise ValueError(f"{name}: unsupported opcode {opcode!r} (supported: {sorted(OPCODES)})")
    chosen = _sort(row, name, modifiers)
    missing = [g for g in row.groups if g.required and g.name not in chosen]
    if missing:
        g = missing[0]
        raise ValueError(f"{name}: no {g.name} modifier ({opcode} needs one of "
                         f"{_dotted(g.alternatives)})")
    _check_needs(row, name, chosen)
    form = Form(row, chosen)
    if strict:
        _check_types(form, name)
    return form


def _sort(row: OpSpec, name: str, modifiers: tuple[str, ...]) -> dict[str, str]:
    """Each modifier into the first group at or after the previous one's that accepts it."""
    groups, chosen, at = row.groups, {}, 0
    for mod in modifiers:
        free = next((g for g in groups if g.anywhere and mod in g.alternatives), None)
        if free is not None:
            if free.name in chosen:
                raise ValueError(f"{name}: .{mod} is a second {free.name} after "
                                 f".{chosen[free.name]} ({row.opcode} takes one of "
                                 f"{_dotted(free.alternatives)})")
            chosen[free.name] = mod
            continue
        k = next((i for i in range(at, len(groups)) if mod in groups[i].alternatives), None)
        if k is not None:
            chosen[groups[k].name] = mod
            at = k + 1
            continue
        earlier = [g for g in groups[:at] if mod in g.alternatives]
        if not earlier:
            raise ValueError(f"{name}: .{mod} is not a modifier of {row.opcode} "
                             f"({_layout(row)})")
        g = earlier[-1]
        if g.name in chosen:
            raise ValueError(f"{name}: .{mod} is a second {g.name} after .{chosen[g.name]} "
                             f"({row.opcode} takes one of {_dotted(g.alternatives)})")
        raise ValueError(f"{name}: .{mod} is out of order ({row.opcode} writes "
                         f"{_layout(row)})")
    return chosen


def _check_needs(row: OpSpec, name: str, chosen: dict[str, str]) -> None:
    """Each chosen modifier's `needs` rule: the group it names holds one of its alternatives."""
    for mod in chosen.values():
        rule = row.needs.get(mod)
        if rule and chosen.get(rule[0]) not in rule[1]:
            raise ValueError(f"{name}: .{mod} goes only with {rule[0]} "
                             f"{_dotted(sorted(rule[1]))}")


def _check_types(form: Form, name: str) -> None:
    """Each chosen modifier's type rule: at least one of the instruction's types fits it."""
    types = set(form.types)
    for group in form.row.groups:
        mod = form.get(group.name)
        allowed = group.only_with.get(mod) if mod else None
        if allowed is not None and not types & allowed:
            raise ValueError(f"{name}: .{mod} goes only with {_dotted(sorted(allowed))}, "
                             f"not {_dotted(form.types)}")


def _dotted(words) -> str:
    return " ".join(f".{w}" for w in words)


def _layout(row: OpSpec) -> str:
    parts = [g.describe() if g.required else f"[{g.describe()}]" for g in row.groups]
    return ", ".join(parts) if parts else "no modifiers"
