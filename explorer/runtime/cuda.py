"""The CUDA backend: PTX text -> driver JIT (through CuPy; no nvcc, no NVRTC) -> launch.

Modules are cached by PTX text. Outputs are poisoned with NaN before every launch, so an
element the kernel did not write shows. `DecodeGraph` captures one indirect-seq_len launch in
a CUDA graph and replays it, writing the new length on the graph's own stream first.
This is the only module that imports CuPy, and only when called.
"""

from __future__ import annotations

import numpy as np

from ..kernels.common import TARGETS
from ..kernels.debug import POISON
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


def load_function(kernel):
    """The CuPy function for `kernel`'s entry, from its PTX for this GPU (cached by text)."""
    cp = cupy()
    ptx = kernel.emit(device_target())
    module = _modules.get(ptx)
    if module is None:
        module = cp.cuda.function.Module()
        module.load(ptx.encode())
        _modules[ptx] = module
    return module.get_function(kernel.entry)


def launch(kernel, q, k, v, out, seq_len_arg, *debug, stream=None) -> None:
    """Launch `kernel` once on device arrays; `seq_len_arg` is a uint32 or a device buffer;
    a debug kernel takes its debug buffer last."""
    function = load_function(kernel)
    function(kernel.grid, kernel.block, (q, k, v, out, seq_len_arg, *debug), stream=stream)


def run(kernel, q, k, v, seq_len: int):
    """One checked launch; arguments were validated by `explorer.runtime.check_launch`.
    Returns the output, and for a debug kernel `(output, WarpStates)`."""
    cp = cupy()
    q_d, k_d, v_d = (cp.asarray(a) for a in (q, k, v))
    out = cp.full((kernel.num_heads, kernel.head_dim), np.nan, dtype=cp.float32)
    if kernel.indirect_seq_len:
        seq_arg = cp.asarray(np.array([seq_len], dtype=np.uint32))
    else:
        seq_arg = np.uint32(seq_len)
    layout = kernel.debug_layout
    debug = (cp.full(layout.words, POISON, dtype=cp.uint32),) if layout else ()
    launch(kernel, q_d, k_d, v_d, out, seq_arg, *debug)
    cp.cuda.Device().synchronize()
    if layout:
        return cp.asnumpy(out), layout.decode(cp.asnumpy(debug[0]), seq_len)
    return cp.asnumpy(out)


class DecodeGraph:
    """One captured launch of an indirect kernel, replayed at every decode step.

    `step(n)` writes n into the device-side seq_len on the graph's stream, then replays the
    graph on that stream: the write is ordered before the kernel (a write on another stream
    would race with it).
    """

    def __init__(self, kernel, q, k, v) -> None:
        if not kernel.indirect_seq_len or kernel.debug:
            raise ValueError("DecodeGraph needs a plain kernel built with indirect_seq_len=True")
        cp = cupy()
        self.kernel = kernel
        self.q, self.k, self.v = (cp.asarray(a) for a in (q, k, v))
        self.out = cp.full((kernel.num_heads, kernel.head_dim), np.nan, dtype=cp.float32)
        self.seq_len = cp.zeros(1, dtype=cp.uint32)
        self.stream = cp.cuda.Stream(non_blocking=True)
        load_function(kernel)  # load the module before capture
        with self.stream:
            self.stream.begin_capture()
            launch(kernel, self.q, self.k, self.v, self.out, self.seq_len, stream=self.stream)
            self.graph = self.stream.end_capture()

    def step(self, seq_len: int) -> np.ndarray:
        if isinstance(seq_len, bool) or not 0 <= int(seq_len) <= self.kernel.max_seq_len:
            raise ValueError(f"seq_len={seq_len} is outside 0..{self.kernel.max_seq_len}")
        with self.stream:
            self.out.fill(np.nan)  # poison on the same stream, before the replay
            self.seq_len.set(np.array([seq_len], dtype=np.uint32), stream=self.stream)
            self.graph.launch(self.stream)
        self.stream.synchronize()
        return self.out.get()
