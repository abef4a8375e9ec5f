"""Operand access, decoded once per instruction: a reader `(machine, sel) -> values` for each
source and a writer `(machine, sel, values)` for the destination, each bound to the PTX type the
instruction reads or writes it as.

A register read as a type of its own width is a bit view (`.s32` on `%r`, `.b32` on `%f`); as
a narrower or wider integer type it is truncated or extended like a C cast. Reads check the
register's written-mask, so a thread that never wrote a register cannot read it. Immediates are
NumPy scalars of the instruction's type, so arithmetic stays in that type and wraps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..ptx import spec
from ..ptx.ir import F32Imm, Instruction, IntImm, Reg, SpecialReg, Symbol
from .values import DTYPES, SIGNED, STORAGE, UNSIGNED, immediate, is_signed

Reader = Callable[..., object]
Writer = Callable[..., None]
Decoder = Callable[..., Callable]  # (Instruction, DecodeContext) -> run(machine, sel)


@dataclass(frozen=True)
class Semantics:
    """An opcode's simulation: its decoder (None for the control flow the scheduler runs
    itself) and the forms it models, in words (docs/simulator.md's table)."""

    decode: Decoder | None
    modelled: str


class Unsupported(Exception):
    """The parser accepts this instruction form but the simulator has no semantics for it."""


@dataclass
class DecodeContext:
    """What decoding needs beyond the instruction: labels, shared symbols, parameters."""

    labels: dict[str, int]
    symbols: dict[str, tuple[int, int]]  # shared name -> (window address, bytes)
    params: dict[str, tuple[int, str]]  # name -> (position, PTX type)
    cache: dict = field(default_factory=dict)
    variables: dict[str, tuple[int, int]] = field(default_factory=dict)  # .global/.const
    # variable name -> (address, bytes)


def form(ins: Instruction) -> spec.Form:
    """The instruction's modifiers sorted into its opcode's groups (cached by the table)."""
    return spec.form_of(ins.opcode, ins.modifiers, strict=False)


def op_type(ins: Instruction, half: bool = False) -> str:
    """The instruction's `type` group. Half types only where `half`: the decoders that model
    them (data movement, conversions, `halfmath`) ask for them."""
    t = form(ins).get("type")
    if t is None:
        raise Unsupported("no type modifier")
    if t not in DTYPES or (t in spec.HALVES and not half):
        raise Unsupported(f"type .{t} is not modelled here")
    return t


def _reg_reader(ins: Instruction, reg: Reg, t: str) -> Reader:
    dt, storage = DTYPES[t], STORAGE[reg.kind]
    if (t == "pred") != (reg.kind == "p"):
        raise Unsupported(f"{reg} cannot be read as .{t}")
    if dt == storage:
        convert = None
    elif dt.itemsize == storage.itemsize:

        def convert(v):
            return v.view(dt)
    else:  # a C cast through the register's integer width with the type's signedness
        src = (SIGNED if is_signed(t) else UNSIGNED)[storage.itemsize]

        def convert(v):
            return v.view(src).astype(dt)

    name = str(reg)

    def read(m, sel):
        if not m.full[name]:
            m.check_written(name, sel, ins)
        v = m.store[name][sel]
        return v if convert is None else convert(v)

    return read


def _special_reader(ins: Instruction, op: SpecialReg, t: str) -> Reader:
    if t not in ("u32", "s32", "b32", "u16", "s16", "b16", "u64", "s64", "b64"):
        raise Unsupported(f"special register %{op.name} read as .{t}")
    dt = DTYPES[t]

    def read(m, sel):
        v = m.specials[op.name]
        return dt.type(v) if np.ndim(v) == 0 else v[sel].astype(dt)

    return read


def reader(ins: Instruction, op, t: str, ctx: DecodeContext | None = None) -> Reader:
    """A function `(m, sel) -> values of type t` for source operand `op`."""
    if t not in DTYPES:
        raise Unsupported(f"type .{t} is not modelled")
    if isinstance(op, Reg):
        return _reg_reader(ins, op, t)
    if isinstance(op, (IntImm, F32Imm)):
        value = immediate(op, t)
        return lambda m, sel: value
    if isinstance(op, SpecialReg):
        return _special_reader(ins, op, t)
    if isinstance(op, Symbol) and ctx is not None and op.name in ctx.symbols:
        if t not in ("u32", "u64", "b32", "b64", "s32", "s64"):
            raise Unsupported(f"shared symbol {op.name} read as .{t}")
        address = DTYPES[t].type(ctx.symbols[op.name][0])  # its address in the shared window
        return lambda m, sel: address
    if isinstance(op, Symbol) and ctx is not None and op.name in ctx.variables:
        if t not in ("u64", "b64", "s64"):
            raise Unsupported(f"the address of {op.name} read as .{t} (it is 64 bits)")
        variable = DTYPES[t].type(ctx.variables[op.name][0])
        return lambda m, sel: variable
    raise Unsupported(f"operand {op} cannot be read here")


def writer(ins: Instruction, op, t: str) -> Writer:
    """A function `(m, sel, values)` writing the destination register as type t."""
    if not isinstance(op, Reg):
        raise Unsupported(f"destination {op} is not a register")
    if t not in DTYPES:
        raise Unsupported(f"type .{t} is not modelled")
    dt, storage = DTYPES[t], STORAGE[op.kind]
    if (t == "pred") != (op.kind == "p"):
        raise Unsupported(f"{op} cannot hold a .{t} value")
    same = dt == storage
    view = dt.itemsize == storage.itemsize and not same

    name = str(op)

    def write(m, sel, values):
        store = m.store[name]
        if same:
            store[sel] = values
        elif view:
            store.view(dt)[sel] = values
        else:  # narrower or wider: extend or truncate like a C cast
            store[sel] = np.asarray(values, dtype=dt).astype(storage)
        if not m.full[name]:
            m.mark_written(name, sel)

    return write
