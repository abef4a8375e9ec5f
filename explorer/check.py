"""Correctness checking shared by the tests, the CLI and the app: random inputs for a kernel
(normal, or with strictly increasing scores so that a missing rescale shows), and the
comparison against the float64 reference with the project's tolerances.

It neither runs kernels (see `explorer.runtime`) nor computes the reference (see
`explorer.reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference
from .dtypes import to_float64, to_storage

# Pass when the relative L2 error <= REL_L2 and max abs error <= ABS * max(1, max|ref|).
# f32 kernels are held to f32 accuracy; f16/bf16 ones to their storage precision (the
# reference then uses the same rounded inputs).
TOLERANCES = {"f32": (1e-5, 1e-4), "f16": (1e-2, 1e-2), "bf16": (1e-2, 1e-2)}
REL_L2_TOL, ABS_TOL = TOLERANCES["f32"]
INPUT_KINDS = ("normal", "increasing")


def make_inputs(kernel, rng: np.random.Generator, kind: str = "normal"):
    """Random (q, k, v) in the kernel's layouts and storage dtype; never zeros.

    `kind="increasing"`: every head's scaled scores grow strictly with the position (up to
    about 30 at the last position), so each new position raises the running max and the
    online softmax must rescale at every step.
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind={kind!r}; accepted: {', '.join(INPUT_KINDS)}")
    shapes = kernel.buffer_shapes()
    batch = shapes["q"][0] if len(shapes["q"]) == 3 else None
    parts = [_one_sequence(kernel, rng, kind) for _ in range(batch or 1)]
    q, k, v = (np.stack(x) if batch else x[0] for x in zip(*parts, strict=True))
    return tuple(to_storage(x, kernel.dtype) for x in (q, k, v))


def _one_sequence(kernel, rng, kind):
    heads, kv_heads, msl, hd = (
        kernel.num_heads, kernel.num_kv_heads, kernel.max_seq_len, kernel.head_dim,
    )
    v = rng.standard_normal((kv_heads, msl, hd), dtype=np.float32)
    if kind == "normal":
        q = rng.standard_normal((heads, hd), dtype=np.float32)
        k = rng.standard_normal((kv_heads, msl, hd), dtype=np.float32)
        return q, k, v
    q = (np.abs(rng.standard_normal((heads, hd))) + 0.1).astype(np.float32)
    direction = np.abs(rng.standard_normal((kv_heads, 1, hd))) + 0.1
    q_dot = (q.mean(axis=0) * direction[:, 0]).sum(axis=-1)[:, None, None]
    step = 30.0 / (kernel.scale * q_dot * msl)
    t = np.arange(1, msl + 1, dtype=np.float64)[None, :, None]
    return q, (direction * t * step).astype(np.float32), v


def reference_output(kernel, q, k, v, seq_len) -> np.ndarray:
    """float64 reference from the stored (rounded) inputs, in q's layout; `seq_len` an int or
    one per sequence."""
    q64, k64, v64 = (to_float64(x, kernel.dtype) for x in (q, k, v))
    if q64.ndim == 2:
        return reference.attention(q64, k64, v64, int(np.ravel(seq_len)[0]), kernel.scale)
    lengths = np.broadcast_to(seq_len, (q64.shape[0],))
    return np.stack([
        reference.attention(q64[b], k64[b], v64[b], int(n), kernel.scale)
        for b, n in enumerate(lengths)
    ])


@dataclass(frozen=True)
class Comparison:
    """How far an output is from the reference, and whether that is within tolerance."""

    max_abs: float
    rel_l2: float
    max_ref: float
    finite: bool
    dtype: str = "f32"

    @property
    def tolerances(self) -> tuple[float, float]:
        """(relative L2 tolerance, max abs tolerance) for this output."""
        rel, abs_ = TOLERANCES[self.dtype]
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


def compare(out: np.ndarray, ref: np.ndarray, dtype: str = "f32") -> Comparison:
    """Compare a kernel output (stored as `dtype`) with the float64 reference (NaN or Inf never
    passes)."""
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
    return Comparison(max_abs, rel, max_ref, finite, dtype)


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
