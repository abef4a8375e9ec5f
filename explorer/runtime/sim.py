"""The simulator backend: the kernel's launches through `explorer.sim.launch`.

The kernel's PTX text is what runs (the same text the CUDA backend hands the driver). Outputs
and workspaces are poisoned first (`plan.buffers`), so an element the kernel did not write
shows; q, k and v are passed as read-only views, so a kernel that writes its inputs fails
instead of corrupting them. CuPy inputs are copied to the host first (the simulator runs on host
memory). Arguments were validated by `explorer.runtime.check_launch`.
"""

from __future__ import annotations

import numpy as np

from .. import sim
from . import plan


def _read_only(a) -> np.ndarray:
    view = np.ascontiguousarray(a.get() if plan.is_device_array(a) else a).view()
    view.flags.writeable = False
    return view


def _scalar(arg):
    return int(arg) if isinstance(arg, np.integer) else arg


def run(kernel, q, k, v, lengths: tuple[int, ...]):
    """One simulated run; returns what `explorer.runtime.run` returns."""
    inputs = [_read_only(a) for a in (q, k, v)]
    bufs = plan.buffers(kernel, np, *inputs, lengths)
    ptx = kernel.emit()
    for launch in kernel.launches(bufs):
        sim.launch(ptx, launch.entry, launch.grid, launch.block, [_scalar(a) for a in launch.args])
    return plan.results(kernel, bufs, lengths, np.asarray, np.shape(q))
