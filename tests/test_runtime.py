"""The runtime's input checks (the same for every backend) and the check module's verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import runtime
from explorer.check import compare, make_inputs
from explorer.kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel

KERNEL = MultiWarpIncrementalAttentionKernel(64, 40, 6, 2, 3)


def _inputs(kernel=KERNEL):
    return make_inputs(kernel, np.random.default_rng(0))


def test_valid_launch_arguments_pass():
    q, k, v = _inputs()
    assert runtime.check_launch(KERNEL, q, k, v, np.int64(17)) == (17,)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda q, k, v: (q[:, :-1], k, v), "q has shape"),
        (lambda q, k, v: (q, k[:1], v), "k has shape"),
        (lambda q, k, v: (q, k, v.astype(np.float64)), "v has dtype float64"),
        (lambda q, k, v: (np.asfortranarray(q), k, v), "q is not C-contiguous"),
        (lambda q, k, v: (q.tolist(), k, v), "q must be a NumPy or CuPy array"),
    ],
)
def test_bad_arrays_are_named(mutate, words):
    q, k, v = mutate(*_inputs())
    with pytest.raises(ValueError, match=words):
        runtime.check_launch(KERNEL, q, k, v, 3)


@pytest.mark.parametrize("seq_len", [-1, 65, 2**32, 3.0, True, "3"])
def test_bad_seq_len_is_named(seq_len):
    q, k, v = _inputs()
    with pytest.raises(ValueError, match="seq_len"):
        runtime.check_launch(KERNEL, q, k, v, seq_len)


def test_unknown_backend():
    q, k, v = _inputs()
    with pytest.raises(ValueError, match="backend='opencl'"):
        runtime.run(KERNEL, q, k, v, 3, backend="opencl")


def test_inputs_are_random_f32_never_zero():
    for kind in ("normal", "increasing"):
        q, k, v = make_inputs(KERNEL, np.random.default_rng(1), kind)
        assert q.dtype == k.dtype == v.dtype == np.float32
        assert np.count_nonzero(q) == q.size and np.count_nonzero(k) == k.size


def test_increasing_scores_increase_for_every_head():
    kernel = IncrementalAttentionKernel(200, 33, 12, 4)
    q, k, _ = make_inputs(kernel, np.random.default_rng(2), "increasing")
    for head in range(kernel.num_heads):
        kv = head * kernel.num_kv_heads // kernel.num_heads
        scores = (k[kv].astype(np.float64) @ q[head]) * kernel.scale
        assert np.all(np.diff(scores) > 0)
        assert 5 < scores[-1] < 200


def test_compare_fails_nan_and_far_outputs_and_passes_close_ones():
    ref = np.random.default_rng(3).standard_normal((4, 8))
    assert compare(ref.astype(np.float32), ref).passed
    poisoned = ref.copy()
    poisoned[1, 2] = np.nan
    assert not compare(poisoned, ref).passed
    assert not compare(ref * (1 + 1e-4), ref).passed
    assert compare(np.zeros((2, 2)), np.zeros((2, 2))).passed
    assert not compare(np.full((2, 2), 1e-3), np.zeros((2, 2))).passed
