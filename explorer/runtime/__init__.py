"""Run a kernel on a backend: `run(kernel, q, k, v, seq_len, backend="cuda" | "sim")`.

Inputs are checked here, once, for every backend (shapes, dtype, contiguity, seq_len); the
backends allocate through `plan` and launch what the kernel asks for. Only
`explorer.runtime.cuda` imports CuPy, lazily, so this package imports on a machine without a
GPU.
"""

from __future__ import annotations

from .errors import BackendUnavailable
from .plan import check_arrays, check_kernel, check_lengths

BACKENDS = ("cuda", "sim")


def check_launch(kernel, q, k, v, seq_len) -> tuple[int, ...]:
    """Validate the arguments of a run; return one length per sequence. Raises ValueError."""
    check_kernel(kernel)
    check_arrays(kernel, q, k, v)
    return check_lengths(kernel, seq_len)


def run(kernel, q, k, v, seq_len, backend: str = "cuda"):
    """Run `kernel` once and return its output as NumPy, in q's layout (and for a debug kernel
    `(output, WarpStates)`). `seq_len` is an int, or one int per sequence of the batch."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; accepted: {', '.join(BACKENDS)}")
    lengths = check_launch(kernel, q, k, v, seq_len)
    if backend == "sim":
        from . import sim

        return sim.run(kernel, q, k, v, lengths)
    from . import cuda

    return cuda.run(kernel, q, k, v, lengths)


__all__ = ["BACKENDS", "BackendUnavailable", "check_launch", "check_lengths", "run"]
