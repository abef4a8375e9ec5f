"""The Warps view of the split-KV kernel: the runner shows the debug variant's split states
(not a "No warp states" note), the figures are the split ones (the fragment layout on the
tensor-core path only), and a view switches kinds of states in its outputs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")
pytest.importorskip("plotly", reason="the Warps view draws with plotly")

from explorer.app import runner  # noqa: E402
from explorer.app.state import Config  # noqa: E402
from explorer.app.warps import PLOTLY_MIME, WarpsView, figure_names, figures  # noqa: E402
from explorer.verify.states import SplitStates  # noqa: E402

SPLIT = Config(kernel="split-kv", max_seq_len=128, seq_len=100, backend="sim", num_heads=8,
               gqa_ratio=2)
SEED = Config(max_seq_len=128, seq_len=100, backend="sim", num_heads=8, gqa_ratio=2)


@pytest.fixture(scope="module")
def results():
    return {name: runner.run(config, timing=False) for name, config in (
        ("cuda-cores", SPLIT), ("tensor-cores", SPLIT.replace(dtype="f16")), ("seed", SEED))}


def test_the_runner_shows_the_recorded_split_states(results):
    for name in ("cuda-cores", "tensor-cores"):
        result = results[name]
        assert isinstance(result.states, SplitStates) and result.states_source == "kernel"
        assert result.state_problems == [] and result.passed
        assert not any("No warp states" in n for n in result.notes)


def test_split_figures_and_the_fragment_layout_on_tensor_cores(results):
    assert figure_names(results["cuda-cores"]) == (
        ("split_maxes", "split_sums"), ("split_maxes", "split_sums", "merge_weights"))
    figs = figures(results["tensor-cores"], head=3)
    assert list(figs) == ["split_maxes", "split_sums", "merge_weights", "mma_fragments"]
    assert all(f.layout.title.text.startswith("Head 3") for f in list(figs.values())[:2])
    states = results["tensor-cores"].states
    heat = np.asarray(figs["merge_weights"].data[0].z)
    assert np.allclose(heat, states.weight[0]) and np.allclose(heat.max(axis=1), 1.0)
    bars = figs["split_sums"].data
    assert np.allclose(bars[1].y, states.l[0, 3] * states.weight[0, 3])
    assert np.isclose(figs["split_maxes"].layout.shapes[0].y0, states.M[0, 3])


def test_a_view_switches_between_kinds_of_states(results):
    view = WarpsView()
    view.show(True)
    view.update(results["seed"])
    assert len(view.grid.children) == 4 and set(view.figures) == {
        "warp_maxes", "warp_sums", "attention_weights", "merge_factors"}
    view.update(results["tensor-cores"])
    assert len(view.grid.children) == 4 and "mma_fragments" in view.figures
    fragments = view.grid.children[3].outputs
    view.head.value = 5  # the per-head figures are redrawn, the others are not
    title = view.grid.children[0].outputs[0]["data"][PLOTLY_MIME]["layout"]["title"]["text"]
    assert title.startswith("Head 5") and view.grid.children[3].outputs is fragments
    view.update(results["cuda-cores"])
    assert len(view.grid.children) == 3 and "mma_fragments" not in view.figures
