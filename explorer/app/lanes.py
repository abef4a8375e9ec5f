"""The Lanes tab without widgets: trace one warp, choose its steps, draw its 32 lanes.

`trace_for_config(config, ...)` runs one of our kernels on the simulator with the verify
pipeline's random inputs (seed `runner.SEED`) and traces one warp of one of its launches
(split-kv's split or combine launch), running the others plainly, so the buffers end as a
plain run leaves them; `trace_for_launch(ptx, entry, ...)` traces any PTX with the arrays the
run form made (copied: a second trace starts from the same inputs). Both return a
`LaneTrace` or raise ValueError (an argument, naming its range) or `SimError` (naming the
PTX line); `problem(err)` is that as one line for the view.

`LaneSelection` is the choice over a trace: every step, every `shfl.sync`, or the steps
writing one register (the registers in first-write order), a current step with moves and
jump-to-line, and the window of steps around it that is drawn (a long trace is never drawn
whole); `lanes_draw.py` draws them. It holds no widget state (`lanes_view.py` does).
"""

from __future__ import annotations

import bisect
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import runtime, sim
from ..ptx.sass import phase_marks, short_phase
from ..runtime.execute import allocate, resolve
from ..runtime.sim import SimBackend
from ..sim.machine import dims3
from ..sim.trace import cta_index, warp_index
from ..verify import make_inputs
from .runner import SEED
from .state import Config, build_kernel, describe, run_problems

EVERY_STEP = "every step"
EVERY_SHFL = "every shfl"
WINDOW = 32  # steps drawn at once: 32 rows of 32 lanes stay legible


@dataclass(frozen=True, eq=False)
class LaneTrace:
    """A traced warp and its launch: the `trace`, the `ptx` text and `entry` it ran, `grid`
    and `block`, which launch of the run it is (`launch`, of the entries `launches`), the run's
    `buffers` as the launches left them (by name for our kernels, by argument position for
    any PTX), the kernel's `output` (our kernels; None for any PTX), the simulator's
    `findings` (not strict), a `label` and the `seconds` it took."""

    trace: sim.Trace
    ptx: str
    entry: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    launch: int
    launches: tuple[str, ...]
    buffers: dict
    output: np.ndarray | None
    findings: tuple
    label: str
    seconds: float

    @property
    def warps(self) -> int:
        """The warps of one CTA of the traced launch."""
        return -(-int(np.prod(self.block)) // 32)

    @property
    def ctas(self) -> int:
        return int(np.prod(self.grid))

    def notes(self) -> list[str]:
        """What the view should say next to the figure: a stopped record, the findings."""
        t, out = self.trace, []
        if t.truncated:
            out.append(f"The record stopped at {len(t):,} steps (max_trace_steps); the launch "
                       "ran to the end. The steps after it are not shown.")
        out.extend(f"Finding: {f}" for f in self.findings)
        return out


def trace_for_config(config: Config, seq_len: int | None = None, cta=0, warp: int = 0,
                     launch: int = 0,
                     max_trace_steps: int = sim.DEFAULT_MAX_TRACE_STEPS) -> LaneTrace:
    """Trace warp `warp` of CTA `cta` in launch `launch` (0: the first; split-kv's combine is
    1) of `config`'s kernel on the simulator, at `seq_len` (None: the configuration's)."""
    started = time.perf_counter()
    config = config if seq_len is None else config.replace(seq_len=seq_len)
    problems = run_problems(config)
    if problems:
        raise ValueError(problems[0])
    kernel = build_kernel(config)
    program, launches = kernel.program(config.target), kernel.launches()
    names = tuple(one.entry for one in launches)
    _check_launch(launch, names)
    q, k, v = make_inputs(kernel, np.random.default_rng(SEED))
    lengths = runtime.check_launch(kernel, q, k, v, config.seq_len)
    backend = SimBackend()
    values = {"q": q, "k": k, "v": v, **kernel.length_arguments(lengths)}
    buffers = allocate(backend, kernel.buffer_specs(), values)
    resolved = [resolve(program, one, buffers) for one in launches]
    chosen = resolved[launch]
    cta_index(cta, chosen.grid)  # checked before any launch runs
    warp_index(warp, chosen.block)
    traced = None
    for i, one in enumerate(resolved):
        if i != launch:
            backend.launch(program, one)
            continue
        traced = sim.trace(program.ptx, one.entry, one.grid, one.block, list(one.args),
                           shared_bytes=one.shared_bytes, cta=cta, warp=warp,
                           max_trace_steps=max_trace_steps)
    output = kernel.results(buffers, lengths, q.shape)
    label = f"{describe(config)} · seq_len {config.seq_len} · {names[launch]}"
    return LaneTrace(traced, program.ptx, chosen.entry, chosen.grid, chosen.block, launch,
                     names, buffers, output, tuple(backend.findings), label,
                     time.perf_counter() - started)


def trace_for_launch(ptx: str, entry: str, grid, block, args: Sequence, shared_bytes: int = 0,
                     cta=0, warp: int = 0, strict: bool = False,
                     max_trace_steps: int = sim.DEFAULT_MAX_TRACE_STEPS) -> LaneTrace:
    """Trace warp `warp` of CTA `cta` of one launch of any PTX; `args` in parameter order
    (arrays are copied first, so the caller's stay as they were)."""
    started = time.perf_counter()
    copies = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sim.SimWarning)  # they are the result's findings
        traced = sim.trace(ptx, entry, grid, block, copies, cta=cta, warp=warp,
                           shared_bytes=shared_bytes, strict=strict,
                           max_trace_steps=max_trace_steps)
    buffers = {i: a for i, a in enumerate(copies) if isinstance(a, np.ndarray)}
    return LaneTrace(traced, ptx, entry, dims3(grid, "grid"), dims3(block, "block"), 0,
                     (entry,), buffers, None, tuple(traced.result.findings), entry,
                     time.perf_counter() - started)


