"""The simulator backend: `explorer.sim.launch` behind the runtime's `Backend` interface.

The PTX text is what runs (the same text the CUDA backend hands the driver). Buffers are
NumPy arrays: CuPy arrays are copied to the host (the simulator runs on host memory), and
read-only buffers are read-only views, so a kernel that writes its inputs fails instead of
corrupting them. Dynamic shared memory is not modelled yet: a launch asking for it is refused.
"""

from __future__ import annotations

import numpy as np

from .. import sim
from ..ptx.program import Launch, Program
from .checks import is_device_array


class SimBackend:
    """`check_races`, `max_steps` and `strict` are `explorer.sim.launch`'s options, for every
    launch; `findings` collects what non-strict launches found (each with its PTX line)."""

    name = "sim"
    # The simulator reads the .target line only to refuse clusters below sm_90; sm_90 admits
    # every path of every kernel (the tensor cores from sm_80, griddepcontrol and clusters
    # from sm_90), as the H200 the GPU tests run on.
    target = "sm_90"

    def __init__(self, check_races: bool = False, max_steps: int | None = None,
                 strict: bool = True) -> None:
        self.options = {"check_races": check_races, "max_steps": max_steps, "strict": strict}
        self.findings: list = []

    def load(self, program: Program) -> Program:
        return program  # `sim.launch` parses and decodes once per (text, entry)

    def from_host(self, array, name: str, writable: bool = True) -> np.ndarray:
        host = array.get() if is_device_array(array) else np.asarray(array)
        if writable:
            return np.array(host, order="C")  # a copy: the caller's array stays as it is
        view = np.ascontiguousarray(host).view()
        view.flags.writeable = False
        return view

    def alloc(self, shape: tuple[int, ...], dtype: str, fill: int | float) -> np.ndarray:
        return np.full(shape, fill, dtype=dtype)

    def launch(self, module: Program, launch: Launch, stream=None) -> None:
        if stream is not None:
            raise ValueError("stream: the simulator has no streams (accepted: None)")
        result = sim.launch(module.ptx, launch.entry, launch.grid, launch.block,
                            list(launch.args), shared_bytes=launch.shared_bytes,
                            **self.options)
        self.findings.extend(result.findings)

    def to_host(self, buffer: np.ndarray) -> np.ndarray:
        return np.array(buffer)

    def synchronize(self) -> None:
        """Launches run to completion when made."""
