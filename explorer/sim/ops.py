"""Semantics of the arithmetic, logic, compare, select and byte-permute (`prmt`) opcodes, one
decoder per opcode, and the `float_fn` wrapper that gives float functions their modifiers.

A decoder turns one `Instruction` into `run(machine, sel)` once, at load time; `run` reads the
sources for the threads in `sel`, computes with NumPy in the instruction's type (f32 in float32,
integers wrapping modulo 2^N) and writes the destination. Rounding: `.rn` (the default) as
IEEE arithmetic in the type; `.rz/.rm/.rp` for f32 add/sub/mul/fma and f64 add/sub, from the
exact result rounded once (`rounding`). `.ftz` and `.sat` are modelled for floats, `.sat` for
s32 add/sub; `div.approx`/`.full` are computed as `.rn` (docs/simulator.md gives the hardware's
error bounds). Half-typed arithmetic is `halfmath`'s, the bit operations `bits`', `ex2`/
`rsqrt`/`sin`... `elementary`'s.
"""

from __future__ import annotations

import numpy as np

from ..ptx import spec
from ..ptx.ir import Instruction
from .halfmath import HALF_TYPES, decode_half, half_compare
from .operands import DecodeContext, Semantics, Unsupported, form, op_type, reader, writer
from .rounding import round_pair, round_sum
from .values import DTYPES, UNSIGNED, bits_of, flush_f32, is_float, is_signed, saturate

M32 = np.uint64(0xFFFFFFFF)


def build(ins: Instruction, ctx: DecodeContext, src_types, dst_type: str, fn):
    """`run(m, sel)`: read each source as its type, apply fn, write the destination."""
    dst = writer(ins, ins.operands[0], dst_type)
    srcs = [reader(ins, op, t, ctx) for op, t in zip(ins.operands[1:], src_types, strict=True)]
    if len(srcs) == 1:
        (a,) = srcs
        return lambda m, sel: dst(m, sel, fn(a(m, sel)))
    if len(srcs) == 2:
        a, b = srcs
        return lambda m, sel: dst(m, sel, fn(a(m, sel), b(m, sel)))
    a, b, c = srcs
    return lambda m, sel: dst(m, sel, fn(a(m, sel), b(m, sel), c(m, sel)))


DIRECTED = ("rz", "rm", "rp")
ROUNDED = {  # opcode -> (sources..., type, mode) -> the exact result rounded once in mode
    "add": round_sum,
    "sub": lambda a, b, t, mode: round_sum(a, np.negative(np.asarray(b, np.float64)), t, mode),
    "mul": lambda a, b, t, mode: round_pair(np.multiply(a, b, dtype=np.float64), 0.0, t, mode),
    "fma": lambda a, b, c, t, mode: round_sum(np.multiply(a, b, dtype=np.float64), c, t, mode),
}  # exact for f32 sources; for f64 only the sums (TwoSum is exact in f64 too)


def float_fn(ins: Instruction, t: str, fn):
    """fn with the instruction's rounding, `.ftz` and `.sat`. `.rn` is fn itself (`.approx` and
    `.full` are computed as `.rn`); `.rz/.rm/.rp` round the exact result once (`ROUNDED`)."""
    f = form(ins)
    rounding = f.get("rounding")
    if rounding in DIRECTED:
        rounded = ROUNDED.get("fma" if ins.opcode == "mad" else ins.opcode)
        if rounded is None or (t == "f64" and ins.opcode not in ("add", "sub")):
            raise Unsupported(f"rounding .{rounding} of {ins.opcode}.{t} is not modelled "
                              "(.rz/.rm/.rp: f32 add/sub/mul/fma, f64 add/sub)")

        def fn(*args):
            return rounded(*args, t, rounding)

    ftz, sat = bool(f.get("ftz")) and t == "f32", bool(f.get("sat"))
    if not (ftz or sat):
        return fn

    def wrapped(*args):
        r = fn(*(flush_f32(x) for x in args) if ftz else args)
        r = flush_f32(r) if ftz else r
        return saturate(np.asarray(r)) if sat else r

    return wrapped


def fma_f32(a, b, c):
    """Correctly rounded f32 `a*b + c`: one rounding of the exact value."""
    return round_sum(np.multiply(a, b, dtype=np.float64), c, "f32")


def _sat_s32(fn):
    def clipped(a, b):
        wide = fn(np.asarray(a, np.int64), np.asarray(b, np.int64))
        return np.clip(wide, -(2**31), 2**31 - 1).astype(np.int32)

    return clipped


