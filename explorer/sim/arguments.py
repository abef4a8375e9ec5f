"""Launch arguments checked against the kernel's parameters: pointer parameters get
C-contiguous NumPy arrays (at fake base addresses), scalar parameters numbers in their type's
range. Problems raise ValueError naming the parameter."""

from __future__ import annotations

import numbers

import numpy as np

from .memory import GLOBAL_SHIFT
from .program import Program
from .values import DTYPES, bits_of, is_float


def check_args(program: Program, args: list) -> tuple[list, dict]:
    """Pointer buffers and parameter values; ValueError naming the parameter otherwise."""
    params = program.kernel.params
    if len(args) != len(params):
        names = ", ".join(p.name for p in params)
        raise ValueError(
            f"{program.kernel.entry} takes {len(params)} arguments ({names}), got {len(args)}"
        )
    pointers, values = [], {}
    for p, arg in zip(params, args, strict=True):
        if hasattr(arg, "__cuda_array_interface__"):
            raise ValueError(f"parameter {p.name} got a GPU array ({type(arg).__name__}): the "
                             "simulator runs on host memory; pass a NumPy array (cupy.asnumpy)")
        if isinstance(arg, np.ndarray):
            if p.type not in ("u64", "b64", "s64"):
                raise ValueError(f"parameter {p.name} is .{p.type}: pass a number, not an array")
            if not arg.flags.c_contiguous:
                raise ValueError(f"parameter {p.name}: the array must be C-contiguous")
            if arg.dtype.hasobject:
                raise ValueError(f"parameter {p.name}: an array of Python objects has no bytes "
                                 "to point at; pass a numeric array")
            values[p.name] = (len(pointers) + 1) << GLOBAL_SHIFT
            pointers.append((p.name, arg))
        elif is_float(p.type) and isinstance(arg, numbers.Real) and not isinstance(arg, bool):
            values[p.name] = float(arg)
        elif isinstance(arg, numbers.Integral) and not isinstance(arg, bool):
            values[p.name] = _check_int(p.name, p.type, int(arg))
        else:
            raise ValueError(
                f"parameter {p.name} (.{p.type}) got {type(arg).__name__}: pass "
                "a C-contiguous NumPy array for a pointer or a Python int"
            )
    return pointers, values


def _check_int(name: str, t: str, value: int) -> int:
    if t not in DTYPES or t == "pred" or is_float(t):
        raise ValueError(f"parameter {name}: type .{t} is not supported")
    n = bits_of(t)
    lo = -(2 ** (n - 1)) if not t.startswith("u") else 0
    hi = 2**n - 1 if not t.startswith("s") else 2 ** (n - 1) - 1
    if not lo <= value <= hi:
        raise ValueError(f"parameter {name}={value} is outside the .{t} range {lo}..{hi}")
    return value
