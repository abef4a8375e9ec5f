"""The app's "PTX file" source without widgets: PTX from a paste or a path (`PtxSource`), and
the run form derived from one `.entry`'s parameters (`RunForm`, one `ParamField` per
parameter, `form_for` with its defaults) and its validation.

A form holds `explorer.run_ptx`'s argument words field by field (a pointer's dtype, shape and
fill; a scalar's value), so the app, `Explorer.from_ptx(**form)` and `python -m explorer
run-ptx --arg` describe a launch alike. Every problem is a ValueError naming the field (and the
line, for PTX that does not parse). It runs nothing (`foreign_session.py` does), draws nothing
(`foreign_panes.py`) and knows no kernel class.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .. import run_ptx
from ..arch import ARCHS
from ..ptx import Program
from ..ptx.ir import Address, Instruction, Kernel, Reg
from ..ptx.parser import parse_module
from ..ptx.program import POINTER_TYPES, Entry

PASTED = "pasted PTX"
BACKENDS = ("auto", "sim", "cuda", "both")
KINDS = ("array", "number")  # what a parameter is passed as
SPECIAL_FILLS = ("null",)  # and any path ending in .npy
FILL_CHOICES = (*run_ptx.FILL_KINDS[:-1], "full=1", *SPECIAL_FILLS)
DEFAULT_ARRAY = ("f32", "1024", "randn")
DEFAULT_BLOCK = 32
EXTERN_SHARED_GUESS = 1024  # bytes, where the entry declares an extern .shared sized at launch
MAX_SHARED = max(a.shared_per_cta for a in ARCHS.values())
MAX_THREADS = 1024
FLOAT_TYPES = frozenset({"f16", "bf16", "f32", "f64"})


class LaunchValues(NamedTuple):
    """One launch with its argument values, for tools that launch PTX themselves (a trace of
    the lanes): each argument an array or a number, in parameter order."""

    ptx: str
    entry: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    args: list
    shared_bytes: int


# ---------------------------------------------------------------------------------- source

@dataclass(frozen=True)
class PtxSource:
    """PTX text, its name (the file, or "pasted PTX") and what parsing it found: the entries'
    parameter lists (`program`), each entry's `.reqntid`/`.maxntid` thread count, its extern
    shared declarations, the 64-bit parameters it uses as numbers, and the `.target`."""

    name: str
    text: str
    program: Program
    max_threads: dict[str, int | None] = field(compare=False)
    extern_shared: dict[str, bool] = field(compare=False)
    numbers: dict[str, frozenset[str]] = field(compare=False)
    target: str | None = None

    @staticmethod
    def from_text(text: str, name: str = PASTED) -> PtxSource:
        """Parse PTX text; ValueError naming the problem (and the line, for a parse error)."""
        if not isinstance(text, str):
            raise ValueError(f"{name}: expected PTX text (a str), got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"{name} is empty: paste a PTX module or give a .ptx path")
        if ".entry" not in text and ".version" not in text:
            raise ValueError(f"{name} does not look like PTX: it has no .version and no "
                             ".entry line")
        try:
            module = parse_module(text)
        except ValueError as err:  # PtxParseError names the line
            raise ValueError(f"{name}: {err}") from None
        if not module.kernels:
            raise ValueError(f"{name} has no .entry (a module of .func only cannot be "
                             "launched)")
        kernels = module.kernels
        return PtxSource(
            name, text, Program(text, tuple(Entry.of(k) for k in kernels)),
            {k.entry: k.max_threads for k in kernels},
            {k.entry: any(s.extern for s in k.shared) for k in kernels},
            {k.entry: _numbers_of(k) for k in kernels}, module.target)

    @staticmethod
    def from_path(path: str | Path) -> PtxSource:
        """Read and parse a PTX file; ValueError naming the path when it cannot be read, is
        not text or is not PTX."""
        file = Path(path).expanduser()
        if not file.is_file():
            raise ValueError(f"{path}: no such file" if not file.exists() else
                             f"{path}: not a file")
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not PTX: it is not UTF-8 text") from None
        except OSError as err:
            raise ValueError(f"{path}: cannot read it ({err.strerror or err})") from None
        return PtxSource.from_text(text, file.name)

    @staticmethod
    def open(text_or_path: str | Path) -> PtxSource:
        """A path (a `Path`, or one line without braces) or PTX text."""
        if isinstance(text_or_path, Path):
            return PtxSource.from_path(text_or_path)
        text = text_or_path if isinstance(text_or_path, str) else ""
        one_line = text.strip() and "\n" not in text.strip() and "{" not in text
        if one_line and ".entry" not in text:
            return PtxSource.from_path(text.strip())
        return PtxSource.from_text(text_or_path)

    @property
    def entries(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.program.entries)

    def params(self, entry: str) -> tuple[tuple[str, str], ...]:
        return self.program.entry(entry).params

    @property
    def lines(self) -> int:
        return self.text.count("\n") + (not self.text.endswith("\n"))

    def summary(self, entry: str) -> str:
        """One line: the entry, the module's lines and entries, the entry's parameters."""
        params = self.params(entry)
        others = len(self.entries) - 1
        more = f" (+{others} other entr{'y' if others == 1 else 'ies'})" if others else ""
        return (f"{entry}{more} · {self.lines} lines · {len(params)} parameter"
                f"{'' if len(params) == 1 else 's'}: "
                + ", ".join(f"{n} .{t}" for n, t in params))


def _numbers_of(kernel: Kernel) -> frozenset[str]:
    """The 64-bit parameters the entry uses as numbers (a `size_t n`): loaded by ld.param,
    compared by setp, and never converted by cvta or used as an address."""
    wide = {p.name for p in kernel.params if p.type in POINTER_TYPES}
    loaded: dict[Reg, str] = {}
    compared: set[str] = set()
    addresses: set[str] = set()
    for ins in kernel.body:
        if not isinstance(ins, Instruction):
            continue
        if ins.opcode == "ld" and "param" in ins.modifiers and isinstance(ins.operands[0], Reg):
            source = ins.operands[-1]
            if isinstance(source, Address) and getattr(source.base, "name", "") in wide:
                loaded[ins.operands[0]] = source.base.name
            continue
        for operand in ins.operands:
            reg = operand.base if isinstance(operand, Address) else operand
            name = loaded.get(reg) if isinstance(reg, Reg) else None
            if name is None:
                continue
            if ins.opcode == "cvta" or isinstance(operand, Address):
                addresses.add(name)
            elif ins.opcode == "setp":
                compared.add(name)
    return frozenset(compared - addresses)


# ------------------------------------------------------------------------------------ form

@dataclass(frozen=True)
class ParamField:
    """One parameter's row of the run form: an array (`dtype`, `shape`, `fill`: a fill word,
    `null` or a .npy path) or a number (`value`). 64-bit parameters may be either."""

    name: str
    ptx_type: str
    kind: str = "array"
    dtype: str = DEFAULT_ARRAY[0]
    shape: str = DEFAULT_ARRAY[1]
    fill: str = DEFAULT_ARRAY[2]
    value: str = "0"

    @property
    def pointer(self) -> bool:
        return self.ptx_type in POINTER_TYPES

    def word(self) -> str:
        """The `run_ptx` argument word of this row."""
        if self.kind == "number":
            return f"{self.ptx_type}:{self.value.strip()}" if self.pointer else self.value.strip()
        fill = self.fill.strip()
        if fill in SPECIAL_FILLS or fill.endswith(".npy"):
            return fill
        return f"{self.dtype}:{self.shape.strip()}:{fill}"

    def problem(self) -> str | None:
        """What is wrong with the row, naming the parameter and the field; None if nothing."""
        if self.kind not in KINDS or (self.kind == "array" and not self.pointer):
            return f"parameter {self.name} (.{self.ptx_type}): kind {self.kind!r}; accepted: " \
                   + ("array, number" if self.pointer else "number")
        word = self.word()
        try:
            if self.kind == "array" and word not in SPECIAL_FILLS and not word.endswith(".npy"):
                run_ptx.parse_array_word(word, self.name)  # checks without allocating
            elif word.endswith(".npy"):
                if not Path(word).expanduser().is_file():
                    return f"parameter {self.name}: fill {word}: no such .npy file"
            else:
                run_ptx.make_argument(word, self.name, self.ptx_type, None)
        except ValueError as err:
            if self.kind == "number":
                return (f"parameter {self.name} (.{self.ptx_type}): value {self.value!r} is "
                        "not a number (accepted: 512, 0x10, -1, 2.5)")
            return str(err)
        return None

    @staticmethod
    def from_word(name: str, ptx_type: str, word: object) -> ParamField:
        """The row that gives `word` (an argument word, or a number)."""
        text = str(word).strip()
        pointer = ptx_type in POINTER_TYPES
        if not pointer:
            return ParamField(name, ptx_type, "number", value=text)
        number = run_ptx.NUMBER_WORD.match(text)
        if number:
            return ParamField(name, ptx_type, "number", value=number["value"])
        parts = text.split(":")
        if len(parts) == 3:
            return ParamField(name, ptx_type, "array", *parts)
        if text in SPECIAL_FILLS or text.endswith(".npy"):
            return ParamField(name, ptx_type, "array", fill=text)
        return ParamField(name, ptx_type, "number", value=text)  # checked by `problem`


@dataclass(frozen=True)
class RunForm:
    """The launch of one entry: a row per parameter, grid and block (`"4"`, `"32,4"`), dynamic
    shared bytes, backend (auto, sim, cuda or both) and the seed of the random fills."""

    entry: str
    params: tuple[ParamField, ...]
    grid: str = "1"
    block: str = str(DEFAULT_BLOCK)
    shared_bytes: str = "0"
    backend: str = "auto"
    seed: int = 0

    def words(self) -> list[str]:
        return [p.word() for p in self.params]

    def param(self, name: str) -> ParamField:
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(f"{self.entry} has no parameter {name!r}; its parameters: "
                         + ", ".join(p.name for p in self.params))

    def with_param(self, name: str, **changes) -> RunForm:
        """The form with one row changed (`kind`, `dtype`, `shape`, `fill`, `value`)."""
        row = dataclasses.replace(self.param(name), **changes)
        return dataclasses.replace(self, params=tuple(row if p.name == name else p
                                                      for p in self.params))

    def replace(self, **changes) -> RunForm:
        return dataclasses.replace(self, **changes)

    def dims(self) -> tuple[tuple[int, int, int], tuple[int, int, int], int]:
        """(grid, block, shared bytes) checked; ValueError naming the field."""
        grid = run_ptx.parse_dims(self.grid, "grid", prefix="")
        block = run_ptx.parse_dims(self.block, "block", prefix="")
        threads = math.prod(block)
        if threads > MAX_THREADS:
            raise ValueError(f"block {self.block!r}: {threads} threads; accepted: at most "
                             f"{MAX_THREADS} per CTA")
        try:
            shared = int(str(self.shared_bytes).strip())
        except ValueError:
            shared = -1
        if not 0 <= shared <= MAX_SHARED:
            raise ValueError(f"dynamic shared bytes {self.shared_bytes!r}; accepted: an "
                             f"integer 0..{MAX_SHARED}")
        return grid, block, shared

    def problems(self, source: PtxSource | None = None) -> list[str]:
        """Every field the launch cannot take, each named (empty: it can run)."""
        problems = [p for p in (row.problem() for row in self.params) if p]
        try:
            _, block, _ = self.dims()
        except ValueError as err:
            problems.append(str(err))
            block = None
        if self.backend not in BACKENDS:
            problems.append(f"backend {self.backend!r}; accepted: {', '.join(BACKENDS)}")
        if not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"seed {self.seed!r}; accepted: an integer >= 0")
        if source is not None:
            problems += _entry_problems(self, source, block)
        return problems


def _entry_problems(form: RunForm, source: PtxSource, block) -> list[str]:
    if form.entry not in source.entries:
        return [f"entry {form.entry!r} is not in {source.name} (entries: "
                f"{', '.join(source.entries)})"]
    problems = []
    names = [n for n, _ in source.params(form.entry)]
    if [p.name for p in form.params] != names:
        problems.append(f"{form.entry} takes {len(names)} parameters ({', '.join(names)}); "
                        f"the form has {len(form.params)}")
    limit = source.max_threads.get(form.entry)
    if block is not None and limit is not None and math.prod(block) > limit:
        problems.append(f"block {form.block!r}: {math.prod(block)} threads; {form.entry} "
                        f"declares .maxntid/.reqntid {limit}")
    return problems


def default_param(name: str, ptx_type: str, as_number: bool = False) -> ParamField:
    """A pointer: f32:1024:randn; a number: the default arrays' length (a size guess) for
    an integer, 1.0 for a float (a scale of 0 would hide everything)."""
    if ptx_type in POINTER_TYPES and not as_number:
        return ParamField(name, ptx_type)
    value = "1.0" if ptx_type in FLOAT_TYPES else DEFAULT_ARRAY[1]
    return ParamField(name, ptx_type, "number", value=value)


def form_for(source: PtxSource, entry: str | None = None, *, args: list | None = None,
             grid: object = None, block: object = None, shared_bytes: object = None,
             backend: str | None = None, seed: int | None = None, **by_name) -> RunForm:
    """The run form of `entry` (default: the module's first) with defaults, then `args` (one
    word or number per parameter) and parameters given by name (`n=500`, `x="f32:500:randn"`).
    Grid and block take `4`, `"32,4"` or a tuple. ValueError for an unknown entry or
    parameter, or a wrong number of `args`."""
    entry = source.entries[0] if entry is None else entry
    params = source.program.entry(entry).params  # ValueError listing the entries
    numbers = source.numbers.get(entry, frozenset())
    rows = [default_param(n, t, n in numbers) for n, t in params]
    if args is not None:
        if len(args) != len(params):
            listed = ", ".join(f"{n} (.{t})" for n, t in params)
            raise ValueError(f"{entry} takes {len(params)} arguments ({listed}); got "
                             f"{len(args)}")
        rows = [ParamField.from_word(n, t, a) for (n, t), a in zip(params, args, strict=True)]
    names = [n for n, _ in params]
    for name, word in by_name.items():
        if name not in names:
            raise ValueError(f"{entry} has no parameter {name!r}; its parameters: "
                             f"{', '.join(names)} (and the form's grid, block, shared_bytes, "
                             "backend, seed, args)")
        rows[names.index(name)] = ParamField.from_word(name, dict(params)[name], word)
    threads = source.max_threads.get(entry)
    shared = EXTERN_SHARED_GUESS if source.extern_shared.get(entry) else 0
    return RunForm(entry, tuple(rows), _dims_text(grid, "1"),
                   _dims_text(block, str(threads or DEFAULT_BLOCK)),
                   str(shared if shared_bytes is None else shared_bytes),
                   backend or "auto", 0 if seed is None else seed)


def _dims_text(value: object, default: str) -> str:
    if value is None:
        return default
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)
