"""Run PTX on a backend: `launch(program, launches, buffers, backend="cuda" | "sim")` for any
program, and `run(kernel, q, k, v, seq_len, backend=...)` for a kernel object.

A kernel object is a producer: of a `Program` (`kernel.program(target)`), of its launches and
of its buffer specs; it decodes its own results. `run` checks the inputs here, once, for every
backend (shapes, dtype, contiguity, seq_len), then `run_unchecked` allocates from the specs,
launches and reads back. The runtime imports nothing from `explorer.kernels`. Only
`explorer.runtime.cuda` imports CuPy, lazily, so this package imports on a machine without a
GPU.
"""

from __future__ import annotations

import functools

import numpy as np

from .backend import BACKENDS, Backend, get_backend
from .checks import check_arrays, check_kernel, check_lengths
from .errors import BackendUnavailable
from .execute import launch

BACKEND_CHOICES = ("auto", *BACKENDS)


def check_launch(kernel, q, k, v, seq_len) -> tuple[int, ...]:
    """Validate the arguments of a run; return one length per sequence. Raises ValueError."""
    check_kernel(kernel)
    check_arrays(kernel, q=q, k=k, v=v)
    return check_lengths(kernel, seq_len)


def run(kernel, q, k, v, seq_len, backend: str | Backend = "cuda"):
    """Run `kernel` once and return its output as NumPy, in q's layout (and for a debug kernel
    `(output, WarpStates)`). `seq_len` is an int, or one int per sequence of the batch."""
    if isinstance(backend, str) and backend not in BACKENDS:  # before the inputs: cheap
        raise ValueError(f"backend={backend!r}; accepted: {', '.join(BACKENDS)}")
    lengths = check_launch(kernel, q, k, v, seq_len)
    return run_unchecked(kernel, q, k, v, lengths, backend)


def run_unchecked(kernel, q, k, v, lengths: tuple[int, ...], backend: str | Backend = "cuda"):
    """`run` without the host checks: `lengths` (one per sequence, any u32) reach the kernel
    as they are, as a stale device value could (tests and the sanitizer check the in-kernel
    clamp with it). Returns what `run` returns."""
    be = get_backend(backend)
    values = {"q": q, "k": k, "v": v, **kernel.length_arguments(tuple(lengths))}
    outputs = launch(kernel.program(be.target), kernel.launches(), values, be,
                     kernel.buffer_specs())
    return kernel.results(outputs, tuple(lengths), np.shape(q))


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


def choose_backend(choice: str = "auto") -> tuple[str, str]:
    """(backend, why) for "auto" (cuda where CuPy finds a GPU, else the simulator), "cuda" or
    "sim"."""
    if choice not in BACKEND_CHOICES:
        raise ValueError(f"backend={choice!r}; accepted: {', '.join(BACKEND_CHOICES)}")
    if choice == "sim":
        return "sim", "the CPU simulator (chosen)"
    found, detail = gpu_probe()
    if choice == "cuda":
        return "cuda", (f"the GPU, {detail} (chosen)" if found else detail)
    if found:
        return "cuda", f"the GPU, {detail} (auto)"
    return "sim", f"the CPU simulator (auto: no GPU here, {detail})"


def default_backend() -> str:
    """ "cuda" where CuPy finds a GPU, else "sim" (the CPU simulator)."""
    return choose_backend("auto")[0]


__all__ = [
    "BACKENDS",
    "BACKEND_CHOICES",
    "Backend",
    "BackendUnavailable",
    "check_launch",
    "check_lengths",
    "choose_backend",
    "default_backend",
    "gpu_probe",
    "get_backend",
    "launch",
    "run",
    "run_unchecked",
]
