"""The one interface both backends implement (`Backend`), and the table that names them.

A backend loads a `Program`, makes buffers (from host arrays, or filled), launches one
`Launch` whose arguments are already its buffers and numbers, reads buffers back, and waits.
It knows no kernel class and no buffer names: `explorer.runtime.launch` turns a producer's
names into buffers. Backends are built on demand, so CuPy is imported only for "cuda".
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..ptx.program import Launch, Program

BACKENDS = ("cuda", "sim")


class Backend(Protocol):
    """What `explorer.runtime` asks of a backend (`cuda.CudaBackend`, `sim.SimBackend`)."""

    name: str
    target: str  # the PTX target programs for this backend are emitted for

    def load(self, program: Program) -> object:
        """A handle to launch `program`'s entries from (loaded once per PTX text)."""

    def from_host(self, array, name: str, writable: bool = True) -> object:
        """A buffer holding `array` (NumPy or CuPy); `writable=False` where only reads are
        allowed (the simulator then fails a kernel that writes it)."""

    def alloc(self, shape: tuple[int, ...], dtype: str, fill: int | float) -> object:
        """A new buffer of `shape` and NumPy `dtype`, every element `fill`."""

    def launch(self, module: object, launch: Launch, stream=None) -> None:
        """One launch; `launch.args` are this backend's buffers and numbers, in parameter
        order (on `stream` where the backend has streams)."""

    def to_host(self, buffer: object) -> np.ndarray:
        """A NumPy copy of a buffer."""

    def synchronize(self) -> None:
        """Return when every launch made so far has finished."""


def get_backend(backend: str | Backend = "cuda", **options) -> Backend:
    """The backend called `backend` ("cuda" or "sim", built with `options`: the simulator
    takes `check_races`, `max_steps` and `strict`), or `backend` itself when it is one
    already."""
    if not isinstance(backend, str):
        if all(hasattr(backend, m) for m in ("load", "alloc", "launch", "to_host")):
            return backend
        raise ValueError(f"backend={backend!r}; accepted: {', '.join(BACKENDS)}")
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; accepted: {', '.join(BACKENDS)}")
    if backend == "sim":
        from .sim import SimBackend

        return SimBackend(**options)
    from .cuda import CudaBackend

    return CudaBackend(**options)
