"""`.func` calls, inlined at load time: an entry's body with every `call` replaced by the
callee's body, so the scheduler sees one flat program and divergence inside a function works
as anywhere else.

Each inlined call gets its own copy of the callee's registers (renamed `%<n>:r5`) and labels,
its `ret` becomes a branch to the point after the call, and a guarded call is skipped by a
branch on the negated guard. Call arguments live in the param space: `st.param`/`ld.param` of
a name that is not a kernel parameter read and write a *slot* register per (name, width), and
a call binds the callee's parameter names to the caller's slots. Every instruction keeps the
one it came from (`Site.shown`) for error messages: line and text are the PTX the user wrote.
Recursion, calls of functions without a body (other than the few `BUILTINS` nvcc's `-G` code
calls) and param accesses at an offset become unsupported sites, raised when reached.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from ..ptx import spec
from ..ptx.ir import (
    Address,
    Function,
    Guard,
    Instruction,
    Kernel,
    Label,
    ParamList,
    Reg,
    RegPair,
    Symbol,
    Vector,
)

MAX_DEPTH = 16  # nested calls; deeper is taken for recursion
# Functions nvcc declares without a body (its -G code calls them for atomics): the atom
# instruction each stands for, `ret = f(address, value)`.
BUILTINS = {
    "__uAtomicAdd": ("add", "u32"),
    "__iAtomicAdd": ("add", "s32"),
    "__ullAtomicAdd": ("add", "u64"),
    "__fAtomicAdd": ("add", "f32"),
    "__uAtomicMax": ("max", "u32"),
    "__iAtomicMax": ("max", "s32"),
    "__uAtomicMin": ("min", "u32"),
    "__iAtomicMin": ("min", "s32"),
    "__uAtomicExch": ("exch", "b32"),
    "__uAtomicAnd": ("and", "b32"),
    "__uAtomicOr": ("or", "b32"),
    "__uAtomicXor": ("xor", "b32"),
}
_SLOT_KIND = {8: "rs", 16: "rs", 32: "r", 64: "rd"}
_MOVE_TYPES = ("b16", "b32", "b64", "u16", "u32", "u64", "s16", "s32", "s64", "f32", "f64")


@dataclass(frozen=True)
class Site:
    """One instruction of the flat program: what runs (`ins`), what the user wrote
    (`shown`), or why it cannot run (`why`)."""

    shown: Instruction
    ins: Instruction
    why: str = ""


@dataclass(frozen=True)
class _Frame:
    prefix: str  # register and slot prefix of this inlined copy ("" for the entry)
    labels: frozenset[str]  # the body's own labels, renamed in this copy
    slots: dict[str, str]  # the callee's parameter names -> the caller's slot names
    ret: str | None  # the label after the call (None in the entry: ret ends the thread)
    stack: tuple[str, ...]


class _Inliner:
    def __init__(self, functions: tuple[Function, ...], kernel: Kernel) -> None:
        self.functions = {f.name: f for f in functions}
        self.kernel_params = {p.name for p in kernel.params}
        self.out: list[Label | Site] = []
        self.counter = itertools.count(1)

    def body(self, stmts, frame: _Frame) -> None:
        for stmt in stmts:
            if isinstance(stmt, Label):
                self.out.append(Label(self.label(stmt.name, frame)))
            elif isinstance(stmt, Instruction):
                self.instruction(stmt, frame)

    def label(self, name: str, frame: _Frame) -> str:
        return f"{frame.prefix}{name}" if frame.prefix else name

    def reg(self, r: Reg, frame: _Frame) -> Reg:
        if not frame.prefix:
            return r
        if r.name:
            return replace(r, name=frame.prefix + r.name)
        return replace(r, family=frame.prefix + r.family)

    def operand(self, op, frame: _Frame):
        if isinstance(op, Reg):
            return self.reg(op, frame)
        if isinstance(op, Address) and isinstance(op.base, Reg):
            return Address(self.reg(op.base, frame), op.offset)
        if isinstance(op, Vector):
            return Vector(tuple(self.reg(r, frame) for r in op.regs))
        if isinstance(op, RegPair):
            return RegPair(self.reg(op.value, frame), self.reg(op.pred, frame))
        if isinstance(op, Symbol) and op.name in frame.labels:
            return Symbol(self.label(op.name, frame))
        return op

    def renamed(self, ins: Instruction, frame: _Frame) -> Instruction:
        guard = ins.guard and Guard(self.reg(ins.guard.pred, frame), ins.guard.negated)
        ops = tuple(self.operand(op, frame) for op in ins.operands)
        return replace(ins, operands=ops, guard=guard)

    def instruction(self, ins: Instruction, frame: _Frame) -> None:
        if ins.opcode == "call":
            self.call(ins, frame)
            return
        run = self.renamed(ins, frame)
        why = ""
        if ins.opcode in ("ld", "st") and spec.form_of(ins.opcode, ins.modifiers,
                                                       strict=False).get("space") == "param":
            run, why = self.param_access(run, frame)
        elif ins.opcode == "ret" and frame.ret is not None:
            run = Instruction("bra", (), (Symbol(frame.ret),), run.guard, line=ins.line)
        self.out.append(Site(ins, run, why))

    def slot_name(self, name: str, frame: _Frame) -> str:
        return frame.slots.get(name) or f"{frame.prefix}{name}"

    def slot(self, name: str, t: str) -> Reg:
        bits = max(16, spec.type_bits(t))
        return Reg(_SLOT_KIND[bits], 0, name=f"param:{name}:{bits}")

    def param_access(self, ins: Instruction, frame: _Frame) -> tuple[Instruction, str]:
        """`ld.param`/`st.param` of a call slot as a `mov` from or to its slot register."""
        mem = ins.operands[1] if ins.opcode == "ld" else ins.operands[0]
        if not isinstance(mem, Address) or not isinstance(mem.base, Symbol):
            return ins, "a param-space access needs [name]"
        name = mem.base.name
        if not frame.prefix and name in self.kernel_params:
            return ins, ""  # a kernel parameter: ld.param reads the launch argument
        f = spec.form_of(ins.opcode, ins.modifiers, strict=False)
        t = f.get("type")
        if mem.offset or f.get("vector"):
            return ins, f"{ins.name} of {mem}: call parameters at an offset are not modelled"
        if t not in _MOVE_TYPES:  # bytes and halves: a slot holds bits
            t = f"b{max(16, spec.type_bits(t))}"
        slot = self.slot(self.slot_name(name, frame), t)
        pair = (ins.operands[0], slot) if ins.opcode == "ld" else (slot, ins.operands[1])
        return Instruction("mov", (t,), pair, ins.guard, line=ins.line), ""

    def call(self, ins: Instruction, frame: _Frame) -> None:
        ops = list(ins.operands)
        rets = ops.pop(0).items if ops and isinstance(ops[0], ParamList) else ()
        target = ops.pop(0) if ops else None
        args = ops.pop(0).items if ops and isinstance(ops[0], ParamList) else ()
        if not isinstance(target, Symbol) or ops:
            return self.refuse(ins, "call needs (returns), a function name, (arguments)")
        name = target.name
        if name in BUILTINS and name not in self.functions:
            return self.builtin(ins, frame, name, rets, args)
        f = self.functions.get(name)
        if f is None:
            return self.refuse(ins, f"call of {name}: the module gives no body for it")
        if name in frame.stack or len(frame.stack) >= MAX_DEPTH:
            return self.refuse(ins, f"call of {name}: recursion is not modelled")
        if len(rets) != len(f.returns) or len(args) != len(f.params):
            return self.refuse(ins, f"call of {name} with {len(rets)} return and {len(args)} "
                                    f"argument parameters; it declares {len(f.returns)} and "
                                    f"{len(f.params)}")
        k = next(self.counter)
        slots = {p.name: self.slot_name(a.name, frame)
                 for p, a in zip(f.returns + f.params, rets + args, strict=True)}
        labels = frozenset(s.name for s in f.body if isinstance(s, Label))
        inner = _Frame(f"{k}:", labels, slots, f"$__return{k}", (*frame.stack, name))
        if ins.guard is not None:  # a guarded call: the threads whose guard fails skip it
            skip = Guard(self.reg(ins.guard.pred, frame), not ins.guard.negated)
            self.out.append(Site(ins, Instruction("bra", (), (Symbol(inner.ret),), skip,
                                                  line=ins.line)))
        self.body(f.body, inner)
        self.out.append(Label(inner.ret))

    def builtin(self, ins: Instruction, frame: _Frame, name: str, rets, args) -> None:
        op, t = BUILTINS[name]
        if len(rets) != 1 or len(args) != 2:
            return self.refuse(ins, "an atomic builtin takes (address, value) and returns one")
        bits = spec.type_bits(t)
        ret = self.slot(self.slot_name(rets[0].name, frame), f"b{bits}")
        addr = self.slot(self.slot_name(args[0].name, frame), "b64")
        value = self.slot(self.slot_name(args[1].name, frame), f"b{bits}")
        guard = ins.guard and Guard(self.reg(ins.guard.pred, frame), ins.guard.negated)
        atom = Instruction("atom", (op, t), (ret, Address(addr), value), guard, line=ins.line)
        self.out.append(Site(ins, atom))

    def refuse(self, ins: Instruction, why: str) -> None:
        self.out.append(Site(ins, ins, why))


def flatten(functions: tuple[Function, ...], kernel: Kernel) -> list[Label | Site]:
    """The entry's body with every call inlined: labels and sites, in program order."""
    inliner = _Inliner(functions, kernel)
    labels = frozenset(s.name for s in kernel.body if isinstance(s, Label))
    inliner.body(kernel.body, _Frame("", labels, {}, None, ()))
    return inliner.out
