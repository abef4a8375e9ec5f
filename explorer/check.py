"""Correctness checking shared by the tests, the CLI and the app: random inputs for a kernel
(normal, or with strictly increasing scores so that a missing rescale shows), and the
comparison against the float64 reference with the project's tolerances.

It neither runs kernels (see `explorer.runtime`) nor computes the reference (see
`explorer.reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REL_L2_TOL = 1e-5  # f32 kernels: relative L2 error against float64
ABS_TOL = 1e-4  # f32 kernels: max abs error <= ABS_TOL * max(1, max|ref|)
INPUT_KINDS = ("normal", "increasing")


def make_inputs(kernel, rng: np.random.Generator, kind: str = "normal"):
    """Random f32 (q, k, v) in the kernel's layouts; never zeros.

    `kind="increasing"`: every head's scaled scores grow strictly with the position (up to
    about 30 at the last position), so each new position raises the running max and the
    online softmax must rescale at every step.
    """
    heads, kv_heads, msl, hd = (
        kernel.num_heads, kernel.num_kv_heads, kernel.max_seq_len, kernel.head_dim,
    )
    v = rng.standard_normal((kv_heads, msl, hd), dtype=np.float32)
    if kind == "normal":
        q = rng.standard_normal((heads, hd), dtype=np.float32)
        k = rng.standard_normal((kv_heads, msl, hd), dtype=np.float32)
    elif kind == "increasing":
        q = (np.abs(rng.standard_normal((heads, hd))) + 0.1).astype(np.float32)
        direction = np.abs(rng.standard_normal((kv_heads, 1, hd))) + 0.1
        q_dot = (q.mean(axis=0) * direction[:, 0]).sum(axis=-1)[:, None, None]
        step = 30.0 / (kernel.scale * q_dot * msl)
        t = np.arange(1, msl + 1, dtype=np.float64)[None, :, None]
        k = (direction * t * step).astype(np.float32)
    else:
        raise ValueError(f"kind={kind!r}; accepted: {', '.join(INPUT_KINDS)}")
    return q, k, v


@dataclass(frozen=True)
class Comparison:
    """How far an output is from the reference, and whether that is within tolerance."""

    max_abs: float
    rel_l2: float
    max_ref: float
    finite: bool

    @property
    def passed(self) -> bool:
        return (
            self.finite
            and self.rel_l2 <= REL_L2_TOL
            and self.max_abs <= ABS_TOL * max(1.0, self.max_ref)
        )

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        abs_tol = ABS_TOL * max(1.0, self.max_ref)
        return (
            f"{verdict}: max abs error {self.max_abs:.3e} (tol {abs_tol:.1e}),"
            f" relative L2 error {self.rel_l2:.3e} (tol {REL_L2_TOL:.0e})"
            + ("" if self.finite else ", NON-FINITE values in the output")
        )


def compare(out: np.ndarray, ref: np.ndarray) -> Comparison:
    """Compare a kernel output with the float64 reference (NaN or Inf never passes)."""
    out64 = np.asarray(out, dtype=np.float64)
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
    return Comparison(max_abs, rel, max_ref, finite)


def compare_states(got, want) -> list[str]:
    """Where two `WarpStates` differ beyond the f32 tolerances: a list of problems, empty when
    they match. Chunk bounds must be equal, -inf (empty warps, no position) must sit in the
    same places, and the finite values must agree."""
    problems = []
    for name in ("chunk_start", "chunk_end"):
        g, w = getattr(got, name), getattr(want, name)
        if not np.array_equal(g, w):
            problems.append(f"{name}: {np.asarray(g).tolist()} != {np.asarray(w).tolist()}")
    for name in ("m", "l", "factor", "M", "L", "scores"):
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
