"""The Lanes tab inside the app (all work inline): it traces what the Run tab runs — the
configuration's kernel, or the PTX file's launch as its form makes it — only once shown,
follows mode switches and form changes, and says so when there is nothing to trace."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_replay import CORPUS  # noqa: E402

from explorer.app import Explorer  # noqa: E402
from explorer.app.lanes import EVERY_SHFL  # noqa: E402
from explorer.app.state import Config  # noqa: E402
from explorer.app.widget import TAB_TITLES  # noqa: E402

LANES_TAB = TAB_TITLES.index("Lanes")
CONFIG = Config(backend="sim", max_seq_len=128, seq_len=128)
WORDS = ["f32:128:randn", "i32:128:randint", "f32:128:zeros", "i32:128:zeros"]


@pytest.fixture
def ptx_app():
    app = Explorer.from_ptx(CORPUS / "ptx" / "shuffles.ptx", "warp_sum_scan", config=CONFIG,
                            threads=False, backend="sim", grid=2, block=64, args=WORDS)
    yield app
    app.close()


def test_the_kernel_is_traced_only_once_the_tab_is_shown():
    app = Explorer(CONFIG, threads=False, auto_run=False)
    try:
        assert app.lanes.lane_trace is None
        app.tabs.selected_index = LANES_TAB
        lt = app.lanes.lane_trace
        assert lt is not None and lt.entry == "multi_warp_attention"
        assert app.lanes.selection.choice == EVERY_SHFL
        before = app.lanes.selection.current
        app.lanes.buttons["next"].click()
        assert app.lanes.selection.current == before + 1
        app.change(head_dim=64)  # a new configuration: traced again while shown
        assert app.lanes.lane_trace is not lt
        assert "64" in app.lanes.lane_trace.label
    finally:
        app.close()


def test_the_ptx_files_launch_is_traced_and_stepped(ptx_app):
    app = ptx_app
    app.tabs.selected_index = LANES_TAB
    lt = app.lanes.lane_trace
    assert lt is not None and lt.entry == "warp_sum_scan"
    sel = app.lanes.selection
    assert sel.choice == EVERY_SHFL and sel.count == 10  # 5 bfly + 5 up shuffles
    x = app.current_launch().args[0][:32]
    np.testing.assert_array_equal(sel.lanes(0), x[np.arange(32) ^ 16])
    app.lanes.buttons["next"].click()
    step = app.lanes.selection.step
    assert f'data-line="{step.line}"' in app.lanes.ptx.value  # the PTX line is the step's
    assert "shfl.sync.bfly" in step.text


def test_a_form_change_and_a_mode_switch_are_followed(ptx_app):
    app = ptx_app
    app.tabs.selected_index = LANES_TAB
    first = app.lanes.lane_trace
    app.ptx_file.row.block.value = "32"  # one warp per CTA: a new launch
    assert app.lanes.lane_trace is not first and app.lanes.lane_trace.block == (32, 1, 1)
    app.controls.widgets["kernel"].value = "multi-warp"
    assert app.mode == "kernel" and app.lanes.lane_trace.entry == "multi_warp_attention"


def test_nothing_to_trace_is_said_not_raised():
    app = Explorer(CONFIG, threads=False, auto_run=False)
    try:
        app.tabs.selected_index = LANES_TAB
        app.controls.widgets["kernel"].value = "PTX file"  # nothing pasted yet
        assert app.lanes.lane_trace is None
        assert "Open a PTX" in app.lanes.status.value
    finally:
        app.close()


def test_a_cluster_merge_with_e4m3_kv_runs_and_is_traced_in_the_app():
    app = Explorer(CONFIG, threads=False)
    try:
        for change in (dict(kernel="split-kv"), dict(dtype="f16"), dict(merge="cluster"),
                       dict(target="sm_90"), dict(kv_dtype="e4m3")):
            app.change(**change)
        assert "PASS" in app.run_view.value and "e4m3 K/V · merge cluster" in (
            app.run_status.value)
        app.tabs.selected_index = LANES_TAB
        lt = app.lanes.lane_trace
        assert lt.entry == "split_kv_attention" and lt.launches == ("split_kv_attention",)
        assert any("barrier.cluster" in step.text for step in lt.trace)  # one launch: merged
    finally:
        app.close()


def test_a_form_change_while_the_tab_is_hidden_waits_for_it(ptx_app):
    app = ptx_app
    app.tabs.selected_index = LANES_TAB
    first = app.lanes.source
    app.tabs.selected_index = 0  # PTX
    app.ptx_file.row.block.value = "32"
    assert app.lanes.source is first  # no arrays made for a hidden tab
    app.tabs.selected_index = LANES_TAB
    assert app.lanes.lane_trace.block == (32, 1, 1)
    traced = app.lanes.lane_trace
    app.tabs.selected_index = 0
    app.tabs.selected_index = LANES_TAB  # same source and form: not traced again
    assert app.lanes.lane_trace is traced
