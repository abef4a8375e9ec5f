"""Semantics of the elementary functions: `ex2`, `lg2`, `rsqrt`, `sin`, `cos`, `tanh` (all
`.approx`), and `rcp`, `sqrt` (`.rn` or `.approx`).

`.approx` results are the exact function computed in float64 and rounded once to f32: within
the hardware's documented error (ex2 2 ulp, lg2/rsqrt about 2^-22 relative, sin/cos 2^-20.9
absolute in [-100 pi, 100 pi], tanh 2^-10.987 relative), though not bit for bit the card's.
`rcp.rn` and `sqrt.rn` are IEEE (correctly rounded) in their type; `.ftz` flushes f32
subnormal inputs and results. It knows no memory and no warps.
"""

from __future__ import annotations

import numpy as np

from .operands import Semantics, Unsupported, form, op_type
from .ops import build, float_fn


def _in_f64(fn):
    """fn computed in float64, rounded once to the argument's type."""

    def rounded(x):
        x = np.asarray(x)
        return fn(x.astype(np.float64)).astype(x.dtype)

    return rounded


def _recip(x):
    return np.divide(x.dtype.type(1), x)


def _rsqrt(x):
    return 1.0 / np.sqrt(x)  # rsqrt(-0) = -inf, as the ISA says


def _unary(fn32, fn64=None, f64_approx: bool = False):
    """Decoder of a one-source float opcode: fn32 for .f32; fn64 for .f64 (.rn only unless
    `f64_approx`)."""

    def decode(ins, ctx):
        t = op_type(ins)
        f = form(ins)
        rounding = f.get("rounding") or f.get("approx")
        if rounding in ("rz", "rm", "rp"):
            raise Unsupported(f"{ins.opcode} .{rounding} is not modelled (.rn and .approx)")
        if t == "f32":
            return build(ins, ctx, (t,), t, float_fn(ins, t, fn32))
        if t == "f64" and fn64 is not None and (f64_approx or rounding != "approx"):
            return build(ins, ctx, (t,), t, float_fn(ins, t, fn64))
        raise Unsupported(f"{ins.name} is not modelled")

    return decode


SEMANTICS = {
    "ex2": Semantics(_unary(_in_f64(np.exp2)), ".approx.f32 (.ftz): exp2 rounded once from f64"),
    "lg2": Semantics(_unary(_in_f64(np.log2)), ".approx.f32 (.ftz): log2 rounded once from f64"),
    "rcp": Semantics(_unary(_recip, _recip), ".rn/.approx.f32 and .rn.f64 as IEEE 1/x"),
    "sqrt": Semantics(_unary(np.sqrt, np.sqrt), ".rn/.approx.f32 and .rn.f64 as IEEE sqrt"),
    "rsqrt": Semantics(
        _unary(_in_f64(_rsqrt), _rsqrt, f64_approx=True),
        ".approx.f32 (.ftz) rounded once from f64; .approx.f64 as f64 1/sqrt",
    ),
    "sin": Semantics(_unary(_in_f64(np.sin)), ".approx.f32 (.ftz): sin rounded once from f64"),
    "cos": Semantics(_unary(_in_f64(np.cos)), ".approx.f32 (.ftz): cos rounded once from f64"),
    "tanh": Semantics(_unary(_in_f64(np.tanh)), ".approx.f32: tanh rounded once from f64"),
}
