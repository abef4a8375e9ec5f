"""The split-KV kernel's debug variant: its record's layout, the PTX diff against the plain
kernel, and the recorded split and warp states against the float64 reference on every
backend (both paths, both merges, batches with empty sequences and empty splits)."""

from __future__ import annotations

import dataclasses
import difflib
import itertools

import numpy as np
import pytest

from explorer.kernels import SplitKVDecodeAttentionKernel as Split
from explorer.kernels.debug import POISON
from explorer.kernels.split_kv_debug import FIELDS, SplitDebugLayout
from explorer.ptx.ptxas import assemble, find_ptxas
from explorer.verify import compare_states, make_inputs, reference, verify
from explorer.verify.states import SplitStates

BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]
SHAPE = dict(max_seq_len=96, head_dim=32, num_heads=4, num_kv_heads=2)
PATHS = {
    "f32-cuda-cores": dict(dtype="f32"),
    "f16-cuda-cores": dict(dtype="f16", mma=False),
    "f16-tensor-cores": dict(dtype="f16"),
    "bf16-tensor-cores": dict(dtype="bf16"),
}
# batch 1 and 2; lengths 0, shorter than the splits (4 of 3 splits: the last is empty) and
# not a multiple of the warps' rounds
LENGTHS = [(0,), (4,), (96,), (70, 0), (5, 41)]


def _kernel(path: str, merge: str, batch: int, **kw) -> Split:
    return Split(**SHAPE, batch=batch, num_splits=3, num_warps=2, merge=merge,
                 **PATHS[path], debug=True, **kw)


