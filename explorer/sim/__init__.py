"""A CPU simulator that runs PTX text with warp semantics (`shfl.sync`, `mma.sync`,
`bar.sync`).

`launch(ptx, entry, grid, block, args, shared_bytes=..., strict=...)` parses the PTX with
`explorer.ptx.parse_module`, inlines `.func` calls and decodes each instruction once
(`program`), and runs every thread of every CTA as NumPy vectors with
per-thread program counters (`scheduler`). Every global and shared access is bounds-checked;
misbehaviour raises `SimError` naming the PTX line, the instruction and the ctaid, tid and lane
of the first offending thread. It models results, not timing: docs/simulator.md says what is
and is not modelled.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..arch import ARCHS
from .arguments import check_args
from .errors import Finding, SimError, SimWarning, ThreadCoords
from .machine import Machine, check_size, dims3
from .memory import GlobalMemory, static_shared_bytes
from .program import load
from .races import RaceTracker
from .scheduler import Scheduler
from .table import SEMANTICS

DEFAULT_MAX_STEPS = 5_000_000  # group-steps; the explorer's default kernel needs about 7,000
# Shared memory one CTA may use, static and dynamic together: the largest of the table's targets
# (sm_90: 227 KB); targets the table does not know get the same.
MAX_CTA_SHARED = max(a.shared_per_cta for a in ARCHS.values())


@dataclass(frozen=True)
class LaunchResult:
    """What a launch reports besides the arrays it wrote: its findings (accesses a strict
    launch refuses, allowed here because the hardware's layout makes them work) and the
    group-steps it took."""

    findings: tuple[Finding, ...]
    steps: int


def launch(
    ptx: str,
    entry: str,
    grid,
    block,
    args,
    *,
    shared_bytes: int = 0,
    strict: bool = True,
    check_races: bool = False,
    max_steps: int | None = None,
) -> LaunchResult:
    """Run `entry` of the PTX module `ptx` with `args` in parameter order.

    NumPy arrays are the pointer (`.u64`) arguments and are written in place; Python or NumPy
    numbers are scalars (a 0 for a pointer parameter is a null pointer), checked against the
    parameter types. `shared_bytes` sizes the dynamic shared memory (`.extern .shared`).
    Not `strict`, a shared access that relies on its symbol sitting at address 0 is allowed and
    reported in the result's `findings` (and as a `SimWarning`); strict, it raises. Raises
    ValueError for bad arguments (PtxParseError, a ValueError, for PTX outside the parser's
    subset) and `SimError` for anything the program does wrong.
    """
    _check_options(ptx, entry, args, check_races, max_steps, strict)
    program = load(ptx, entry)
    _check_shared_bytes(shared_bytes, program)
    pointers, values = check_args(program, list(args))
    check_size(dims3(grid, "grid"), dims3(block, "block"))
    limit = program.kernel.max_threads
    if limit and int(np.prod(dims3(block, "block"))) > limit:
        raise ValueError(f"block={tuple(dims3(block, 'block'))}: {entry} declares .maxntid "
                         f"{limit} (accepted: at most {limit} threads per CTA)")
    memory = GlobalMemory(pointers, program.module.variables)
    m = Machine(grid, block, program.registers, memory, program.kernel.shared,
                int(shared_bytes), bool(strict))
    m.param_values = values
    if check_races:
        m.races = RaceTracker(m.nctas, m.shared.window, _shared_name(m))
    limit = DEFAULT_MAX_STEPS if max_steps is None else int(max_steps)
    scheduler = Scheduler(m, program, limit)
    with np.errstate(all="ignore"):  # integer wrap-around and IEEE specials are the semantics
        scheduler.run()
    findings = tuple(m.findings.values())
    for finding in findings:
        warnings.warn(str(finding), SimWarning, stacklevel=2)
    return LaunchResult(findings, scheduler.count)


def _check_shared_bytes(shared_bytes, program) -> None:
    if isinstance(shared_bytes, (bool, np.bool_)) or not isinstance(
        shared_bytes, (int, np.integer)
    ):
        raise ValueError(f"shared_bytes must be an integer number of bytes, got {shared_bytes!r}")
    static = static_shared_bytes(program.kernel.shared)
    if not 0 <= shared_bytes <= MAX_CTA_SHARED - static:
        raise ValueError(
            f"shared_bytes={shared_bytes} is outside 0..{MAX_CTA_SHARED - static} (a CTA has at "
            f"most {MAX_CTA_SHARED} bytes of shared memory; {program.kernel.entry} declares "
            f"{static} static)"
        )


def _check_options(ptx, entry, args, check_races, max_steps, strict) -> None:
    """The arguments `check_args` does not see; ValueError naming the parameter."""
    if not isinstance(ptx, str):
        raise ValueError(f"ptx must be PTX text (a str), got {type(ptx).__name__}")
    if not isinstance(entry, str):
        raise ValueError(f"entry must be the name of an .entry (a str), got {entry!r}")
    if isinstance(args, (str, bytes, dict)) or not isinstance(args, (list, tuple)):
        raise ValueError(f"args must be a list of the arguments in parameter order, got "
                         f"{type(args).__name__}")
    if not isinstance(check_races, (bool, np.bool_)):
        raise ValueError(f"check_races must be True or False, got {check_races!r}")
    if not isinstance(strict, (bool, np.bool_)):
        raise ValueError(f"strict must be True or False, got {strict!r}")
    if max_steps is not None and (
        isinstance(max_steps, (bool, np.bool_))
        or not isinstance(max_steps, (int, np.integer))
        or max_steps < 1
    ):
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")


def _shared_name(m: Machine):
    def name(addr: int) -> str:
        for sym, (start, size) in m.shared.symbols.items():
            if start <= addr < start + size:
                return f"{sym}+{addr - start}"
        return "outside every declaration"

    return name


__all__ = ["DEFAULT_MAX_STEPS", "SEMANTICS", "Finding", "LaunchResult", "SimError", "SimWarning",
           "ThreadCoords", "launch"]
