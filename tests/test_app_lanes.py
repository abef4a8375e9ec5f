"""The Lanes tab: the selection over a trace (register and every-shfl filters, step moves, the
drawn window at the ends of a trace, jump to a PTX line), lane values of shuffle reductions
equal to NumPy's, traces of each of our kernels (split-kv's two launches) that end as a plain
run ends, the messages for each problem, and `LanesView` driven headless (threads=False),
with the time from `show_config(Config())` to the figure on screen printed."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("plotly", reason="the Lanes tab draws with plotly")

from corpus_replay import ENTRIES, arguments, ptx_of  # noqa: E402

from explorer import runtime, sim  # noqa: E402
from explorer.app import lanes  # noqa: E402
from explorer.app.lanes import (  # noqa: E402
    EVERY_SHFL,
    EVERY_STEP,
    LaneSelection,
    section_counts,
    section_summary,
    sections,
    trace_for_config,
    trace_for_launch,
    window_around,
)
from explorer.app.lanes_draw import (  # noqa: E402
    CURRENT_LINE_CLASS,
    lane_table,
    lanes_figure,
    marker_at,
    ptx_excerpt,
)
from explorer.app.state import Config, build_kernel  # noqa: E402
from explorer.lesson import ShuffleTreeKernel, shuffle_tree_numpy  # noqa: E402
from explorer.verify import make_inputs  # noqa: E402

LANES = np.arange(32)
SMALL = Config(max_seq_len=128, seq_len=100, num_heads=8, gqa_ratio=2)
# one CTA of 32 threads storing out[tid + 40]: past a 64-word buffer from lane 24 on
OUT_OF_BOUNDS_PTX = """\
.version 8.0
.target sm_90
.address_size 64

