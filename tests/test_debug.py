"""The debug variants: the layout, the PTX diff against the plain kernel, the states against
the float64 reference on every backend, and the plots drawn from real states."""

from __future__ import annotations

import difflib
import itertools

import numpy as np
import pytest

from explorer.kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from explorer.kernels.debug import DEBUG_MAX_POSITIONS, POISON, DebugLayout
from explorer.ptx.ptxas import assemble, find_ptxas
from explorer.verify import make_inputs, reference, verify

BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]


def _pair(cls, **kw):
    return cls(**kw), cls(**kw, debug=True)


PAIRS = [
    _pair(MultiWarpIncrementalAttentionKernel, max_seq_len=96, head_dim=80, num_heads=6,
          num_kv_heads=2, num_warps=4),
    _pair(MultiWarpIncrementalAttentionKernel, max_seq_len=64, head_dim=32, num_heads=4,
          num_kv_heads=1, num_warps=8, indirect_seq_len=True),
    _pair(IncrementalAttentionKernel, max_seq_len=64, head_dim=40, num_heads=4, num_kv_heads=2),
]


def _changed_lines(plain, debug):
    diff = difflib.unified_diff(plain.emit().splitlines(), debug.emit().splitlines(),
                                lineterm="", n=0)
    lines = [d for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---"))]
    return [d[1:] for d in lines if d[0] == "-"], [d[1:] for d in lines if d[0] == "+"]


@pytest.mark.parametrize("plain, debug", PAIRS, ids=lambda k: k.entry)
def test_debug_variant_only_adds_the_parameter_side_registers_and_stores(plain, debug):
    assert debug.entry == plain.entry + "_debug"
    assert debug.params == plain.params + (("debug_ptr", "u64"),)
    removed, added = _changed_lines(plain, debug)
    # Only the entry line and the last parameter (which gains a comma) change.
    assert removed == [f".visible .entry {plain.entry}(", f"\t.param .{plain.params[-1][1]} "
                       f"{plain.params[-1][0]}"]
    for line in added:
        body = line.strip()
        assert (
            "%x" in body or body.startswith(("st.global", "// debug", "@%x", ".param", ".visible"))
        ), line
    assert any("st.global" in a for a in added)


@pytest.mark.skipif(find_ptxas() is None, reason="ptxas not installed (nvidia-cuda-nvcc)")
@pytest.mark.parametrize("plain, debug", PAIRS, ids=lambda k: k.entry)
def test_debug_variant_assembles_without_spills(plain, debug):
    for target in ("sm_80", "sm_90"):
        report = assemble(debug.emit(target), target)[debug.entry]
        assert report.spill_bytes == 0


def test_layout_is_derived_from_the_configuration():
    kernel = MultiWarpIncrementalAttentionKernel(10000, 64, 12, 4, 3, debug=True)
    layout = kernel.debug_layout
    assert layout == DebugLayout(12, 3, DEBUG_MAX_POSITIONS)
    assert [layout.word(f) for f in ("chunk_start", "chunk_end", "m", "l", "factor")] == [
        0, 3, 6, 9, 12]
    assert (layout.word("M"), layout.word("L"), layout.word("scores")) == (15, 16, 17)
    assert layout.words == 12 * (17 + DEBUG_MAX_POSITIONS)
    assert MultiWarpIncrementalAttentionKernel(100, 64, 12, 4, 3).debug_layout is None
    assert IncrementalAttentionKernel(50, 64, 4, 4, debug=True).debug_layout.score_slots == 50


def test_layout_decodes_what_it_describes():
    layout = DebugLayout(num_heads=2, num_warps=2, score_slots=5)
    words = np.full(layout.words, POISON, dtype=np.uint32).reshape(2, -1)
    words[:, 0:2], words[:, 2:4] = [0, 2], [2, 3]
    floats = words.view(np.float32)
    floats[:, 4:6], floats[:, 6:8], floats[:, 8:10] = [1.0, 2.0], [3.0, 4.0], [1.0, 0.5]
    floats[:, 10], floats[:, 11] = 2.0, 5.0
    floats[:, 12:15] = [0.1, 0.2, 0.3]
    states = layout.decode(words.ravel(), seq_len=3)
    assert states.chunk_start.tolist() == [[0, 2]] * 2 and states.chunk_end.tolist() == [[2, 3]] * 2
    assert states.m.tolist() == [[1.0, 2.0]] * 2 and states.scores.shape == (2, 3)
    assert np.allclose(states.share, [[0.6, 0.4]] * 2)


def _seq_lens(kernel):
    w = kernel.num_warps
    return sorted({0, 1, w - 1, w + 1, 2 * w + 3, kernel.max_seq_len} - {-1})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["normal", "increasing"])
@pytest.mark.parametrize("kernel", [d for _, d in PAIRS], ids=lambda k: k.entry)
def test_states_match_the_reference(backend, kind, kernel):
    for seq_len in _seq_lens(kernel):
        got = verify(kernel, backend, seq_len, inputs=kind, seed=7)
        assert got.comparison.passed, (seq_len, got.comparison)
        assert got.states is not None and got.reference_states is not None
        assert not got.state_problems, (seq_len, got.state_problems)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plain_kernel_is_verified_with_its_debug_variant(backend):
    plain, _ = PAIRS[0]
    got = verify(plain, backend, 37, inputs="increasing", seed=2)
    assert got.passed and got.notes == ()
    assert got.states.num_warps == plain.num_warps and got.state_problems == ()
    assert np.array_equal(got.states.chunk_end, got.reference_states.chunk_end)


def test_plots_draw_real_states():
    plots = pytest.importorskip("explorer.plots", reason="plotly is a runtime dependency")
    kernel = PAIRS[0][1]
    q, k, v = make_inputs(kernel, np.random.default_rng(8))
    states = reference.warp_states(q, k, v, 3, kernel.num_warps, kernel.scale)  # empty warps
    for name, draw in plots.FIGURES.items():
        fig = draw(states, kernel) if name == "merge_factors" else draw(states, kernel, head=1)
        assert fig.data, name
        assert fig.layout.title.text and fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="head=6"):
        plots.warp_maxes(states, kernel, head=6)
    colors = plots.warp_colors(32)
    assert len(set(colors)) == 32 and plots.warp_colors(4) == plots.warp_colors(4)


def _debug_grid():
    """A down-sized core grid of debug kernels (empty warps and partial slots included)."""
    for hd, (h, kv), ind in itertools.product((1, 80, 128), ((12, 2), (4, 1)), (False, True)):
        for w in (1, 3, 32):
            yield MultiWarpIncrementalAttentionKernel(96, hd, h, kv, w, indirect_seq_len=ind,
                                                      debug=True)
        yield IncrementalAttentionKernel(96, hd, h, kv, indirect_seq_len=ind, debug=True)


@pytest.mark.parametrize("kernel", list(_debug_grid()), ids=lambda k: f"{k.entry}-hd{k.head_dim}"
                         f"-w{k.num_warps}-h{k.num_heads}kv{k.num_kv_heads}")
def test_states_match_the_reference_over_a_grid_on_the_simulator(kernel):
    failures = []
    for kind in ("normal", "increasing"):
        for seq_len in _seq_lens(kernel):
            got = verify(kernel, "sim", seq_len, inputs=kind, seed=3)
            if not got.passed:
                failures.append(f"{kind} seq_len={seq_len}: {got.comparison} "
                                f"{got.state_problems}")
    assert not failures, "\n".join(failures)