def _add_sub(fn):
    def decode(ins, ctx):
        t = op_type(ins, half=True)
        if t in HALF_TYPES:
            return decode_half(ins, ctx, t)
        if is_float(t):
            return build(ins, ctx, (t, t), t, float_fn(ins, t, fn))
        if form(ins).get("sat"):
            if t != "s32":
                raise Unsupported(".sat is modelled for .s32 only")
            return build(ins, ctx, (t, t), t, _sat_s32(fn))
        return build(ins, ctx, (t, t), t, fn)

    return decode


def mul_hi(t: str):
    """The high half of the 2N-bit product."""
    n = bits_of(t)
    if n < 64:
        wide = np.dtype(np.int64 if is_signed(t) else np.uint64)
        return lambda a, b: (np.asarray(a, wide) * np.asarray(b, wide) >> n).astype(DTYPES[t])

    def hi64(a, b):
        ua, ub = np.asarray(a).view(np.uint64), np.asarray(b).view(np.uint64)
        al, ah, bl, bh = ua & M32, ua >> np.uint64(32), ub & M32, ub >> np.uint64(32)
        ll, lh, hl = al * bl, al * bh, ah * bl
        mid = (ll >> np.uint64(32)) + (lh & M32) + (hl & M32)
        hi = ah * bh + (lh >> np.uint64(32)) + (hl >> np.uint64(32)) + (mid >> np.uint64(32))
        if is_signed(t):  # two's complement correction of the unsigned product
            hi = hi - np.where(np.asarray(a) < 0, ub, 0) - np.where(np.asarray(b) < 0, ua, 0)
        return np.asarray(hi, np.uint64).view(DTYPES[t])

    return hi64


def _product(ins: Instruction, t: str):
    """(source type, result type, fn) of mul/mad's multiply for .lo/.hi/.wide."""
    mode = form(ins).get("mode")
    if mode == "wide":
        wt = spec.WIDER.get(t)
        if wt is None:
            raise Unsupported(f".wide needs one of {', '.join(spec.WIDER)}, got .{t}")
        return t, wt, lambda a, b: np.asarray(a, DTYPES[wt]) * np.asarray(b, DTYPES[wt])
    if mode == "hi":
        return t, t, mul_hi(t)
    return t, t, np.multiply


def decode_mul(ins, ctx):
    t = op_type(ins, half=True)
    if t in HALF_TYPES:
        return decode_half(ins, ctx, t)
    if is_float(t):
        return build(ins, ctx, (t, t), t, float_fn(ins, t, np.multiply))
    st, rt, fn = _product(ins, t)
    return build(ins, ctx, (st, st), rt, fn)


def decode_mad(ins, ctx):
    t = op_type(ins, half=True)
    if is_float(t) or t in HALF_TYPES:
        return decode_fma(ins, ctx)  # mad.rn.f32 is fused on every target we emit for
    st, rt, fn = _product(ins, t)
    return build(ins, ctx, (st, st, rt), rt, lambda a, b, c: fn(a, b) + c)


def decode_fma(ins, ctx):
    t = op_type(ins, half=True)
    if t in HALF_TYPES:
        return decode_half(ins, ctx, t)
    if t != "f32":
        raise Unsupported(f"fma/mad .{t} is not modelled (f32 only)")
    return build(ins, ctx, (t, t, t), t, float_fn(ins, t, fma_f32))


def int_div(t: str):
    """Division truncating toward zero; x / 0 gives all ones (the ISA leaves it unspecified)."""
    ones = DTYPES[t].type(-1) if is_signed(t) else DTYPES[t].type(np.iinfo(DTYPES[t]).max)

    def div(a, b):
        safe = np.where(b == 0, DTYPES[t].type(1), b)
        q = (a - np.fmod(a, safe)) // safe if is_signed(t) else a // safe
        return np.where(b == 0, ones, q).astype(DTYPES[t])

    return div


def int_rem(t: str):
    def rem(a, b):
        safe = np.where(b == 0, DTYPES[t].type(1), b)
        r = np.fmod(a, safe) if is_signed(t) else a % safe
        return np.where(b == 0, a, r).astype(DTYPES[t])

    return rem


def decode_div(ins, ctx):
    t = op_type(ins)
    if is_float(t):  # .rn is IEEE; .approx and .full are modelled as .rn (see docs)
        return build(ins, ctx, (t, t), t, float_fn(ins, t, np.divide))
    return build(ins, ctx, (t, t), t, int_div(t))


def decode_rem(ins, ctx):
    t = op_type(ins)
    return build(ins, ctx, (t, t), t, int_rem(t))


