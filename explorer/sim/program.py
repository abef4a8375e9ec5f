"""PTX text -> a decoded program: the entry with its calls inlined (`calls`), each
instruction decoded once into a `Step` (its scheduler kind, its `run(machine, sel)` closure,
its guard, its branch target, its barrier form). Programs are cached by (PTX text, entry), so
launching the same module again costs no parsing or decoding.

An instruction the parser accepts but the simulator cannot run decodes to a step that raises
`SimError("unsupported instruction ...")` when a thread reaches it, naming that thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..ptx import spec
from ..ptx.ir import Instruction, Kernel, Label, Reg, RegPair, Symbol, Vector, registers_of
from ..ptx.parser import Module, find_entry, parse_module
from .barriers import BarrierForm, decode_barrier
from .calls import Site, flatten
from .clusters import uses_clusters
from .memory import shared_layout, variable_address, variable_bytes
from .operands import DecodeContext, Unsupported
from .table import SEMANTICS


@dataclass(frozen=True)
class Step:
    ins: Instruction  # as the user wrote it (messages name its line and text)
    kind: str  # compute | branch | barrier | exit | unsupported
    run: Callable | None = None
    guard: tuple[str, bool] | None = None  # (predicate register name, negated)
    target: int | None = None  # branch target (a step index)
    why: str = ""  # for unsupported steps
    barrier: BarrierForm | None = None
    # The registers it writes, as the machine names them (an inlined copy's are renamed); read
    # only by lane traces (`trace`), never by the scheduler.
    dest: tuple[str, ...] = ()


@dataclass(frozen=True)
class Program:
    kernel: Kernel
    steps: tuple[Step, ...]
    registers: tuple[Reg, ...]
    module: Module | None = None
    clusters: bool = False  # it declares a cluster shape or names a cluster feature


@functools.lru_cache(maxsize=32)
def load(ptx: str, entry: str) -> Program:
    """Parse `entry` from the PTX text, inline its calls and decode every instruction."""
    module = parse_module(ptx)
    kernel = find_entry(module, entry)
    sites: list[Site] = []
    labels: dict[str, int] = {}
    for item in flatten(module.functions, kernel):
        if isinstance(item, Label):
            labels[item.name] = len(sites)
        else:
            sites.append(item)
    try:
        symbols, _ = shared_layout(kernel.shared)
    except ValueError as err:
        raise ValueError(f"{entry}: {err}") from None
    params = {p.name: (i, p.type) for i, p in enumerate(kernel.params)}
    try:
        variables = {v.name: (variable_address(j), variable_bytes(v).size)
                     for j, v in enumerate(module.variables)}
    except ValueError as err:
        raise ValueError(f"{entry}: {err}") from None
    ctx = DecodeContext(labels, symbols, params, variables=variables)
    steps = tuple(decode(site.ins, ctx, site.shown, site.why) for site in sites)
    regs = sorted(
        {r for site in sites for r in registers_of(site.ins)},
        key=lambda r: (r.kind, r.family, r.name, r.index),
    )
    return Program(kernel, steps, tuple(regs), module,
                   uses_clusters(kernel, (site.ins for site in sites)))


def decode(ins: Instruction, ctx: DecodeContext, shown: Instruction | None = None,
           why: str = "") -> Step:
    """The step running `ins`, named in messages as `shown` (the instruction the user wrote)."""
    shown = shown or ins
    guard = (str(ins.guard.pred), ins.guard.negated) if ins.guard else None
    flow = spec.OPCODES[ins.opcode].flow  # the parser admits only the table's opcodes
    semantics = SEMANTICS.get(ins.opcode)
    try:
        if why:
            raise Unsupported(why)
        if semantics is None:
            raise Unsupported(f"opcode {ins.opcode!r} has no semantics")
        if ins.guard and ins.guard.pred.kind != "p":
            raise Unsupported(f"guard {guard[0]} is not a predicate register")
        if flow == "compute":
            if semantics.decode is None:
                raise Unsupported(f"{ins.opcode} is not run as an instruction")
            return Step(shown, "compute", semantics.decode(ins, ctx), guard,
                        dest=destinations(ins, shown))
        if flow == "branch":
            return Step(shown, "branch", guard=guard, target=_target(ins, ctx))
        if flow == "barrier":
            return Step(shown, flow, guard=guard, barrier=decode_barrier(ins, ctx),
                        dest=destinations(ins, shown))
        return Step(shown, flow, guard=guard)
    except Unsupported as why:  # a guard that is no predicate cannot be evaluated: drop it
        usable = guard if ins.guard and ins.guard.pred.kind == "p" else None
        return Step(shown, "unsupported", guard=usable, why=str(why))


def destinations(ins: Instruction, shown: Instruction) -> tuple[str, ...]:
    """The register names `ins` writes where the user's instruction `shown` has a destination
    (operand 0 of a writing opcode, or of `bar.red`): one, a vector's, or a `d|p` pair's value
    then predicate. A call's param moves write slots the user never named: none."""
    reduces = shown.opcode in ("bar", "barrier") and "red" in shown.modifiers
    writes = spec.OPCODES[shown.opcode].writes or reduces
    if not writes or not ins.operands:
        return ()
    op = ins.operands[0]
    if isinstance(op, Reg):
        return (str(op),)
    if isinstance(op, Vector):
        return tuple(str(r) for r in op.regs)
    if isinstance(op, RegPair):
        return (str(op.value), str(op.pred))
    return ()


def _target(ins: Instruction, ctx: DecodeContext) -> int:
    (op,) = ins.operands
    if not isinstance(op, Symbol) or op.name not in ctx.labels:
        raise Unsupported(f"branch target {op} is not a label of this kernel")
    return ctx.labels[op.name]
