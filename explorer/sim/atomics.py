"""Semantics of `atom` (read-modify-write, d = the old value) and `red` (the same, no result) on
`.global`, `.shared` and generic addresses.

The threads of one step apply their operation one after another in thread order (the lowest
global thread index first), each on the value the previous one left: every result an
order-free program can observe is the hardware's, and the rest is one of the hardware's
possible outcomes. Memory is sequentially consistent, so `.relaxed/.acquire/.release/.acq_rel`
and `.cta/.gpu/.sys` change nothing. Operations (PTX ISA): add (integers wrap; f32 rounds to
nearest, on global memory flushing subnormal inputs and results to zero as the hardware does;
f64), inc `old >= b ? 0 : old + 1`, dec `old == 0 || old > b ? b : old - 1`, min, max,
and/or/xor, exch, cas `old == b ? c : old`. Every address is bounds- and alignment-checked
(and global buffers for writeability) before any thread's update. Atomics are not tracked by
the shared-memory race check.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import Instruction
from .memops import _address
from .memory import GLOBAL_SHIFT, MemoryFault
from .operands import DecodeContext, Semantics, Unsupported, form, op_type, reader, writer
from .values import DTYPES, UNSIGNED, flush_f32, is_float

_INTS = ("u32", "s32", "u64", "s64")
TYPES_OF = {  # op -> the types the PTX ISA defines it for
    "add": ("u32", "s32", "u64", "f32", "f64"),
    "inc": ("u32",),
    "dec": ("u32",),
    "min": _INTS,
    "max": _INTS,
    "and": ("b32", "b64"),
    "or": ("b32", "b64"),
    "xor": ("b32", "b64"),
    "exch": ("b32", "b64"),
    "cas": ("b32", "b64"),
}


def _inc(old, b):
    return np.where(old >= b, old.dtype.type(0), old + old.dtype.type(1))


def _dec(old, b):
    return np.where((old == 0) | (old > b), b, old - old.dtype.type(1))


UPDATES = {  # op -> new value from (old, b, c)
    "add": lambda old, b, c: old + b,
    "inc": lambda old, b, c: _inc(old, b),
    "dec": lambda old, b, c: _dec(old, b),
    "min": lambda old, b, c: np.minimum(old, b),
    "max": lambda old, b, c: np.maximum(old, b),
    "and": lambda old, b, c: old & b,
    "or": lambda old, b, c: old | b,
    "xor": lambda old, b, c: old ^ b,
    "exch": lambda old, b, c: b,
    "cas": lambda old, b, c: np.where(old == b, c, old),
}


def _flushing_add(old, b, c):
    return flush_f32(flush_f32(old) + flush_f32(b))


class _Location:
    """Loads and stores of one state space at the addresses of some threads, checked once."""

    def __init__(self, m, space: str, addr: np.ndarray, cta: np.ndarray, dt: np.dtype):
        self.m, self.space, self.dt = m, space, dt
        if space == "global":
            self.keys = addr
            m.glob.store(addr, m.glob.load(addr, dt, 1), dt)  # bounds, alignment, writeable
        else:
            self.keys = m.shared.flat(addr, cta, dt.itemsize, "atomic update")

    def load(self, who: np.ndarray) -> np.ndarray:
        if self.space == "global":
            return self.m.glob.load(self.keys[who], self.dt, 1)[:, 0]
        return self.m.shared.load(self.keys[who], self.dt, 1)[:, 0]

    def store(self, who: np.ndarray, values: np.ndarray) -> None:
        column = np.asarray(values, self.dt)[:, None]
        if self.space == "global":
            self.m.glob.store(self.keys[who], column, self.dt)
        else:
            self.m.shared.store(self.keys[who], column, self.dt)


def in_thread_order(loc: _Location, update, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Apply `update` for each thread in index order; threads at distinct locations go in one
    round, so round r updates every location its r-th thread touches. Returns the old values."""
    order, starts, ends = _locations(loc.keys)
    sizes = ends - starts
    old = np.empty(len(loc.keys), loc.dt)
    for r in range(int(sizes.max()) if len(sizes) else 0):
        who = order[starts[sizes > r] + r]
        current = loc.load(who)
        old[who] = current
        loc.store(who, update(current, b[who], c[who]))
    return old


SCANS = {"add": np.add, "min": np.minimum, "max": np.maximum, "and": np.bitwise_and,
         "or": np.bitwise_or, "xor": np.bitwise_xor}  # ops whose running result is a ufunc scan


