"""Run a kernel on a backend: `run(kernel, q, k, v, seq_len, backend="cuda" | "sim")`.

Inputs are checked here, once, for every backend (shapes, dtype, contiguity, seq_len); the
backends allocate through `plan` and launch what the kernel asks for. Only
`explorer.runtime.cuda` imports CuPy, lazily, so this package imports on a machine without a
GPU.
"""

from __future__ import annotations

import functools

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


@functools.cache
def gpu_probe() -> tuple[bool, str]:
    """(True, the GPU's name) when CuPy finds a GPU, else (False, why not). Probed once; a
    broken CuPy install is reported, never raised."""
    try:
        import cupy  # noqa: F401  (only to tell "not installed" from "no GPU")
    except ImportError:
        return False, "CuPy is not installed"
    try:
        from . import cuda

        name = cuda.cupy().cuda.runtime.getDeviceProperties(0)["name"]
        return True, name.decode() if isinstance(name, bytes) else str(name)
    except BackendUnavailable as err:
        return False, str(err)
    except Exception as err:  # noqa: BLE001  (whatever a broken install raises)
        return False, f"CuPy could not query the GPU: {type(err).__name__}: {err}"


def default_backend() -> str:
    """ "cuda" where CuPy finds a GPU, else "sim" (the CPU simulator)."""
    return "cuda" if gpu_probe()[0] else "sim"


__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "check_launch",
    "check_lengths",
    "default_backend",
    "gpu_probe",
    "run",
]
