"""Lane traces: one warp's executed instructions, in order, with every lane's result.

`trace(ptx, entry, grid, block, args, cta=..., warp=...)` runs the launch exactly as `launch`
does (every thread, the same checks, the same writes into `args`) and records, for the one warp
chosen, each instruction it executed: the PTX line, the instruction's text, which of its 32
lanes took part and what the destination holds in each lane afterwards. The recorder watches
the scheduler's group-steps (`Scheduler(record=...)`) and copies one warp's slice of the
destination registers, so a trace costs about as much as a launch; a plain launch records
nothing.

It records results, not timing or issue order on a real GPU: where the warp diverges, each
group's instructions appear in the order the simulator runs them (lowest PC first).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..ptx import spec
from .errors import instruction_text
from .launcher import LaunchResult, execute, prepare
from .machine import WARP, Machine, dims3
from .program import Program, destinations
from .values import DTYPES

DEFAULT_MAX_TRACE_STEPS = 100_000  # ~37 MB of records; the default kernel's warp 0 takes 6,752

Lanes = np.ndarray | tuple[np.ndarray, ...] | None


@dataclass(frozen=True, eq=False)
class TraceStep:
    """One instruction the warp executed: its 1-based PTX `line`, its `text` as the printer
    writes it, `active` (bool [32]: the lanes that executed it with their guard true),
    `lanes` (what the destination holds in each of the 32 lanes afterwards; None without a
    destination; a tuple of arrays for a vector or `d|p` destination) and `dest` (the
    destination registers as the PTX names them)."""

    line: int | None
    text: str
    active: np.ndarray
    lanes: Lanes
    dest: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Trace(Sequence):
    """The steps of one warp in execution order (a sequence of `TraceStep`), where it sits
    (`cta` as (x, y, z), `warp` in the CTA, `threads` its lanes that exist), whether the record
    stopped at `max_trace_steps` (`truncated`; the launch itself always runs to the end) and
    the launch's `result`."""

    steps: tuple[TraceStep, ...]
    cta: tuple[int, int, int]
    warp: int
    threads: int
    truncated: bool
    result: LaunchResult

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index):
        return self.steps[index]

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps)


