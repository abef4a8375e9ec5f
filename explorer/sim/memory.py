"""Global and shared memory of one launch, with every access bounds-checked.

Global: each pointer argument gets a distinct fake 64-bit base address (argument i at
`(i + 1) << 40`); an address is translated back to (buffer, byte offset) and every byte accessed
must lie inside the array actually passed. Shared: one byte array per CTA, laid out from the
kernel's `.shared` declarations (each at its `.align`, then the dynamic `.extern .shared` region
sized at launch) in a window that starts at `SHARED_BASE`, not at 0, so code that assumes a
shared symbol sits at address 0 is caught (or, not strict, reported and allowed). Each access
must lie inside one declaration. Accesses must be naturally aligned, as on the hardware.
Generic addresses resolve by range (`generic_space`): a pointer argument's range is global,
the window is shared.

It translates and moves bytes; it does not know instructions or threads (callers turn a
`MemoryFault` into a `SimError` naming the thread).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ptx.ir import ModuleVariable, SharedDecl
from .values import DTYPES

GLOBAL_SHIFT = 40  # buffer i lives at (i + 1) << 40: 1 TiB apart
VARIABLE_INDEX = 1 << 20  # module variable j is buffer VARIABLE_INDEX + j, far above arguments
SHARED_BASE = 0x100  # first shared byte's address; 0 is never a valid shared address
POISON = 0xFF  # uninitialised shared bytes (an f32 NaN pattern)
MAX_SHARED_BYTES = 48 * 1024  # static .shared per CTA: ptxas rejects more
MAX_ALIGN = 1 << 16  # of a .shared declaration (the window is far smaller)
MAX_VARIABLE_BYTES = 1 << 26  # a module .global/.const variable (64 MiB: .const has 64 KiB)


class MemoryFault(Exception):
    """An access outside what was passed or declared; `bad` marks the offending addresses."""

    def __init__(self, what: str, bad: np.ndarray) -> None:
        super().__init__(what)
        self.what = what
        self.bad = bad


@dataclass
class Buffer:
    name: str
    base: int
    data: np.ndarray  # the argument's bytes (a uint8 view of the caller's array)
    writeable: bool

    def view(self, dt: np.dtype) -> np.ndarray:
        usable = self.data.size - self.data.size % dt.itemsize
        return self.data[:usable].view(dt)


class GlobalMemory:
    """The pointer arguments as buffers at fake, far-apart base addresses; the module's
    `.global`/`.const` variables (fresh per launch, `.const` read-only) far above them."""

    def __init__(self, pointers: list[tuple[str, np.ndarray]],
                 variables: tuple[ModuleVariable, ...] = ()) -> None:
        self.buffers = [
            Buffer(
                name,
                (i + 1) << GLOBAL_SHIFT,
                arr.reshape(-1).view(np.uint8),
                bool(arr.flags.writeable),
            )
            for i, (name, arr) in enumerate(pointers)
        ]
        self.variables = {
            VARIABLE_INDEX + j: Buffer(v.name, variable_address(j), variable_bytes(v),
                                       v.space == "global")
            for j, v in enumerate(variables)
        }

    def _buffer(self, i: int) -> Buffer | None:
        if 0 <= i < len(self.buffers):
            return self.buffers[i]
        return self.variables.get(i)

    def base_of(self, index: int) -> int:
        return self.buffers[index].base

    def load(self, addr: np.ndarray, dt: np.dtype, count: int) -> np.ndarray:
        """`count` consecutive values of `dt` at each address: shape (n, count)."""
        out = np.empty((len(addr), count), dtype=dt)
        for buf, where, elem in self._locate(addr, dt, count, "load"):
            out[where] = buf.view(dt)[elem[:, None] + np.arange(count)]
        return out

    def store(self, addr: np.ndarray, values: np.ndarray, dt: np.dtype) -> None:
        """Store values (shape (n, count)) at each address."""
        count = values.shape[1]
        for buf, where, elem in self._locate(addr, dt, count, "store"):
            if not buf.writeable:
                raise MemoryFault(f"global store into read-only buffer {buf.name}", where)
            buf.view(dt)[elem[:, None] + np.arange(count)] = values[where]

    def _locate(self, addr: np.ndarray, dt: np.dtype, count: int, verb: str):
        """Yield (buffer, which addresses, element index) for each buffer touched."""
        nbytes = dt.itemsize * count
        index = (addr >> np.uint64(GLOBAL_SHIFT)).astype(np.int64) - 1
        first = int(index[0])
        if 0 <= first < len(self.buffers) and (index == first).all():  # the usual case
            groups = [(first, slice(None))]
        else:
            groups = [(int(i), index == i) for i in np.unique(index)]
        for i, where in groups:
            buf = self._buffer(i)
            if buf is None:
                bad = index == i
                raise MemoryFault(
                    f"global {verb} of {nbytes} bytes at {int(addr[bad][0]):#x}: not inside any "
                    f"pointer argument",
                    bad,
                )
            off = (addr[where] - np.uint64(buf.base)).astype(np.int64)
            outside = off > buf.data.size - nbytes
            if outside.any():
                raise MemoryFault(
                    _outside(verb, nbytes, int(off[outside][0]), buf.name, buf.data.size),
                    _mark(where, outside, len(addr)),
                )
            misaligned = off % nbytes != 0
            if misaligned.any():
                o = int(off[misaligned][0])
                raise MemoryFault(
                    f"misaligned global {verb} of {nbytes} bytes at {buf.name}+{o}",
                    _mark(where, misaligned, len(addr)),
                )
            yield buf, where, off // dt.itemsize


def _outside(verb: str, nbytes: int, off: int, name: str, size: int) -> str:
    if off < 0:
        return f"out-of-bounds global {verb}: {-off} bytes before the start of {name}"
    return (
        f"out-of-bounds global {verb} of {nbytes} bytes at {name}+{off}: the buffer has "
        f"{size} bytes"
    )


def _mark(where, bad: np.ndarray, n: int) -> np.ndarray:
    """`bad` (over the addresses selected by `where`) as a mask over all n addresses."""
    full = np.zeros(n, dtype=bool)
    full[np.arange(n)[where][bad]] = True
    return full


def variable_address(j: int) -> int:
    """The address of the module's j-th `.global`/`.const` variable."""
    return (VARIABLE_INDEX + j + 1) << GLOBAL_SHIFT