.visible .entry oob(.param .u64 out_ptr)
{
    .reg .b32 %r<3>;
    .reg .b64 %rd<5>;

    ld.param.u64 %rd1, [out_ptr];
    cvta.to.global.u64 %rd2, %rd1;
    mov.u32 %r1, %tid.x;
    add.u32 %r2, %r1, 40;
    mul.wide.u32 %rd3, %r2, 4;
    add.s64 %rd4, %rd2, %rd3;
    st.global.u32 [%rd4], %r1;
    ret;
}
"""


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng()  # random inputs every run


@pytest.fixture(scope="module")
def shuffle_trace() -> lanes.LaneTrace:
    kernel = ShuffleTreeKernel()
    values = np.random.default_rng().standard_normal(32).astype(np.float32)
    out = np.full((1, 6, 32), np.nan, dtype=np.float32)
    return trace_for_launch(kernel.emit(), kernel.entry, (1, 1, 1), (32, 1, 1), [values, out])


@pytest.fixture(scope="module")
def default_trace() -> lanes.LaneTrace:
    return trace_for_config(Config())


# -- the selection ------------------------------------------------------------------------------
def test_registers_in_first_write_order_and_their_steps(shuffle_trace):
    t = shuffle_trace.trace
    sel = LaneSelection(t)
    assert sel.choice == EVERY_SHFL and sel.choices[:2] == (EVERY_STEP, EVERY_SHFL)
    firsts = [next(i for i, s in enumerate(t) if reg in s.dest) for reg in sel.choices[2:]]
    assert firsts == sorted(firsts) and len(set(sel.choices)) == len(sel.choices)
    add = next(s for s in t if s.text.startswith("add.f32"))
    reg = add.dest[0]
    sel.select(reg)
    assert sel.count == sum(reg in s.dest for s in t)
    assert all(reg in t[i].dest for i in sel.positions)
    sel.select(EVERY_SHFL)
    assert [t[i].text.split()[0] for i in sel.positions] == ["shfl.sync.down.b32"] * 5 + [
        "shfl.sync.idx.b32"]
    sel.select(EVERY_STEP)
    assert sel.positions == tuple(range(len(t)))


def test_a_choice_keeps_the_place_and_a_bad_one_changes_nothing(shuffle_trace):
    t = shuffle_trace.trace
    sel = LaneSelection(t, EVERY_STEP)
    third_shfl = [i for i, s in enumerate(t) if s.text.startswith("shfl")][2]
    sel.go_to(third_shfl - 1)
    sel.select(EVERY_SHFL)
    assert sel.index == third_shfl and sel.current == 2
    with pytest.raises(ValueError, match=r"register '%r999' is never written by warp 0 of "
                       r"CTA \(0, 0, 0\)"):
        sel.select("%r999")
    assert sel.choice == EVERY_SHFL and sel.index == third_shfl


def test_step_moves_clamp_at_both_ends(shuffle_trace):
    sel = LaneSelection(shuffle_trace.trace, EVERY_SHFL)
    sel.prev()
    assert sel.current == 0
    sel.next()
    sel.next()
    assert sel.current == 2
    sel.last()
    assert sel.current == sel.count - 1 == 5
    sel.next()
    assert sel.current == 5
    sel.first()
    assert sel.current == 0
    sel.go_to(99)
    assert sel.current == 5
    assert sel.step.text.startswith("shfl.sync.idx") and sel.step.line == sel.trace[
        sel.index].line


def test_the_window_is_centred_and_pushed_inside_at_the_ends(default_trace):
    assert window_around(0, 768, 32) == (0, 32)
    assert window_around(767, 768, 32) == (736, 768)
    assert window_around(100, 768, 32) == (84, 116)
    assert window_around(3, 5, 32) == (0, 5)
    sel = LaneSelection(default_trace.trace, EVERY_STEP)
    assert sel.count == len(default_trace.trace) > 6000
    sel.last()
    start, stop = sel.window()
    assert (start, stop) == (sel.count - 32, sel.count) and start <= sel.current < stop
    fig = lanes_figure(sel, start, stop)
    assert len(fig.data[0].y) == 32  # a window, never the whole trace
    sel.first()
    assert sel.window() == (0, 32)


def test_jump_to_line_cycles_and_switches_to_every_step(default_trace):
    t = default_trace.trace
    sel = LaneSelection(t)
    shfl_line = sel.step.line
    runs = [i for i, s in enumerate(t) if s.line == shfl_line]
    assert len(runs) > 1  # the reduction runs once per q head the warp serves
    sel.next()
    here = sel.index
    assert sel.go_to_line(shfl_line) is None
    assert sel.index == next(i for i in runs if i > here)
    sel.go_to(sel.positions.index(runs[-1]))
    assert sel.go_to_line(shfl_line) is None and sel.index == runs[0]  # wraps around
    ld_line = next(s.line for s in t if s.text.startswith("ld.param"))
    note = sel.go_to_line(ld_line)
    assert "not among the every shfl steps" in note and sel.choice == EVERY_STEP
    assert sel.step.line == ld_line
    with pytest.raises(ValueError, match="line 1: warp 0 of CTA .* executes no instruction "
                       "there"):
        sel.go_to_line(1)


# -- lane values of shuffle reductions --------------------------------------------------------
def test_the_lessons_shuffle_tree_lane_by_lane_equals_numpy(shuffle_trace):
    values = shuffle_trace.buffers[0]
    want = shuffle_tree_numpy(values)
    sel = LaneSelection(shuffle_trace.trace, EVERY_STEP)
    adds = [p for p in range(sel.count) if sel.trace[sel.positions[p]].text.startswith(
        "add.f32")]
    for row, position in enumerate(adds, start=1):
        np.testing.assert_array_equal(sel.lanes(position), want[row])
    sel.select(EVERY_SHFL)
    np.testing.assert_array_equal(sel.lanes(sel.count - 1), np.full(32, want[-1][0]))
    fig = lanes_figure(sel, *sel.window())
    np.testing.assert_array_equal(np.asarray(fig.data[0].z[0]).shape, (32,))


def test_nvcc_shuffles_lane_by_lane_equal_numpy():
    entry = ENTRIES["warp_sum_scan"]
    args, arrays = arguments(entry)
    lt = trace_for_launch(ptx_of(entry), entry["entry"], tuple(entry["grid"]),
                          tuple(entry["block"]), args, shared_bytes=entry["shared_bytes"],
                          cta=1, warp=1)
    x = arrays["x"][96:128]
    sel = LaneSelection(lt.trace)
    bfly = [p for p in range(sel.count) if "bfly" in sel.trace[sel.positions[p]].text]
    s = x
    for position, offset in zip(bfly, (16, 8, 4, 2, 1), strict=True):
        shown = sel.lanes(position)
        assert shown.dtype == np.float32  # nvcc's %r carries f32 bits: shown as the floats
        np.testing.assert_array_equal(shown, s[LANES ^ offset])
        s = s + s[LANES ^ offset]
    sel.go_to(bfly[0])
    assert f"= {float(x[16]):.9g}" in lane_table(sel)  # the table shows lane 0's float too
    xi = arrays["xi"][96:128]  # the integer scan's shuffles stay integers
    up = [p for p in range(sel.count) if ".up." in sel.trace[sel.positions[p]].text]
    assert up and sel.lanes(up[0]).dtype in (np.int32, np.uint32)
    np.testing.assert_array_equal(sel.lanes(up[0]).view(np.int32)[1:], xi[:-1])
    predicate = sel.trace[sel.positions[bfly[0]]].dest[1]
    sel.select(predicate)  # the `d|p` destination's predicate half
    assert sel.lanes(0).dtype == np.bool_ and sel.lanes(0).all()
    np.testing.assert_array_equal(arrays["x"], arguments(entry)[1]["x"])  # inputs were copied


def test_an_entry_without_shfl_says_so():
    entry = ENTRIES["saxpy_grid_stride"]
    lt = trace_for_launch(ptx_of(entry), entry["entry"], tuple(entry["grid"]),
                          tuple(entry["block"]), arguments(entry)[0])
    sel = LaneSelection(lt.trace)
    assert sel.choice == EVERY_STEP
    with pytest.raises(ValueError, match="warp 0 of CTA \\(0, 0, 0\\) executes no shfl.sync"):
        sel.select(EVERY_SHFL)


# -- our kernels ------------------------------------------------------------------------------
@pytest.mark.parametrize("config, launch", [
    (SMALL, 0),
    (SMALL.replace(kernel="single-warp"), 0),
    (SMALL.replace(kernel="split-kv", num_warps=4), 0),
    (SMALL.replace(kernel="split-kv", num_warps=4), 1),
])
def test_a_traced_kernel_ends_as_a_plain_run(config, launch):
    kernel = build_kernel(config)
    lt = trace_for_config(config, cta=1, warp=min(1, kernel.launches()[launch].block[0] // 32
                                                        - 1), launch=launch)
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    plain = runtime.run(kernel, q, k, v, config.seq_len, backend="sim")
    np.testing.assert_array_equal(lt.output, plain, strict=True)
    assert lt.entry == kernel.launches()[launch].entry and len(lt.trace) > 0
    assert lt.launches == tuple(one.entry for one in kernel.launches())
    lines = lt.ptx.splitlines()
    for step in lt.trace[:50]:
        assert " ".join(lines[step.line - 1].split()) == step.text


def test_problems_are_messages_naming_what_to_change():
    with pytest.raises(ValueError, match=r"warp=4 is not a warp of a 128-thread CTA "
                       r"\(accepted: 0..3\)"):
        trace_for_config(SMALL, warp=4)
    with pytest.raises(ValueError, match=r"launch=2 .* \(accepted: 0 \(split_kv_attention\), "
                       r"1 \(split_kv_combine\)\)"):
        trace_for_config(SMALL.replace(kernel="split-kv"), launch=2)
    with pytest.raises(ValueError, match="seq_len=200 is outside 0..max_seq_len=128"):
        trace_for_config(SMALL, seq_len=200)
    short = trace_for_config(SMALL, max_trace_steps=100)
    assert len(short.trace) == 100 and "max_trace_steps" in short.notes()[0]
    with pytest.raises(sim.SimError) as caught:
        trace_for_launch(OUT_OF_BOUNDS_PTX, "oob", 1, 32, [np.zeros(64, np.uint32)])
    text = lanes.problem(caught.value)
    assert text.startswith("The simulator stopped the launch: line 16 `st.global.u32")
    assert OUT_OF_BOUNDS_PTX.splitlines()[15].strip().startswith("st.global.u32")


# -- the HTML views ---------------------------------------------------------------------------
def test_the_lane_table_and_the_ptx_excerpt(shuffle_trace):
    sel = LaneSelection(shuffle_trace.trace, EVERY_SHFL)
    table = lane_table(sel)
    assert table.count("data-lane=") == 32 and "inactive" not in table
    assert sel.step.dest[0] in table and "step 1 of 6" in table
    excerpt = ptx_excerpt(shuffle_trace.ptx, sel.step.line)
    assert f'class="{CURRENT_LINE_CLASS}" data-line="{sel.step.line}"' in excerpt
    assert excerpt.count(CURRENT_LINE_CLASS) == 1
    partial = trace_for_launch(OUT_OF_BOUNDS_PTX.replace("40", "0"), "oob", 1, 20,
                               [np.zeros(64, np.uint32)])
    sel = LaneSelection(partial.trace)
    assert lane_table(sel).count("<i>no thread</i>") == 12  # lanes 20..31 do not exist
    assert "<i>inactive</i>" not in lane_table(sel)
    fig = lanes_figure(sel, *sel.window())
    grey = np.asarray(fig.data[1].z, dtype=float)
    assert np.isnan(grey[:, :20]).all() and (grey[:, 20:] == 1).all()


def test_the_marker_moves_without_a_new_figure(shuffle_trace):
    import json

    import plotly.io as pio

    sel = LaneSelection(shuffle_trace.trace)
    figure = json.loads(pio.to_json(lanes_figure(sel, 0, sel.count), validate=False))
    moved = marker_at(figure, 3)
    assert moved["layout"]["shapes"][0]["y0"] == 2.5 and moved["data"] is figure["data"]
    assert figure["layout"]["shapes"][0]["y0"] == -0.5


# -- the widget, headless -------------------------------------------------------------------------
@pytest.fixture
def view():
    pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")
    from explorer.app.lanes_view import LanesView

    made = LanesView(threads=False)
    yield made
    made.close()


# -- where a warp's steps went ------------------------------------------------------------------


def test_steps_by_phase_add_up_and_an_empty_split_skips_the_stream():
    """Our kernels by their `// phase:` marks: the counts add up to the trace, and a split
    with no position (seq_len 1: only split 0 has one) runs no tile of the stream."""
    config = SMALL.replace(kernel="split-kv", num_warps=4, seq_len=1)
    streaming, empty = (trace_for_config(config, cta=c) for c in (0, 1))
    for lt in (streaming, empty):
        counts = dict(section_counts(lt.trace, lt.ptx))
        assert sum(counts.values()) == len(lt.trace)
        assert {"setup", "final sum"} <= counts.keys()
        assert list(counts.values()) == sorted(counts.values(), reverse=True)
    assert len(streaming.trace) > len(empty.trace)
    summary = section_summary(empty.trace, empty.ptx)
    assert summary.startswith(f"This warp's {len(empty.trace):,} steps by phase: ")


def test_ptx_without_phase_marks_is_counted_by_label():
    """nvcc's and Triton's PTX has no phase marks: its labels (basic blocks) are the sections,
    after an (entry) section from line 1."""
    ptx = OUT_OF_BOUNDS_PTX.replace("    st.global.u32", "$L_store:\n    st.global.u32")
    assert [name for _, name in sections(ptx)] == ["(entry)", "$L_store"]
    traced = trace_for_launch(ptx, "oob", (1, 1, 1), (32, 1, 1), [np.zeros(128, np.uint32)])
    assert section_counts(traced.trace, ptx) == [("(entry)", 6), ("$L_store", 2)]
    assert section_summary(traced.trace, ptx) == (
        "This warp's 8 steps by PTX label: (entry) 6 (75%) · $L_store 2 (25%)")
    assert section_summary(traced.trace, ptx, shown=1) == (
        "This warp's 8 steps by PTX label: (entry) 6 (75%) · 1 more section")


def test_the_view_traces_only_when_shown_and_changed(view):
    view.show_config(SMALL)
    assert view.lane_trace is None  # hidden: nothing traced
    view.show(True)
    first = view.lane_trace
    assert first is not None and view.figure_out.outputs
    assert f"This warp&#x27;s {len(first.trace):,} steps by phase: " in view.sections.value
    view.show(False)
    view.show(True)
    assert view.lane_trace is first  # nothing changed: no new trace
    view.show_config(SMALL.replace(seq_len=90))
    assert view.lane_trace is not first


def test_the_view_steps_changes_register_and_warp(view):
    view.show(True)
    view.show_config(SMALL)
    sel, fig = view.selection, view.figure
    assert view.register.value == EVERY_SHFL and sel.current == 0
    view.buttons["next"].click()
    assert sel.current == 1 and view.slider.value == 1 and view.figure is fig  # marker only
    bundle = view.figure_out.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert bundle["layout"]["shapes"][0]["y0"] == 0.5
    assert f'data-line="{sel.step.line}"' in view.ptx.value
    view.buttons["prev"].click()
    assert sel.current == 0
    view.buttons["last"].click()
    assert sel.current == sel.count - 1 and view.figure is not fig  # a new window
    view.slider.value = 3
    assert sel.current == 3
    register = sel.choices[5]
    view.register.value = register
    assert sel.choice == register and view.drawn[2] == register
    view.warp.value = 1
    assert view.lane_trace.trace.warp == 1 and view.selection.choice == register
    view.line.value = view.selection.trace[0].line
    view.goto.click()
    assert view.selection.index == 0 and view.register.value == EVERY_STEP


def test_the_view_shows_problems_inline(view):
    view.show(True)
    view.show_config(SMALL)
    view.warp.value = 9
    assert "warp=9 is not a warp of a 128-thread CTA (accepted: 0..3)" in view.status.value
    assert view.figure_out.outputs == () and view.selection is None and not view.sections.value
    view.buttons["next"].click()  # nothing to step: no error
    view.warp.value = 0
    assert view.selection is not None
    view.line.value = 1
    view.goto.click()
    assert "executes no instruction there" in view.note.value
    view.show_config(SMALL.replace(kernel="split-kv", num_warps=4))
    assert len(view.launch.options) == 2 and view.launch.layout.display == ""
    only_split = view.selection.choices[-1]  # the last of the split launch's registers
    view.register.value = only_split
    view.launch.value = 1  # the combine launch writes fewer registers and has no shfl
    assert view.lane_trace.entry == "split_kv_combine" and view.register.value == EVERY_STEP
    assert f"register &#x27;{only_split}&#x27; is never written by warp 0" in view.note.value
    assert "showing every step" in view.note.value
    view.register.value = EVERY_SHFL
    assert "executes no shfl.sync" in view.note.value and view.register.value == EVERY_STEP
    view.show_launch(OUT_OF_BOUNDS_PTX, "oob", 1, 32, [np.zeros(64, np.uint32)])
    assert "line 16" in view.status.value and CURRENT_LINE_CLASS in view.ptx.value
    assert view.launch.layout.display == "none"


def test_the_view_on_a_worker_thread():
    pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")
    from explorer.app.lanes_view import LanesView

    threaded = LanesView(threads=True)
    try:
        threaded.show(True)
        threaded.show_config(SMALL)
        assert "Tracing warp 0 of CTA 0" in threaded.status.value or threaded.selection
        threaded.drain()
        assert threaded.selection is not None and "steps" in threaded.status.value
    finally:
        threaded.close()


def test_time_to_the_default_kernels_warp_0_on_screen(view, capsys):
    """Prints the figure docs/app.md records; the bound is only a sanity check."""
    view.show(True)
    view.show_config(Config().replace(seq_len=500))  # warm the imports and caches
    started = time.perf_counter()
    view.show_config(Config())
    seconds = time.perf_counter() - started
    t = view.lane_trace.trace
    assert len(t) == 6752 and view.figure_out.outputs
    with capsys.disabled():
        print(f"\nLanes: default kernel, CTA 0 warp 0 ({len(t):,} steps): show_config -> "
              f"figure {seconds:.2f} s (trace {view.trace_seconds:.2f} s)")
    assert seconds < 30
