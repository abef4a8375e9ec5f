"""The CUDA backend: PTX text -> driver JIT (through CuPy; no nvcc, no NVRTC) -> launch.

Modules are cached by PTX text. Outputs are poisoned with NaN before every launch, so an
element the kernel did not write shows. `DecodeGraph` captures one indirect-seq_len launch in
a CUDA graph and replays it, writing the new length on the graph's own stream first.
This is the only module that imports CuPy, and only when called.
"""

from __future__ import annotations

import numpy as np

from ..arch import TARGETS
from . import plan
from .errors import BackendUnavailable

_modules: dict[str, object] = {}


def cupy():
    """The CuPy module, or `BackendUnavailable` saying what is missing."""
    try:
        import cupy as cp
    except ImportError as err:
        raise BackendUnavailable(
            "the cuda backend needs CuPy and an NVIDIA GPU: pip install 'warp-explorer[gpu]' "
            f"(CuPy import failed: {err})"
        ) from None
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDARuntimeError: no driver or no device
        raise BackendUnavailable(f"the cuda backend found no usable GPU: {err}") from None
    if count == 0:
        raise BackendUnavailable("the cuda backend found no GPU (CUDA reports 0 devices)")
    return cp


def device_target() -> str:
    """The newest supported PTX target the current GPU runs (PTX JITs forward to newer GPUs)."""
    cp = cupy()
    major, minor = divmod(int(cp.cuda.Device().compute_capability), 10)
    usable = [t for t in TARGETS if not t.endswith("a") and int(t[3:]) <= major * 10 + minor]
    if not usable:
        raise BackendUnavailable(f"GPU compute capability {major}.{minor} is below {TARGETS[0]}")
    return usable[-1]


def load_function(kernel, entry: str | None = None):
    """The CuPy function for one entry of `kernel`'s module (default: its first), from its PTX
    for this GPU; modules are cached by PTX text."""
    cp = cupy()
    ptx = kernel.emit(device_target())
    module = _modules.get(ptx)
    if module is None:
        module = cp.cuda.function.Module()
        module.load(ptx.encode())
        _modules[ptx] = module
    return module.get_function(entry or kernel.entry)


def launch_all(kernel, bufs: dict, stream=None, first: int | None = None) -> None:
    """Every launch of one run (or its `first` launches), in order, on `stream`."""
    for launch in kernel.launches(bufs)[:first]:
        function = load_function(kernel, launch.entry)
        function(launch.grid, launch.block, launch.args, stream=stream)


def check_device(cp, **arrays) -> None:
    """CuPy arrays must live on the current GPU (NumPy arrays are copied to it)."""
    current = cp.cuda.Device().id
    for name, arr in arrays.items():
        if plan.is_device_array(arr) and arr.device.id != current:
            raise ValueError(f"{name} is on GPU {arr.device.id}; the kernel runs on the current "
                             f"GPU {current} (accepted: NumPy arrays, or CuPy arrays on GPU "
                             f"{current})")


def run(kernel, q, k, v, lengths: tuple[int, ...]):
    """One checked run; arguments were validated by `explorer.runtime.check_launch`.
    Returns the output, and for a debug kernel `(output, WarpStates)`."""
    cp = cupy()
    check_device(cp, q=q, k=k, v=v)
    bufs = plan.buffers(kernel, cp, q, k, v, lengths)
    launch_all(kernel, bufs)
    cp.cuda.Device().synchronize()
    return plan.results(kernel, bufs, lengths, cp.asnumpy, q.shape)


class DecodeGraph:
    """One captured launch of an indirect kernel, replayed at every decode step.

    `step(n)` writes n into the device-side seq_len on the graph's stream, then replays the
    graph on that stream: the write is ordered before the kernel (a write on another stream
    would race with it).
    """

    def __init__(self, kernel, q, k, v) -> None:
        plan.check_kernel(kernel)
        if not kernel.indirect_seq_len or kernel.debug:
            raise ValueError("DecodeGraph needs a plain kernel built with indirect_seq_len=True")
        plan.check_arrays(kernel, q, k, v)
        cp = cupy()
        check_device(cp, q=q, k=k, v=v)
        self.kernel = kernel
        self.bufs = plan.buffers(kernel, cp, q, k, v, (0,) * kernel.batch)
        self.out_shape = q.shape
        self.stream = cp.cuda.Stream(non_blocking=True)
        load_function(kernel)  # load the module before capture
        with self.stream:
            self.stream.begin_capture()
            launch_all(kernel, self.bufs, stream=self.stream)
            self.graph = self.stream.end_capture()

    def step(self, seq_len) -> np.ndarray:
        """Replay for new lengths (an int, or one per sequence); returns the output."""
        lengths = plan.check_lengths(self.kernel, seq_len)
        out = self.bufs["out"]
        with self.stream:
            out.fill(plan.POISON_BITS[self.kernel.dtype])  # poison on the same stream
            self.bufs["seq_len"].set(np.array(lengths, dtype=np.uint32), stream=self.stream)
            self.graph.launch(self.stream)
        self.stream.synchronize()
        return out.get().reshape(self.out_shape)