def variable_bytes(v: ModuleVariable) -> np.ndarray:
    """A variable's initial bytes: its initializer's values in its type, zeros after them."""
    dt = DTYPES.get(v.type)
    if dt is None or v.type == "pred":
        raise ValueError(f".{v.space} {v.name}: element type .{v.type} is not supported")
    if v.count * dt.itemsize > MAX_VARIABLE_BYTES:
        raise ValueError(f".{v.space} {v.name}: {v.count} elements of .{v.type}; the simulator "
                         f"holds at most {MAX_VARIABLE_BYTES} bytes per module variable")
    data = np.zeros(v.count, dtype=dt)
    if v.init:
        if len(v.init) > v.count:
            raise ValueError(f".{v.space} {v.name}: {len(v.init)} initial values for "
                             f"{v.count} elements")
        data[:len(v.init)] = np.array(v.init).astype(dt)
    return data.view(np.uint8)


def shared_layout(
    decls: tuple[SharedDecl, ...], dynamic_bytes: int = 0
) -> tuple[dict[str, tuple[int, int]], int]:
    """{name: (address, bytes)} for each declaration, and the window size. Static arrays come
    first, each at its `.align`; every `.extern .shared` array names the one dynamic region
    after them (at the largest extern alignment), `dynamic_bytes` long."""
    symbols, cursor = {}, SHARED_BASE
    for d in decls:
        _check_decl(d)
        if d.extern:
            continue
        cursor = -(-cursor // d.align) * d.align
        symbols[d.name] = (cursor, d.count * DTYPES[d.type].itemsize)
        cursor += d.count * DTYPES[d.type].itemsize
        if cursor - SHARED_BASE > MAX_SHARED_BYTES:
            raise ValueError(f".shared {d.name}: the declarations need {cursor - SHARED_BASE} "
                             f"bytes; a CTA's static shared memory is at most {MAX_SHARED_BYTES}")
    externs = [d for d in decls if d.extern]
    if externs:
        align = max(d.align for d in externs)
        cursor = -(-cursor // align) * align
        for d in externs:
            symbols[d.name] = (cursor, dynamic_bytes)
        cursor += dynamic_bytes
    return symbols, -(-cursor // 16) * 16


def _check_decl(d: SharedDecl) -> None:
    if d.type not in DTYPES or d.type == "pred":
        raise ValueError(f".shared {d.name}: element type .{d.type} is not supported")
    if d.align < 1 or d.align & (d.align - 1) or d.align > MAX_ALIGN:
        raise ValueError(f".shared {d.name}: .align {d.align} is not a power of two up to "
                         f"{MAX_ALIGN}")


def static_shared_bytes(decls: tuple[SharedDecl, ...]) -> int:
    """The bytes the static declarations take (padding included), dynamic memory excluded."""
    symbols, _ = shared_layout(tuple(d for d in decls if not d.extern))
    return max((a + n for a, n in symbols.values()), default=SHARED_BASE) - SHARED_BASE


def generic_space(addr: np.ndarray) -> str:
    """Where generic addresses point: "global" (every one in a pointer argument's range) or
    "shared" (every one below, in the shared window); a mix raises MemoryFault."""
    is_global = (np.asarray(addr, dtype=np.uint64) >> np.uint64(GLOBAL_SHIFT)) != 0
    if is_global.all():
        return "global"
    if is_global.any():
        raise MemoryFault("a generic access whose threads point at both global and shared "
                          "memory is not modelled", is_global)
    return "shared"


class SharedMemory:
    """One byte window per CTA; addresses are window addresses (symbols start at SHARED_BASE).

    Not `strict`: an address below SHARED_BASE that lands inside a declaration once the
    window is taken to start at 0 (code that assumes its symbol sits at offset 0, as on the
    hardware it may) is accessed there, and `relied_on_zero` keeps the first such address of
    the last `flat` call for its caller to report (`memops.shared_offsets` does)."""

    def __init__(self, decls: tuple[SharedDecl, ...], nctas: int, dynamic_bytes: int = 0,
                 strict: bool = True) -> None:
        self.symbols, self.window = shared_layout(decls, dynamic_bytes)
        self.data = np.full(nctas * self.window, POISON, dtype=np.uint8)
        spans: dict[int, int] = {}
        for a, n in self.symbols.values():  # extern arrays share one region
            spans[a] = max(spans.get(a, 0), n)
        ranges = sorted(spans.items())
        self.starts = np.array([a for a, _ in ranges], dtype=np.int64)
        self.ends = np.array([a + n for a, n in ranges], dtype=np.int64)
        self.names = {a: name for name, (a, _) in self.symbols.items()}
        self.strict = strict
        self.relied_on_zero: int | None = None

    def _inside(self, a: np.ndarray, nbytes: int) -> np.ndarray:
        if len(self.starts) == 0:
            return np.zeros(len(a), dtype=bool)
        if len(self.starts) == 1:
            return (a >= self.starts[0]) & (a + nbytes <= self.ends[0])
        k = np.searchsorted(self.starts, a, side="right") - 1
        return (k >= 0) & (a + nbytes <= self.ends[np.maximum(k, 0)])

    def flat(self, addr: np.ndarray, cta: np.ndarray, nbytes: int, verb: str) -> np.ndarray:
        """Flat byte offsets into `data` of each access, checked against the declarations."""
        a = addr.astype(np.int64)
        self.relied_on_zero = None  # about this call only
        inside = self._inside(a, nbytes)
        if not inside.all() and not self.strict:
            raw = ~inside & (a >= 0) & (a < SHARED_BASE)
            moved = np.where(raw, a + SHARED_BASE, a)
            if raw.any() and self._inside(moved[raw], nbytes).all():
                self.relied_on_zero = int(a[raw][0])
                a, inside = moved, inside | raw
        if not inside.all():
            bad = ~inside
            raise MemoryFault(
                f"out-of-bounds shared {verb} of {nbytes} bytes at shared address "
                f"{int(a[bad][0]):#x}: declared {self.describe()}",
                bad,
            )
        misaligned = a % nbytes != 0
        if misaligned.any():
            raise MemoryFault(
                f"misaligned shared {verb} of {nbytes} bytes at {int(a[misaligned][0]):#x}",
                misaligned,
            )
        return cta * self.window + a

    def describe(self) -> str:
        if not self.symbols:
            return "no shared memory"
        return ", ".join(f"{n} at [{a:#x}, {a + s:#x})" for n, (a, s) in self.symbols.items())

    def load(self, flat: np.ndarray, dt: np.dtype, count: int) -> np.ndarray:
        view = self.data.view(dt)
        return view[(flat // dt.itemsize)[:, None] + np.arange(count)]

    def store(self, flat: np.ndarray, values: np.ndarray, dt: np.dtype) -> None:
        view = self.data.view(dt)
        view[(flat // dt.itemsize)[:, None] + np.arange(values.shape[1])] = values
