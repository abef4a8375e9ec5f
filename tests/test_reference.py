"""Tests of the float64 reference: the staged (warp split + merge) path against the direct
formula, the chunk bounds, the empty and increasing-score edge cases, and validation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from explorer.verify.reference import (
    Merged,
    WarpPartials,
    attention,
    cross_warp_merge,
    kv_head_of,
    scaled_scores,
    warp_chunk_bounds,
    warp_partials,
)

GQA_RATIOS = [(8, 8), (32, 8), (12, 2), (4, 1)]
HEAD_DIMS = [1, 33, 128]
WARPS = [1, 3, 4, 32]
SEQ_LENS = [0, 1, 2, 5, 31, 32, 33, 100]
MAX_SEQ_LEN = 100
TOL = 1e-12


def random_inputs(
    seed: int, num_heads: int, num_kv_heads: int, head_dim: int, max_seq_len: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((num_heads, head_dim))
    k = rng.standard_normal((num_kv_heads, max_seq_len, head_dim))
    v = rng.standard_normal((num_kv_heads, max_seq_len, head_dim))
    return q, k, v


def increasing_score_inputs(
    num_heads: int, num_kv_heads: int, head_dim: int, seq_len: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """q heads are positive multiples of one direction u and k rows are t * u, so every
    head's score grows strictly with position t."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(head_dim)
    direction /= np.linalg.norm(direction)
    q = rng.uniform(0.5, 1.5, size=(num_heads, 1)) * direction
    positions = np.arange(1, seq_len + 1, dtype=np.float64)
    k = np.broadcast_to(
        positions[None, :, None] * direction, (num_kv_heads, seq_len, head_dim)
    )
    v = rng.standard_normal((num_kv_heads, seq_len, head_dim))
    return q, k.copy(), v


def staged(q, k, v, seq_len, num_warps, scale=None) -> tuple[WarpPartials, Merged]:
    partials = warp_partials(q, k, v, seq_len, num_warps, scale)
    return partials, cross_warp_merge(partials)


