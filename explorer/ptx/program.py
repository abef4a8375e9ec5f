"""What any backend needs to run PTX, whoever wrote it: a `Program` (the PTX text and each
entry's parameter list), a `Launch` (entry, grid, block, dynamic shared bytes, arguments) and a
`BufferSpec` (a buffer a producer asks the runtime to allocate).

Plain frozen dataclasses, standard library only. A `Launch` names buffers by string and holds
scalars as numbers, so one list of launches serves every backend; it knows no kernel class,
so nvcc's or Triton's PTX launches the same way as the project's kernels. It allocates and
runs nothing (see `explorer.runtime`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .ir import Kernel
from .parser import parse_module
from .printer import emit

ROLES = ("input", "output", "workspace", "counter")
POINTER_TYPES = ("u64", "b64", "s64")  # a 64-bit parameter may carry a buffer's address


@dataclass(frozen=True)
class Entry:
    """One `.entry` of a module: its name and `(name, PTX type)` of each parameter, in order."""

    name: str
    params: tuple[tuple[str, str], ...]

    @staticmethod
    def of(kernel: Kernel) -> Entry:
        return Entry(kernel.entry, tuple((p.name, p.type) for p in kernel.params))


@dataclass(frozen=True)
class Program:
    """A PTX module and its entries (what a backend loads once and launches from)."""

    ptx: str
    entries: tuple[Entry, ...]

    @staticmethod
    def from_ptx(text: str) -> Program:
        """The entries and parameter lists of PTX text, read by `explorer.ptx.parser`
        (`PtxParseError` naming the line for text outside its subset)."""
        if not isinstance(text, str):
            raise ValueError(f"text must be PTX text (a str), got {type(text).__name__}")
        return Program(text, tuple(Entry.of(k) for k in parse_module(text).kernels))

    @staticmethod
    def from_ir(kernels: Sequence[Kernel], target: str, version: str,
                line_info: bool = False) -> Program:
        """The module `emit` prints for `kernels` (`.file`/`.loc` lines with `line_info`),
        with their entries (no parsing needed)."""
        return Program(emit(kernels, target=target, version=version, line_info=line_info),
                       tuple(Entry.of(k) for k in kernels))

    def entry(self, name: str) -> Entry:
        """The entry called `name`; ValueError listing the module's entries otherwise."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        names = ", ".join(e.name for e in self.entries) or "none"
        raise ValueError(f"entry {name!r} is not in this program (entries: {names})")


@dataclass(frozen=True)
class Launch:
    """One launch: the entry, grid and block (3 ints each), dynamic shared-memory bytes, and
    the arguments in parameter order. A `str` argument names a buffer (or a scalar) of the
    run's buffers; any other argument is a scalar passed as it is. `programmatic`: the launch
    may begin before the previous launch on its stream has finished (programmatic dependent
    launch, sm_90+); its PTX must `griddepcontrol.wait` before it reads what that one wrote.
    Backends that run launches one after another (the simulator) ignore it."""

    entry: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    args: tuple
    shared_bytes: int = 0
    programmatic: bool = False


@dataclass(frozen=True)
class BufferSpec:
    """A buffer of a run: `name` (as the launches' arguments name it), `shape`, `dtype` (a
    NumPy dtype name: "float32", "uint16"...), and `role`:

    | role | the runtime |
    |---|---|
    | input | copies the caller's array (read-only on the simulator); not read back |
    | output | fills with `fill` (a poison: an element no kernel wrote shows); reads back |
    | workspace | fills with `fill` (a poison); does not read back |
    | counter | fills with `fill` (0: the kernel must find, and leave, zeros) |

    `storage` is the producer's name for the element type where NumPy's differs (bf16 data
    lives in uint16), for messages."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    role: str
    fill: int | float = 0
    storage: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role={self.role!r}; accepted: {', '.join(ROLES)}")
