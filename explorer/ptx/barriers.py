"""Build-time barrier safety: a `bar.sync` that some threads of a CTA may not reach is an error.

A forward data-flow over the linear body, iterated to a fixed point: registers that depend on
the thread index (`%tid`, `%laneid`, `%warpid`, the results of opcodes the table marks
`per_thread` such as shuffles and atomics, and anything written under thread-dependent control)
are *varying*; a branch on a varying predicate makes the code it skips (or the loop it closes)
*divergent*. Which instructions branch, exit, wait at a barrier or write operand 0 is read from
`spec.OPCODES`. A barrier inside divergent code, under a varying
guard, or after a thread-dependent exit is reported. It is conservative (it may reject safe
code that hides uniformity behind arithmetic) and knows nothing of warp-level `bar.warp`.
"""

from __future__ import annotations

from .ir import Address, Instruction, Kernel, Label, Reg, SpecialReg, Vector
from .spec import OPCODES

VARYING_SPECIALS = frozenset({"tid.x", "tid.y", "tid.z", "laneid", "warpid"})


class BarrierError(ValueError):
    """A barrier that not every thread of the CTA is guaranteed to reach."""


def _flow(ins: Instruction) -> str:
    return OPCODES[ins.opcode].flow


def _reads_varying(ins: Instruction, varying: set[Reg]) -> bool:
    if OPCODES[ins.opcode].per_thread:  # a lane exchange, an atomic's old value
        return True
    for op in ins.operands[1:] if _writes(ins) else ins.operands:
        if isinstance(op, SpecialReg) and op.name in VARYING_SPECIALS:
            return True
        if isinstance(op, Reg) and op in varying:
            return True
        if isinstance(op, Address) and op.base in varying:
            return True
        if isinstance(op, Vector) and any(r in varying for r in op.regs):
            return True
    return False


def _writes(ins: Instruction) -> bool:
    return OPCODES[ins.opcode].writes


def _written(ins: Instruction) -> list[Reg]:
    if not _writes(ins) or not ins.operands:
        return []
    dst = ins.operands[0]
    return list(dst.regs) if isinstance(dst, Vector) else [dst] if isinstance(dst, Reg) else []


class _Flow:
    def __init__(self, kernel: Kernel) -> None:
        self.body = kernel.body
        self.labels = {s.name: i for i, s in enumerate(self.body) if isinstance(s, Label)}
        self.back_edges = [
            (self.labels[s.operands[0].name], i)
            for i, s in enumerate(self.body)
            if isinstance(s, Instruction) and _flow(s) == "branch"
            and self.labels.get(s.operands[0].name, i + 1) <= i
        ]
        self.varying: set[Reg] = set()
        self.divergent: dict[int, int] = {}  # statement -> the branch that makes it divergent

    def guard_varies(self, ins: Instruction) -> bool:
        return ins.guard is not None and ins.guard.pred in self.varying

    def step(self) -> bool:
        """One pass; True if anything changed."""
        before = (len(self.varying), len(self.divergent))
        for i, s in enumerate(self.body):
            if not isinstance(s, Instruction):
                continue
            if _reads_varying(s, self.varying) or self.guard_varies(s) or i in self.divergent:
                self.varying.update(_written(s))
            if _flow(s) == "branch" and (self.guard_varies(s) or i in self.divergent):
                self.mark_branch(i, self.labels.get(s.operands[0].name))
        return before != (len(self.varying), len(self.divergent))

    def mark_branch(self, i: int, target: int | None) -> None:
        """Threads may part at branch `i`: the code it skips (or the loop it closes) diverges."""
        if target is None:
            return
        lo, hi = (i + 1, target - 1) if target > i else (target, i)
        self.mark(range(lo, hi + 1), i)
        for head, tail in self.back_edges:
            # Leaving a loop while others iterate makes every iteration divergent; a branch
            # that rejoins inside the same iteration (an if) does not.
            if head <= i <= tail and not head <= target <= tail:
                self.mark(range(head, tail + 1), i)

    def mark(self, span: range, cause: int) -> None:
        for j in span:
            self.divergent.setdefault(j, cause)


def check_barriers(kernel: Kernel) -> None:
    """Raise `BarrierError` naming the barrier and the branch or exit that makes it unsafe."""
    flow = _Flow(kernel)
    while flow.step():
        pass
    body = kernel.body
    exits = [
        i for i, s in enumerate(body)
        if isinstance(s, Instruction) and _flow(s) == "exit"
        and (flow.guard_varies(s) or i in flow.divergent)
    ]
    for i, s in enumerate(body):
        if not (isinstance(s, Instruction) and _flow(s) == "barrier"):
            continue
        where = f"{kernel.entry}: statement {i} `{s.name} ...`"
        if flow.guard_varies(s):
            raise BarrierError(f"{where} is guarded by thread-dependent predicate {s.guard.pred}")
        if i in flow.divergent:
            cause = body[flow.divergent[i]]
            raise BarrierError(
                f"{where} is reachable under thread-dependent divergence: "
                f"statement {flow.divergent[i]} `{_text(cause)}` branches on a varying value"
            )
        early = [e for e in exits if e < i or any(h <= e <= t and h <= i <= t
                                                   for h, t in flow.back_edges)]
        if early:
            raise BarrierError(
                f"{where} follows a thread-dependent early exit at statement {early[0]} "
                f"`{_text(body[early[0]])}`: the threads that left never arrive"
            )


def _text(ins: Instruction) -> str:
    ops = ", ".join(str(o) for o in ins.operands)
    return f"{ins.guard} {ins.name} {ops}".strip() if ins.guard else f"{ins.name} {ops}".strip()
