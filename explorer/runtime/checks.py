"""The host-side checks of a run, written once for every backend: the kernel object has the
interface the runtime uses, the caller's arrays match the kernel's input specs (type, shape,
dtype, contiguity, no mask) and `seq_len` is one valid length per sequence.

It knows no kernel class: a kernel object is anything with the methods in `KERNEL_METHODS`
and `batch` and `max_seq_len` attributes. It allocates and launches nothing.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

KERNEL_METHODS = ("program", "buffer_specs", "length_arguments", "launches", "results")


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
    """A kernel object (a producer of a program, its launches and buffer specs); ValueError
    naming what was passed otherwise."""
    if isinstance(kernel, type) or not all(
        callable(getattr(kernel, name, None)) for name in KERNEL_METHODS
    ):
        raise ValueError(f"kernel must be a kernel object (an explorer.kernels instance, or any "
                         f"object with {', '.join(KERNEL_METHODS)}), got {kernel!r}")


def check_arrays(kernel, **arrays) -> None:
    """Each array against the kernel's input spec of that name: array type, shape (a leading
    dimension of 1 may be left out: batch-1 kernels take the seed's unbatched layouts), dtype,
    contiguity. NumPy and CuPy arrays are accepted by every backend (copied where needed)."""
    specs = {s.name: s for s in kernel.buffer_specs()}
    for name, arr in arrays.items():
        spec = specs[name]
        if isinstance(arr, np.ma.MaskedArray):
            raise ValueError(f"{name} is a masked array: its mask would be ignored; pass "
                             f"{name}.filled(value)")
        if not isinstance(arr, np.ndarray) and not is_device_array(arr):
            raise ValueError(f"{name} must be a NumPy or CuPy array, got {type(arr).__name__}")
        accepted = {spec.shape}
        if spec.shape[:1] == (1,):
            accepted.add(spec.shape[1:])
        if tuple(arr.shape) not in accepted:
            raise ValueError(f"{name} has shape {tuple(arr.shape)}; this kernel needs "
                             f"{spec.shape}")
        if arr.dtype != np.dtype(spec.dtype):
            storage = f" ({spec.storage})" if spec.storage else ""
            raise ValueError(f"{name} has dtype {arr.dtype}; this kernel needs {spec.dtype}"
                             f"{storage}")
        if not arr.flags.c_contiguous:
            raise ValueError(f"{name} is not C-contiguous; pass np.ascontiguousarray({name})")
