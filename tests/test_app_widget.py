"""The Explorer widget without a browser (all work inline): changing a control redraws the
views it should, the diff follows the baseline, invalid input is an inline message, runs
fill the Run and Warps tabs."""

from __future__ import annotations

import html as html_module
import re

import pytest

from explorer.app.state import Config
from explorer.kernels import KERNELS

pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")

from explorer.app import Explorer  # noqa: E402


def text(view) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", "", view.value))


@pytest.fixture
def app():
    explorer = Explorer(Config(backend="sim", max_seq_len=128, seq_len=128), threads=False)
    yield explorer
    explorer.close()


def test_opens_on_the_configuration_with_a_run(app):
    assert "smem[2088]" in text(app.ptx_view)
    assert "No baseline yet" in text(app.diff_view)
    assert "Occupancy estimate" in text(app.resources_view) or "ptxas" in text(
        app.resources_view)
    assert "PASS" in text(app.run_view)
    assert app.warps.grid.children == ()  # figures are built when the Warps tab is shown
    app.tabs.selected_index = 4
    assert len(app.warps.grid.children) == 4
    app.warps.head.value = 3
    assert "Head 3" in app.warps.figures["warp_maxes"].layout.title.text
    shown = app.warps.grid.children[0].outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert "Head 3" in shown["layout"]["title"]["text"]


def test_a_control_change_updates_ptx_and_diff(app):
    app.controls.widgets["head_dim"].value = 64  # as the browser would
    assert "smem[1064]" in text(app.ptx_view)
    diff = text(app.diff_view)
    assert "previous: multi-warp · head_dim 128" in diff
    assert "current: multi-warp · head_dim 64" in diff
    assert app.last_update_ms is not None


def test_pinning_keeps_the_baseline(app):
    app.change(num_warps=8)
    app.pin_button.click()
    assert app.baseline.value == "pinned"
    app.change(head_dim=64)
    app.change(head_dim=96)
    assert "pinned: multi-warp · head_dim 128 · 32 q / 8 KV heads (GQA 4) · 8 warps" in text(
        app.diff_view)
    app.baseline.value = "previous"
    assert "previous: multi-warp · head_dim 64" in text(app.diff_view)


def test_side_by_side_mode(app):
    app.change(num_warps=2)
    app.diff_mode.value = "side by side"
    assert "<table" in app.diff_view.value and "smem[1048]" in text(app.diff_view)


def test_invalid_input_is_an_inline_message(app):
    views = app.change(head_dim=300)
    assert {"ptx", "diff", "resources", "run"} <= views
    for view in (app.ptx_view, app.diff_view, app.resources_view):
        assert "head_dim=300 is outside the accepted range 1..256" in text(view)
    assert "head_dim=300" in text(app.run_view)
    assert "Traceback" not in app.ptx_view.value


def test_impossible_ratio_is_adjusted_and_explained(app):
    app.controls.widgets["num_heads"].value = 6
    assert app.state.config.gqa_ratio == 3
    assert [v for _, v in app.controls.widgets["gqa_ratio"].options] == [1, 2, 3, 6]
    assert "GQA ratio 4 is impossible with 6 q heads" in text(app.notes)


def test_kernel_list_comes_from_the_registry(app):
    assert list(app.controls.widgets["kernel"].options) == [*KERNELS, "PTX file"]
    app.controls.widgets["kernel"].value = "single-warp"
    assert app.controls.widgets["num_warps"].disabled
    assert "incremental_attention" in text(app.ptx_view)


def test_seq_len_change_reruns_without_touching_the_ptx(app):
    before = app.ptx_view.value
    views = app.change(seq_len=17)
    assert views == {"run", "warps"}
    assert app.ptx_view.value == before
    assert "seq_len 17" in text(app.run_view)


def test_summary_is_the_configuration_and_entry(app):
    summary = app.summary()
    assert summary.startswith("multi-warp · head_dim 128")
    assert ".entry multi_warp_attention(" in summary


def test_export_writes_a_page(app, tmp_path, monkeypatch):
    from explorer.app import snapshot

    monkeypatch.setattr(snapshot, "_figure_images", lambda figs, out: ([], ""))
    app.export(tmp_path / "snap")
    assert (tmp_path / "snap" / "index.html").exists()
    assert "wrote" in text(app.export_status) or "Export failed" not in text(app.export_status)


@pytest.mark.parametrize("heads", [0, -3])
def test_impossible_head_counts_are_messages_not_widget_errors(app, heads):
    app.controls.widgets["num_heads"].value = heads  # would fail the ratio dropdown's check
    assert f"q heads={heads} is outside the accepted range" in text(app.ptx_view)
    assert text(app.notes) == ""


def test_dtype_control_follows_the_kernel(app):
    assert app.controls.widgets["dtype"].disabled
    app.change(kernel="split-kv", dtype="f16")
    assert not app.controls.widgets["dtype"].disabled
    assert "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32" in text(app.ptx_view)
    assert "split-kv" in text(app.diff_view) and "f16" in text(app.diff_view)


def test_tensor_core_control_switches_the_path_and_explains_sm75(app):
    assert app.controls.widgets["mma"].disabled
    app.change(kernel="split-kv", dtype="f16")
    assert not app.controls.widgets["mma"].disabled
    app.change(mma="off")
    ptx = text(app.ptx_view)
    assert "mma.sync" not in ptx and "cvt.f32.f16" in ptx
    assert "tensor cores off" in text(app.diff_view)
    app.change(mma="auto", target="sm_75")
    assert "needs sm_80 or newer" in text(app.ptx_view)
    assert "needs sm_80 or newer" in text(app.resources_view)
    app.change(mma="off")
    assert ".target sm_75" in text(app.ptx_view)
    app.change(dtype="f32", mma="on", target="sm_90")
    assert "tf32" in text(app.ptx_view)


def test_export_paths_are_the_repository_roots_not_the_notebooks_folder(tmp_path):
    from pathlib import Path

    from explorer.app.widget import export_folder

    root = Path(__file__).resolve().parents[1]
    assert export_folder("snapshots/explorer") == root / "snapshots" / "explorer"
    assert export_folder(tmp_path / "x") == tmp_path / "x"


def test_disabled_controls_show_the_value_that_applies(app):
    app.change(kernel="split-kv", dtype="f16")
    app.change(kernel="single-warp")
    ws = app.controls.widgets
    assert ws["dtype"].disabled and ws["dtype"].value == "f32"
    assert ws["num_warps"].disabled and ws["num_warps"].value == 1
    assert ws["mma"].value == "off"
    app.change(kernel="split-kv")  # and back: split-kv's own values again
    assert ws["dtype"].value == "f16" and not ws["dtype"].disabled
