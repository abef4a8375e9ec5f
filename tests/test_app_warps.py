"""The Warps view without a browser: outputs made once and updated in place, stale figures
marked with the configuration they show while another one runs, and the hint to run only
when no run exists."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")
pytest.importorskip("plotly", reason="the Warps view draws with plotly")

from explorer.app import runner  # noqa: E402
from explorer.app.state import Config, describe  # noqa: E402
from explorer.app.warps import (  # noqa: E402
    NO_RUN,
    PLOTLY_MIME,
    STALE_CLASS,
    WarpsView,
    figures,
)


def shown_title(view: WarpsView, index: int = 0) -> str:
    """The title of the figure the browser is sent in output `index` of the grid."""
    return view.grid.children[index].outputs[0]["data"][PLOTLY_MIME]["layout"]["title"]["text"]

SMALL = Config(max_seq_len=128, seq_len=100, backend="sim", num_heads=8, gqa_ratio=2)


@pytest.fixture(scope="module")
def results():
    return (runner.run(SMALL, timing=False),
            runner.run(SMALL.replace(head_dim=64, num_warps=8), timing=False))


def test_hint_only_without_a_run_and_progress_while_one_runs(results):
    view = WarpsView()
    view.show(True)
    assert NO_RUN.split(" (")[0] in view.note.value
    view.pending(SMALL)
    assert "Run the kernel" not in view.note.value
    assert "Recording" in view.note.value and describe(SMALL) in view.note.value


def test_figures_follow_each_run_in_the_same_outputs(results):
    first, second = results
    view = WarpsView()
    view.show(True)
    view.update(first)
    widgets = list(view.grid.children)
    assert len(widgets) == 4
    assert "head_dim 128" in shown_title(view)
    assert describe(first.config) in view.note.value
    view.pending(second.config)
    assert STALE_CLASS in view.grid._dom_classes
    assert "Stale" in view.note.value and describe(first.config) in view.note.value
    assert list(view.grid.children) == widgets  # the old figures stay while it runs
    view.update(second)
    assert list(view.grid.children) == widgets  # the same widgets, new data
    assert STALE_CLASS not in view.grid._dom_classes
    assert "head_dim 64" in shown_title(view) and "8 warps" in shown_title(view)
    sent = widgets[0].outputs[0]["data"][PLOTLY_MIME]
    assert len(sent["data"]) == len(figures(second)["warp_maxes"].data)
    merge_factors = widgets[3].outputs
    view.head.value = 3
    assert "Head 3" in shown_title(view) and "Head 3" in shown_title(view, 2)
    assert widgets[3].outputs is merge_factors  # every head's factors: not redrawn


def test_a_failed_run_replaces_the_figures_with_its_reason(results):
    view = WarpsView()
    view.show(True)
    view.update(results[0])
    view.update(runner.RunResult(SMALL, errors=["head_dim=-4 is outside 1..256"]))
    assert view.grid.children == ()
    assert "head_dim=-4" in view.note.value
    view.update(results[1])  # and a later run draws again
    assert len(view.grid.children) == 4
