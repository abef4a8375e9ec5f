"""Programmatic dependent launch on the CUDA backend: `cuLaunchKernelEx` with the
programmatic-stream-serialization attribute, through NVIDIA's `cuda-bindings` (CuPy has no
launch call that takes launch attributes). The launch may begin while the previous kernel on
its stream is still running; the kernel's own `griddepcontrol.wait` orders its reads after
that kernel's writes. Works under CUDA-graph capture (the graph keeps a programmatic edge).

Imported only for a `Launch(..., programmatic=True)` on a GPU.
"""

from __future__ import annotations

import numpy as np

from .errors import BackendUnavailable


def driver():
    """`cuda.bindings.driver`, or BackendUnavailable saying what to install."""
    try:
        from cuda.bindings import driver as cu
    except ImportError as err:
        raise BackendUnavailable(
            "a programmatic dependent launch (pdl=True) needs NVIDIA's cuda-bindings: pip "
            f"install cuda-bindings (import failed: {err})") from None
    return cu


def launch_programmatic(function, grid, block, shared_bytes: int, args, stream_ptr: int) -> None:
    """Launch CuPy's `function` with `args` (CuPy arrays and NumPy scalars, in parameter
    order) so that it may overlap the previous launch on the stream `stream_ptr`."""
    cu = driver()
    config = cu.CUlaunchConfig()
    config.gridDimX, config.gridDimY, config.gridDimZ = (int(d) for d in grid)
    config.blockDimX, config.blockDimY, config.blockDimZ = (int(d) for d in block)
    config.sharedMemBytes = int(shared_bytes)
    config.hStream = cu.CUstream(stream_ptr)
    attr = cu.CUlaunchAttribute()
    attr.id = cu.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
    attr.value.programmaticStreamSerializationAllowed = 1
    config.attrs = [attr]
    config.numAttrs = 1
    # the driver copies each parameter from the address it is given, at the call
    holders = [np.array([a.data.ptr], dtype=np.uint64) if hasattr(a, "data") and
               hasattr(a.data, "ptr") else np.array([a]) for a in args]
    pointers = np.array([h.ctypes.data for h in holders], dtype=np.uint64)
    (err,) = cu.cuLaunchKernelEx(config, cu.CUfunction(function.ptr), pointers.ctypes.data, 0)
    if err != cu.CUresult.CUDA_SUCCESS:
        _, name = cu.cuGetErrorName(err)
        raise RuntimeError(f"cuLaunchKernelEx failed: {name.decode() if name else err}")
