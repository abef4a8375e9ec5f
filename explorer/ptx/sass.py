"""SASS read back from ptxas' cubin, instruction by instruction, with the source line each one
maps to and the registers live at it.

`sass_listing` assembles PTX with `ptxas -lineinfo` and runs `nvdisasm --print-line-info-inline`
(the line table: the PTX's `.loc` lines, carried through) and `nvdisasm --life-range-mode count`
(live GPR, predicate and uniform registers per instruction); one `SassInstruction` each. For
the project's PTX emitted with `line_info=True` the lines are the kernels' Python lines; for
nvcc's `-lineinfo` PTX, its CUDA C lines. `with_ptx_locs` rewrites any PTX so that its line
table names the PTX's own lines, which maps SASS to PTX lines whoever wrote it, and
`ptx_sources` reads the `.loc` each PTX line had, for the chain SASS -> PTX -> source.
`live_registers` is the register-pressure record of one entry: live registers along the SASS,
the phases (`// phase:` comments) placed at their first SASS instruction, ptxas' count.

Standard library only; ptxas and nvdisasm are found like `explorer.ptx.ptxas` finds ptxas
(`$NVDISASM`, the NVIDIA pip wheel, PATH). It parses nvdisasm's text; it draws nothing
(`explorer.plots.live_registers_figure` does) and launches nothing.
"""

from __future__ import annotations

import bisect
import re
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from . import ptxas as _ptxas
from .scan import scan

__all__ = [
    "LiveRegisters",
    "NvdisasmError",
    "NvdisasmNotFound",
    "PhaseStart",
    "SassInstruction",
    "SassListing",
    "disassemble",
    "find_nvdisasm",
    "group_by_line",
    "live_registers",
    "parse_life_ranges",
    "parse_listing",
    "phase_marks",
    "phase_starts",
    "ptx_sources",
    "registers_of",
    "run_nvdisasm",
    "sass_listing",
    "with_ptx_locs",
]

NVDISASM_HINT = 'pip install "nvidia-cuda-nvdisasm>=13,<14" (the same 13.x line as ptxas)'
NVDISASM_WHEEL_SUBDIRS = ("cu13/bin", "cuda_nvdisasm/bin")
# The file name `with_ptx_locs` gives the PTX in its line table.
PTX_FILE = "kernel.ptx"
PHASE_PREFIX = "// phase:"


class NvdisasmNotFound(RuntimeError):
    """No nvdisasm executable was found (environment variable, pip wheel or PATH)."""

    def __init__(self) -> None:
        super().__init__(f"nvdisasm not found. Install it with {NVDISASM_HINT}, or point the "
                         "NVDISASM environment variable at an nvdisasm executable.")


class NvdisasmError(RuntimeError):
    """nvdisasm failed on the cubin; the message holds the start of its output."""


@dataclass(frozen=True)
class SassInstruction:
    """One SASS instruction: its function (the `.text.<name>` section it lies in: ptxas'
    internal subroutines lie in their caller's), its position there (`index`, from 0) and byte
    `offset`, its text (`@P0 BRA `(.L_x_3) ;`), the source line the cubin's line table maps it
    to (None without line info) with the call sites it was inlined at, outermost last, and the
    live register counts nvdisasm gives (GPR, predicate, uniform; None if not asked for)."""

    function: str
    index: int
    offset: int
    text: str
    file: str | None = None
    line: int | None = None
    inlined_at: tuple[tuple[str, int], ...] = ()
    live_gpr: int | None = None
    live_pred: int | None = None
    live_ugpr: int | None = None

    @property
    def opcode(self) -> str:
        """`BRA` of `@P0 BRA `(.L_x_3) ;`: the first word after any guard."""
        match = re.match(r"(?:@!?\w+\s+)?([\w.]+)", self.text)
        return match.group(1) if match else ""

    @property
    def source(self) -> tuple[str, int] | None:
        """(file, line) of the outermost call site: the line a reader of the source wrote
        (for nvcc's inlined intrinsics, the `.cu` line that called them)."""
        if self.inlined_at:
            return self.inlined_at[-1]
        return None if self.file is None else (self.file, self.line)


# ---------------------------------------------------------------- running nvdisasm


def find_nvdisasm() -> str | None:
    """Path of nvdisasm: `$NVDISASM`, the pip wheel, then PATH; else None."""
    return _ptxas.find_tool("nvdisasm", "NVDISASM", NVDISASM_WHEEL_SUBDIRS)


