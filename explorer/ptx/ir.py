"""The PTX IR: plain frozen dataclasses that the builder makes and the printer, parser and
simulator read.

It holds exactly what the printer writes, so `parse(emit(k)) == k`. It does not validate
(the builder does, against `spec.OPCODES`) and does not know any kernel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .spec import TYPES, type_bits

# Register kinds as nvcc names them, with the type each kind is declared with: the one list of
# kinds (the parser's register names, the printer's `.reg` lines and the simulator's storage
# are derived from it).
REG_KINDS: dict[str, str] = {
    "p": "pred",
    "rs": "b16",
    "r": "b32",
    "rd": "b64",
    "f": "f32",
    "fd": "f64",
}
KIND_BITS: dict[str, int] = {kind: type_bits(t) for kind, t in REG_KINDS.items()}


def _kind_holding(type_: str) -> str:
    """The kind declared with `type_`, else the integer kind of its width (8-bit values live in
    %rs: there are no 8-bit registers)."""
    exact = [kind for kind, declared in REG_KINDS.items() if declared == type_]
    if exact:
        return exact[0]
    bits = max(16, type_bits(type_))
    return next(k for k, t in REG_KINDS.items() if t == f"b{bits}")


# The PTX type of a value decides the kind of register that holds it.
TYPE_TO_KIND: dict[str, str] = {t: _kind_holding(t) for t in sorted(TYPES)}

SPECIAL_REGS = (
    "tid.x", "tid.y", "tid.z", "ntid.x", "ntid.y", "ntid.z",
    "ctaid.x", "ctaid.y", "ctaid.z", "nctaid.x", "nctaid.y", "nctaid.z",
    "laneid", "warpid",
    # thread-block clusters (sm_90+): this CTA's rank and position in its cluster, the cluster's
    # shape, its position in the grid of clusters and that grid's shape
    "cluster_ctarank", "cluster_nctarank",
    "cluster_ctaid.x", "cluster_ctaid.y", "cluster_ctaid.z",
    "cluster_nctaid.x", "cluster_nctaid.y", "cluster_nctaid.z",
    "clusterid.x", "clusterid.y", "clusterid.z",
    "nclusterid.x", "nclusterid.y", "nclusterid.z",
)
CLUSTER_SPECIAL_REGS = frozenset(r for r in SPECIAL_REGS if "cluster" in r)


# A second register family, `%x<kind><index>`, for instrumentation (the debug stores): adding it
# to a kernel renames none of the kernel's own registers.
SIDE_FAMILY = "x"


@dataclass(frozen=True)
class Reg:
    """A virtual register `%<family><kind><index>`, e.g. `%f12` or (side family) `%xrd3`; or
    a register other generators declare by name (`.reg .b64 %tmp;`: `name` "tmp", `kind` that
    of its declared type, index 0)."""

    kind: str
    index: int
    family: str = ""
    name: str = ""

    @property
    def prefix(self) -> str:
        """The name without the index, as `.reg` declares it: `f`, `rd`, `xrd`."""
        return self.name or self.family + self.kind

    def __str__(self) -> str:
        return f"%{self.name}" if self.name else f"%{self.prefix}{self.index}"


@dataclass(frozen=True)
class SpecialReg:
    """A read-only special register such as `%tid.x` or `%laneid`."""

    name: str

    def __str__(self) -> str:
        return f"%{self.name}"


@dataclass(frozen=True)
class IntImm:
    """An integer immediate, printed in decimal."""

    value: int

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class F32Imm:
    """A float immediate kept as its IEEE bits, printed `0f3F800000`: exact and NaN-safe."""

    bits: int

    @staticmethod
    def of(value: float) -> F32Imm:
        return F32Imm(struct.unpack("<I", struct.pack("<f", value))[0])

    @property
    def value(self) -> float:
        return struct.unpack("<f", struct.pack("<I", self.bits))[0]

    def __str__(self) -> str:
        return f"0f{self.bits:08X}"


@dataclass(frozen=True)
class Symbol:
    """A name: a parameter, a shared array or a label."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Address:
    """A memory operand `[base+offset]`; base is a register or a symbol."""

    base: Reg | Symbol
    offset: int = 0

    def __str__(self) -> str:
        return f"[{self.base}+{self.offset}]" if self.offset else f"[{self.base}]"


@dataclass(frozen=True)
class Vector:
    """A vector operand `{%f1, %f2, %f3, %f4}` of ld/st .v2/.v4."""

    regs: tuple[Reg, ...]

    def __str__(self) -> str:
        return "{" + ", ".join(str(r) for r in self.regs) + "}"


