"""Random inputs for a kernel, in its layouts and storage dtype: normal, or with strictly
increasing scores so that a missing rescale shows. Never zeros. K and V of a kernel with an
8-bit `kv_dtype` (e4m3) are quantised with per-tensor scales amax / 448, which are set on the
kernel (`set_kv_scales`) so that the run and the reference use them. It runs nothing.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import e4m3_scale, quantise, to_storage

INPUT_KINDS = ("normal", "increasing")


def make_inputs(kernel, rng: np.random.Generator, kind: str = "normal"):
    """Random (q, k, v) in the kernel's layouts and storage dtype; never zeros.

    `kind="increasing"`: every head's scaled scores grow strictly with the position (up to
    about 30 at the last position), so each new position raises the running max and the
    online softmax must rescale at every step.
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind={kind!r}; accepted: {', '.join(INPUT_KINDS)}")
    q_shape = next(s.shape for s in kernel.buffer_specs() if s.name == "q")
    batch = q_shape[0] if len(q_shape) == 3 else None
    parts = [_one_sequence(kernel, rng, kind) for _ in range(batch or 1)]
    q, k, v = (np.stack(x) if batch else x[0] for x in zip(*parts, strict=True))
    kv_dtype = getattr(kernel, "kv_dtype", None)
    if not kv_dtype:
        return tuple(to_storage(x, kernel.dtype) for x in (q, k, v))
    scales = e4m3_scale(k), e4m3_scale(v)
    kernel.set_kv_scales(*scales)
    return (to_storage(q, kernel.dtype), *(quantise(x, kv_dtype, s)
                                           for x, s in zip((k, v), scales, strict=True)))


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
