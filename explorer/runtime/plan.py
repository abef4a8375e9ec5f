"""What every backend does around its launches, written once: check the inputs against the
kernel, turn `seq_len` into per-sequence lengths, allocate the output, the debug record and the
workspaces (all poisoned, so an element no kernel wrote shows), ask the kernel for its
launches, and read the results back. The backends supply the array module and the launcher.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from ..dtypes import NUMPY
from ..kernels import KERNELS
from ..kernels.common import AttentionKernelBase
from ..kernels.debug import POISON

POISON_BITS = {"f32": np.float32(np.nan), "f16": np.float16(np.nan), "bf16": np.uint16(0x7FC0)}


def check_lengths(kernel, seq_len) -> tuple[int, ...]:
    """One length per sequence: an int applies to every sequence of the batch."""
    if isinstance(seq_len, np.ndarray) and seq_len.ndim == 0:
        seq_len = seq_len[()]  # a 0-d array is its one value
    accepted = f"0..max_seq_len={kernel.max_seq_len}"
    lengths = [seq_len] * kernel.batch if _is_int(seq_len) else seq_len
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, (Sequence, np.ndarray)):
        many = f", or a list of {kernel.batch} (one per sequence)" if kernel.batch > 1 else ""
        raise ValueError(f"seq_len must be an integer in {accepted}{many}, got {seq_len!r}")
    if len(lengths) != kernel.batch:
        many = f", or {kernel.batch} integers" if kernel.batch > 1 else ""
        raise ValueError(f"seq_len has {len(lengths)} lengths; this kernel's batch is "
                         f"{kernel.batch} (accepted: one integer{many})")
    for n in lengths:
        if not _is_int(n):
            raise ValueError(f"seq_len must be an integer in {accepted}, got {n!r}")
        if not 0 <= n <= kernel.max_seq_len:
            raise ValueError(
                f"seq_len={n} is outside 0..max_seq_len={kernel.max_seq_len} of this kernel"
            )
    return tuple(int(n) for n in lengths)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_device_array(arr) -> bool:
    """A CuPy array (recognised without importing CuPy)."""
    return type(arr).__module__.split(".")[0] == "cupy" and hasattr(arr, "__cuda_array_interface__")


def check_kernel(kernel) -> None:
    """A kernel object of `explorer.kernels`; ValueError naming what was passed otherwise."""
    if not isinstance(kernel, AttentionKernelBase):
        names = ", ".join(cls.__name__ for cls in KERNELS.values())
        raise ValueError(f"kernel must be a kernel object ({names}), got {kernel!r}")


def check_arrays(kernel, q, k, v) -> None:
    """Array type, shapes (batch-1 kernels also take the seed's unbatched layouts), dtype,
    contiguity. NumPy and CuPy arrays are accepted by every backend (copied where needed)."""
    want = kernel.buffer_shapes()
    dtype = NUMPY[kernel.dtype]
    for name, arr in (("q", q), ("k", k), ("v", v)):
        if isinstance(arr, np.ma.MaskedArray):
            raise ValueError(f"{name} is a masked array: its mask would be ignored; pass "
                             f"{name}.filled(value)")
        if not isinstance(arr, np.ndarray) and not is_device_array(arr):
            raise ValueError(f"{name} must be a NumPy or CuPy array, got {type(arr).__name__}")
        shape = arr.shape
        accepted = {want[name]}
        if kernel.batch == 1 and want[name][0] == 1:
            accepted.add(want[name][1:])
        if tuple(shape) not in accepted:
            raise ValueError(f"{name} has shape {tuple(shape)}; this kernel needs {want[name]}")
        if arr.dtype != dtype:
            raise ValueError(f"{name} has dtype {arr.dtype}; this kernel needs {dtype} "
                             f"({kernel.dtype})")
        if not arr.flags.c_contiguous:
            raise ValueError(f"{name} is not C-contiguous; pass np.ascontiguousarray({name})")


def buffers(kernel, xp, q, k, v, lengths: tuple[int, ...]) -> dict:
    """Every buffer of one run in the array module `xp` (numpy or cupy), outputs poisoned."""
    shapes = kernel.buffer_shapes()
    bufs = {name: xp.asarray(a).reshape(shapes[name]) for name, a in (("q", q), ("k", k),
                                                                       ("v", v))}
    bufs["out"] = xp.full(shapes["out"], POISON_BITS[kernel.dtype], dtype=NUMPY[kernel.dtype])
    if kernel.indirect_seq_len:
        bufs["seq_len"] = xp.asarray(np.array(lengths, dtype=np.uint32))
    else:
        bufs["seq_len"] = np.uint32(lengths[0])
    if kernel.debug:
        bufs["debug"] = xp.full(kernel.debug_layout.words, POISON, dtype=np.uint32)
    for name, shape in kernel.workspace_shapes().items():
        bufs[name] = xp.full(shape, np.nan, dtype=np.float32)
    for name, shape in kernel.counter_shapes().items():  # kernels leave these at zero
        bufs[name] = xp.zeros(shape, dtype=np.uint32)
    return bufs


def results(kernel, bufs: dict, lengths: tuple[int, ...], to_numpy, out_shape):
    """The output (in the caller's q layout), and for a debug kernel `(output, WarpStates)`."""
    out = to_numpy(bufs["out"]).reshape(out_shape)
    if kernel.debug:
        return out, kernel.debug_layout.decode(to_numpy(bufs["debug"]), lengths[0])
    return out