@dataclass(frozen=True)
class RegPair:
    """A destination `%r1|%p1`: a value and a predicate written by one instruction (the
    in-range flag of `shfl.sync`)."""

    value: Reg
    pred: Reg

    def __str__(self) -> str:
        return f"{self.value}|{self.pred}"


@dataclass(frozen=True)
class ParamList:
    """The parenthesised operands of `call`: `(retval0)` and `(param0, param1)`."""

    items: tuple[Symbol, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(str(s) for s in self.items) + ")"


Operand = Reg | SpecialReg | IntImm | F32Imm | Symbol | Address | Vector | RegPair | ParamList


@dataclass(frozen=True)
class Guard:
    """A predicate guard `@%p1` or `@!%p1`."""

    pred: Reg
    negated: bool = False

    def __str__(self) -> str:
        return f"@{'!' if self.negated else ''}{self.pred}"


@dataclass(frozen=True)
class Instruction:
    """One PTX instruction: `[guard] opcode.mod1.mod2 operand, ...;`."""

    opcode: str
    modifiers: tuple[str, ...]
    operands: tuple[Operand, ...]
    guard: Guard | None = None
    # The PTX source line it was parsed from (for error messages); not part of its identity.
    line: int | None = field(default=None, compare=False, repr=False)
    # Where it came from: (file index, source line). A parsed instruction's is the last `.loc`
    # before it (its module's `files` name the file); a built one's is the kernel code that
    # asked for it (its kernel's `files` name the file). Not part of its identity either.
    loc: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return ".".join((self.opcode, *self.modifiers))


@dataclass(frozen=True)
class Label:
    name: str


@dataclass(frozen=True)
class Comment:
    """A whole-line comment inside the body; kernels use them to mark algorithm phases."""

    text: str


Statement = Instruction | Label | Comment


@dataclass(frozen=True)
class Param:
    name: str
    type: str


@dataclass(frozen=True)
class SharedDecl:
    """`.shared .align A .TYPE name[count];`, or (`extern`) `.extern .shared ... name[];`,
    the dynamic shared memory whose size the launch gives (count 0)."""

    name: str
    type: str
    count: int
    align: int = 4
    extern: bool = False


@dataclass(frozen=True)
class Kernel:
    """One `.entry`: its parameters, shared declarations and body. `.reg` lines are derived."""

    entry: str
    params: tuple[Param, ...]
    shared: tuple[SharedDecl, ...]
    body: tuple[Statement, ...]
    max_threads: int | None = None  # `.maxntid N, 1, 1`: ptxas keeps registers within it
    # `.reqnctapercluster X, Y, Z`: the CTAs of each thread-block cluster (sm_90+); a plain
    # launch then runs the grid as clusters of this shape
    cluster: tuple[int, int, int] | None = None
    # The source files its instructions' `loc` index (index 1 is files[0]): the builder's
    # record of the kernel code; empty for a parsed kernel. Not part of its identity.
    files: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def registers(self) -> dict[str, int]:
        """Per register prefix (`f`, `rd`, `xrd`...), one more than the highest index used
        (the `%f<N>` count)."""
        counts: dict[str, int] = {}
        for stmt in self.body:
            if isinstance(stmt, Instruction):
                for reg in registers_of(stmt):
                    counts[reg.prefix] = max(counts.get(reg.prefix, 0), reg.index + 1)
        return counts


@dataclass(frozen=True)
class Function:
    """A `.func` with a body: its return parameters, parameters and body (a `call` target)."""

    name: str
    returns: tuple[Param, ...]
    params: tuple[Param, ...]
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class ModuleVariable:
    """A module-scope `.global` or `.const` variable: `count` elements of `type`, and its
    initializer's values (empty: zeros)."""

    name: str
    space: str
    type: str
    count: int
    align: int
    init: tuple[int | float, ...] = ()


def registers_of(ins: Instruction) -> list[Reg]:
    """Every register an instruction names, guard included."""
    regs = [ins.guard.pred] if ins.guard else []
    for op in ins.operands:
        if isinstance(op, Reg):
            regs.append(op)
        elif isinstance(op, Address) and isinstance(op.base, Reg):
            regs.append(op.base)
        elif isinstance(op, Vector):
            regs.extend(op.regs)
        elif isinstance(op, RegPair):
            regs.extend((op.value, op.pred))
    return regs