def _min_max(fmin, propagate, imin):
    def decode(ins, ctx):
        t = op_type(ins, half=True)
        if t in HALF_TYPES:
            return decode_half(ins, ctx, t)
        if is_float(t):  # one NaN input: the other wins; .NaN: NaN wins
            fn = propagate if form(ins).get("NaN") else fmin
            return build(ins, ctx, (t, t), t, float_fn(ins, t, fn))
        return build(ins, ctx, (t, t), t, imin)

    return decode


def _neg_abs(fn):
    def decode(ins, ctx):
        t = op_type(ins, half=True)
        if t in HALF_TYPES:
            return decode_half(ins, ctx, t)
        f = float_fn(ins, t, fn) if is_float(t) else fn
        return build(ins, ctx, (t,), t, f)

    return decode


def _bitwise(int_fn, pred_fn):
    def decode(ins, ctx):
        t = op_type(ins)
        fn = pred_fn if t == "pred" else int_fn
        n = len(ins.operands) - 1
        return build(ins, ctx, (t,) * n, t, fn)

    return decode


def _shift(left: bool):
    def decode(ins, ctx):
        t = op_type(ins)
        n, dt = bits_of(t), DTYPES[t]
        arithmetic = not left and is_signed(t)

        def shift(a, b):  # PTX clamps shift amounts above the width
            amount = np.minimum(b, n - 1).astype(dt)
            if left:
                return np.where(b >= n, dt.type(0), np.left_shift(a, amount)).astype(dt)
            if arithmetic:
                return np.right_shift(a, amount)
            return np.where(b >= n, dt.type(0), np.right_shift(a, amount)).astype(dt)

        return build(ins, ctx, (t, "u32"), t, shift)

    return decode


ORDERED = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
UNSIGNED_CMP = {"lo": np.less, "ls": np.less_equal, "hi": np.greater, "hs": np.greater_equal}


def _ordered(a, b):
    return ~np.isnan(a) & ~np.isnan(b)


def _unordered(a, b):
    return np.isnan(a) | np.isnan(b)


def compare_fn(cmp: str, t: str):
    """The setp comparison: ordered float compares are false on NaN, `..u` ones true."""
    if is_float(t):
        if cmp in ORDERED:
            op = ORDERED[cmp]
            if cmp == "ne":
                return lambda a, b: (a != b) & _ordered(a, b)
            return op
        if cmp in ("num", "nan"):
            return _ordered if cmp == "num" else _unordered
        op = ORDERED[cmp[:-1]]
        return lambda a, b: op(a, b) | _unordered(a, b)
    if cmp in UNSIGNED_CMP:
        u = UNSIGNED[DTYPES[t].itemsize]
        op = UNSIGNED_CMP[cmp]
        return lambda a, b: op(np.asarray(a).view(u), np.asarray(b).view(u))
    if cmp not in ORDERED:
        raise Unsupported(f"compare .{cmp} needs a float type")
    return ORDERED[cmp]


def decode_setp(ins, ctx):
    t = op_type(ins, half=True)
    f = form(ins)
    if t in ("f16", "bf16"):
        fn = half_compare(compare_fn(f.get("compare"), "f64"), t, bool(f.get("ftz")))
        return build(ins, ctx, (t, t), "pred", fn)
    if t in HALF_TYPES:
        raise Unsupported(f"setp.{t} (two predicates) is not modelled")
    fn = compare_fn(f.get("compare"), t)
    if f.get("ftz") and t == "f32":
        return build(ins, ctx, (t, t), "pred", lambda a, b: fn(flush_f32(a), flush_f32(b)))
    return build(ins, ctx, (t, t), "pred", fn)


TINY = {"f32": np.finfo(np.float32).tiny, "f64": np.finfo(np.float64).tiny}
CLASSES = {  # testp's classes, by the magnitude of a float
    "finite": lambda x, tiny: np.isfinite(x),
    "infinite": lambda x, tiny: np.isinf(x),
    "number": lambda x, tiny: ~np.isnan(x),
    "notanumber": lambda x, tiny: np.isnan(x),
    "normal": lambda x, tiny: np.isfinite(x) & (np.abs(x) >= tiny),
    "subnormal": lambda x, tiny: (np.abs(x) < tiny) & (x != 0),
}


def decode_testp(ins, ctx):
    t = op_type(ins)
    test, tiny = CLASSES[form(ins).get("class")], TINY[t]
    return build(ins, ctx, (t,), "pred", lambda a: test(a, tiny))


def decode_cnot(ins, ctx):
    t = op_type(ins)
    return build(ins, ctx, (t,), t, lambda a: (np.asarray(a) == 0).astype(DTYPES[t]))


def decode_selp(ins, ctx):
    t = op_type(ins)
    return build(ins, ctx, (t, t, "pred"), t, lambda a, b, c: np.where(c, a, b).astype(DTYPES[t]))


