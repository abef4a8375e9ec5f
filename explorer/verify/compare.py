"""How far a kernel's output and its recorded warp states are from the float64 reference,
against the project's tolerances (`Comparison`, `compare`, `compare_states`).

It neither runs kernels (see `explorer.runtime`) nor computes the reference (see
`explorer.verify.reference`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..dtypes import DTYPES, TABLE, to_float64

# Pass when the relative L2 error <= REL_L2 and max abs error <= ABS * max(1, max|ref|).
# f32 kernels are held to f32 accuracy; f16/bf16 ones to their storage precision (the
# reference then uses the same rounded inputs); a kernel with e4m3 K/V to KV_TOLERANCES'.
TOLERANCES = {name: d.tolerance for name, d in DTYPES.items()}  # explorer.dtypes: one table
KV_TOLERANCES = {name: d.tolerance for name, d in TABLE.items() if d.kv_only}


@dataclass(frozen=True)
class Comparison:
    """How far an output is from the reference, and whether that is within tolerance."""

    max_abs: float
    rel_l2: float
    max_ref: float
    finite: bool
    dtype: str = "f32"
    held_to: str = ""  # the dtype whose tolerances apply ("": dtype's), e.g. e4m3 K/V's

    @property
    def tolerances(self) -> tuple[float, float]:
        """(relative L2 tolerance, max abs tolerance) for this output."""
        rel, abs_ = TABLE[self.held_to or self.dtype].tolerance
        return rel, abs_ * max(1.0, self.max_ref)

    @property
    def passed(self) -> bool:
        rel_tol, abs_tol = self.tolerances
        return self.finite and self.rel_l2 <= rel_tol and self.max_abs <= abs_tol

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        rel_tol, abs_tol = self.tolerances
        return (
            f"{verdict}: max abs error {self.max_abs:.3e} (tol {abs_tol:.1e}),"
            f" relative L2 error {self.rel_l2:.3e} (tol {rel_tol:.0e})"
            + ("" if self.finite else ", NON-FINITE values in the output")
        )


def compare(out: np.ndarray, ref: np.ndarray, dtype: str = "f32", held_to: str = ""
            ) -> Comparison:
    """Compare a kernel output (stored as `dtype`) with the float64 reference (NaN or Inf never
    passes), held to the tolerances of `held_to` (a K/V dtype such as e4m3) or of dtype."""
    out64 = to_float64(out, dtype)
    ref64 = np.asarray(ref, dtype=np.float64)
    if out64.shape != ref64.shape:
        raise ValueError(f"output shape {out64.shape} != reference shape {ref64.shape}")
    finite = bool(np.isfinite(out64).all())
    diff = np.where(np.isfinite(out64), out64 - ref64, np.inf)
    ref_norm = float(np.linalg.norm(ref64))
    diff_norm = float(np.linalg.norm(diff))
    rel = diff_norm / ref_norm if ref_norm > 0 else (0.0 if diff_norm == 0 else np.inf)
    max_abs = float(np.abs(diff).max()) if diff.size else 0.0
    max_ref = float(np.abs(ref64).max()) if ref64.size else 0.0
    return Comparison(max_abs, rel, max_ref, finite, dtype, held_to)


def compare_states(got, want) -> list[str]:
    """Where two `WarpStates` (or two `SplitStates`) differ beyond the f32 tolerances: a list
    of problems, empty when they match. The integer fields (`EXACT`: chunk bounds, split
    ranges) must be equal, -inf (empty warps and splits, no position) must sit in the same
    places, and the finite values must agree."""
    if type(got) is not type(want):
        return [f"states: {type(got).__name__} != {type(want).__name__}"]
    problems = []
    for name in want.EXACT:
        g, w = getattr(got, name), getattr(want, name)
        if not np.array_equal(g, w):
            problems.append(f"{name}: {np.asarray(g).tolist()} != {np.asarray(w).tolist()}")
    for name in (f.name for f in dataclasses.fields(want) if f.name not in want.EXACT):
        g = np.asarray(getattr(got, name), dtype=np.float64)
        w = np.asarray(getattr(want, name), dtype=np.float64)
        if g.shape != w.shape:
            problems.append(f"{name}: shape {g.shape} != {w.shape}")
        elif not np.array_equal(np.isneginf(g), np.isneginf(w)):
            problems.append(f"{name}: -inf in different places")
        else:
            finite = ~np.isneginf(w)
            result = compare(np.where(finite, g, 0.0), np.where(finite, w, 0.0))
            if not result.passed:
                problems.append(f"{name}: {result}")
    return problems
