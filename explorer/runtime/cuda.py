"""The CUDA backend: PTX text -> driver JIT (through CuPy; no nvcc, no NVRTC) -> launch, behind
the runtime's `Backend` interface.

Modules are cached by PTX text. Scalar arguments are converted to their parameter's PTX type
(a Python int for a `.u32` parameter becomes a 4-byte value). `DecodeGraph` captures one
indirect-seq_len run in a CUDA graph and replays it, writing the new lengths on the graph's
own stream first. This is the only module that imports CuPy, and only when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..arch import TARGETS, newest_target
from ..ptx.program import Launch, Program
from .checks import check_arrays, check_kernel, check_lengths, is_device_array
from .errors import BackendUnavailable
from .execute import allocate, launch_all

_modules: dict[str, object] = {}
STATIC_SHARED_LIMIT = 48 * 1024  # more dynamic shared memory needs the function's opt-in
SCALARS = {"u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "u64": np.uint64,
           "s8": np.int8, "s16": np.int16, "s32": np.int32, "s64": np.int64,
           "b8": np.uint8, "b16": np.uint16, "b32": np.uint32, "b64": np.uint64,
           "f16": np.float16, "f32": np.float32, "f64": np.float64}


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
    target = newest_target((major, minor))
    if target is None:
        raise BackendUnavailable(f"GPU compute capability {major}.{minor} is below {TARGETS[0]}")
    return target


@dataclass
class LoadedModule:
    """A program loaded into the driver, and its functions fetched so far."""

    program: Program
    module: object
    functions: dict = field(default_factory=dict)

    def function(self, entry: str):
        if entry not in self.functions:
            self.program.entry(entry)  # ValueError naming the entries when it is not there
            self.functions[entry] = self.module.get_function(entry)
        return self.functions[entry]


class CudaBackend:
    """The current GPU, through CuPy (`BackendUnavailable` when there is none)."""

    name = "cuda"

    def __init__(self) -> None:
        self.cp = cupy()
        self.target = device_target()

    def load(self, program: Program) -> LoadedModule:
        module = _modules.get(program.ptx)
        if module is None:
            module = self.cp.cuda.function.Module()
            module.load(program.ptx.encode())
            _modules[program.ptx] = module
        return LoadedModule(program, module)

    def from_host(self, array, name: str, writable: bool = True):
        """A device copy of a NumPy array; a CuPy array on the current GPU as it is (a copy
        when `writable`, so the caller's array stays as it is)."""
        current = self.cp.cuda.Device().id
        if is_device_array(array) and array.device.id != current:
            raise ValueError(f"{name} is on GPU {array.device.id}; the kernel runs on the "
                             f"current GPU {current} (accepted: NumPy arrays, or CuPy arrays "
                             f"on GPU {current})")
        return self.cp.array(array) if writable else self.cp.asarray(array)

    def alloc(self, shape: tuple[int, ...], dtype: str, fill: int | float):
        return self.cp.full(shape, fill, dtype=dtype)

    def launch(self, module: LoadedModule, launch: Launch, stream=None) -> None:
        function = module.function(launch.entry)
        params = module.program.entry(launch.entry).params
        args = tuple(_argument(launch.entry, p, a) for p, a in zip(params, launch.args,
                                                                   strict=True))
        if launch.shared_bytes > STATIC_SHARED_LIMIT:
            function.max_dynamic_shared_size_bytes = launch.shared_bytes
        if launch.programmatic:
            from .cuda_launch_ex import launch_programmatic

            ptr = (stream or self.cp.cuda.get_current_stream()).ptr
            launch_programmatic(function, launch.grid, launch.block, launch.shared_bytes, args,
                                ptr)
            return
        function(tuple(launch.grid), tuple(launch.block), args, stream=stream,
                 shared_mem=launch.shared_bytes)

    def to_host(self, buffer) -> np.ndarray:
        return self.cp.asnumpy(buffer)

    def synchronize(self) -> None:
        self.cp.cuda.Device().synchronize()


def _argument(entry: str, param: tuple[str, str], arg):
    """A device array as it is; a number as its parameter's PTX type (ValueError when it
    does not fit)."""
    if is_device_array(arg):
        return arg
    name, ptx_type = param
    kind = SCALARS.get(ptx_type)
    if kind is None:
        raise ValueError(f"{entry}: parameter {name} has type .{ptx_type}, which the cuda "
                         f"backend cannot pass (accepted: {', '.join(SCALARS)})")
    if np.issubdtype(kind, np.integer):
        info = np.iinfo(kind)
        if not float(arg).is_integer() or not info.min <= int(arg) <= info.max:
            raise ValueError(f"{entry}: parameter {name}={arg!r} is outside the .{ptx_type} "
                             f"range {info.min}..{info.max}")
        return kind(int(arg))
    return kind(arg)


class DecodeGraph:
    """One captured run of an indirect kernel, replayed at every decode step.

    `step(n)` poisons the outputs and writes n into the device-side lengths on the graph's
    stream, then replays the graph on that stream: the writes are ordered before the kernel
    (a write on another stream would race with it).
    """

    def __init__(self, kernel, q, k, v) -> None:
        check_kernel(kernel)
        if not kernel.indirect_seq_len or kernel.debug:
            raise ValueError("DecodeGraph needs a plain kernel built with indirect_seq_len=True")
        check_arrays(kernel, q=q, k=k, v=v)
        self.backend = CudaBackend()
        self.kernel, self.out_shape = kernel, np.shape(q)
        self.specs = kernel.buffer_specs()
        values = {"q": q, "k": k, "v": v, **kernel.length_arguments((0,) * kernel.batch)}
        self.bufs = allocate(self.backend, self.specs, values)
        program = kernel.program(self.backend.target)
        module = self.backend.load(program)
        for one in kernel.launches():
            module.function(one.entry)  # fetch every function before capture
        self.stream = self.backend.cp.cuda.Stream(non_blocking=True)
        with self.stream:
            self.stream.begin_capture()
            launch_all(self.backend, module, program, kernel.launches(), self.bufs,
                       stream=self.stream)
            self.graph = self.stream.end_capture()

    def step(self, seq_len):
        """Replay for new lengths (an int, or one per sequence); returns the output."""
        lengths = check_lengths(self.kernel, seq_len)
        outputs = [s for s in self.specs if s.role == "output"]
        with self.stream:
            for spec in outputs:
                self.bufs[spec.name].fill(spec.fill)  # poison on the same stream
            for name, value in self.kernel.length_arguments(lengths).items():
                self.bufs[name].set(value, stream=self.stream)
            self.graph.launch(self.stream)
        self.stream.synchronize()
        host = {s.name: self.backend.to_host(self.bufs[s.name]) for s in outputs}
        return self.kernel.results(host, lengths, self.out_shape)