def run_nvdisasm(cubin: bytes, options: Iterable[str], nvdisasm: str | None = None,
                 timeout: float = 60) -> str:
    """nvdisasm's text for `cubin` with `options` (code sections only: `-c`)."""
    exe = nvdisasm or find_nvdisasm()
    if exe is None:
        raise NvdisasmNotFound()
    with tempfile.TemporaryDirectory(prefix="explorer-sass-") as tmp:
        path = Path(tmp, "kernel.cubin")
        path.write_bytes(cubin)
        try:
            done = subprocess.run([exe, "-c", *options, str(path)], capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise NvdisasmError(f"nvdisasm timed out after {timeout} s") from exc
    if done.returncode != 0:
        raise NvdisasmError(f"nvdisasm failed (exit {done.returncode}): "
                            f"{(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout


def disassemble(cubin: bytes, nvdisasm: str | None = None) -> tuple[SassInstruction, ...]:
    """Every SASS instruction of `cubin` with its line (two nvdisasm runs: nvdisasm prints
    line info or life ranges, never both) and its live register counts."""
    exe = nvdisasm or find_nvdisasm()
    with ThreadPoolExecutor(max_workers=2) as pool:  # two processes: half the wall time
        lines = pool.submit(run_nvdisasm, cubin, ["--print-line-info-inline"], exe)
        ranges = pool.submit(run_nvdisasm, cubin, ["--life-range-mode", "count"], exe)
        listing, live = parse_listing(lines.result()), parse_life_ranges(ranges.result())
    return tuple(_with_live(ins, live.get((ins.function, ins.offset), {})) for ins in listing)


def _with_live(ins: SassInstruction, counts: dict[str, int]) -> SassInstruction:
    return replace(ins, live_gpr=counts.get("GPR"), live_pred=counts.get("PRED"),
                   live_ugpr=counts.get("UGPR"))


# ---------------------------------------------------------------- parsing nvdisasm's text

_SECTION = re.compile(r"^//-+ \.text\.(\S+)\s+-+")
_INSTRUCTION = re.compile(r"^\s*/\*([0-9a-fA-F]{4,})\*/\s*(.*?;)\s*(?://(.*))?$")
_FILE_LINE = re.compile(r'^\s*//## File "([^"]*)", line (\d+)(.*)$')
_INLINED = re.compile(r' inlined at "([^"]*)", line (\d+)')


def parse_listing(text: str) -> list[SassInstruction]:
    """The instructions of `nvdisasm -c [-g | -gi]` text, each with the line its last
    `//## File` comments name: the first of a group is the innermost location, and each
    line's `inlined at` is the next call site out (`-gi` writes one line per inlining level).
    The line carries over until the next comment, and resets per function."""
    out: list[SassInstruction] = []
    function, where, group_open = "", (None, None, ()), False
    index = 0
    for raw in text.splitlines():
        if m := _SECTION.match(raw):
            function, where, group_open, index = m.group(1), (None, None, ()), False, 0
        elif m := _FILE_LINE.match(raw):
            callers = tuple((f, int(n)) for f, n in _INLINED.findall(m.group(3)))
            if group_open:
                where = (where[0], where[1], where[2] + callers)
            else:
                where = (m.group(1), int(m.group(2)), callers)
            group_open = True
        elif m := _INSTRUCTION.match(raw):
            file, line, inlined = where
            out.append(SassInstruction(function, index, int(m.group(1), 16),
                                       _squash(m.group(2)), file, line, inlined))
            index, group_open = index + 1, False
    return out


def _squash(text: str) -> str:
    """`@!P2 LDG.E R26, [R8.64+0x100] ;` with nvdisasm's column padding reduced to spaces."""
    return re.sub(r"\s+", " ", text).strip()


def parse_life_ranges(text: str) -> dict[tuple[str, int], dict[str, int]]:
    """(function, offset) -> live count per register file (`GPR`, `PRED`, `UGPR`: the
    columns nvdisasm prints) from `nvdisasm -c --life-range-mode count` text; a blank count
    is 0."""
    counts: dict[tuple[str, int], dict[str, int]] = {}
    function, names = "", []
    for raw in text.splitlines():
        if m := _SECTION.match(raw):
            function, names = m.group(1), []
        elif not names and re.match(r"^\s*//\s*\|\s*[A-Z]", raw):
            names = [cell.strip() for cell in raw.split("//", 1)[1].strip().strip("|").split("|")]
        elif (m := _INSTRUCTION.match(raw)) and m.group(3) and names:
            cells = m.group(3).strip().strip("|").split("|")
            values = [int(c) if c.strip() else 0 for c in (cell.strip() for cell in cells)]
            counts[(function, int(m.group(1), 16))] = dict(zip(names, values, strict=False))
    return counts


def group_by_line(instructions: Iterable[SassInstruction]) -> dict[int, list[SassInstruction]]:
    """Source line -> its SASS instructions, in SASS order (instructions without a line are
    left out): with `with_ptx_locs` PTX, the SASS under each PTX line."""
    groups: dict[int, list[SassInstruction]] = {}
    for ins in instructions:
        if ins.line is not None:
            groups.setdefault(ins.line, []).append(ins)
    return groups


# ---------------------------------------------------------------- PTX and its line table


@dataclass(frozen=True)
class SassListing:
    """What one `ptxas -lineinfo` run and its disassembly give: ptxas' report per entry and
    every SASS instruction of the module, function by function."""

    target: str
    reports: dict[str, _ptxas.PtxasReport]
    instructions: tuple[SassInstruction, ...]

    def of(self, function: str) -> tuple[SassInstruction, ...]:
        """The instructions of `function`; ValueError naming the module's functions."""
        found = tuple(ins for ins in self.instructions if ins.function == function)
        if not found:
            names = ", ".join(dict.fromkeys(i.function for i in self.instructions)) or "none"
            raise ValueError(f"function {function!r} has no SASS here (functions: {names})")
        return found


def sass_listing(ptx: str, target: str = "sm_80", *, ptxas: str | None = None,
                 nvdisasm: str | None = None) -> SassListing:
    """Assemble `ptx` with `ptxas -lineinfo -v` and disassemble it: each SASS instruction with
    the line its PTX's `.loc` gave (none where the PTX has no `.loc`: see `with_ptx_locs`)
    and its live registers. Raises PtxasNotFound, PtxasError, NvdisasmNotFound or
    NvdisasmError."""
    reports, cubin = _ptxas.assemble_with_cubin(ptx, target, ptxas=ptxas, line_info=True)
    return SassListing(target, reports, disassemble(cubin, nvdisasm))


def _instruction_lines(items) -> set[int]:
    """The lines where an instruction starts (a body statement that is not a directive)."""
    return {item.line for item in items if item.kind == "stmt" and not item.text.startswith(".")}


def with_ptx_locs(ptx: str, name: str = PTX_FILE) -> str:
    """`ptx` with its line table naming its own lines: `.loc K N 0` before each line N that
    starts an instruction (N counted in `ptx`, so the SASS maps to the text as given), its
    own `.loc` lines dropped, and `.file K "name"` added at the end (K: a file index it does
    not use yet). Any PTX the parser scans; the code ptxas makes from it is unchanged."""
    items = scan(ptx)
    starts = _instruction_lines(items)
    old_locs = {item.line for item in items if item.kind == "line" and item.text.startswith(".loc")}
    used = [int(m.group(1)) for m in re.finditer(r"^\s*\.file\s+(\d+)", ptx, re.M)]
    index = max(used, default=0) + 1
    out = []
    for number, raw in enumerate(ptx.splitlines(), start=1):
        if number in old_locs:
            continue
        if number in starts:
            out.append(f"\t.loc {index} {number} 0")
        out.append(raw)
    out.append(f'.file {index} "{name}"')
    return "\n".join(out) + "\n"


_LOC = re.compile(r"\.loc\s+(\d+)\s+(\d+)")
_INLINED_AT = re.compile(r"\binlined_at\s+(\d+)\s+(\d+)")
_FILE = re.compile(r'\.file\s+(\d+)\s+"([^"]*)"')


def ptx_sources(ptx: str, *, outermost: bool = False) -> dict[int, tuple[str, int]]:
    """PTX line of each instruction -> (file, line) of the last `.loc` before it in its body
    (the innermost location of an inlined one, as nvdisasm's `-g` names it; `outermost`: its
    `inlined_at` call site, followed through the `.loc` lines before it that name that site,
    to the line the author wrote); instructions without a `.loc` are left out."""
    files = {int(m.group(1)): m.group(2) for m in _FILE.finditer(ptx)}
    sources: dict[int, tuple[str, int]] = {}
    current = None
    sites: dict[tuple[int, int], tuple[int, int]] = {}  # a location -> where it was inlined
    for item in scan(ptx):
        if item.kind == "open" and (".entry" in item.text or ".func" in item.text):
            current, sites = None, {}
        elif item.kind == "line" and (m := _LOC.match(item.text)):
            where = (int(m.group(1)), int(m.group(2)))
            if site := _INLINED_AT.search(item.text):
                sites[where] = (int(site.group(1)), int(site.group(2)))
                if outermost:
                    where = _outermost(sites, where)
            current = (files.get(where[0], f"file {where[0]}"), where[1])
        elif current and item.kind == "stmt" and not item.text.startswith("."):
            sources[item.line] = current
    return sources


def _outermost(sites: dict[tuple[int, int], tuple[int, int]],
               where: tuple[int, int]) -> tuple[int, int]:
    seen = {where}
    while where in sites and sites[where] not in seen:
        where = sites[where]
        seen.add(where)
    return where


# ---------------------------------------------------------------- register pressure


@dataclass(frozen=True)
class PhaseStart:
    """A `// phase: name` comment (at PTX line `ptx_line`) and the first SASS instruction
    made from the PTX lines up to the next phase (`index`, in SASS order)."""

    name: str
    ptx_line: int
    index: int

    @property
    def short(self) -> str:
        return short_phase(self.name)


def short_phase(name: str) -> str:
    """`chunk loop (warp w walks ...)` -> `chunk loop`; `warp reduction done; lane 0 ...` ->
    `warp reduction done`. A comma does not end it: `the last, partial tile` stays whole."""
    return re.split(r"[(;:]", name, maxsplit=1)[0].strip()


@dataclass(frozen=True)
class LiveRegisters:
    """Register pressure of one entry: its SASS (each instruction's `line` is its PTX line,
    `live_gpr` the GPRs live there), the phases' first instructions, ptxas' register count,
    and the source line behind each PTX line where the PTX had `.loc` lines."""

    entry: str
    target: str
    instructions: tuple[SassInstruction, ...]
    phases: tuple[PhaseStart, ...]
    ptxas_registers: int
    sources: dict[int, tuple[str, int]]

    @property
    def counts(self) -> list[int]:
        """Live GPRs at each SASS instruction, in order."""
        return [ins.live_gpr or 0 for ins in self.instructions]

    @property
    def peak(self) -> int:
        """The most GPRs live at once (ptxas allocates at least this many, plus reserved)."""
        return max(self.counts, default=0)

    @property
    def peak_index(self) -> int:
        """The first SASS instruction where `peak` registers are live."""
        return self.counts.index(self.peak)


def phase_marks(ptx: str) -> list[tuple[int, str]]:
    """(line, name) of each `// phase: name` comment line of `ptx`, in order."""
    marks = []
    for number, line in enumerate(ptx.splitlines(), start=1):
        text = line.strip()
        if text.startswith(PHASE_PREFIX):
            marks.append((number, text[len(PHASE_PREFIX):].strip()))
    return marks


def phase_starts(ptx: str, instructions: Iterable[SassInstruction]) -> tuple[PhaseStart, ...]:
    """Each phase of `ptx` at its first SASS instruction, given instructions whose `line` is
    a PTX line of `ptx`; a phase none of whose PTX lines made SASS is left out."""
    marks = phase_marks(ptx)
    lines = [line for line, _ in marks]
    first: dict[int, int] = {}
    for ins in instructions:
        slot = bisect.bisect_right(lines, ins.line or 0) - 1
        if slot >= 0 and slot not in first:
            first[slot] = ins.index
    return tuple(PhaseStart(marks[s][1], marks[s][0], first[s]) for s in sorted(first))


def live_registers(ptx: str, entry: str, target: str = "sm_80", *, ptxas: str | None = None,
                   nvdisasm: str | None = None) -> LiveRegisters:
    """The live registers along `entry`'s SASS for `target` (up to its last instruction
    before the NOP padding), its phases and ptxas' count.
    Any PTX: its line table is rewritten to its own lines (`with_ptx_locs`), and its own
    `.loc` lines, if any, give `sources`. Raises as `sass_listing` does, and ValueError for an
    `entry` the module does not have."""
    listing = sass_listing(with_ptx_locs(ptx), target, ptxas=ptxas, nvdisasm=nvdisasm)
    return registers_of(listing, ptx, entry)


def registers_of(listing: SassListing, ptx: str, entry: str) -> LiveRegisters:
    """`live_registers` from a listing already made of `with_ptx_locs(ptx)` (the Resources
    view's, so one ptxas run gives both its grouped SASS and its plot)."""
    instructions = listing.of(entry)
    while instructions and instructions[-1].live_gpr is None:  # the NOP padding at the end,
        instructions = instructions[:-1]  # which the life-range listing leaves out
    report = listing.reports.get(entry)
    return LiveRegisters(entry, listing.target, instructions, phase_starts(ptx, instructions),
                         report.registers if report else 0, ptx_sources(ptx))
