"""`launch(ptx, entry, grid, block, args)`: run a kernel on the CPU, every thread at once.

Scheduling: each thread has a program counter; threads at the same PC form a group (threads of
all CTAs together). Each step takes the group with the lowest PC and executes that instruction
for all its threads (a guard narrows who takes effect); a branch that splits a group makes two,
and groups that reach the same PC merge again. This gives the right divergence and
reconvergence for structured code and loops with different trip counts.

Barriers (`barriers`): an arriving thread waits (`bar.arrive` does not); when the barrier's
count of threads has arrived (every non-exited thread of the CTA if it names no count) the
waiting threads go on. A thread that exits while threads of its CTA wait at a count-less
barrier, and threads stuck with nothing else left to run, are errors naming the instructions.
The step limit's error names the loop the threads were in: the most-taken branch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .barriers import Barriers
from .errors import SimError
from .machine import ALL, Machine
from .program import Program, Step


def _merge(a, b):
    """The union of two disjoint thread sets (None is empty); ALL when it is everyone."""
    if a is None:
        return b
    if b is None:
        return a
    return np.sort(np.concatenate([a, b]))


class Scheduler:
    """Per-thread PCs as groups of threads keyed by PC; barriers; exits; the step limit.

    `record`, when given, is called as `record(pc, sel)` before each group-step runs (a lane
    trace watches one warp through it); a plain launch passes none and pays one test a step.
    """

    def __init__(self, m: Machine, program: Program, max_steps: int,
                 record: Callable[[int, object], None] | None = None) -> None:
        self.m, self.steps, self.max_steps = m, program.steps, max_steps
        self.record = record
        self.groups: dict[int, object] = {0: ALL}
        self.barriers = Barriers(m, program.steps)
        self.alive = np.bincount(m.cta, minlength=m.nctas)
        m.alive = self.alive  # updated in place: distributed shared memory checks it
        self.count = 0
        self.taken = [0] * len(program.steps)  # per branch step, how often it was taken

    @property
    def waiting(self) -> dict[int, np.ndarray]:
        return self.barriers.waiting

    def add(self, pc: int, sel) -> None:
        if sel is None:
            return
        if pc in self.groups:
            sel = _merge(self.m.indices(self.groups[pc]), self.m.indices(sel))
        if not isinstance(sel, slice) and len(sel) == self.m.T:
            sel = ALL
        self.groups[pc] = sel

    def run(self) -> None:
        steps, groups, end, record = self.steps, self.groups, len(self.steps), self.record
        while groups:
            pc = min(groups)
            sel = groups.pop(pc)
            while True:  # run this group until it branches, waits or exits
                self.count += 1
                if self.count > self.max_steps:
                    self.too_many(pc, sel)
                if record is not None:
                    record(pc, sel)
                if pc >= end:
                    self.exit(sel, None)
                    break
                step = steps[pc]
                if step.kind == "compute":
                    active = sel if step.guard is None else self.split(step, sel)[0]
                    if active is not None:
                        step.run(self.m, active)
                    pc += 1
                    if pc in groups:
                        self.add(pc, sel)
                        sel = groups.pop(pc)
                    continue
                self.control(pc, step, sel)
                break
        if self.waiting or self.m.clusters.waiting:
            self.deadlock()

    def split(self, step: Step, sel):
        """(threads whose guard holds, threads whose guard fails); None for an empty set."""
        m = self.m
        reg, negated = step.guard
        if not m.full[reg]:
            m.check_written(reg, sel, step.ins)
        p = m.store[reg][sel]
        if negated:
            p = ~p
        if p.all():
            return sel, None
        if not p.any():
            return None, sel
        idx = m.indices(sel)
        return idx[p], idx[~p]

    def control(self, pc: int, step: Step, sel) -> None:
        on, off = (sel, None) if step.guard is None else self.split(step, sel)
        self.add(pc + 1, off)
        if on is None:
            return
        if step.kind == "branch":
            self.taken[pc] += 1
            self.add(step.target, on)
        elif step.kind == "barrier" and step.barrier.cluster:
            b = step.barrier
            for after, threads in self.m.clusters.step(self.m, pc, step.ins, b.mode, b.aligned,
                                                        self.m.indices(on), self.alive):
                self.add(after, threads)
        elif step.kind == "barrier":
            for after, threads in self.barriers.arrive(pc, on, self.alive):
                self.add(after, threads)
            if step.barrier.mode == "arrive":
                self.add(pc + 1, on)
        elif step.kind == "exit":
            self.exit(on, step)
        else:
            raise self.m.fail(f"unsupported instruction: {step.why}", step.ins, on)

    def exit(self, sel, step: Step | None) -> None:
        m = self.m
        idx = m.indices(sel)
        m.exited[idx] = True
        self.alive -= np.bincount(m.cta[idx], minlength=m.nctas)
        if m.clusters.active:
            ins = step.ins if step else self.steps[-1].ins
            for after, threads in m.clusters.exit(m, self.steps, idx, self.alive, ins):
                self.add(after, threads)
        pc = self.barriers.blocking_exit(idx)
        if pc is not None:
            waiting = self.waiting[pc]
            blocked = np.isin(m.cta[idx], m.cta[waiting])
            bar = self.steps[pc].ins
            ins = step.ins if step else self.steps[-1].ins
            raise m.fail(
                f"thread exits while threads of its CTA wait at line {bar.line} "
                f"`{bar.name}` (a barrier not every thread reaches)",
                ins,
                idx,
                blocked,
            )

    def deadlock(self) -> None:
        m = self.m
        cluster = min(m.clusters.waiting, default=None)  # a barrier.cluster.wait's pc
        also = "" if cluster is None else (
            f"; threads of their cluster wait at line {self.steps[cluster].ins.line} "
            "`barrier.cluster.wait` for them")
        if not self.waiting:  # every waiting thread arrived: the phase would have completed
            first = int(m.clusters.waiting[cluster][0])
            raise SimError("deadlock: threads wait at a barrier.cluster.wait that never "
                           "completes", self.steps[cluster].ins, m.coords(first))
        first = min(int(w[0]) for w in self.waiting.values())
        cta = m.cta[first]
        pcs = sorted(pc for pc, w in self.waiting.items() if (m.cta[w] == cta).any())
        lines = ", ".join(f"line {self.steps[pc].ins.line}" for pc in pcs)
        b = self.steps[pcs[0]].barrier
        if len(pcs) > 1:
            what = ("divergent barrier: threads of one CTA wait at different bar.sync "
                    f"instructions ({lines}) and no thread is left to run")
        elif b.count is not None:
            arrived = int(self.barriers.arrived[b.number][cta])
            what = (f"deadlock: barrier {b.number} waits for {b.count} threads; only "
                    f"{arrived} of the CTA arrived and no thread is left to run")
        else:
            what = "deadlock: threads wait at a bar.sync that the rest of their CTA never reaches"
        raise SimError(what + also, self.steps[pcs[0]].ins, m.coords(first))

    def too_many(self, pc: int, sel) -> None:
        ins = self.steps[min(pc, len(self.steps) - 1)].ins
        raise self.m.fail(
            f"step limit of {self.max_steps} group-steps exceeded (probable "
            f"infinite loop{self.hot_loop()}; raise max_steps if the kernel is just long)",
            ins,
            sel,
        )

    def hot_loop(self) -> str:
        """The most-taken branch: the PTX lines of the loop it closes, or where it jumps."""
        if not any(self.taken):
            return ""
        pc = max(range(len(self.taken)), key=self.taken.__getitem__)
        step, times = self.steps[pc], self.taken[pc]
        to = self.steps[step.target].ins.line if step.target < len(self.steps) else None
        if to is not None and step.target <= pc:
            return (f": the threads were looping in lines {to}-{step.ins.line}, the branch at "
                    f"line {step.ins.line} back to line {to} taken {times} times")
        return f": the most-taken branch is at line {step.ins.line}, taken {times} times"