def _check_launch(launch, names: tuple[str, ...]) -> None:
    if not isinstance(launch, int) or isinstance(launch, bool) or not 0 <= launch < len(names):
        accepted = ", ".join(f"{i} ({n})" for i, n in enumerate(names))
        raise ValueError(f"launch={launch!r} is not a launch of this kernel (accepted: "
                         f"{accepted})")


def problem(err: BaseException) -> str:
    """A failed trace as one line: a simulator error names its PTX line (its message starts
    with it), an argument error its range."""
    if isinstance(err, sim.SimError):
        return f"The simulator stopped the launch: {err}"
    if isinstance(err, ValueError):
        return str(err)
    return f"The trace failed: {type(err).__name__}: {err}"


def opcode(text: str) -> str:
    """An instruction's opcode with its modifiers (`shfl.sync.down.b32`), guard dropped."""
    words = text.split()
    if words and words[0].startswith("@"):
        words = words[1:]
    return words[0].rstrip(";") if words else ""


def lane_parts(step) -> tuple:
    return step.lanes if isinstance(step.lanes, tuple) else (step.lanes,)


def float_bit_registers(trace: sim.Trace) -> frozenset[str]:
    """The bit-typed registers (`.b32`) of a trace that carry f32 values: those a `mov.b32`
    or a `shfl.sync...b32` fills from a float register or another carrier, and those a
    `mov.b32` moves into a float register (nvcc shuffles floats through `%r` registers). Their
    lanes are shown as the floats they hold, not as integers."""
    floats = {reg for step in trace if step.lanes is not None
              for reg, vals in zip(step.dest, lane_parts(step), strict=False)
              if vals.dtype == np.float32}
    carriers: set[str] = set()
    for _ in range(2):  # a second pass reaches what a loop's back edge carries
        for step in trace:
            op = opcode(step.text)
            if not (op == "mov.b32" or (op.startswith("shfl.sync") and op.endswith(".b32"))):
                continue
            words = step.text.split(None, 2 if step.text.startswith("@") else 1)[-1]
            operands = [w.strip().split("|")[0] for w in words.rstrip("; ").split(",")]
            if len(operands) < 2:
                continue
            dest, src = operands[0], operands[1]
            if src in floats or src in carriers:
                carriers.add(dest)
            elif op == "mov.b32" and dest in floats and src.startswith("%"):
                carriers.add(src)
    return frozenset(carriers - floats)


