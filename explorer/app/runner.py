"""The Run and Warps views' work: `explorer.verify.verify` of a configuration on a backend
(the float64 comparison and the debug variant's states: each warp's for the seed kernels,
each split's and its warps' for split-KV), then its timing on a GPU.

`auto` picks cuda when CuPy finds a GPU, else the simulator, and says why
(`runtime.choose_backend`). Every step's failure becomes a message in the result (the app
shows it inline); nothing here raises for a configuration or a backend problem. It draws
nothing (see `render.py` and `explorer.plots`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import runtime, verify
from ..verify import Comparison, WarpStates
from ..verify.inputs import make_inputs
from ..verify.states import SplitStates
from .foreign import LaunchValues
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
    states: WarpStates | SplitStates | None = None
    states_source: str = ""  # "kernel" (the debug variant's record) or "reference"
    state_problems: list[str] = field(default_factory=list)
    us_per_launch: float | None = None
    gbps: float | None = None
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_run: str = ""  # why the configuration could not be built or run at all

    @property
    def passed(self) -> bool:
        return self.comparison is not None and self.comparison.passed and not self.errors

    @property
    def verdict(self) -> str:
        """PASS, FAIL (it ran and is wrong, or broke while running) or "not run"."""
        if self.not_run:
            return "not run"
        return "PASS" if self.passed and not self.state_problems else "FAIL"


def resolve_backend(choice: str) -> tuple[str, str]:
    """(backend, why): `auto` -> cuda when CuPy finds a GPU, else sim."""
    return runtime.choose_backend(choice)


def run(config: Config, progress: Progress | None = None, timing: bool = True) -> RunResult:
    """Verify `config` (plain kernel, then its debug variant for the warp states), then time
    it when the backend is cuda."""
    started = time.perf_counter()
    report = progress or (lambda step, fraction: None)
    result = RunResult(config)
    problems = run_problems(config)
    if problems:
        result.errors.extend(problems)
        result.not_run = problems[0]
        return result
    result.backend, result.backend_reason = resolve_backend(config.backend)
    if result.backend == "cuda" and not runtime.gpu_probe()[0]:
        result.not_run = result.backend_reason  # cuda was chosen on a machine without a GPU
        result.errors.append(f"cuda: {result.backend_reason}")
        return result
    kernel = build_kernel(config)
    verdict = verify.verify(kernel, result.backend, config.seq_len, seed=SEED,
                            on_error="record", progress=report)
    result.comparison, result.errors = verdict.comparison, list(verdict.errors)
    _take_states(result, verdict)
    if timing and result.backend == "cuda" and verdict.out is not None:
        report("timing on the GPU", 0.8)
        _time(result, kernel, config.seq_len)
    result.seconds = time.perf_counter() - started
    report("done", 1.0)
    return result


def _take_states(result: RunResult, verdict: verify.Verdict) -> None:
    """The debug variant's states, or where it recorded none, the reference's (labelled so)."""
    if verdict.states is not None:
        result.states, result.states_source = verdict.states, "kernel"
        result.state_problems = list(verdict.state_problems)
        result.notes.extend(verdict.notes)
    elif verdict.reference_states is not None:
        result.states, result.states_source = verdict.reference_states, "reference"
        why = " ".join(verdict.notes) or "The kernel recorded none."
        result.notes.append(f"The Warps view shows the float64 reference's states. {why}")
    else:
        result.notes.extend(verdict.notes)


def _time(result: RunResult, kernel, seq_len: int) -> None:
    def measure():
        from .. import bench

        return bench.time_kernel(kernel, seq_len)

    try:
        timing = measure()
    except Exception as err:  # shown inline in the app; never a traceback
        result.errors.append(f"GPU timing failed: {type(err).__name__}: {err}")
        return
    result.us_per_launch = timing.us_per_launch
    result.gbps = timing.gbps


def kernel_launch(config: Config, seed: int = SEED) -> LaunchValues:
    """The configuration's first launch with its argument values: random q, k, v (as a run
    makes them from `seed`), seq_len, and the other buffers filled as the runtime fills
    them. ValueError naming the problem."""
    problems = run_problems(config)
    if problems:
        raise ValueError("; ".join(problems))
    kernel = build_kernel(config)
    q, k, v = make_inputs(kernel, np.random.default_rng(seed))
    lengths = runtime.check_lengths(kernel, config.seq_len)
    values = {"q": q, "k": k, "v": v, **kernel.length_arguments(lengths)}
    for spec in kernel.buffer_specs():
        values[spec.name] = (np.asarray(values[spec.name]).reshape(spec.shape)
                             if spec.role == "input" else
                             np.full(spec.shape, spec.fill, dtype=spec.dtype))
    first = kernel.launches()[0]
    args = [values[a] if isinstance(a, str) else a for a in first.args]
    return LaunchValues(kernel.emit(config.target), first.entry, first.grid, first.block, args,
                        first.shared_bytes)
