"""The simulator's semantics per opcode of `explorer.ptx.spec.OPCODES`, gathered from the modules
that implement them, in the table's order.

A compute opcode's entry holds its decoder; control flow (`branch`, `barrier`, `exit`: the row's
`flow` in the spec) is run by the scheduler itself, so its entry holds only the forms modelled.
docs/simulator.md's table is generated from these entries, and a test keeps them, the spec and
the docs in step: an opcode may lack semantics only where its spec row says `simulated=False`.
Forms outside an entry raise `SimError("unsupported instruction ...")` when a thread reaches them.
"""

from __future__ import annotations

from ..ptx import spec
from . import atomics, bits, clusters, convert, elementary, memops, mma, ops, vote, warp
from .operands import Semantics

CONTROL_FLOW = {
    "bar": Semantics(None, ".sync/.arrive a{, b} (immediate barrier 0..15 and thread count); "
                           ".red.popc.u32, .red.and.pred, .red.or.pred"),
    "barrier": Semantics(None, "as bar: .sync/.arrive/.red{.aligned}; .cluster.arrive"
                               "{.release,.relaxed}{.aligned} and .cluster.wait{.acquire}"
                               "{.aligned}: every non-exited thread of the cluster, phase by "
                               "phase"),
    "bra": Semantics(None, "bra and bra.uni to a label, with divergence"),
    "call": Semantics(None, "call/call.uni of a .func of the module, with return and argument "
                            "parameters: inlined at load; nvcc's atomic builtins "
                            "(__uAtomicAdd...) as atom"),
    "ret": Semantics(None, "returns from a .func; ends the thread in an entry"),
    "exit": Semantics(None, "ends the thread"),
}
IMPLEMENTED = {
    **memops.SEMANTICS, **atomics.SEMANTICS, **convert.SEMANTICS, **ops.SEMANTICS,
    **elementary.SEMANTICS, **bits.SEMANTICS, **mma.SEMANTICS, **warp.SEMANTICS,
    **vote.SEMANTICS, **clusters.SEMANTICS, **CONTROL_FLOW,
}
SEMANTICS: dict[str, Semantics] = {op: IMPLEMENTED[op] for op in spec.OPCODES if op in IMPLEMENTED}


def markdown_table() -> str:
    """The docs table of supported instructions, generated from `SEMANTICS`."""
    lines = ["| opcode | scheduler | forms modelled |", "|---|---|---|"]
    lines += [
        f"| `{op}` | {spec.OPCODES[op].flow} | {s.modelled} |" for op, s in SEMANTICS.items()
    ]
    return "\n".join(lines)