def shown_values(reg: str, vals: np.ndarray, carriers: frozenset[str]) -> np.ndarray:
    """`vals` as they are shown: the 32-bit integers of a float carrier as f32."""
    if reg in carriers and vals.dtype in (np.uint32, np.int32):
        return vals.view(np.float32)
    return vals


def written_registers(trace: sim.Trace) -> dict[str, tuple[int, ...]]:
    """{register: the trace indices of the steps writing it}, in first-write order."""
    writes: dict[str, list[int]] = {}
    for i, step in enumerate(trace):
        for reg in step.dest:
            writes.setdefault(reg, []).append(i)
    return {reg: tuple(steps) for reg, steps in writes.items()}


ENTRY_SECTION = "(entry)"
LABEL = re.compile(r"^\s*([$%\w.]+):")


def sections(ptx: str) -> list[tuple[int, str]]:
    """(first line, name) of each section of `ptx`, in order: its `// phase:` marks (our
    kernels; named as the Resources tab names them), else its labels (nvcc's and Triton's
    basic blocks), after an `(entry)` section from line 1."""
    marks = [(line, short_phase(name)) for line, name in phase_marks(ptx)]
    if not marks:
        marks = [(n, found.group(1)) for n, text in enumerate(ptx.splitlines(), 1)
                 if (found := LABEL.match(text))]
    return [(1, ENTRY_SECTION), *marks] if not marks or marks[0][0] > 1 else marks


def step_sections(trace: sim.Trace, ptx: str) -> list[str]:
    """The section of `ptx` (`sections`) each step of the warp ran in, in step order."""
    marks = sections(ptx)
    starts = [line for line, _ in marks]
    return [marks[max(0, bisect.bisect_right(starts, step.line) - 1)][1] for step in trace]


def section_counts(trace: sim.Trace, ptx: str) -> list[tuple[str, int]]:
    """How many of the warp's steps each section of `ptx` ran, most first (a section entered
    twice, a loop's body, counts once with all its steps); sections it never reached are
    left out. The counts add up to len(trace)."""
    counts: dict[str, int] = {}
    for name in step_sections(trace, ptx):
        counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


def section_summary(trace: sim.Trace, ptx: str, shown: int = 8) -> str:
    """One line for the view: where the warp's steps went, by phase (or by label), the
    `shown` largest with their share, then how many more sections."""
    counts = section_counts(trace, ptx)
    if not counts:
        return ""
    total = sum(n for _, n in counts)
    kind = "phase" if phase_marks(ptx) else "PTX label"
    parts = [f"{name} {n:,} ({100 * n / total:.0f}%)" for name, n in counts[:shown]]
    more = len(counts) - shown
    tail = f" · {more} more section{'s' if more > 1 else ''}" if more > 0 else ""
    return f"This warp's {total:,} steps by {kind}: " + " · ".join(parts) + tail