def _locations(keys: np.ndarray):
    """(stable thread order by location, each location's first and end position in it)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts, np.r_[starts[1:], len(keys)]


def location_by_location(loc: _Location, op: str, b: np.ndarray, ftz: bool):
    """The same result as `in_thread_order` with one scan per location (for few, busy
    locations: a sum of every thread into one counter): each thread's old value is the running
    result of the threads before it there. None if a flushed f32 sum passes a subnormal (the
    rounds flush it; a scan cannot)."""
    order, starts, ends = _locations(loc.keys)
    old, finals = np.empty(len(b), loc.dt), np.empty(len(starts), loc.dt)
    current = loc.load(order[starts])
    for k, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        who = order[lo:hi]
        if op == "exch":
            old[who], finals[k] = np.r_[current[k:k + 1], b[who][:-1]], b[who][-1]
            continue
        terms = np.r_[current[k:k + 1], b[who]]
        running = SCANS[op].accumulate(flush_f32(terms) if ftz else terms, dtype=loc.dt)
        if ftz and (flush_f32(running) != running).any():
            return None
        old[who], finals[k] = np.r_[current[k:k + 1], running[1:-1]], running[-1]
    loc.store(order[starts], finals)
    return old


def _wrapping_add(loc: _Location, b: np.ndarray) -> np.ndarray:
    """Integer add in one pass: each thread's old value is the location's value plus the
    adds of the earlier threads at that location (modulo 2^N: unsigned sums wrap alike)."""
    n, u = len(loc.keys), UNSIGNED[loc.dt.itemsize]
    everyone = np.arange(n)
    before = loc.load(everyone).view(u).astype(np.uint64)
    order = np.argsort(loc.keys, kind="stable")
    keys, adds = loc.keys[order], b.view(u).astype(np.uint64)[order]
    first = np.r_[True, keys[1:] != keys[:-1]]
    running = np.cumsum(adds, dtype=np.uint64)  # wraps modulo 2^64, so modulo 2^N too
    group_base = (running - adds)[np.maximum.accumulate(np.where(first, everyone, 0))]
    old = np.empty(n, np.uint64)
    old[order] = before[order] + running - adds - group_base
    last = np.r_[first[1:], True]
    final = before[order][last] + running[last] - group_base[last]
    loc.store(order[last], final.astype(u).view(loc.dt))
    return old.astype(u).view(loc.dt)


def _spaces(space: str | None, addr: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(space, which threads) pairs: a generic address is global where it lies in the global
    range (addr >> GLOBAL_SHIFT nonzero) and a shared window address elsewhere, as memops'
    generic loads and stores read them."""
    if space is not None:
        return [(space, np.arange(len(addr)))]
    is_global = (addr >> np.uint64(GLOBAL_SHIFT)) != 0
    return [(s, np.flatnonzero(w)) for s, w in (("global", is_global), ("shared", ~is_global))
            if w.any()]


def _decode(ins: Instruction, ctx: DecodeContext, returns: bool):
    f = form(ins)
    op, t, space = f.get("op"), op_type(ins), f.get("space")
    if t not in TYPES_OF[op]:
        raise Unsupported(f"{ins.opcode}.{op} is defined for {', '.join(TYPES_OF[op])}, not .{t}")
    dt = DTYPES[t]
    operands = ins.operands[1:] if returns else ins.operands
    address = _address(ins, operands[0], space, ctx)
    sources = [reader(ins, o, t, ctx) for o in operands[1:]]
    if len(sources) != (2 if op == "cas" else 1):
        raise Unsupported(f"{ins.opcode}.{op} takes {'two values' if op == 'cas' else 'one value'}")
    write = writer(ins, ins.operands[0], t) if returns else None

    def run(m, sel):
        n = m.T if isinstance(sel, slice) else len(sel)
        addr = np.broadcast_to(np.asarray(address(m, sel), np.uint64), (n,))
        values = [np.broadcast_to(np.asarray(s(m, sel), dt), (n,)) for s in sources]
        b, c = values[0], values[-1]  # c: cas's new value (the others ignore it)
        old = np.empty(n, dt)
        for where_space, who in _spaces(space, addr):
            old[who] = _update(m, sel, ins, where_space, addr[who], who, op, t, b[who], c[who])
        if write is not None:
            write(m, sel, old)

    return run


def _update(m, sel, ins, space, addr, who, op, t, b, c):
    """The old values of the threads `who` of `sel`, updating `space` in thread order."""
    dt = DTYPES[t]
    try:
        loc = _Location(m, space, addr, m.cta[m.indices(sel)[who]], dt)
    except MemoryFault as fault:
        bad = np.zeros(len(m.indices(sel)), bool)
        bad[who[fault.bad]] = True
        raise m.fail(fault.what, ins, sel, bad) from None
    if op == "add" and not is_float(t):
        return _wrapping_add(loc, b)
    ftz = (op, t, space) == ("add", "f32", "global")
    if op in SCANS or op == "exch":
        _, starts, ends = _locations(loc.keys)
        if len(starts) < (ends - starts).max():  # fewer locations than rounds
            old = location_by_location(loc, op, b, ftz)
            if old is not None:
                return old
    return in_thread_order(loc, _flushing_add if ftz else UPDATES[op], b, c)


def decode_atom(ins: Instruction, ctx: DecodeContext):
    return _decode(ins, ctx, returns=True)


def decode_red(ins: Instruction, ctx: DecodeContext):
    return _decode(ins, ctx, returns=False)


_FORMS = (
    ".global/.shared/generic: add (.u32/.s32/.u64 wrapping, .f32, .f64), inc/dec .u32, "
    "min/max integers, and/or/xor .b32/.b64"
)
SEMANTICS = {
    "atom": Semantics(
        decode_atom,
        f"{_FORMS}, exch and cas .b32/.b64; threads in thread order; any .sem and .scope",
    ),
    "red": Semantics(decode_red, f"{_FORMS}; threads in thread order; any .sem and .scope"),
}
