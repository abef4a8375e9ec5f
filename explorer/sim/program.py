"""PTX text -> a decoded program: each instruction decoded once into a `Step` (its scheduler
kind, its `run(machine, sel)` closure, its guard, its branch target). Programs are cached by
(PTX text, entry), so launching the same module again costs no parsing or decoding.

An instruction the parser accepts but the simulator cannot run decodes to a step that raises
`SimError("unsupported instruction ...")` when a thread reaches it, naming that thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..ptx import parse, spec
from ..ptx.ir import Instruction, IntImm, Kernel, Label, Reg, Symbol, registers_of
from .memory import shared_layout
from .operands import DecodeContext, Unsupported, form
from .table import SEMANTICS


@dataclass(frozen=True)
class Step:
    ins: Instruction
    kind: str  # compute | branch | barrier | exit | unsupported
    run: Callable | None = None
    guard: tuple[str, bool] | None = None  # (predicate register name, negated)
    target: int | None = None  # branch target (a step index)
    why: str = ""  # for unsupported steps


@dataclass(frozen=True)
class Program:
    kernel: Kernel
    steps: tuple[Step, ...]
    registers: tuple[Reg, ...]


@functools.lru_cache(maxsize=32)
def load(ptx: str, entry: str) -> Program:
    """Parse `entry` from the PTX text and decode every instruction."""
    kernel = parse(ptx, entry)
    instructions: list[Instruction] = []
    labels: dict[str, int] = {}
    for stmt in kernel.body:
        if isinstance(stmt, Label):
            labels[stmt.name] = len(instructions)
        elif isinstance(stmt, Instruction):
            instructions.append(stmt)
    try:
        symbols, _ = shared_layout(kernel.shared)
    except ValueError as err:
        raise ValueError(f"{entry}: {err}") from None
    params = {p.name: (i, p.type) for i, p in enumerate(kernel.params)}
    ctx = DecodeContext(labels, symbols, params)
    steps = tuple(decode(ins, ctx) for ins in instructions)
    regs = sorted(
        {r for ins in instructions for r in registers_of(ins)}, key=lambda r: (r.kind, r.index)
    )
    return Program(kernel, steps, tuple(regs))


def decode(ins: Instruction, ctx: DecodeContext) -> Step:
    guard = (str(ins.guard.pred), ins.guard.negated) if ins.guard else None
    flow = spec.OPCODES[ins.opcode].flow  # the parser admits only the table's opcodes
    semantics = SEMANTICS.get(ins.opcode)
    try:
        if semantics is None:
            raise Unsupported(f"opcode {ins.opcode!r} has no semantics")
        if ins.guard and ins.guard.pred.kind != "p":
            raise Unsupported(f"guard {guard[0]} is not a predicate register")
        if flow == "compute":
            return Step(ins, "compute", semantics.decode(ins, ctx), guard)
        if flow == "branch":
            return Step(ins, "branch", guard=guard, target=_target(ins, ctx))
        if flow == "barrier":
            _check_barrier(ins)
        return Step(ins, flow, guard=guard)
    except Unsupported as why:  # a guard that is no predicate cannot be evaluated: drop it
        usable = guard if ins.guard and ins.guard.pred.kind == "p" else None
        return Step(ins, "unsupported", guard=usable, why=str(why))


def _target(ins: Instruction, ctx: DecodeContext) -> int:
    (op,) = ins.operands
    if not isinstance(op, Symbol) or op.name not in ctx.labels:
        raise Unsupported(f"branch target {op} is not a label of this kernel")
    return ctx.labels[op.name]


def _check_barrier(ins: Instruction) -> None:
    if form(ins).get("mode") != "sync":
        raise Unsupported("only bar.sync is modelled")
    if len(ins.operands) != 1:
        raise Unsupported("bar.sync with a thread count is not modelled")
    if not isinstance(ins.operands[0], IntImm):
        raise Unsupported("bar.sync needs an immediate barrier number")
