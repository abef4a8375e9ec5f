"""What notebooks/warp_softmax.ipynb calls: every step of the warp-softmax lesson is a function
of this package, so that the notebook holds no logic a test cannot reach.

1. `softmax`: softmax and online softmax in NumPy, checked against `explorer.verify.reference`.
2. `shuffle`: one warp's shuffle-down tree, run as real PTX (the kernels' own `warp_sum`) on
   the simulator or CUDA: the 32 lanes after each of the five steps (on the simulator, read
   from the lane trace of its instructions, `explorer.sim.trace`).
3. `warps`: the sequence split over warps and the cross-warp merge, recorded by the
   multi-warp debug kernel.
4. `timings`: why multi-warp beats single-warp and split-KV beats both, in measured numbers.
5. `exercises` (and `splits` for the fourth): the exercises' checkers, each returning a
   `Verdict`.
`figures` draws steps 1, 2 and 4; it is imported when a figure is first asked for, so the
lesson's runs work where plotly is not installed. It adds no kernel to the project and changes
none.
"""

from __future__ import annotations

from ..runtime import default_backend
from .exercises import (
    RESCALE_CASES,
    Verdict,
    check_broken_rescale,
    check_merge_factor,
    check_shuffle_sources,
    rescale_bug_caught,
    rescale_case,
    rescale_cases_table,
)
from .shuffle import (
    SHUFFLE_DELTAS,
    SHUFFLE_ROWS,
    ShuffleTreeKernel,
    shuffle_sources,
    shuffle_trace,
    shuffle_tree,
    shuffle_tree_numpy,
    trace_table,
    tree_rows,
)
from .softmax import (
    OnlineTrace,
    lesson_inputs,
    online_attention,
    online_softmax,
    softmax,
    softmax_naive,
)
from .splits import SplitRun, check_split_merge, split_run
from .timings import (
    BENCH_FILE,
    KernelTimings,
    find_bench_file,
    format_table,
    kernel_timings,
    measured_timings,
    parallelism_table,
    recorded_timings,
)
from .warps import DebugRun, debug_run

FIGURES = ("online_softmax_figure", "shuffle_tree_figure", "timings_figure")


def __getattr__(name: str):
    if name in FIGURES:  # plotly only when a figure is drawn
        from . import figures

        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BENCH_FILE",
    "RESCALE_CASES",
    "SHUFFLE_DELTAS",
    "SHUFFLE_ROWS",
    "DebugRun",
    "SplitRun",
    "KernelTimings",
    "OnlineTrace",
    "ShuffleTreeKernel",
    "Verdict",
    "check_broken_rescale",
    "check_merge_factor",
    "check_shuffle_sources",
    "debug_run",
    "split_run",
    "check_split_merge",
    "default_backend",
    "find_bench_file",
    "format_table",
    "kernel_timings",
    "lesson_inputs",
    "measured_timings",
    "online_attention",
    "online_softmax",
    "online_softmax_figure",
    "parallelism_table",
    "recorded_timings",
    "rescale_bug_caught",
    "rescale_case",
    "rescale_cases_table",
    "shuffle_sources",
    "shuffle_trace",
    "shuffle_tree",
    "shuffle_tree_figure",
    "shuffle_tree_numpy",
    "softmax",
    "softmax_naive",
    "timings_figure",
    "trace_table",
    "tree_rows",
]
