"""Launch corpus entries on the GPU: load PTX text through the driver JIT with CuPy and run one
entry, in a worker process of its own.

A kernel that faults leaves its CUDA context unusable and one that hangs never returns, so
each launch runs in a spawned worker that is killed after a timeout or any error and started
afresh for the next entry: one bad entry cannot take the others down. CuPy is imported in
the worker only. Nothing here decides what an entry computes or checks its outputs.
"""

from __future__ import annotations

import multiprocessing as mp

import numpy as np

LAUNCH_TIMEOUT_S = 120  # compiling and running one small kernel takes well under a second


def device_info() -> dict:
    """The GPU's name and the driver's CUDA version (13000 for 13.0)."""
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return {"name": name.decode() if isinstance(name, bytes) else name,
            "driver": cupy.cuda.runtime.driverGetVersion()}


def launch(ptx: str, spec: dict, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Load `ptx`, launch `spec["entry"]` with `arrays` and the scalars, return the outputs.

    Pointer arguments are device copies of `arrays`; `null` ones pass 0 and `scratch` ones a
    zeroed buffer of their `bytes`.
    """
    import cupy as cp

    module = cp.cuda.function.Module()
    module.load(ptx.encode() + b"\0")
    fn = module.get_function(spec["entry"])
    if spec["shared_bytes"] > 48 * 1024:
        fn.max_dynamic_shared_size_bytes = spec["shared_bytes"]
    device, args = {}, []
    for arg in spec["args"]:
        if arg["kind"] == "array":
            device[arg["name"]] = cp.asarray(arrays[arg["name"]])
            args.append(device[arg["name"]])
        elif arg["kind"] == "scalar":
            args.append(np.dtype(arg["dtype"]).type(arg["value"]))
        elif arg["kind"] == "scratch":
            args.append(cp.zeros(arg["bytes"], np.uint8))
        else:
            args.append(np.uint64(0))
    fn(tuple(spec["grid"]), tuple(spec["block"]), tuple(args), shared_mem=spec["shared_bytes"])
    cp.cuda.runtime.deviceSynchronize()
    return {a["name"]: device[a["name"]].get() for a in spec["args"]
            if a["kind"] == "array" and a["role"] != "input"}


def _serve(conn) -> None:
    """Worker loop: (function name, args) in, ("ok", result) or ("error", text) out."""
    calls = {"device_info": device_info, "launch": launch}
    while True:
        request = conn.recv()
        if request is None:
            return
        name, args = request
        try:
            conn.send(("ok", calls[name](*args)))
        except Exception as err:
            conn.send(("error", f"{type(err).__name__}: {err}"))


class Gpu:
    """A worker process holding the CUDA context; replaced after any failure."""

    def __init__(self) -> None:
        self._proc = self._conn = None
        info = self._call("device_info", ())
        self.name, self.driver = info["name"], info["driver"]

    def max_ptx_isa(self) -> int:
        """The newest PTX ISA the driver JIT accepts (CUDA 13.0 -> 90, 12.8 -> 87)."""
        major, minor = self.driver // 1000, self.driver % 1000 // 10
        if major >= 13:
            return 90 + (major - 13) * 10 + minor
        return 80 + minor - (1 if minor >= 6 else 0)

    def run(self, ptx: str, spec: dict, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._call("launch", (ptx, spec, arrays))

    def close(self) -> None:
        if self._proc is not None:
            self._conn.send(None)
            self._proc.join(10)
            self._stop()

    def _call(self, name: str, args: tuple):
        if self._proc is None:
            ctx = mp.get_context("spawn")
            self._conn, child = ctx.Pipe()
            self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
            self._proc.start()
        self._conn.send((name, args))
        if not self._conn.poll(LAUNCH_TIMEOUT_S):
            self._stop()
            raise TimeoutError(f"{name} gave no answer in {LAUNCH_TIMEOUT_S} s (a hang?)")
        try:
            status, value = self._conn.recv()
        except EOFError:
            self._stop()
            raise RuntimeError(f"the GPU worker died during {name}") from None
        if status != "ok":
            self._stop()  # a fault poisons the context: the next entry gets a fresh one
            raise RuntimeError(value)
        return value

    def _stop(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join(10)
        self._proc = self._conn = None
