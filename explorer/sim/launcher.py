"""What `launch` and `trace` share: checking a launch's arguments, building its machine and
running its scheduler to the end (with a recorder for a trace, without one for a launch).

It checks and runs; the semantics live in the opcode modules, the scheduling in `scheduler`,
what a trace records in `trace`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..arch import ARCHS
from .arguments import check_args
from .clusters import check_cluster
from .errors import Finding, SimWarning
from .machine import Machine, check_size, dims3
from .memory import GlobalMemory, static_shared_bytes
from .program import Program, load
from .races import RaceTracker
from .scheduler import Scheduler

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


def prepare(ptx, entry, grid, block, args, *, shared_bytes, strict, check_races,
            max_steps) -> tuple[Program, Machine]:
    """The decoded program and a fresh machine for one launch; ValueError naming the
    parameter for anything out of range."""
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
    cluster = check_cluster(program.kernel, dims3(grid, "grid"), program.module.target,
                            program.clusters)
    m = Machine(grid, block, program.registers, memory, program.kernel.shared,
                int(shared_bytes), bool(strict), cluster if program.clusters else None)
    m.param_values = values
    if check_races:
        m.races = RaceTracker(m.nctas, m.shared.window, _shared_name(m))
    return program, m


def execute(program: Program, m: Machine, max_steps: int | None,
            record: Callable[[int, object], None] | None = None,
            stacklevel: int = 3) -> LaunchResult:
    """Run every thread to its end; each finding is also issued as a `SimWarning` at the
    caller `stacklevel` frames up."""
    limit = DEFAULT_MAX_STEPS if max_steps is None else int(max_steps)
    scheduler = Scheduler(m, program, limit, record)
    with np.errstate(all="ignore"):  # integer wrap-around and IEEE specials are the semantics
        scheduler.run()
    findings = tuple(m.findings.values())
    for finding in findings:
        warnings.warn(str(finding), SimWarning, stacklevel=stacklevel)
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
