"""A CPU simulator that runs PTX text with warp semantics (`shfl.sync`, `mma.sync`,
`bar.sync`).

`launch(ptx, entry, grid, block, args)` parses the PTX with `explorer.ptx.parse`, decodes each
instruction once (`program`), and runs every thread of every CTA as NumPy vectors with
per-thread program counters (`scheduler`). Every global and shared access is bounds-checked;
misbehaviour raises `SimError` naming the PTX line, the instruction and the ctaid, tid and lane
of the first offending thread. It models results, not timing: docs/simulator.md says what is
and is not modelled.
"""

from __future__ import annotations

import numpy as np

from .arguments import check_args
from .errors import SimError, ThreadCoords
from .machine import Machine, check_size, dims3
from .memory import GlobalMemory
from .program import load
from .races import RaceTracker
from .scheduler import Scheduler
from .table import SEMANTICS

DEFAULT_MAX_STEPS = 5_000_000  # group-steps; the explorer's default kernel needs about 7,000


def launch(
    ptx: str,
    entry: str,
    grid,
    block,
    args,
    *,
    check_races: bool = False,
    max_steps: int | None = None,
) -> None:
    """Run `entry` of the PTX module `ptx` with `args` in parameter order.

    NumPy arrays are the pointer (`.u64`) arguments and are written in place; Python ints (or
    floats for float parameters) are scalars. Raises ValueError for bad arguments (PtxParseError,
    a ValueError, for PTX outside the parser's subset) and `SimError` for anything the program
    does wrong.
    """
    _check_options(ptx, entry, args, check_races, max_steps)
    program = load(ptx, entry)
    pointers, values = check_args(program, list(args))
    check_size(dims3(grid, "grid"), dims3(block, "block"))
    limit = program.kernel.max_threads
    if limit and int(np.prod(dims3(block, "block"))) > limit:
        raise ValueError(f"block={tuple(dims3(block, 'block'))}: {entry} declares .maxntid "
                         f"{limit} (accepted: at most {limit} threads per CTA)")
    m = Machine(grid, block, program.registers, GlobalMemory(pointers), program.kernel.shared)
    m.param_values = values
    if check_races:
        m.races = RaceTracker(m.nctas, m.shared.window, _shared_name(m))
    limit = DEFAULT_MAX_STEPS if max_steps is None else int(max_steps)
    with np.errstate(all="ignore"):  # integer wrap-around and IEEE specials are the semantics
        Scheduler(m, program, limit).run()


def _check_options(ptx, entry, args, check_races, max_steps) -> None:
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


__all__ = ["DEFAULT_MAX_STEPS", "SEMANTICS", "SimError", "ThreadCoords", "launch"]
