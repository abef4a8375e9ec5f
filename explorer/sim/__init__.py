"""A CPU simulator that runs PTX text with warp semantics (`shfl.sync`, `mma.sync`,
`bar.sync`).

`launch(ptx, entry, grid, block, args, shared_bytes=..., strict=...)` parses the PTX with
`explorer.ptx.parse_module`, inlines `.func` calls and decodes each instruction once
(`program`), and runs every thread of every CTA as NumPy vectors with
per-thread program counters (`scheduler`). Every global and shared access is bounds-checked;
misbehaviour raises `SimError` naming the PTX line, the instruction and the ctaid, tid and lane
of the first offending thread. It models results, not timing: docs/simulator.md says what is
and is not modelled.

`trace(ptx, entry, grid, block, args, cta=..., warp=...)` is the same launch that also records
one warp's executed instructions with every lane's result (`trace`); `launcher` holds what
the two share (the argument checks, the machine, running the scheduler).
"""

from __future__ import annotations

from .errors import Finding, SimError, SimWarning, ThreadCoords
from .launcher import DEFAULT_MAX_STEPS, MAX_CTA_SHARED, LaunchResult, execute, prepare
from .table import SEMANTICS
from .trace import DEFAULT_MAX_TRACE_STEPS, Trace, TraceStep, trace


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
    program, m = prepare(ptx, entry, grid, block, args, shared_bytes=shared_bytes,
                         strict=strict, check_races=check_races, max_steps=max_steps)
    return execute(program, m, max_steps)


__all__ = ["DEFAULT_MAX_STEPS", "DEFAULT_MAX_TRACE_STEPS", "MAX_CTA_SHARED", "SEMANTICS",
           "Finding", "LaunchResult", "SimError", "SimWarning", "ThreadCoords", "Trace",
           "TraceStep", "launch", "trace"]