def _changed_lines(plain, debug):
    diff = difflib.unified_diff(plain.emit().splitlines(), debug.emit().splitlines(),
                                lineterm="", n=0)
    lines = [d for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---"))]
    return [d[1:] for d in lines if d[0] == "-"], [d[1:] for d in lines if d[0] == "+"]


@pytest.mark.parametrize("merge", ["kernel", "last-cta"])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_debug_variant_only_adds_the_parameter_side_registers_and_stores(path, merge):
    debug = _kernel(path, merge, 2)
    plain = Split(**{**debug.config(), "debug": False})
    assert debug.entry == plain.entry + "_debug"
    assert debug.combine_entry == plain.combine_entry + "_debug"
    removed, added = _changed_lines(plain, debug)
    # per entry: its name and its last parameter (which gains a comma) change
    entries = [plain.entry] + ([plain.combine_entry] if merge == "kernel" else [])
    last = ["partial_ml_ptr", "out_ptr"] if merge == "kernel" else ["out_ptr"]
    assert removed == [line for e, p in zip(entries, last, strict=True)
                       for line in (f".visible .entry {e}(", f"\t.param .u64 {p}")]
    regained = {f"\t.param .u64 {p}," for p in last}  # the same parameter, with its comma
    for line in added:
        body = line.strip()
        assert "%x" in body or line in regained or body.startswith(
            ("st.global", "// debug", ".param .u64 debug_ptr", ".visible")), line
    # per split: range, m, l and each warp's m, l; per merge: M, L and each split's weight
    stores = 4 + 2 * debug.num_warps + 2 + debug.num_splits
    assert sum("st.global" in a for a in added) == stores


@pytest.mark.skipif(find_ptxas() is None, reason="ptxas not installed (nvidia-cuda-nvcc)")
@pytest.mark.parametrize("path", sorted(PATHS))
def test_debug_variant_assembles(path):
    kernel = _kernel(path, "kernel", 2)
    reports = assemble(kernel.emit("sm_90"), "sm_90")
    assert {kernel.entry, kernel.combine_entry} <= set(reports)


def test_layout_is_derived_from_the_configuration():
    kernel = Split(**SHAPE, batch=2, num_splits=3, num_warps=2, debug=True)
    layout = kernel.debug_layout
    rows = kernel.geometry.rows_per_warp
    assert layout == SplitDebugLayout(2, 4, 3, 2, rows, kernel.unroll)
    split, warp, head = 2 * 4 * 3, 2 * 4 * 3 * 2, 2 * 4
    assert [layout.word(f) for f, _, _ in FIELDS] == [
        0, split, 2 * split, 3 * split, 4 * split, 4 * split + warp, 4 * split + 2 * warp,
        5 * split + 2 * warp, 5 * split + 2 * warp + head]
    assert layout.words == 5 * split + 2 * warp + 2 * head
    assert Split(**SHAPE, dtype="f16", num_warps=3, debug=True).debug_layout.warp_rows == 16
    assert Split(**SHAPE).debug_layout is None
    with pytest.raises(ValueError, match="field='x'"):
        layout.word("x")
    specs = {s.name: s for s in kernel.buffer_specs()}
    assert specs["debug"].shape == (layout.words,) and specs["debug"].fill == POISON


def test_layout_decodes_what_it_describes():
    layout = SplitDebugLayout(batch=1, num_heads=2, num_splits=2, num_warps=2, warp_rows=4,
                              warp_unroll=1)
    words = np.full(layout.words, POISON, dtype=np.uint32)
    floats = words.view(np.float32)
    at = layout.word
    words[at("start"):at("start") + 4] = [0, 3, 0, 3]
    words[at("end"):at("end") + 4] = [3, 5, 3, 5]
    floats[at("l"):at("l") + 4] = [2.0, 1.0, 4.0, 1.0]
    floats[at("weight"):at("weight") + 4] = [1.0, 0.5, 0.25, 1.0]
    floats[at("L"):at("L") + 2] = [2.5, 2.0]
    floats[at("warp_m"):at("warp_m") + 8] = np.arange(8)
    states = layout.decode(words)
    assert isinstance(states, SplitStates)
    assert states.start.tolist() == [[[0, 3], [0, 3]]] and states.end.dtype == np.int64
    assert states.warp_m.shape == (1, 2, 2, 2) and states.warp_m[0, 1, 0].tolist() == [4, 5]
    assert (states.batch, states.num_heads, states.num_splits, states.num_warps) == (1, 2, 2, 2)
    assert np.allclose(states.share, [[[0.8, 0.2], [0.5, 0.5]]])


def test_warp_of_a_position_follows_each_path():
    # CUDA cores, 2 warps of 4 row slots, 2 deep: 16 positions per step
    assert reference.split_warp_of(np.arange(18), 2, 4, 2).tolist() == (
        [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4 + [0] * 2)
    # tensor cores, 3 warps of a 16-position tile
    assert reference.split_warp_of(np.array([0, 15, 16, 47, 48]), 3, 16, 1).tolist() == [
        0, 0, 1, 2, 0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("merge", ["kernel", "last-cta"])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_states_match_the_reference(backend, path, merge):
    for lengths in LENGTHS:
        kernel = _kernel(path, merge, len(lengths))
        got = verify(kernel, backend, list(lengths), inputs="increasing", seed=3)
        assert got.comparison.passed, (lengths, got.comparison)
        assert isinstance(got.states, SplitStates), (lengths, got.notes)
        assert not got.state_problems, (lengths, got.state_problems)
        assert got.states.start.shape == (len(lengths), 4, 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", [dict(dtype="f32", num_warps=3, num_splits=5),
                                dict(dtype="f16", num_warps=3, num_splits=2, pipeline=False),
                                dict(dtype="bf16", mma=False, num_warps=4, num_splits=2)],
                         ids=["f32-w3-s5", "f16-mma-w3-unpipelined", "bf16-cuda-w4"])
def test_a_plain_kernel_is_verified_with_its_debug_variant(backend, kw):
    plain = Split(**SHAPE, batch=2, **kw)
    got = verify(plain, backend, [96, 37], inputs="normal", seed=4)
    assert got.passed and got.notes == (), got.state_problems
    assert got.states.num_splits == plain.num_splits
    assert got.states.num_warps == plain.num_warps
    assert np.isfinite(got.states.warp_m[..., 0]).all()  # every split's first warp walked


def test_empty_sequences_and_splits_hold_minus_infinity_and_zero():
    kernel = _kernel("f16-tensor-cores", "kernel", 2)
    got = verify(kernel, "sim", [0, 4], inputs="increasing", seed=1)
    states = got.states
    assert np.isneginf(states.M[0]).all() and (states.L[0] == 0).all()
    assert (states.weight[0] == 0).all() and np.isneginf(states.m[0]).all()
    assert states.start[1, 0].tolist() == [0, 2, 4] and states.end[1, 0].tolist() == [2, 4, 4]
    assert np.isneginf(states.m[1, :, 2]).all() and (states.l[1, :, 2] == 0).all()
    assert np.allclose(states.weight[1].max(axis=1), 1.0)


def test_a_wrong_warp_mapping_or_range_is_caught():
    kernel = _kernel("f32-cuda-cores", "kernel", 1)
    got = verify(kernel, "sim", 96, inputs="increasing", seed=2)
    assert not got.state_problems
    q, k, v = make_inputs(kernel, np.random.default_rng(2), "increasing")
    layout = kernel.debug_layout
    wrong = reference.split_states(q, k, v, [96], 3, 2, 1, layout.warp_unroll, kernel.scale)
    assert {p.split(":")[0] for p in compare_states(got.states, wrong)} == {"warp_m", "warp_l"}
    shifted = dataclasses.replace(got.reference_states, end=got.reference_states.end + 1)
    assert [p.split(":")[0] for p in compare_states(got.states, shifted)] == ["end"]
    assert compare_states(got.states, got.states) == []


def test_debug_variant_of_every_merge_and_path_is_the_same_configuration():
    for path, merge in itertools.product(PATHS, ("kernel", "last-cta")):
        plain = Split(**SHAPE, batch=2, merge=merge, **PATHS[path])
        debug = plain.debug_variant()
        assert debug.debug and {**debug.config(), "debug": False} == plain.config()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("merge", ["kernel", "last-cta"])
@pytest.mark.parametrize("path", ["f32-cuda-cores", "f16-tensor-cores"])
def test_weights_over_more_splits_than_the_merge_reads_at_once(backend, path, merge):
    # 40 splits: the merge rescales after its first 32; the weights are against the final M
    kernel = Split(200, 32, 4, 1, batch=2, num_splits=40, num_warps=1, merge=merge,
                   **PATHS[path], debug=True)
    got = verify(kernel, backend, [200, 37], inputs="increasing", seed=6)
    assert got.passed and not got.state_problems, got.state_problems
    assert np.allclose(got.states.weight[0, :, -1], 1.0)  # increasing scores: the last split
