"""Rounding an exactly known value to f64, f32, f16 or bf16 in any PTX rounding mode: `.rn`
(nearest, ties to even), `.rz` (toward zero), `.rm` (toward -inf), `.rp` (toward +inf).

A value is known exactly as a pair `(s, err)` of float64 arrays: `s` is the value rounded to
nearest f64 and `err` the exact rest (`two_sum` gives it for a sum, a product of two f32 is
exact, a 64-bit integer is `hi * 2^32 + lo`). Rounding to a narrower format goes through
round-to-odd in f64 (truncate, then set the last bit if inexact): with 53 >= 24 + 2 bits, the
odd value rounds to f32, f16 or bf16 in every mode exactly as the exact value would, so there
is no double rounding. It knows numbers only.
"""

from __future__ import annotations

import numpy as np

MODES = ("rn", "rz", "rm", "rp")
F64 = np.float64


def two_sum(a, b) -> tuple[np.ndarray, np.ndarray]:
    """(s, err) with s = fl(a + b) and s + err == a + b exactly (Knuth's TwoSum)."""
    a, b = np.asarray(a, F64), np.asarray(b, F64)
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def integer_pair(x) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit (or narrower) integer array as an exact (s, err) pair."""
    x = np.asarray(x)
    if x.dtype.itemsize < 8:
        return x.astype(F64), np.zeros(x.shape)
    if x.dtype.kind == "i":
        hi = (x >> np.int64(32)).astype(F64)  # arithmetic shift: hi * 2^32 + lo == x
    else:
        hi = (x >> np.uint64(32)).astype(F64)
    lo = (x.astype(np.uint64) & np.uint64(0xFFFFFFFF)).astype(F64)
    return two_sum(hi * 2.0**32, lo)


def round_to_odd(s, err) -> np.ndarray:
    """The f64 next to s toward s + err, with its last bit set where err != 0."""
    s, err = np.array(s, F64, ndmin=1), np.asarray(err, F64)
    inexact = (err != 0) & np.isfinite(s)
    if inexact.any():
        bits = s.view(np.int64)
        bits -= inexact & ((err < 0) != (s < 0))  # |s + err| < |s|: truncate |s| first
        bits |= inexact
    return s


def _step(r, toward, where):
    """r moved one unit in the last place toward `toward` where `where` holds."""
    return np.where(where, np.nextafter(r, r.dtype.type(toward)), r)


def _directed(r, exact_above: np.ndarray, exact_below: np.ndarray, mode: str):
    """Nearest r adjusted for a directed mode, given where the exact value lies above or below
    r."""
    if mode == "rm":
        return _step(r, -np.inf, exact_below)
    if mode == "rp":
        return _step(r, np.inf, exact_above)
    if mode == "rz":
        return _step(r, 0, (exact_below & (r > 0)) | (exact_above & (r < 0)))
    return r


def round_pair(s, err, t: str, mode: str = "rn") -> np.ndarray:
    """s + err rounded to type t (f64, f32, f16; bf16 as its bits) in `mode`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if t == "f64":
        s, err = np.array(s, F64, ndmin=1), np.asarray(err, F64)
        return _directed(s, err > 0, err < 0, mode)
    if t == "bf16":
        return _bf16(round_to_odd(s, err), mode)
    x = round_to_odd(s, err)
    r = x.astype({"f32": np.float32, "f16": np.float16}[t])
    if mode == "rn":
        return r
    wide = r.astype(F64)
    return _directed(r, x > wide, x < wide, mode)


def _bf16(x: np.ndarray, mode: str) -> np.ndarray:
    """bf16 bits of an odd-rounded f64 (odd-rounded once more to f32: 24 >= 8 + 2 bits); a NaN
    gives 0x7FFF."""
    f = round_pair(x, np.zeros_like(x), "f32", "rz")
    f = np.where(f.astype(F64) != x, (f.view(np.uint32) | np.uint32(1)).view(np.float32), f)
    bits = f.view(np.uint32).astype(np.uint64)
    kept = bits >> np.uint64(16)
    if mode == "rn":  # ties to even on the dropped 16 bits
        out = (bits + np.uint64(0x7FFF) + (kept & np.uint64(1))) >> np.uint64(16)
    else:
        inexact = (bits & np.uint64(0xFFFF)) != 0
        negative = (bits >> np.uint64(31)) != 0
        away = {"rz": np.zeros_like(inexact), "rm": negative, "rp": ~negative}[mode]
        out = kept + (inexact & away)  # one more unit of the magnitude
    return np.where(np.isnan(f), np.uint16(0x7FFF), out.astype(np.uint16))


def round_sum(p, q, t: str, mode: str = "rn") -> np.ndarray:
    """p + q for exactly known float64 addends (f32 values, or a product of two), rounded once;
    an exact zero has IEEE's sign: -0 when both addends are -0, or in `.rm` when their signs
    differ, +0 otherwise."""
    p, q = np.asarray(p, F64), np.asarray(q, F64)
    s, err = two_sum(p, q)
    r = round_pair(s, err, t, mode)
    if mode == "rm":
        zero = (s == 0) & (err == 0) & (np.signbit(p) != np.signbit(q))
        r = np.where(zero, -np.abs(r), r)
    return r