@pytest.mark.parametrize("num_heads,num_kv_heads", GQA_RATIOS)
@pytest.mark.parametrize("head_dim", HEAD_DIMS)
@pytest.mark.parametrize("num_warps", WARPS)
@pytest.mark.parametrize("seq_len", SEQ_LENS)
def test_staged_matches_direct(num_heads, num_kv_heads, head_dim, num_warps, seq_len):
    seed = 10_000 * num_heads + 1000 * head_dim + 100 * num_warps + seq_len
    q, k, v = random_inputs(seed, num_heads, num_kv_heads, head_dim, MAX_SEQ_LEN)
    with np.errstate(invalid="raise", divide="raise"):
        _, merged = staged(q, k, v, seq_len, num_warps)
        expected = attention(q, k, v, seq_len)
    assert merged.out.shape == (num_heads, head_dim)
    assert merged.out.dtype == np.float64
    np.testing.assert_allclose(merged.out, expected, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("head_dim", HEAD_DIMS)
@pytest.mark.parametrize("num_warps,seq_len", [(4, 3), (32, 5), (32, 31), (3, 1)])
def test_empty_warps_keep_neutral_partials(head_dim, num_warps, seq_len):
    q, k, v = random_inputs(7, 12, 2, head_dim, 40)
    with np.errstate(invalid="raise", divide="raise"):
        partials, merged = staged(q, k, v, seq_len, num_warps)
    empty = partials.bounds[:, 0] == partials.bounds[:, 1]
    assert empty.any()
    assert np.all(partials.m[:, empty] == -np.inf)
    assert np.all(partials.l[:, empty] == 0)
    assert np.all(partials.o[:, empty, :] == 0)
    assert np.all(merged.factors[:, empty] == 0)
    np.testing.assert_allclose(
        merged.out, attention(q, k, v, seq_len), rtol=TOL, atol=TOL
    )


@pytest.mark.parametrize("num_warps", WARPS)
def test_each_warp_partial_is_attention_over_its_chunk(num_warps):
    q, k, v = random_inputs(3, 32, 8, 33, 70)
    seq_len = 67
    partials = warp_partials(q, k, v, seq_len, num_warps)
    scores = scaled_scores(q, k, seq_len, 1 / math.sqrt(33))
    for w, (start, end) in enumerate(partials.bounds):
        if start == end:
            continue
        np.testing.assert_array_equal(
            partials.m[:, w], scores[:, start:end].max(axis=1)
        )
        chunk_out = attention(q, k[:, start:end], v[:, start:end], end - start)
        normalised = partials.o[:, w, :] / partials.l[:, w, None]
        np.testing.assert_allclose(normalised, chunk_out, rtol=TOL, atol=TOL)
        assert np.all(partials.l[:, w] >= 1)  # the max position contributes exp(0) = 1


@pytest.mark.parametrize("seq_len", [0, 1, 2, 5, 31, 32, 33, 100, 127])
@pytest.mark.parametrize("num_warps", [1, 2, 3, 4, 7, 8, 32])
def test_chunk_bounds_cover_once_and_match_formula(seq_len, num_warps):
    bounds = warp_chunk_bounds(seq_len, num_warps)
    assert len(bounds) == num_warps
    chunk = math.ceil(seq_len / num_warps)
    for w, (start, end) in enumerate(bounds):
        assert (start, end) == (min(w * chunk, seq_len), min((w + 1) * chunk, seq_len))
        assert start <= end
    covered = [t for start, end in bounds for t in range(start, end)]
    assert covered == list(range(seq_len))


def test_chunk_bounds_of_zero_are_all_empty():
    assert warp_chunk_bounds(0, 4) == [(0, 0)] * 4


@pytest.mark.parametrize("num_heads,num_kv_heads", GQA_RATIOS)
@pytest.mark.parametrize("num_warps,seq_len", [(1, 40), (3, 40), (4, 37), (32, 100)])
def test_increasing_scores_still_agree(num_heads, num_kv_heads, num_warps, seq_len):
    q, k, v = increasing_score_inputs(num_heads, num_kv_heads, 33, seq_len)
    scores = scaled_scores(q, k, seq_len, 1 / math.sqrt(33))
    assert np.all(np.diff(scores, axis=1) > 0)
    _, merged = staged(q, k, v, seq_len, num_warps)
    np.testing.assert_allclose(
        merged.out, attention(q, k, v, seq_len), rtol=TOL, atol=TOL
    )
    np.testing.assert_array_equal(merged.M, scores[:, -1])


@pytest.mark.parametrize("num_warps,seq_len", [(3, 40), (4, 37), (32, 100)])
def test_merge_without_rescale_fails_on_increasing_scores(num_warps, seq_len):
    q, k, v = increasing_score_inputs(12, 2, 33, seq_len)
    partials = warp_partials(q, k, v, seq_len, num_warps)
    broken_factors = np.ones_like(partials.l)  # every rescale 1: the aliased-max bug
    broken_out = (
        np.einsum("hw,hwd->hd", broken_factors, partials.o)
        / ((broken_factors * partials.l).sum(axis=1)[:, None])
    )
    expected = attention(q, k, v, seq_len)
    assert not np.allclose(broken_out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        cross_warp_merge(partials).out, expected, rtol=TOL, atol=TOL
    )


@pytest.mark.parametrize("num_heads,num_kv_heads", GQA_RATIOS)
@pytest.mark.parametrize("num_warps", WARPS)
def test_seq_len_zero_gives_zeros_without_nan(num_heads, num_kv_heads, num_warps):
    q, k, v = random_inputs(11, num_heads, num_kv_heads, 33, 8)
    with np.errstate(invalid="raise", divide="raise"):
        partials, merged = staged(q, k, v, 0, num_warps)
        direct = attention(q, k, v, 0)
    assert np.all(merged.M == -np.inf)
    assert np.all(merged.L == 0)
    assert np.all(merged.factors == 0)
    assert np.all(merged.out == 0)
    assert np.all(direct == 0)
    assert np.all(partials.m == -np.inf)
    assert np.all(partials.l == 0) and np.all(partials.o == 0)
    for array in (
        partials.m,
        partials.l,
        partials.o,
        merged.M,
        merged.L,
        merged.factors,
    ):
        assert not np.isnan(array).any()


def test_attention_matches_plain_python_loop_for_one_head():
    num_heads, num_kv_heads, head_dim, seq_len = 4, 2, 3, 5
    q, k, v = random_inputs(5, num_heads, num_kv_heads, head_dim, 6)
    head = 3
    kv = head * num_kv_heads // num_heads
    scale = 1 / math.sqrt(head_dim)
    scores = [
        scale * sum(float(q[head, d]) * float(k[kv, t, d]) for d in range(head_dim))
        for t in range(seq_len)
    ]
    weights = [math.exp(s - max(scores)) for s in scores]
    total = sum(weights)
    expected = [
        sum(weights[t] * float(v[kv, t, d]) for t in range(seq_len)) / total
        for d in range(head_dim)
    ]
    np.testing.assert_allclose(attention(q, k, v, seq_len)[head], expected, rtol=TOL)


@pytest.mark.parametrize("num_warps", [1, 4])
def test_explicit_scale_and_float32_inputs(num_warps):
    q, k, v = random_inputs(9, 8, 2, 16, 20)
    q32, k32, v32 = (a.astype(np.float32) for a in (q, k, v))
    expected = attention(q32, k32, v32, 17, scale=0.3)
    assert expected.dtype == np.float64
    _, merged = staged(q32, k32, v32, 17, num_warps, scale=0.3)
    np.testing.assert_allclose(merged.out, expected, rtol=TOL, atol=TOL)
    default = attention(q, k, v, 17)
    np.testing.assert_allclose(default, attention(q, k, v, 17, scale=0.25), rtol=TOL)
    assert not np.allclose(expected, attention(q32, k32, v32, 17), rtol=1e-6)


@pytest.mark.parametrize(
    "q_head,num_heads,num_kv_heads,expected",
    [
        (0, 32, 8, 0),
        (3, 32, 8, 0),
        (4, 32, 8, 1),
        (31, 32, 8, 7),
        (5, 12, 2, 0),
        (6, 12, 2, 1),
        (7, 8, 8, 7),
        (3, 4, 1, 0),
    ],
)
def test_kv_head_of(q_head, num_heads, num_kv_heads, expected):
    assert kv_head_of(q_head, num_heads, num_kv_heads) == expected


def test_results_are_frozen():
    q, k, v = random_inputs(2, 4, 1, 8, 8)
    partials, merged = staged(q, k, v, 5, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        partials.m = partials.l  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        merged.out = merged.L  # type: ignore[misc]


def _q(num_heads=4, head_dim=8):
    return np.ones((num_heads, head_dim)) * 0.5


def _kv(num_kv_heads=2, max_seq_len=10, head_dim=8):
    return np.ones((num_kv_heads, max_seq_len, head_dim)) * 0.5


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: attention(np.ones(8), _kv(), _kv(), 3), "q"),
        (lambda: attention(_q(), np.ones((2, 8)), _kv(), 3), "k"),
        (lambda: attention(_q(), _kv(), _kv(max_seq_len=9), 3), "v"),
        (lambda: attention(_q(head_dim=4), _kv(), _kv(), 3), "head_dim"),
        (lambda: attention(_q(num_heads=3), _kv(), _kv(), 3), "num_heads"),
        (lambda: attention(_q(), _kv(), _kv(), -1), "seq_len"),
        (lambda: attention(_q(), _kv(), _kv(), 11), "seq_len"),
        (lambda: warp_partials(_q(), _kv(), _kv(), 11, 2), "seq_len"),
        (lambda: warp_partials(_q(), _kv(), _kv(), 3, 0), "num_warps"),
        (lambda: warp_chunk_bounds(5, 0), "num_warps"),
        (lambda: warp_chunk_bounds(-1, 2), "seq_len"),
        (lambda: kv_head_of(4, 4, 2), "q_head"),
        (lambda: kv_head_of(0, 4, 0), "num_kv_heads"),
        (lambda: kv_head_of(0, 6, 4), "num_heads"),
    ],
)
def test_validation_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()
