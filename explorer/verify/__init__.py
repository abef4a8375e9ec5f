"""Is a kernel right? Random inputs, the float64 reference (mirroring the kernels' stages),
the comparison against the project's tolerances, the warp states stage by stage, and the one
call that runs them in order: `verify(kernel, backend, seq_len, ...) -> Verdict`.

`inputs` (make_inputs), `reference` (float64, stage by stage), `states` (WarpStates),
`compare` (Comparison, compare_states), `pipeline` (verify, Verdict) and `grid` (a kernel
over its edge-case lengths) know no kernel class: the kernels import `states`, never the
other way round (the core grid of kernel objects is `explorer.kernels.grid`).
"""

from __future__ import annotations

from . import reference
from .compare import KV_TOLERANCES, TOLERANCES, Comparison, compare, compare_states
from .inputs import INPUT_KINDS, make_inputs
from .pipeline import Verdict, verify
from .reference import reference_output
from .states import WarpStates

__all__ = [
    "INPUT_KINDS",
    "KV_TOLERANCES",
    "TOLERANCES",
    "Comparison",
    "Verdict",
    "WarpStates",
    "compare",
    "compare_states",
    "make_inputs",
    "reference",
    "reference_output",
    "verify",
]
