"""The simulator backend: `run(kernel, q, k, v, seq_len)` through `explorer.sim.launch`.

It mirrors `explorer.runtime.cuda.run`: the kernel's PTX text is what runs (the same text the
CUDA backend hands the driver); the output is poisoned with NaN and a debug kernel's record with
`POISON` first, so an element the kernel did not write shows; a debug kernel returns
`(output, WarpStates)`. q, k and v are passed as read-only views, so a kernel that writes its
inputs fails instead of corrupting them. Arguments were validated by
`explorer.runtime.check_launch`.
"""

from __future__ import annotations

import numpy as np

from .. import sim
from ..kernels.debug import POISON


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def launch(kernel, args: list) -> None:
    """One launch of `kernel`'s entry with NumPy arguments in parameter order."""
    sim.launch(kernel.emit(), kernel.entry, kernel.grid, kernel.block, args)


def run(kernel, q, k, v, seq_len: int):
    """One simulated launch; returns the f32 output `[num_heads, head_dim]`, and for a debug
    kernel `(output, WarpStates)`."""
    out = np.full((kernel.num_heads, kernel.head_dim), np.nan, dtype=np.float32)
    if kernel.indirect_seq_len:
        seq_arg = _read_only(np.array([seq_len], dtype=np.uint32))
    else:
        seq_arg = int(seq_len)
    inputs = [_read_only(np.ascontiguousarray(a)) for a in (q, k, v)]
    layout = getattr(kernel, "debug_layout", None)
    debug = [np.full(layout.words, POISON, dtype=np.uint32)] if layout else []
    launch(kernel, [*inputs, out, seq_arg, *debug])
    if layout:
        return out, layout.decode(debug[0], seq_len)
    return out
