"""Run any program's launches on a backend: allocate the buffers a producer specifies (inputs
copied, outputs and workspaces poisoned, counters zeroed), turn the launches' buffer names into
the backend's buffers, launch in order, read back. nvcc's, Triton's and the project's PTX all
go through `launch`; `explorer.runtime.run` is the attention kernels' front end to it.

No host-side checks of a kernel's inputs here (`checks` does them); a launch's arguments are
checked against its entry's parameter list (count, buffer or number).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from ..ptx.program import POINTER_TYPES, BufferSpec, Launch, Program
from .backend import Backend, get_backend
from .checks import is_device_array


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) or is_device_array(value)


def allocate(backend: Backend, specs: Sequence[BufferSpec], values: Mapping[str, object]) -> dict:
    """Every buffer of a run on `backend`: an input spec takes `values[name]` (reshaped to the
    spec, read-only), the other specs are filled with their `fill`; a value without a spec is
    the caller's buffer when it is an array (copied, writable) and a scalar otherwise."""
    buffers: dict[str, object] = {}
    for spec in specs:
        if spec.role == "input":
            if spec.name not in values:
                raise ValueError(f"buffer {spec.name!r} is an input of this run; pass it")
            array = backend.from_host(values[spec.name], spec.name, writable=False)
            buffers[spec.name] = array.reshape(spec.shape)
        else:
            buffers[spec.name] = backend.alloc(spec.shape, spec.dtype, spec.fill)
    for name, value in values.items():
        if name not in buffers:
            buffers[name] = backend.from_host(value, name) if _is_array(value) else value
    return buffers


def resolve(program: Program, launch: Launch, buffers: Mapping[str, object]) -> Launch:
    """`launch` with each buffer name replaced by its buffer; ValueError where the arguments
    do not fit the entry's parameters (count, an array for a pointer, a number otherwise)."""
    params = program.entry(launch.entry).params
    if len(launch.args) != len(params):
        names = ", ".join(n for n, _ in params)
        raise ValueError(f"{launch.entry} takes {len(params)} arguments ({names}), got "
                         f"{len(launch.args)}")
    args = []
    for (name, ptx_type), arg in zip(params, launch.args, strict=True):
        if isinstance(arg, str):
            if arg not in buffers:
                raise ValueError(f"{launch.entry}: parameter {name} names buffer {arg!r}; the "
                                 f"run's buffers are {', '.join(buffers) or 'none'}")
            arg = buffers[arg]
        if hasattr(arg, "shape") and np.ndim(arg) > 0:
            if ptx_type not in POINTER_TYPES:
                raise ValueError(f"{launch.entry}: parameter {name} is .{ptx_type}: pass a "
                                 "number, not an array")
        elif isinstance(arg, bool) or not isinstance(arg, numbers.Number):
            raise ValueError(f"{launch.entry}: parameter {name} (.{ptx_type}) got "
                             f"{type(arg).__name__}: pass an array or a number")
        args.append(arg)
    return dataclasses.replace(launch, args=tuple(args))


def launch_all(backend: Backend, module, program: Program, launches: Sequence[Launch],
               buffers: Mapping[str, object], stream=None) -> None:
    """Every launch in order on `backend` (on `stream` where it has streams)."""
    for one in launches:
        backend.launch(module, resolve(program, one, buffers), stream=stream)


def launch(program: Program, launches: Sequence[Launch], buffers: Mapping[str, object],
           backend: str | Backend = "cuda", specs: Sequence[BufferSpec] = ()) -> dict:
    """Run `launches` of `program` on `backend` and return the buffers they may have written,
    as NumPy: every array of `buffers` that has no input spec (each copied to the backend
    first, so the caller's arrays stay as they are), and every output spec.

    `buffers` maps the names the launches use to NumPy or CuPy arrays, or to numbers (scalar
    arguments). `specs` (optional) are the buffers the runtime makes itself: input specs take
    their array from `buffers` (read-only), output and workspace specs are poisoned with their
    `fill`, counters zeroed."""
    be = get_backend(backend)
    if not isinstance(program, Program):
        raise ValueError(f"program must be an explorer.ptx.Program (Program.from_ptx(text)), "
                         f"got {type(program).__name__}")
    device = allocate(be, specs, buffers)
    module = be.load(program)
    launch_all(be, module, program, launches, device)
    be.synchronize()
    spec_roles = {s.name: s.role for s in specs}
    wanted = [n for n, v in device.items()
              if spec_roles.get(n) == "output" or (n not in spec_roles and _is_array(v))]
    return {name: be.to_host(device[name]) for name in wanted}
