"""The one check pipeline: inputs -> float64 reference -> run -> compare -> the debug variant's
warp states -> compare them stage by stage with the reference's. `verify` returns a `Verdict`;
the CLI, the app, the lesson, the grid, the scripts and the tests all call it.

It runs kernels only through `explorer.runtime` and knows no kernel class (a kernel object
with a debug variant records warp states). It draws and prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import runtime
from ..dtypes import to_float64
from .compare import Comparison, compare, compare_states
from .inputs import make_inputs
from .reference import reference_output, split_states, warp_states
from .states import SplitStates, WarpStates

Progress = Callable[[str, float], None]
ON_ERROR = ("raise", "record")


@dataclass(frozen=True)
class Verdict:
    """One verified run: its inputs, the float64 `reference` (q's layout), the kernel's `out`
    and its `comparison`; the warp `states` the (debug variant of the) kernel recorded, the
    `reference_states`, where they differ (`state_problems`); why there are no recorded
    states (`notes`), and the steps that failed (`errors`, with on_error="record")."""

    kernel: object
    backend: str
    lengths: tuple[int, ...]
    inputs: str
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    reference: np.ndarray
    out: np.ndarray | None = None
    comparison: Comparison | None = None
    states: WarpStates | SplitStates | None = None
    reference_states: WarpStates | SplitStates | None = None
    state_problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def seq_len(self):
        """The length (one int for a batch of one), or the per-sequence lengths."""
        return self.lengths[0] if len(self.lengths) == 1 else list(self.lengths)

    @property
    def passed(self) -> bool:
        return (self.comparison is not None and self.comparison.passed
                and not self.state_problems and not self.errors)

    def __str__(self) -> str:
        result = self.comparison if self.comparison is not None else "; ".join(self.errors)
        return f"{self.kernel!r} seq_len={self.seq_len} inputs={self.inputs}: {result}"


def verify(kernel, backend: str | runtime.Backend = "sim", seq_len=None, inputs="normal",
           seed: int = 0, states: bool = True, host_checks: bool = True,
           on_error: str = "raise", progress: Progress | None = None) -> Verdict:
    """Run `kernel` on `backend` for `seq_len` (an int, one per sequence, or None: max_seq_len)
    and compare with the float64 reference.

    `kernel` is any kernel object (`explorer.runtime.checks.KERNEL_METHODS`, and the sizes,
    `dtype` and `scale` the reference reads): PTX from another compiler for the same layouts,
    wrapped so, verifies the same way.

    `inputs`: "normal" or "increasing" (`make_inputs` with `seed`), or a given (q, k, v).
    `states`: also compare the warp states, recorded by this run for a debug kernel, else by
    its debug variant (one more run; a kernel without one gets a note).
    `host_checks=False`: the lengths reach the kernel unchecked (`runtime.run_unchecked`,
    any u32) and the reference is taken at min(length, max_seq_len), the kernel's clamp.
    `on_error="record"`: a failed run becomes a message in `errors` instead of raising.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error={on_error!r}; accepted: {', '.join(ON_ERROR)}")
    report = progress or (lambda step, fraction: None)
    seq_len = kernel.max_seq_len if seq_len is None else seq_len
    if host_checks:
        lengths = runtime.check_lengths(kernel, seq_len)
    else:
        lengths = tuple(int(n) for n in np.broadcast_to(seq_len, (kernel.batch,)))
    kind, (q, k, v) = _inputs(kernel, inputs, seed)
    clamped = [min(n, kernel.max_seq_len) for n in lengths]
    report("reference", 0.1)
    with np.errstate(all="ignore"):  # special-value inputs meet inf - inf; the verdict shows it
        ref = reference_output(kernel, q, k, v, clamped)
    report(f"running on {_name(backend)}", 0.2)
    errors, notes = [], []
    got = _attempt(errors, on_error, f"the {_name(backend)} run",
                   lambda: _run(kernel, q, k, v, lengths, backend, host_checks))
    out = recorded = None
    if got is not None:
        out, recorded = got if kernel.debug else (got, None)
    with np.errstate(all="ignore"):
        comparison = None if out is None else compare(out, ref, kernel.dtype,
                                                      getattr(kernel, "kv_dtype", None) or "")
    want = problems = None
    if states:
        report("recording warp states (debug variant)", 0.5)
        recorded, want = _states(kernel, (q, k, v), lengths, backend, host_checks, recorded,
                                 notes, on_error)
        if recorded is not None and want is not None:
            problems = compare_states(recorded, want)
    return Verdict(kernel, _name(backend), lengths, kind, q, k, v, ref, out, comparison,
                   recorded, want, tuple(problems or ()), tuple(notes), tuple(errors))


def _name(backend) -> str:
    return backend if isinstance(backend, str) else backend.name


def _inputs(kernel, inputs, seed: int):
    if isinstance(inputs, str):
        return inputs, make_inputs(kernel, np.random.default_rng(seed), inputs)
    q, k, v = inputs
    return "given", (q, k, v)


def _run(kernel, q, k, v, lengths, backend, host_checks: bool):
    if host_checks:
        return runtime.run(kernel, q, k, v, lengths, backend=backend)
    return runtime.run_unchecked(kernel, q, k, v, lengths, backend=backend)


def _attempt(errors: list, on_error: str, what: str, step):
    """`step()`, or (on_error="record") None with a message naming the step."""
    if on_error == "raise":
        return step()
    try:
        return step()
    except Exception as err:  # the app shows it inline; never a traceback
        errors.append(f"{what} failed: {type(err).__name__}: {err}")
        return None


def _warp_reference(debug, qkv, lengths) -> WarpStates:
    """The seed kernels' states (of the one sequence)."""
    slots = debug.debug_layout.score_slots
    return warp_states(*qkv, lengths[0], debug.num_warps, debug.scale, slots)


def _split_reference(debug, qkv, lengths) -> SplitStates:
    """The split-KV kernel's states, from its stored (rounded) inputs."""
    q, k, v = (to_float64(x, debug.dtype) for x in qkv)
    layout = debug.debug_layout
    return split_states(q, k, v, lengths, layout.num_splits, layout.num_warps,
                        layout.warp_rows, layout.warp_unroll, debug.scale)


# the debug layout's `kind` -> the reference of the states it records
REFERENCE_STATES = {"warp": _warp_reference, "split": _split_reference}


def _states(kernel, qkv, lengths, backend, host_checks, recorded, notes: list, on_error: str):
    """(recorded states or None, reference states or None); a note says why none was
    recorded. The debug variant's failure raises, or (on_error="record") becomes a note: the
    reference's states can still be shown."""
    try:
        debug = kernel.debug_variant()
    except (AttributeError, ValueError) as err:
        notes.append(f"No warp states: {err}.")
        return None, None
    clamped = [min(n, kernel.max_seq_len) for n in lengths]
    want = REFERENCE_STATES[debug.debug_layout.kind](debug, qkv, clamped)
    if debug is kernel:  # this run recorded them (or failed, an error already)
        return recorded, want
    try:
        return _run(debug, *qkv, lengths, backend, host_checks)[1], want
    except Exception as err:
        if on_error == "raise":
            raise
        notes.append(f"No warp states recorded: the debug variant did not run on "
                     f"{_name(backend)} ({type(err).__name__}: {err}).")
        return None, want
