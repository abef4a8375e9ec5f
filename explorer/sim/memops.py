"""Semantics of `ld` and `st` in the param, global, const and shared state spaces (and generic
addresses), scalar and `.v2/.v4`.

`ld.param` reads a launch argument (a pointer argument reads its fake base address). Global
addresses are 64-bit register values (or a module `.global` variable) plus the immediate
offset; `.const` reaches the module's `.const` variables (read-only); shared addresses are a
shared symbol or a 32- or 64-bit register value plus the offset, in the shared window. Every
access is bounds-checked by `memory`; with `check_races`, shared accesses also go through
`races`. `.local` is not modelled. Memory is sequentially consistent, so the memory-order
qualifiers (`.relaxed.gpu`, ...) change nothing; cache and eviction hints (`.ca`, `.nc`,
`.L1::no_allocate`, ...) are ignored.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import Address, Instruction, Reg, Symbol, Vector
from ..ptx.spec import VECTOR_WIDTH
from .errors import SimError
from .memory import MemoryFault, generic_space
from .operands import DecodeContext, Semantics, Unsupported, form, op_type, reader, writer
from .races import RaceFound
from .values import DTYPES


def _layout(ins: Instruction) -> tuple[str | None, int, str]:
    """(state space or None for generic, vector count, element type)."""
    f = form(ins)
    space = f.get("space")
    space = "shared" if space == "shared::cta" else space  # this CTA's window: plain .shared
    if space == "local":
        raise Unsupported(f".{space} memory is not modelled")
    count = VECTOR_WIDTH.get(f.get("vector"), 1)
    t = op_type(ins, half=True)
    if t == "pred":
        raise Unsupported("ld/st of .pred")
    return space, count, t


def _address(ins: Instruction, op, space: str | None, ctx: DecodeContext):
    """`(m, sel) -> uint64 address array or scalar` for the memory operand."""
    if not isinstance(op, Address):
        raise Unsupported(f"memory operand {op} is not an address")
    off = op.offset
    if isinstance(op.base, Symbol):
        if space in ("shared", "shared::cluster") and op.base.name in ctx.symbols:
            addr = np.uint64((ctx.symbols[op.base.name][0] + off) % (1 << 64))  # wraps
            return lambda m, sel: addr
        if space in (None, "global", "const") and op.base.name in ctx.variables:
            addr = np.uint64((ctx.variables[op.base.name][0] + off) % (1 << 64))
            return lambda m, sel: addr
        raise Unsupported(f"address of symbol {op.base.name} in .{space or 'generic'} space")
    width = "u64" if op.base.kind == "rd" else "u32"
    if op.base.kind not in ("rd", "r"):
        raise Unsupported(f"address register {op.base} must be a .b32 or .b64 register")
    base = reader(ins, op.base, width, ctx)
    dt = np.dtype(np.uint64 if width == "u64" else np.uint32)
    delta = dt.type(off % (1 << (8 * dt.itemsize)))  # offsets wrap in the address width
    return lambda m, sel: np.asarray(base(m, sel) + delta, dtype=np.uint64)


def _param_reader(ins: Instruction, op, t: str, count: int, ctx: DecodeContext):
    if not isinstance(op, Address) or not isinstance(op.base, Symbol):
        raise Unsupported("ld.param needs [param_name]")
    name = op.base.name
    if name not in ctx.params or op.offset != 0 or count != 1:
        raise Unsupported(f"ld.param of {op}: only whole scalar kernel parameters")
    dt = DTYPES[t]

    def load(m, sel):
        value = m.param_values[name]
        if isinstance(value, float):
            scalar = dt.type(value)
        else:
            scalar = np.array(value % (1 << (8 * dt.itemsize)), dtype=np.uint64).astype(dt)
        return np.full((_count(m, sel), 1), scalar, dtype=dt)

    return load


def _count(m, sel) -> int:
    return m.T if isinstance(sel, slice) else len(sel)


def _access(m, sel, ins: Instruction, space, addr, dt, count: int, values=None):
    """Load (values None) or store at `addr` for the threads of `sel`; dispatch by space."""
    n = _count(m, sel)
    addr = np.broadcast_to(np.asarray(addr, dtype=np.uint64), (n,))
    verb = "load" if values is None else "store"
    try:
        if space is None:
            space = generic_space(addr)
        if space in ("global", "const"):  # module .const variables live with the global ones
            if values is None:
                return m.glob.load(addr, dt, count)
            return m.glob.store(addr, values, dt)
        if space == "shared::cluster":  # any CTA of the cluster, by the address' rank
            flat = m.clusters.flat(m, ins, sel, addr, dt.itemsize * count, verb)
        else:
            flat = shared_offsets(m, ins, sel, addr, dt.itemsize * count, verb)
        if m.races is not None:
            track = m.races.read if values is None else m.races.write
            track(flat, dt.itemsize * count, m.indices(sel), ins.line)
        if values is None:
            return m.shared.load(flat, dt, count)
        return m.shared.store(flat, values, dt)
    except MemoryFault as fault:
        raise m.fail(fault.what, ins, sel, fault.bad) from None
    except RaceFound as race:
        raise SimError(race.what, ins, m.coords(race.thread), m.coords(race.other)) from None


def shared_offsets(m, ins: Instruction, sel, addr: np.ndarray, nbytes: int, verb: str):
    """Flat offsets of shared accesses (`SharedMemory.flat`), with the finding of a launch that
    is not strict recorded against `ins` when an access relied on its symbol sitting at 0.
    Raises MemoryFault as `flat` does."""
    flat = m.shared.flat(addr, m.cta[sel], nbytes, verb)
    if m.shared.relied_on_zero is not None:
        m.note(ins, "shared at 0", f"shared address {m.shared.relied_on_zero:#x} is outside "
               "every declared shared symbol; this relies on the symbol sitting at offset 0")
        m.shared.relied_on_zero = None
    return flat


def _registers(op, count: int) -> tuple:
    regs = op.regs if isinstance(op, Vector) else (op,)
    if len(regs) != count:
        raise Unsupported(f"{len(regs)} registers for a .v{count} access")
    return regs


def decode_ld(ins: Instruction, ctx: DecodeContext):
    space, count, t = _layout(ins)
    dt = DTYPES[t]
    regs = _registers(ins.operands[0], count)
    if not all(isinstance(r, Reg) for r in regs):
        raise Unsupported("ld destination must be registers")
    writers = [writer(ins, r, t) for r in regs]
    if space == "param":
        load = _param_reader(ins, ins.operands[1], t, count, ctx)
    else:
        address = _address(ins, ins.operands[1], space, ctx)

        def load(m, sel):
            return _access(m, sel, ins, space, address(m, sel), dt, count)

    def run(m, sel):
        values = load(m, sel)
        for k, write in enumerate(writers):
            write(m, sel, values[:, k])

    return run


def decode_st(ins: Instruction, ctx: DecodeContext):
    space, count, t = _layout(ins)
    if space == "param":
        raise Unsupported("st.param is not modelled (kernel parameters are read-only)")
    dt = DTYPES[t]
    address = _address(ins, ins.operands[0], space, ctx)
    src = ins.operands[1]
    parts = src.regs if isinstance(src, Vector) else (src,)
    if len(parts) != count:
        raise Unsupported(f"{len(parts)} values for a .v{count} store")
    readers = [reader(ins, p, t, ctx) for p in parts]

    def run(m, sel):
        n = _count(m, sel)
        values = np.empty((n, count), dtype=dt)
        for k, read in enumerate(readers):
            values[:, k] = read(m, sel)
        _access(m, sel, ins, space, address(m, sel), dt, count, values)

    return run


def decode_prefetch(ins: Instruction, ctx: DecodeContext):
    """A hint: the address is computed (its registers must be set), nothing is read."""
    if form(ins).get("space") != "global":
        raise Unsupported("only prefetch.global.L1 and prefetch.global.L2 are modelled")
    address = _address(ins, ins.operands[0], "global", ctx)

    def run(m, sel):
        address(m, sel)

    return run


def decode_membar(ins: Instruction, ctx: DecodeContext):
    """The simulator's memory is sequentially consistent: every access is seen at once."""
    return lambda m, sel: None


SEMANTICS = {
    "ld": Semantics(
        decode_ld,
        ".param (scalars), .global, .const, .shared (::cta), .shared::cluster (any CTA of the "
        "cluster), generic; .v2/.v4; bounds-checked; ordering, cache and eviction qualifiers "
        "ignored",
    ),
    "st": Semantics(
        decode_st,
        ".global, .shared (::cta), .shared::cluster, generic; .v2/.v4; bounds-checked; "
        "ordering, cache and eviction qualifiers ignored",
    ),
    "membar": Semantics(
        decode_membar, ".cta/.gl/.sys: nothing to do (memory is sequentially consistent)"
    ),
    "fence": Semantics(
        decode_membar, ".sc/.acq_rel at .cta/.cluster/.gpu/.sys: nothing to do (memory is "
        "sequentially consistent)"
    ),
    "griddepcontrol": Semantics(
        decode_membar, ".wait/.launch_dependents: nothing to do (the simulator runs a run's "
        "launches one after another, each to its end)"
    ),
    "prefetch": Semantics(
        decode_prefetch,
        ".global.L1/.L2: the address is computed, nothing else (a hint, never a fault)",
    ),
}
