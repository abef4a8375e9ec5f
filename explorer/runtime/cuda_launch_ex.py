"""Programmatic dependent launch on the CUDA backend: the driver's `cuLaunchKernelEx` with the
programmatic-stream-serialization attribute, called through ctypes (CuPy has no launch call
that takes launch attributes, and the driver library is already loaded by CuPy). The launch
may begin while the previous kernel on its stream is still running; the kernel's own
`griddepcontrol.wait` orders its reads after that kernel's writes. Works under CUDA-graph
capture (the graph keeps a programmatic edge).

The structures follow `cuda.h` (CUDA 12 and 13): `CUlaunchConfig` is six `unsigned int`
dimensions, the dynamic shared bytes, the stream, a pointer to the attributes and their
count; a `CUlaunchAttribute` is the attribute id, padding to 8 bytes and a 64-byte value
union. NVIDIA's cuda-bindings would do the same but probes every driver entry point when
first used, and compute-sanitizer's memcheck counts each probe the driver refuses as an
error (34 per process on the H200, none of them a memory access).

Imported only for a `Launch(..., programmatic=True)` on a GPU.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

import numpy as np

from .errors import BackendUnavailable

PROGRAMMATIC_STREAM_SERIALIZATION = 6  # CUlaunchAttributeID in cuda.h


class LaunchAttribute(ctypes.Structure):
    """`CUlaunchAttribute`: the id, padding to 8 bytes, the value union (64 bytes)."""

    _fields_ = [("id", ctypes.c_int), ("pad", ctypes.c_char * 4),
                ("value", ctypes.c_ubyte * 64)]


class LaunchConfig(ctypes.Structure):
    """`CUlaunchConfig`."""

    _fields_ = [("grid", ctypes.c_uint * 3), ("block", ctypes.c_uint * 3),
                ("shared_bytes", ctypes.c_uint), ("stream", ctypes.c_void_p),
                ("attrs", ctypes.POINTER(LaunchAttribute)), ("num_attrs", ctypes.c_uint)]


@cache
def driver() -> ctypes.CDLL:
    """The CUDA driver library with `cuLaunchKernelEx` (driver 11.8 or later), or
    BackendUnavailable saying what is missing."""
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    found = ctypes.util.find_library("cuda")
    for name in names + ([found] if found else []):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(lib, "cuLaunchKernelEx"):
            lib.cuLaunchKernelEx.argtypes = [ctypes.POINTER(LaunchConfig), ctypes.c_void_p,
                                             ctypes.c_void_p, ctypes.c_void_p]
            lib.cuLaunchKernelEx.restype = ctypes.c_int
            lib.cuGetErrorName.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
            lib.cuGetErrorName.restype = ctypes.c_int
            return lib
    raise BackendUnavailable(
        "a programmatic dependent launch (pdl=True) needs a CUDA driver with cuLaunchKernelEx "
        f"(11.8 or later); none was found among {', '.join(names)}")


def config(grid, block, shared_bytes: int, stream_ptr: int) -> tuple[LaunchConfig,
                                                                      LaunchAttribute]:
    """The launch configuration and its one attribute (programmatic stream serialization
    allowed); the caller keeps both alive through the call."""
    attr = LaunchAttribute(id=PROGRAMMATIC_STREAM_SERIALIZATION)
    ctypes.c_int.from_buffer(attr.value).value = 1  # programmaticStreamSerializationAllowed
    cfg = LaunchConfig(grid=(ctypes.c_uint * 3)(*(int(d) for d in grid)),
                       block=(ctypes.c_uint * 3)(*(int(d) for d in block)),
                       shared_bytes=int(shared_bytes), stream=int(stream_ptr) or None,
                       attrs=ctypes.pointer(attr), num_attrs=1)
    return cfg, attr


def launch_programmatic(function, grid, block, shared_bytes: int, args, stream_ptr: int) -> None:
    """Launch CuPy's `function` with `args` (CuPy arrays and NumPy scalars, in parameter
    order) so that it may overlap the previous launch on the stream `stream_ptr`."""
    lib = driver()
    cfg, _attr = config(grid, block, shared_bytes, stream_ptr)
    # the driver copies each parameter from the address it is given, at the call
    holders = [np.array([a.data.ptr], dtype=np.uint64) if hasattr(a, "data") and
               hasattr(a.data, "ptr") else np.array([a]) for a in args]
    pointers = np.array([h.ctypes.data for h in holders], dtype=np.uint64)
    err = lib.cuLaunchKernelEx(ctypes.byref(cfg), function.ptr, pointers.ctypes.data, None)
    if err:
        name = ctypes.c_char_p()
        lib.cuGetErrorName(err, ctypes.byref(name))
        raise RuntimeError("cuLaunchKernelEx failed: "
                           f"{name.value.decode() if name.value else err}")
