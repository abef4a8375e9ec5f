"""The Run and Warps views' work: run a configuration on a backend, compare with the float64
reference, record each warp's softmax state through the debug variant, and time the kernel on
a GPU.

`auto` picks cuda when CuPy finds a GPU, else the simulator, and says why. Every step's
failure becomes a message in the result (the app shows it inline); nothing here raises for a
configuration or a backend problem. It draws nothing (see `render.py` and `explorer.plots`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import reference, runtime
from ..check import Comparison, compare, compare_states, make_inputs, reference_output
from ..states import WarpStates
from .state import Config, build_kernel, run_problems

SEED = 0
Progress = Callable[[str, float], None]


@dataclass
class RunResult:
    """Everything the Run and Warps views show for one run (errors as messages)."""

    config: Config
    backend: str = ""
    backend_reason: str = ""
    comparison: Comparison | None = None
    states: WarpStates | None = None
    states_source: str = ""  # "kernel" (the debug variant's record) or "reference"
    state_problems: list[str] = field(default_factory=list)
    us_per_launch: float | None = None
    gbps: float | None = None
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.comparison is not None and self.comparison.passed and not self.errors


def resolve_backend(choice: str) -> tuple[str, str]:
    """(backend, why): `auto` -> cuda when CuPy finds a GPU, else sim."""
    if choice == "sim":
        return "sim", "the CPU simulator (chosen)"
    found, detail = runtime.gpu_probe()
    if choice == "cuda":
        return "cuda", (f"the GPU, {detail} (chosen)" if found else detail)
    if found:
        return "cuda", f"the GPU, {detail} (auto)"
    return "sim", f"the CPU simulator (auto: no GPU here, {detail})"


def _step(result: RunResult, what: str, fn, *args):
    """Run one step; a failure becomes a message naming the step."""
    try:
        return fn(*args)
    except Exception as err:  # shown inline in the app; never a traceback
        result.errors.append(f"{what} failed: {type(err).__name__}: {err}")
        return None


def run(config: Config, progress: Progress | None = None, timing: bool = True) -> RunResult:
    """Run `config` once (plain kernel), then its debug variant for the warp states, then
    time it when the backend is cuda."""
    started = time.perf_counter()
    report = progress or (lambda step, fraction: None)
    result = RunResult(config)
    problems = run_problems(config)
    if problems:
        result.errors.extend(problems)
        return result
    result.backend, result.backend_reason = resolve_backend(config.backend)
    kernel = build_kernel(config)
    dtype = getattr(kernel, "dtype", "f32")
    q, k, v = make_inputs(kernel, np.random.default_rng(SEED))
    report("reference", 0.1)
    ref = reference_output(kernel, q, k, v, config.seq_len)
    report(f"running on {result.backend}", 0.2)
    out = _step(result, f"the {result.backend} run", runtime.run, kernel, q, k, v,
                config.seq_len, result.backend)
    if out is not None:
        result.comparison = compare(out, ref, dtype)
    report("recording warp states (debug variant)", 0.5)
    _record_states(result, config, (q, k, v))
    if timing and result.backend == "cuda" and out is not None:
        report("timing on the GPU", 0.8)
        _time(result, kernel, config.seq_len)
    result.seconds = time.perf_counter() - started
    report("done", 1.0)
    return result


def _record_states(result: RunResult, config: Config, qkv) -> None:
    """Run the debug variant and compare its record with the reference's warp states. A
    kernel without a debug variant gets a note; a backend that cannot run it, the
    reference's states (labelled so)."""
    try:
        debug_kernel = build_kernel(config, debug=True)
    except ValueError as err:
        result.notes.append(f"No warp states: {err}.")
        return
    q, k, v = qkv
    slots = debug_kernel.debug_layout.score_slots
    want = reference.warp_states(q, k, v, config.seq_len, debug_kernel.num_warps,
                                 debug_kernel.scale, slots)
    try:
        got = runtime.run(debug_kernel, q, k, v, config.seq_len, backend=result.backend)
    except Exception as err:  # e.g. a backend without debug support
        got = None
        why = f"the debug variant did not run on {result.backend} ({type(err).__name__}: {err})"
    else:
        why = f"the {result.backend} backend returned no warp states"
    if not isinstance(got, tuple):
        result.states, result.states_source = want, "reference"
        result.notes.append(f"The Warps view shows the float64 reference's states: {why}.")
        return
    result.states, result.states_source = got[1], "kernel"
    result.state_problems = compare_states(got[1], want)


def _time(result: RunResult, kernel, seq_len: int) -> None:
    def measure():
        from .. import bench

        return bench.time_kernel(kernel, seq_len)

    timing = _step(result, "GPU timing", measure)
    if timing is not None:
        result.us_per_launch = timing.us_per_launch
        result.gbps = timing.gbps