def window_around(position: int, count: int, size: int = WINDOW) -> tuple[int, int]:
    """(start, stop) of the `size` positions drawn around `position` of `count`: centred,
    pushed inside 0..count at either end."""
    start = min(max(0, position - size // 2), max(0, count - size))
    return start, min(count, start + size)


class LaneSelection:
    """Which steps of a trace are shown (`choice`: EVERY_STEP, EVERY_SHFL or a register, one
    of `choices`), the current one (`current`, a position among `positions`, the selected
    trace indices) and the `size` of the window drawn around it."""

    def __init__(self, trace: sim.Trace, choice: str | None = None, size: int = WINDOW) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size={size!r}; accepted: a positive number of steps")
        self.trace, self.size, self.current = trace, size, 0
        self.writes = written_registers(trace)
        self.float_bits = float_bit_registers(trace)
        self.shuffles = tuple(i for i, s in enumerate(trace) if opcode(s.text).startswith("shfl"))
        self.by_line: dict[int, list[int]] = {}
        for i, step in enumerate(trace):
            self.by_line.setdefault(step.line, []).append(i)
        self.choice, self.positions = EVERY_STEP, tuple(range(len(trace)))
        self.select(choice or self.default_choice)

    @property
    def choices(self) -> tuple[str, ...]:
        return (EVERY_STEP, EVERY_SHFL, *self.writes)

    @property
    def default_choice(self) -> str:
        return EVERY_SHFL if self.shuffles else EVERY_STEP

    def where(self) -> str:
        t = self.trace
        return f"warp {t.warp} of CTA ({', '.join(map(str, t.cta))})"

    def select(self, choice: str) -> None:
        """Show `choice`'s steps, from the first at or after the current step. ValueError
        (the selection unchanged) for a register never written or no shfl at all."""
        if choice == EVERY_STEP:
            positions = tuple(range(len(self.trace)))
        elif choice == EVERY_SHFL:
            positions = self.shuffles
            if not positions:
                raise ValueError(f"{self.where()} executes no shfl.sync: pick {EVERY_STEP!r} "
                                 "or a register")
        elif choice in self.writes:
            positions = self.writes[choice]
        else:
            some = ", ".join(list(self.writes)[:8]) + (" …" if len(self.writes) > 8 else "")
            raise ValueError(f"register {choice!r} is never written by {self.where()} (it "
                             f"writes {len(self.writes)}: {some or 'none'})")
        here = self.index
        self.choice, self.positions = choice, positions
        self.current = min(bisect.bisect_left(positions, here or 0), max(0, len(positions) - 1))

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def index(self) -> int | None:
        """The current step's index in the trace (None: nothing selected)."""
        return self.positions[self.current] if self.positions else None

    @property
    def step(self) -> sim.TraceStep | None:
        return None if self.index is None else self.trace[self.index]

    def go_to(self, position: int) -> None:
        """Make `position` (clamped to 0..count-1) the current step."""
        self.current = min(max(0, int(position)), max(0, self.count - 1))

    def first(self) -> None:
        self.go_to(0)

    def prev(self) -> None:
        self.go_to(self.current - 1)

    def next(self) -> None:
        self.go_to(self.current + 1)

    def last(self) -> None:
        self.go_to(self.count - 1)

    def go_to_line(self, line: int) -> str | None:
        """The next selected step (after the current one, wrapping) at PTX line `line`; when
        only unselected steps run it, every step is selected and a note says so. ValueError
        when the warp never executes the line."""
        executed = self.by_line.get(line)
        if not executed:
            lines = sorted(n for n in self.by_line if n is not None)
            near = sorted(lines, key=lambda n: abs(n - line))[:3] if lines else []
            raise ValueError(f"line {line}: {self.where()} executes no instruction there "
                             f"(nearest executed lines: {', '.join(map(str, sorted(near)))})")
        note, here = None, self.index
        hits = [p for p, i in enumerate(self.positions) if self.trace[i].line == line]
        if not hits:
            note = (f"line {line} is not among the {self.choice} steps: showing "
                    f"{EVERY_STEP}")
            self.select(EVERY_STEP)
            hits = executed  # every step: positions are trace indices
        later = [p for p in hits if self.positions[p] > (here if here is not None else -1)]
        self.go_to((later or hits)[0])
        return note

    def window(self) -> tuple[int, int]:
        """(start, stop) positions of the steps drawn around the current one."""
        return window_around(self.current, self.count, self.size)

    def lanes(self, position: int) -> np.ndarray | None:
        """The values the selected register (else the step's first destination) holds in
        each lane after the step at `position`; None without a destination."""
        step = self.trace[self.positions[position]]
        if step.lanes is None:
            return None
        part = step.dest.index(self.choice) if self.choice in step.dest else 0
        return shown_values(step.dest[part], lane_parts(step)[part], self.float_bits)
