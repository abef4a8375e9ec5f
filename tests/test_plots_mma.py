"""The m16n8k16 fragment figure: its layout is the simulator's (confirmed on an H200), every
element is held by exactly one (lane, register, half), and the figure draws it."""

from __future__ import annotations

import numpy as np
import pytest

plots = pytest.importorskip("explorer.plots", reason="plotly is a runtime dependency")

from explorer.sim.mma import fragment_layout  # noqa: E402


def test_layout_is_the_simulators():
    ours, sim = plots.mma_fragment_layout(), fragment_layout()
    for name, key in (("A", "a"), ("B", "b")):
        rows, cols = sim[key]  # [lane, register, half] -> element
        lanes, regs, halves = np.indices(rows.shape)
        frag = ours[name]
        assert (frag.lane[rows, cols] == lanes).all(), name
        assert (frag.register[rows, cols] == regs).all(), name
        assert (frag.half[rows, cols] == halves).all(), name
    rows, cols = sim["c"]  # [lane, register] -> element
    lanes, regs = np.indices(rows.shape)
    assert (ours["C"].lane[rows, cols] == lanes).all() and ours["C"].half is None
    assert (ours["C"].register[rows, cols] == regs).all()


@pytest.mark.parametrize("name, shape, per_lane", [("A", (16, 16), 8), ("B", (16, 8), 4),
                                                    ("C", (16, 8), 4)])
def test_every_lane_holds_its_share_once(name, shape, per_lane):
    frag = plots.mma_fragment_layout()[name]
    assert frag.lane.shape == shape
    assert np.bincount(frag.lane.ravel(), minlength=32).tolist() == [per_lane] * 32
    half = np.zeros(shape, int) if frag.half is None else frag.half
    held = set(zip(frag.lane.ravel(), frag.register.ravel(), half.ravel(), strict=True))
    assert len(held) == frag.lane.size  # no two elements in one register half


def test_figure_colours_lane_groups_in_the_warps_colours():
    fig = plots.mma_fragments()
    assert [t.z.shape for t in fig.data] == [(16, 16), (16, 8), (16, 8)]
    a = fig.data[0]
    assert (np.asarray(a.z)[[0, 8], :] == 0).all() and (np.asarray(a.z)[7] == 7).all()
    assert a.text[9][10] == "5<br>a3l"  # A[9, 10]: g = 1, t = 1, register a3, low half
    colors = {c for _, c in a.colorscale}
    assert colors == set(plots.warp_colors(8))
    assert "m16n8k16" in fig.layout.title.text