U64 = np.uint64
BYTE, SIGN = U64(0xFF), U64(0x80)


def permute_bytes(a, b, c):
    """`prmt.b32` default mode: byte i of d is byte c[4i+2:4i] of {b3 b2 b1 b0 a3 a2 a1 a0}
    (numbered 7..0), or that byte's msb replicated over 8 bits where c[4i+3] is set."""
    source = (np.asarray(b, U64) << U64(32)) | np.asarray(a, U64)
    selector = np.asarray(c, U64)
    d = np.zeros(np.broadcast(source, selector).shape, U64)
    for i in range(4):
        nibble = (selector >> U64(4 * i)) & U64(0xF)
        byte = (source >> ((nibble & U64(7)) * U64(8))) & BYTE
        sign = np.where(byte & SIGN, BYTE, U64(0))  # the byte's msb, 8 times
        d |= np.where(nibble & U64(8), sign, byte) << U64(8 * i)
    return d.astype(np.uint32)


def decode_prmt(ins, ctx):
    mode = form(ins).get("mode")
    if mode is not None:
        raise Unsupported(f"{ins.name}: only the default mode of prmt.b32 is modelled, not .{mode}")
    return build(ins, ctx, ("b32", "b32", "b32"), "b32", permute_bytes)


def decode_copysign(ins, ctx):
    t = op_type(ins)
    return build(ins, ctx, (t, t), t, lambda a, b: np.copysign(b, a))


_INT = "integers (wrap modulo 2^N)"
_F = "f32 in float32 (.rn, .ftz, .sat; .rz/.rm/.rp rounded once from the exact result)"
_MIN_MAX = "integers; floats and halves (one NaN: the other; .NaN: NaN)"
_H = "f16/bf16/f16x2/bf16x2 rounded once (.ftz on f16, .sat)"
_BITWISE = ".pred and .bN"
SEMANTICS = {
    "add": Semantics(
        _add_sub(np.add), f"{_INT}, .sat.s32; {_F}; f64 (all four roundings); {_H}"
    ),
    "sub": Semantics(
        _add_sub(np.subtract), f"{_INT}, .sat.s32; {_F}; f64 (all four roundings); {_H}"
    ),
    "mul": Semantics(decode_mul, f".lo/.hi/.wide {_INT}; {_F}; f64 (.rn); {_H}"),
    "mad": Semantics(decode_mad, f".lo/.hi/.wide {_INT}; floats as fma"),
    "fma": Semantics(
        decode_fma, f".rn/.rz/.rm/.rp.f32, rounded once from the exact a*b+c (.ftz, .sat); {_H}"
    ),
    "div": Semantics(
        decode_div,
        "integers (truncating; x/0 gives all ones); .rn/.approx/.full f32 and f64 as IEEE",
    ),
    "rem": Semantics(decode_rem, "integers (sign of the dividend; x%0 gives x)"),
    "min": Semantics(_min_max(np.fmin, np.minimum, np.minimum), _MIN_MAX),
    "max": Semantics(_min_max(np.fmax, np.maximum, np.maximum), _MIN_MAX),
    "neg": Semantics(_neg_abs(np.negative), "integers (wrap); floats; halves (the sign bit)"),
    "abs": Semantics(_neg_abs(np.abs), "integers (wrap); floats; halves (the sign bit)"),
    "copysign": Semantics(decode_copysign, ".f32/.f64: b with the sign of a"),
    "and": Semantics(_bitwise(np.bitwise_and, np.logical_and), _BITWISE),
    "or": Semantics(_bitwise(np.bitwise_or, np.logical_or), _BITWISE),
    "xor": Semantics(_bitwise(np.bitwise_xor, np.logical_xor), _BITWISE),
    "not": Semantics(_bitwise(np.invert, np.logical_not), _BITWISE),
    "cnot": Semantics(decode_cnot, ".b16/.b32/.b64: 1 for 0, else 0"),
    "shl": Semantics(_shift(left=True), "shift amounts above the width clamp (result 0)"),
    "shr": Semantics(
        _shift(left=False), "logical for .b/.u, arithmetic for .s; amounts above the width clamp"
    ),
    "setp": Semantics(
        decode_setp,
        "all compare operators incl. unordered (equ..geu, num, nan) and lo/ls/hi/hs; f16/bf16",
    ),
    "testp": Semantics(
        decode_testp, ".finite/.infinite/.number/.notanumber/.normal/.subnormal, .f32/.f64"
    ),
    "selp": Semantics(decode_selp, "every non-pred type"),
    "prmt": Semantics(
        decode_prmt,
        ".b32 default mode (register or immediate selector, sign replication); no other modes",
    ),
}
