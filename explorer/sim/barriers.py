"""CTA barriers as the scheduler runs them: `bar.sync`/`barrier.sync` (wait), `bar.arrive`
(count without waiting) and `bar.red.{popc,and,or}` (wait, then every thread gets the CTA's
reduction of a predicate), with a barrier number 0..15 and an optional thread count.

Each CTA has 16 barriers, each counting the threads that arrived since it last completed. A
barrier without a count completes when every non-exited thread of the CTA has arrived; one
with a count when that many have (threads, not warps: the simulator has no warp slots).
Completing releases every thread waiting on that barrier number of the CTA, at whichever
instruction, except that `bar.*` and `barrier.*.aligned` need each warp's threads at one
instruction (a warp split between two is a divergent barrier). It decodes and counts; the
scheduler owns the program counters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ptx.ir import Instruction, IntImm, Reg
from .operands import DecodeContext, Unsupported, form, reader, writer

BARRIERS = 16  # per CTA, numbered 0..15


@dataclass(frozen=True)
class BarrierForm:
    mode: str  # sync | arrive | red
    number: int
    count: int | None  # threads that complete it; None: every non-exited thread of the CTA
    aligned: bool = True  # bar.*, barrier.*.aligned: a warp's threads at one instruction
    op: str | None = None  # red: popc | and | or
    write: object = None  # red: the destination's writer
    read: object = None  # red: the predicate's reader
    cluster: bool = False  # barrier.cluster.arrive/.wait (mode arrive | wait): `clusters`


def _immediate(op, what: str, lo: int, hi: int) -> int:
    if not isinstance(op, IntImm):
        raise Unsupported(f"a {what} in a register is not modelled (an immediate is)")
    if not lo <= op.value <= hi:
        raise Unsupported(f"{what} {op.value} is outside {lo}..{hi}")
    return op.value


def decode_barrier(ins: Instruction, ctx: DecodeContext) -> BarrierForm:
    f = form(ins)
    mode = f.get("mode")
    ops = list(ins.operands)
    if f.get("scope") == "cluster":  # the parser admits only .arrive/.wait, no operands
        return BarrierForm(mode, 0, None, f.get("aligned") is not None, cluster=True)
    op = write = read = None
    if mode == "red":
        op, t = f.get("op"), f.get("type")
        if (op, t) not in (("popc", "u32"), ("and", "pred"), ("or", "pred")):
            raise Unsupported("bar.red is .popc.u32, .and.pred or .or.pred")
        if len(ops) not in (3, 4) or not isinstance(ops[0], Reg):
            raise Unsupported("bar.red d, a, {b,} c")
        write, read = writer(ins, ops[0], t), reader(ins, ops[-1], "pred", ctx)
        ops = ops[1:-1]
    elif f.get("op") or f.get("type"):
        raise Unsupported(f".{f.get('op') or f.get('type')} goes only with bar.red")
    if not 1 <= len(ops) <= 2:
        raise Unsupported(f"{ins.name} takes a barrier number and an optional thread count")
    number = _immediate(ops[0], "barrier number", 0, BARRIERS - 1)
    count = _immediate(ops[1], "thread count", 1, 1024) if len(ops) == 2 else None
    if mode == "arrive" and count is None:
        raise Unsupported("bar.arrive needs a thread count")
    aligned = ins.opcode == "bar" or f.get("aligned") is not None
    return BarrierForm(mode, number, count, aligned, op, write, read)


def _merge(a, b):
    return b if a is None else np.sort(np.concatenate([a, b]))


class Barriers:
    """Arrivals per (barrier, CTA), the threads waiting at each barrier instruction."""

    def __init__(self, m, steps) -> None:
        self.m, self.steps = m, steps
        self.waiting: dict[int, np.ndarray] = {}  # pc -> threads waiting there
        self.arrived = np.zeros((BARRIERS, m.nctas), dtype=np.int64)
        self.held = np.zeros((BARRIERS, m.nctas), dtype=np.int64)  # red: predicates true

    def arrive(self, pc: int, sel, alive: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Threads `sel` reach the barrier at `pc`; returns the (pc, threads) released."""
        m, b = self.m, self.steps[pc].barrier
        if b.count is not None and b.count > m.cta_threads:
            raise m.fail(f"barrier {b.number} waits for {b.count} threads; the CTA has "
                         f"{m.cta_threads}", self.steps[pc].ins, sel)
        idx = m.indices(sel)
        ctas = m.cta[idx]
        self.arrived[b.number] += np.bincount(ctas, minlength=m.nctas)
        if b.mode == "red":
            held = np.broadcast_to(np.asarray(b.read(m, idx), dtype=bool), idx.shape)
            self.held[b.number] += np.bincount(ctas[held], minlength=m.nctas)
        if b.mode != "arrive":
            self.waiting[pc] = _merge(self.waiting.get(pc), idx)
        return self.release(b, alive)

    def release(self, b: BarrierForm, alive: np.ndarray) -> list[tuple[int, np.ndarray]]:
        m, n = self.m, b.number
        target = alive if b.count is None else b.count
        ready = (self.arrived[n] >= target) & (self.arrived[n] > 0)
        if not ready.any():
            return []
        out = []
        self._check_aligned(n, ready)
        for pc in sorted(self.waiting):
            form_ = self.steps[pc].barrier
            if form_.number != n:
                continue
            waiting = self.waiting.pop(pc)
            go = ready[m.cta[waiting]]
            if go.any():
                if form_.mode == "red":
                    self._reduce(form_, waiting[go])
                out.append((pc + 1, waiting[go]))
            if not go.all():
                self.waiting[pc] = waiting[~go]
        self.arrived[n][ready] = 0
        self.held[n][ready] = 0
        if m.races is not None:
            m.races.release(np.flatnonzero(ready))
        return out

    def _check_aligned(self, n: int, ready: np.ndarray) -> None:
        """An aligned barrier completing with one warp's threads at two of its instructions
        is undefined on the hardware (synccheck's divergent barrier): raise."""
        m = self.m
        at = [(pc, w[ready[m.cta[w]]]) for pc, w in self.waiting.items()
              if self.steps[pc].barrier.number == n]
        at = [(pc, w) for pc, w in at if len(w)]
        if len(at) < 2 or not any(self.steps[pc].barrier.aligned for pc, _ in at):
            return
        (pc, first), rest = at[0], at[1:]
        for other, threads in rest:
            shared = np.isin(m.global_warp[threads], m.global_warp[first])
            if shared.any():
                a, b = sorted((self.steps[pc].ins.line, self.steps[other].ins.line))
                raise m.fail(f"divergent barrier: threads of one warp wait at different "
                             f"barrier {n} instructions (line {a}, line {b})",
                             self.steps[other].ins, threads, shared)

    def _reduce(self, b: BarrierForm, threads: np.ndarray) -> None:
        ctas = self.m.cta[threads]
        held, arrived = self.held[b.number][ctas], self.arrived[b.number][ctas]
        if b.op == "popc":
            b.write(self.m, threads, held.astype(np.uint32))
        else:
            b.write(self.m, threads, held == arrived if b.op == "and" else held > 0)

    def blocking_exit(self, threads: np.ndarray) -> int | None:
        """The pc of a count-less barrier that threads of these threads' CTAs wait at: such a
        barrier waits for every thread, so one that exits can never let it complete."""
        m = self.m
        for pc, waiting in self.waiting.items():
            if self.steps[pc].barrier.count is None and np.isin(m.cta[threads],
                                                                 m.cta[waiting]).any():
                return pc
        return None