def trace(
    ptx: str,
    entry: str,
    grid,
    block,
    args,
    *,
    cta: int | Sequence[int] = 0,
    warp: int = 0,
    shared_bytes: int = 0,
    strict: bool = True,
    check_races: bool = False,
    max_steps: int | None = None,
    max_trace_steps: int = DEFAULT_MAX_TRACE_STEPS,
) -> Trace:
    """Launch `entry` as `launch` does (same arguments, same writes into `args`) and return the
    trace of warp `warp` (threads 32*warp .. 32*warp+31 of the CTA, in linear thread order) of
    CTA `cta` (a linear id, x fastest, or (x, y, z)). At most `max_trace_steps` steps are kept;
    past them the launch goes on and the trace says `truncated`. Raises ValueError naming the
    parameter and its accepted range, and SimError as `launch` does."""
    _check_limit(max_trace_steps)
    g, b = dims3(grid, "grid"), dims3(block, "block")
    cta_id, warp_id = cta_index(cta, g), warp_index(warp, b)
    program, m = prepare(ptx, entry, grid, block, args, shared_bytes=shared_bytes,
                         strict=strict, check_races=check_races, max_steps=max_steps)
    recorder = WarpRecorder(program, m, cta_id * m.cta_threads + warp_id * WARP,
                            min(WARP, m.cta_threads - warp_id * WARP), max_trace_steps)
    result = execute(program, m, max_steps, recorder)
    steps = recorder.finish()
    xyz = (cta_id % g[0], cta_id // g[0] % g[1], cta_id // (g[0] * g[1]))
    return Trace(steps, xyz, warp_id, recorder.n, recorder.truncated, result)


class WarpRecorder:
    """Called before each group-step: notes the warp's lanes in it (guard applied), and
    copies the previous noted step's destination values once the warp runs again or the
    launch ends (a `bar.red` writes its result when the barrier completes, later)."""

    def __init__(self, program: Program, m: Machine, base: int, n: int, limit: int) -> None:
        self.steps, self.m, self.limit = program.steps, m, limit
        self.base, self.stop, self.n = base, base + n, n
        self.full = np.arange(WARP) < n
        self.full.flags.writeable = False  # shared by every step where the whole warp runs
        self.records: list[TraceStep] = []
        self.pending: tuple[int, np.ndarray] | None = None
        self.truncated = False
        self.meta: dict[int, tuple] = {}  # per pc: line, text, shown names, dtypes

    def __call__(self, pc: int, sel) -> None:
        if pc >= len(self.steps) or self.truncated:
            return
        if isinstance(sel, slice):
            lanes = self.full
        else:
            lo, hi = np.searchsorted(sel, (self.base, self.stop))
            if lo == hi:
                return
            lanes = np.zeros(WARP, dtype=bool)
            lanes[sel[lo:hi] - self.base] = True
        self.flush()
        if len(self.records) >= self.limit:
            self.truncated = True
            return
        self.pending = (pc, self.guarded(self.steps[pc], lanes))

    def guarded(self, step, lanes: np.ndarray) -> np.ndarray:
        if step.guard is None:
            return lanes
        reg, negated = step.guard
        holds = np.zeros(WARP, dtype=bool)
        holds[: self.n] = self.m.store[reg][self.base : self.stop]
        active = lanes & (~holds if negated else holds)  # lanes past the CTA's threads stay off
        active.flags.writeable = False
        return active

    def flush(self) -> None:
        if self.pending is None:
            return
        pc, active = self.pending
        self.pending = None
        line, text, dest, dtypes = self.meta.get(pc) or self.describe(pc)
        regs, lanes = self.steps[pc].dest, None
        if len(regs) == 1:
            lanes = self.values(regs[0], dtypes[0])
        elif regs:
            lanes = tuple(self.values(r, dt) for r, dt in zip(regs, dtypes, strict=True))
        self.records.append(TraceStep(line, text, active, lanes, dest))

    def values(self, reg: str, dtype: np.dtype) -> np.ndarray:
        """The register's 32 lanes (0 past the CTA's threads), read as `dtype`."""
        store = self.m.store[reg]
        if self.n == WARP:
            out = store[self.base : self.stop].copy()
        else:
            out = np.zeros(WARP, dtype=store.dtype)
            out[: self.n] = store[self.base : self.stop]
        if dtype != store.dtype:
            out = out.view(dtype)
        out.flags.writeable = False
        return out

    def describe(self, pc: int) -> tuple:
        step = self.steps[pc]
        shown = destinations(step.ins, step.ins)
        dtypes = tuple(lane_dtype(step.ins, self.m.store[reg].dtype) for reg in step.dest)
        self.meta[pc] = (step.ins.line, instruction_text(step.ins), shown, dtypes)
        return self.meta[pc]

    def finish(self) -> tuple[TraceStep, ...]:
        self.flush()
        return tuple(self.records)


def lane_dtype(ins, storage: np.dtype) -> np.dtype:
    """How a destination's lanes are shown: as the instruction's result type where NumPy has it
    at the register's width (`add.s32` on `%r`: int32, `add.f32` on `%r`: float32), else as the
    register holds it (bit types `.b32`, bf16, packed pairs, narrower loads)."""
    try:
        t = spec.result_type(spec.form_of(ins.opcode, ins.modifiers, strict=False))
    except (KeyError, ValueError):
        return storage
    dt = DTYPES.get(t)
    if dt is None or t.startswith("b") or dt.itemsize != storage.itemsize:
        return storage
    return dt


def cta_index(cta, grid: tuple[int, int, int]) -> int:
    """`cta` (a linear id, x fastest, or (x, y, z) with trailing 0s optional) as a linear id;
    ValueError naming `cta` and the accepted range."""
    gx, gy, gz = grid
    count = gx * gy * gz
    if _is_int(cta) and 0 <= cta < count:
        return int(cta)
    if isinstance(cta, (tuple, list)) and 1 <= len(cta) <= 3 and all(map(_is_int, cta)):
        x, y, z = (*map(int, cta), 0, 0)[:3]
        if 0 <= x < gx and 0 <= y < gy and 0 <= z < gz:
            return x + gx * (y + gy * z)
    raise ValueError(f"cta={cta!r} is not a CTA of grid {grid} (accepted: a linear id "
                     f"0..{count - 1}, or (x, y, z) with x < {gx}, y < {gy}, z < {gz})")


def warp_index(warp, block: tuple[int, int, int]) -> int:
    """`warp` checked against the CTA's warps; ValueError naming `warp` and the range."""
    threads = block[0] * block[1] * block[2]
    warps = -(-threads // WARP)
    if _is_int(warp) and 0 <= warp < warps:
        return int(warp)
    raise ValueError(f"warp={warp!r} is not a warp of a {threads}-thread CTA (accepted: "
                     f"0..{warps - 1})")


def _check_limit(max_trace_steps) -> None:
    if not _is_int(max_trace_steps) or max_trace_steps < 1:
        raise ValueError(f"max_trace_steps must be a positive integer, got {max_trace_steps!r}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
