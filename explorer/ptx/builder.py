"""The only way to construct a `Kernel`: one call, one instruction.

`op` writes a fresh register by default; `set` writes an existing one (loop-carried state),
so an alias can never silently hold a stale value. `if_` and `loop` are the structured
helpers: they name the PTX they emit and make unique labels. No operator overloading.
The builder validates every instruction against `spec.OPCODES`, strictly (the type rules of
each modifier group included); it does not optimise.

Each instruction records the line of kernel code that asked for it (`Instruction.loc`, the
files in `Kernel.files`): the first caller outside `explorer/ptx/` and `contextlib`, so an
`if_` or `loop` instruction names the `with` line. The printer writes them as `.loc` lines
on request; they take no part in the IR's equality.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from . import spec
from .barriers import check_barriers
from .ir import (
    KIND_BITS,
    SIDE_FAMILY,
    TYPE_TO_KIND,
    Address,
    Comment,
    F32Imm,
    Guard,
    Instruction,
    IntImm,
    Kernel,
    Label,
    Operand,
    Param,
    Reg,
    SharedDecl,
    SpecialReg,
    Statement,
    Symbol,
    Vector,
)

Source = Operand | int | float
# A .bN result may land in any register of N bits (a shuffle of an f32 into an %f register).
BIT_TYPE_KINDS = {
    f"b{bits}": {k for k, b in KIND_BITS.items() if b == bits} for bits in (16, 32, 64)
}


def _operand(value: Source) -> Operand:
    if isinstance(value, bool):
        raise TypeError("a bool is not a PTX operand; use an int or a predicate register")
    if isinstance(value, int):
        return IntImm(value)
    if isinstance(value, float):
        return F32Imm.of(value)
    if isinstance(value, (Reg, SpecialReg, IntImm, F32Imm, Symbol, Address, Vector)):
        return value
    raise TypeError(f"not a PTX operand: {value!r}")


# Paths are written relative to the checkout (`explorer/kernels/common.py`): the same bytes
# on every machine.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PTX_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CONTEXTLIB = os.path.abspath(contextlib.__file__)


def source_path(filename: str) -> str:
    """The path a `.file` line names for a frame's `co_filename`: relative to the checkout
    where it lies inside, "" for a frame the record looks past (`explorer/ptx/`,
    `contextlib`)."""
    full = os.path.abspath(filename)
    if full.startswith(_PTX_DIR) or full == _CONTEXTLIB:
        return ""
    if full.startswith(ROOT + os.sep):
        return os.path.relpath(full, ROOT).replace(os.sep, "/")
    return full.replace(os.sep, "/")


def _split(name: str) -> tuple[str, tuple[str, ...]]:
    opcode, *mods = name.split(".")
    return opcode, tuple(mods)


class KernelBuilder:
    """Accumulates params, shared declarations and statements of one `.entry`."""

    def __init__(self, entry: str, max_threads: int | None = None,
                 cluster: tuple[int, int, int] | None = None) -> None:
        self.entry = entry
        self.max_threads = max_threads  # `.maxntid`: the most threads a launch may have
        self.cluster = cluster  # `.reqnctapercluster`: the CTAs of a thread-block cluster
        self._params: list[Param] = []
        self._shared: list[SharedDecl] = []
        self._body: list[Statement] = []
        self._next_index: dict[str, int] = {}
        self._family = ""
        self._labels: set[str] = set()
        self._files: dict[str, int] = {}  # source path -> its 1-based index in Kernel.files
        self._file_indices: dict[str, int] = {}  # co_filename -> that index, 0 to look past

    # -- declarations -------------------------------------------------------------------
    def param(self, name: str, type: str) -> Symbol:
        """Declare `.param .TYPE name` (in call order)."""
        self._params.append(Param(name, type))
        return Symbol(name)

    def shared(self, name: str, type: str, count: int, align: int = 4) -> Symbol:
        """Declare `.shared .align A .TYPE name[count]`."""
        self._shared.append(SharedDecl(name, type, count, align))
        return Symbol(name)

    # -- registers ----------------------------------------------------------------------
    def fresh(self, type: str) -> Reg:
        """A new register of the kind that holds `type` (`%r`, `%rd`, `%f`, `%p`, ...)."""
        return self.reserve(type, 1, 1)[0]

    def reserve(self, type: str, count: int, capacity: int) -> tuple[Reg, ...]:
        """`count` new registers from a block of `capacity` indices.

        Reserving the same capacity whatever `count` is keeps every later register's name
        unchanged when a parameter changes `count` (head_dim slots): the PTX diff stays small.
        """
        if not 0 <= count <= capacity:
            raise ValueError(f"reserve: count {count} outside 0..{capacity}")
        kind = TYPE_TO_KIND[type]
        prefix = self._family + kind
        start = self._next_index.get(prefix, 1)
        self._next_index[prefix] = start + capacity
        return tuple(Reg(kind, start + i, self._family) for i in range(count))

    @contextmanager
    def side_registers(self) -> Iterator[None]:
        """Registers made inside come from the side family (`%xr`, `%xrd`, `%xf`, `%xp`), with
        counters of their own: instrumentation renames none of the kernel's registers."""
        outer, self._family = self._family, SIDE_FAMILY
        try:
            yield
        finally:
            self._family = outer

    # -- instructions -------------------------------------------------------------------
    def op(self, name: str, *sources: Source, guard: Guard | None = None) -> Reg | Vector | None:
        """Emit `name dst, sources...` into a fresh register (a `Vector` of them for .v2/.v4)
        and return it.

        For an opcode that writes nothing (st, bar, bra, ret) emit `name sources...`.
        """
        opcode, mods = _split(name)
        form = spec.check(opcode, mods, len(sources) + (1 if _writes(opcode) else 0))
        if not form.row.writes:
            self._emit(opcode, mods, sources, guard)
            return None
        result = spec.result_type(form)
        width = spec.VECTOR_WIDTH.get(form.get("vector"), 0)
        dst = Vector(tuple(self.fresh(result) for _ in range(width or 1)))
        dst = dst if width else dst.regs[0]
        self._emit(opcode, mods, (dst, *sources), guard)
        return dst

    def set(self, dst: Reg | Vector, name: str, *sources: Source, guard: Guard | None = None):
        """Emit `name dst, sources...` writing an existing register (in-place update)."""
        opcode, mods = _split(name)
        form = spec.check(opcode, mods, len(sources) + 1)
        if not form.row.writes:
            raise ValueError(f"{name} writes no register; use op()")
        result = spec.result_type(form)
        if opcode == "mov" and isinstance(dst, Vector):  # unpack: mov.b32 {%rs1, %rs2}, %r1
            if sum(KIND_BITS[r.kind] for r in dst.regs) != spec.type_bits(result):
                raise ValueError(f"{name}: {dst} does not split a {result} exactly")
        else:
            want = BIT_TYPE_KINDS.get(result, {TYPE_TO_KIND[result]})
            for reg in dst.regs if isinstance(dst, Vector) else (dst,):
                if reg.kind not in want:
                    raise ValueError(f"{name}: destination {reg} is not a {result} register")
        self._emit(opcode, mods, (dst, *sources), guard)
        return dst

    def special(self, name: str) -> Reg:
        """`mov.u32 %rN, %<name>;` for a special register such as `tid.x`."""
        return self.op("mov.u32", SpecialReg(name))

    def comment(self, text: str) -> None:
        self._body.append(Comment(text))

    def _emit(self, opcode, mods, operands, guard) -> None:
        if guard is not None and (not isinstance(guard, Guard) or guard.pred.kind != "p"):
            raise ValueError(f"{'.'.join((opcode, *mods))}: guard {guard} is not a predicate")
        self._body.append(Instruction(opcode, mods, tuple(map(_operand, operands)), guard,
                                      loc=self._loc()))

    def _loc(self) -> tuple[int, int] | None:
        """(file index, line) of the kernel code behind the current op/set call: the first
        frame past this file and contextlib. One dict lookup per frame (co_filename -> index,
        0 to look past): it must not slow the default emit."""
        frame = sys._getframe(3)  # past _loc, _emit and op/set: all in this file
        indices = self._file_indices
        while frame is not None:
            name = frame.f_code.co_filename
            index = indices.get(name)
            if index is None:
                index = indices[name] = self._file_index(source_path(name))
            if index:
                return index, frame.f_lineno
            frame = frame.f_back
        return None

    def _file_index(self, path: str) -> int:
        """The 1-based index of `path` in the kernel's `files` (0 for "": no file)."""
        if not path:
            return 0
        return self._files.setdefault(path, len(self._files) + 1)

    # -- control flow -------------------------------------------------------------------
    def label(self, hint: str) -> Symbol:
        """A unique label name `$L_<hint>` (`$L_<hint>_1`, ... on reuse); place it with `place`."""
        name, uses = f"$L_{hint}", 0
        while name in self._labels:
            uses += 1
            name = f"$L_{hint}_{uses}"
        self._labels.add(name)
        return Symbol(name)

    def place(self, label: Symbol) -> None:
        self._body.append(Label(label.name))

    @contextmanager
    def if_(self, pred: Reg, hint: str = "if", negated: bool = False) -> Iterator[None]:
        """Run the body where `pred` holds (where it fails, with `negated`).

        Emits `@!%p bra $L_<hint>_end; <body> $L_<hint>_end:`.
        """
        end = self.label(f"{hint}_end")
        self.op("bra", end, guard=Guard(pred, negated=not negated))
        yield
        self.place(end)

    @contextmanager
    def loop(self, start: Source, stop: Source, hint: str, step: int = 1) -> Iterator[Reg]:
        """A counted loop over `i` in `[start, stop)`, yielding `i` (a u32 register).

        Emits `mov.u32 %i, start; $L_<hint>: setp.ge.u32 %p, %i, stop; @%p bra $L_<hint>_end;
        <body> add.u32 %i, %i, step; bra.uni $L_<hint>; $L_<hint>_end:`.
        """
        top, end = self.label(hint), self.label(f"{hint}_end")
        i = self.op("mov.u32", start)
        self.place(top)
        done = self.op("setp.ge.u32", i, stop)
        self.op("bra", end, guard=Guard(done))
        yield i
        self.set(i, "add.u32", i, step)
        self.op("bra.uni", top)
        self.place(end)

    # -- result -------------------------------------------------------------------------
    def build(self) -> Kernel:
        """The finished kernel; raises `BarrierError` if a barrier is unsafe."""
        kernel = Kernel(self.entry, tuple(self._params), tuple(self._shared), tuple(self._body),
                        self.max_threads, self.cluster, files=tuple(self._files))
        check_barriers(kernel)
        return kernel


def _writes(opcode: str) -> bool:
    row = spec.OPCODES.get(opcode)
    return bool(row and row.writes)
