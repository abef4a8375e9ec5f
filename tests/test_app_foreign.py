"""The app's "PTX file" mode: every entry of the differential corpus (nvcc's and Triton's PTX)
opened, highlighted, given its run form, run on the simulator from the corpus inputs through
that form (and compared with what the GPU left), and diffed against our default kernel; bad
input named field by field; and `Explorer.from_ptx` driven through its widgets."""

from __future__ import annotations

import html as html_module
import re

import numpy as np
import pytest
from corpus_replay import CORPUS, ENTRIES, mismatches

from explorer.app import foreign, foreign_panes, foreign_session, render
from explorer.app.diff import render_diff
from explorer.app.highlight import render_ptx
from explorer.app.state import Config
from explorer.ptx.program import POINTER_TYPES

SAXPY = (CORPUS / "ptx" / "grid_stride.ptx").read_text()


def text(html: str) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def corpus_words(entry: dict, folder) -> list[str]:
    """The corpus entry's inputs as run-form words: arrays through .npy files, scalars as
    numbers (64-bit ones as u64:N), Triton's scratch pointers as null."""
    data = np.load(CORPUS / entry["data"])
    words = []
    for k, a in enumerate(entry["args"]):
        if a["kind"] == "array":
            path = folder / f"{k}.npy"
            np.save(path, np.asarray(data[a["npz_in"]], dtype=a["dtype"]))
            words.append(str(path))
        elif a["kind"] == "scalar":
            wide = np.dtype(a["dtype"]).itemsize == 8 and np.dtype(a["dtype"]).kind in "iu"
            words.append(f"u64:{a['value']}" if wide else repr(a["value"]))
        elif a["kind"] == "null":
            words.append("null")
        else:
            words.append(f"u8:{a['bytes']}:zeros")
    return words


@pytest.mark.parametrize("name", list(ENTRIES))
def test_every_corpus_entry_opens_runs_and_diffs(name, tmp_path):
    entry = ENTRIES[name]
    source = foreign.PtxSource.from_path(CORPUS / entry["ptx"])
    assert entry["entry"] in source.entries
    assert source.summary(entry["entry"]).startswith(entry["entry"])
    assert "Error" not in render_ptx(source.text) and entry["entry"] in text(
        foreign_panes.ptx_pane(source, entry["entry"]))
    default = foreign.form_for(source, entry["entry"])
    params = source.params(entry["entry"])
    assert [p.name for p in default.params] == [n for n, _ in params]
    assert not default.problems(source), default.problems(source)
    for row, (_, ptx_type) in zip(default.params, params, strict=True):
        want = "array" if ptx_type in POINTER_TYPES else "number"
        assert row.kind == want or (ptx_type in POINTER_TYPES and row.kind == "number")
    form = foreign.form_for(source, entry["entry"], args=corpus_words(entry, tmp_path),
                            grid=entry["grid"], block=entry["block"],
                            shared_bytes=entry["shared_bytes"], backend="sim")
    result = foreign_session.run(source, form)
    assert result.verdict == "ran", result.errors
    outputs = result.runs["sim"].arrays
    by_corpus_name = {a["name"]: outputs[p] for a, (p, _) in zip(entry["args"], params,
                                                                  strict=True) if p in outputs}
    assert not mismatches(entry, by_corpus_name)
    pane = text(foreign_panes.run_pane(result))
    assert "after the run on sim" in pane and "Traceback" not in pane
    ours = render.emit(Config())
    diff = render_diff(ours, source.text, "our kernel", name, "unified")
    assert diff.added > 0 and diff.removed > 0


def test_sizes_passed_as_64_bit_numbers_are_guessed():
    """nvcc's size_t n is a .u64 parameter: compared, never an address, so a number."""
    source = foreign.PtxSource.from_text(SAXPY, "grid_stride.ptx")
    form = foreign.form_for(source, "saxpy_grid_stride")
    kinds = [(p.kind, p.word()) for p in form.params]
    assert kinds == [("array", "f32:1024:randn"), ("array", "f32:1024:randn"),
                     ("number", "1.0"), ("number", "u64:1024")]


def test_defaults_follow_the_entry():
    triton = foreign.PtxSource.from_path(CORPUS / "ptx" / "triton_softmax_rows.ptx")
    form = foreign.form_for(triton)
    assert form.block == "128"  # its .maxntid
    assert form.shared_bytes == str(foreign.EXTERN_SHARED_GUESS)  # extern .shared global_smem
    assert (form.grid, form.backend, form.seed) == ("1", "auto", 0)
    assert "block '256': 256 threads; softmax_rows declares .maxntid/.reqntid 128" in \
        form.replace(block="256").problems(triton)


BAD_SOURCES = [
    ("", "pasted PTX is empty"),
    ("   \n\t", "pasted PTX is empty"),
    ("hello world {", "does not look like PTX"),
    (".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry k()\n{\n\tfrob.u32 %r1;"
     "\n\tret;\n}\n", "line 6"),
    (".version 8.0\n.target sm_80\n.address_size 64\n", "has no .entry"),
    ("/nonexistent/x.ptx", "/nonexistent/x.ptx: no such file"),
]


@pytest.mark.parametrize("given, words", BAD_SOURCES)
def test_bad_sources_say_what_is_wrong(given, words):
    with pytest.raises(ValueError) as err:
        foreign.PtxSource.open(given)
    assert words in str(err.value)


def test_a_file_that_is_not_ptx(tmp_path):
    binary = tmp_path / "k.cubin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe")
    with pytest.raises(ValueError, match="k.cubin is not PTX: it is not UTF-8 text"):
        foreign.PtxSource.open(str(binary))
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list\n")
    with pytest.raises(ValueError, match="notes.txt does not look like PTX"):
        foreign.PtxSource.open(notes)


@pytest.fixture
def saxpy():
    return foreign.PtxSource.from_text(SAXPY, "grid_stride.ptx")


@pytest.mark.parametrize("param, changes, words", [
    ("saxpy_grid_stride_param_0", {"shape": "-4"}, "parameter saxpy_grid_stride_param_0: "
                                                   "shape '-4'"),
    ("saxpy_grid_stride_param_0", {"shape": "0"}, "shape '0'"),
    ("saxpy_grid_stride_param_0", {"dtype": "f99"}, "dtype 'f99'; accepted: f16"),
    ("saxpy_grid_stride_param_0", {"shape": "100000x100000"}, "at most 67108864 elements"),
    ("saxpy_grid_stride_param_0", {"fill": "bogus"}, "fill 'bogus'"),
    ("saxpy_grid_stride_param_0", {"fill": "/nonexistent/a.npy"}, "no such .npy file"),
    ("saxpy_grid_stride_param_2", {"value": "abc"}, "parameter saxpy_grid_stride_param_2 "
                                                    "(.f32): value 'abc' is not a number"),
    ("saxpy_grid_stride_param_3", {"value": "x"}, "value 'x' is not a number"),
])
def test_bad_fields_are_named(saxpy, param, changes, words):
    form = foreign.form_for(saxpy, "saxpy_grid_stride").with_param(param, **changes)
    problems = form.problems(saxpy)
    assert len(problems) == 1 and words in problems[0], problems
    result = foreign_session.run(saxpy, form)
    assert result.verdict == "not run" and words in result.not_run


@pytest.mark.parametrize("changes, words", [
    ({"grid": "0"}, "grid '0': expected 1 to 3 positive integers"),
    ({"block": "2000"}, "block '2000': 2000 threads; accepted: at most 1024"),
    ({"block": "a"}, "block 'a'"),
    ({"shared_bytes": "-1"}, "dynamic shared bytes '-1'; accepted: an integer 0.."),
    ({"backend": "tpu"}, "backend 'tpu'; accepted: auto, sim, cuda, both"),
])
def test_bad_launch_fields_are_named(saxpy, changes, words):
    problems = foreign.form_for(saxpy, "saxpy_grid_stride").replace(**changes).problems(saxpy)
    assert any(words in p for p in problems), problems


def test_wrong_parameter_count_unknown_entry_and_parameter(saxpy):
    with pytest.raises(ValueError, match=r"saxpy_grid_stride takes 4 arguments .*; got 2"):
        foreign.form_for(saxpy, "saxpy_grid_stride", args=["f32:4:zeros", "1"])
    with pytest.raises(ValueError, match="entry 'nope' is not in this program"):
        foreign.form_for(saxpy, "nope")
    with pytest.raises(ValueError, match="has no parameter 'x'; its parameters: saxpy_grid"):
        foreign.form_for(saxpy, "saxpy_grid_stride", x="f32:4:zeros")


def test_a_run_from_the_form_matches_numpy(saxpy):
    form = foreign.form_for(saxpy, "saxpy_grid_stride", grid=2, block=64, backend="sim",
                            saxpy_grid_stride_param_2="2.5",
                            saxpy_grid_stride_param_3="u64:1000", seed=5)
    result = foreign_session.run(saxpy, form)
    x = result.runs["sim"].inputs["saxpy_grid_stride_param_0"]
    y = result.runs["sim"].inputs["saxpy_grid_stride_param_1"]
    got = result.runs["sim"].arrays["saxpy_grid_stride_param_1"]
    want = y.copy()
    want[:1000] = (np.float64(2.5) * x[:1000] + y[:1000]).astype(np.float32)  # one rounding
    np.testing.assert_allclose(got, want, rtol=1e-6)
    summary = result.summaries("sim")["saxpy_grid_stride_param_1"]
    assert summary.written and summary.shape == (1024,) and summary.nans == 0
    assert not result.summaries("sim")["saxpy_grid_stride_param_0"].written
    _, entry, grid, block, args, shared = foreign_session.launch_values(saxpy, form)
    assert (entry, grid, block, shared) == ("saxpy_grid_stride", (2, 1, 1), (64, 1, 1), 0)
    assert np.array_equal(args[0], x) and args[3] == 1000


def test_without_a_gpu_both_and_auto_run_the_simulator_and_say_so(saxpy, monkeypatch):
    from explorer import runtime

    monkeypatch.setattr(runtime, "gpu_probe", lambda: (False, "CuPy is not installed"))
    for choice in ("both", "auto"):
        form = foreign.form_for(saxpy, backend=choice)
        result = foreign_session.run(saxpy, form)
        assert result.backends == ("sim",) and result.verdict == "ran"
        assert any("CuPy is not installed" in n for n in result.notes)
    result = foreign_session.run(saxpy, foreign.form_for(saxpy, backend="cuda"))
    assert result.verdict == "not run" and "CuPy is not installed" in result.not_run


def test_findings_are_warnings_with_their_line():
    source = foreign.PtxSource.from_path(CORPUS / "ptx" / "triton_softmax_rows.ptx")
    form = foreign.form_for(source, args=["f32:6x100:randn", "f32:6x100:zeros", "100", "100",
                                          "null", "null"], grid=6, shared_bytes=16,
                            backend="sim")
    result = foreign_session.run(source, form)
    assert result.findings and all(f.line for f in result.findings)
    pane = text(foreign_panes.run_pane(result))
    assert f"finding: line {result.findings[0].line}" in pane


def test_a_simulator_error_is_a_message_not_a_traceback(saxpy):
    form = foreign.form_for(saxpy, "saxpy_grid_stride", backend="sim", grid=4, block=256,
                            saxpy_grid_stride_param_3="u64:5000")  # past the arrays
    result = foreign_session.run(saxpy, form)
    assert result.verdict == "failed" and "sim: SimError: line" in result.errors[0]
    assert "out-of-bounds" in text(foreign_panes.run_pane(result))


def test_state_keeps_the_previous_source_when_a_paste_fails(saxpy):
    state = foreign_session.ForeignState()
    state.open(SAXPY)
    with pytest.raises(ValueError):
        state.open("")
    assert state.source is not None and "empty" in state.problem
    state.choose_entry("byte_histogram")
    assert state.entry == "byte_histogram" and len(state.form.params) == 3
    state.pin()
    assert state.baseline == "pinned PTX" and state.pinned[1] == "byte_histogram"
    assert state.target_for("sm_80") == "sm_90"  # the PTX's own .target


def test_blank_lines_around_the_ptx_keep_its_line_numbers():
    """The simulator's findings name lines of the text as given: the highlighted view must
    count leading and trailing blank lines too."""
    from explorer.app.highlight import highlight_lines

    pasted = "\n\n" + SAXPY + "\n\n"
    assert len(highlight_lines(pasted)) == len(pasted.splitlines())
    line = next(i for i, t in enumerate(pasted.splitlines(), 1) if "ret;" in t)
    assert "ret" in text(highlight_lines(pasted)[line - 1])


@pytest.fixture
def ptx_app():
    pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")
    from explorer.app import Explorer

    app = Explorer.from_ptx(CORPUS / "ptx" / "grid_stride.ptx", "saxpy_grid_stride",
                            config=Config(backend="sim", max_seq_len=128, seq_len=128),
                            threads=False, backend="sim", grid=2, block=64)
    yield app
    app.close()


def test_from_ptx_is_driven_through_its_widgets(ptx_app):
    app, mode = ptx_app, ptx_app.ptx_file
    ws = app.controls.widgets
    assert app.mode == "ptx" and ws["kernel"].value == "PTX file"
    assert ws["head_dim"].disabled and ws["backend"].disabled and not ws["target"].disabled
    assert ws["target"].value == "sm_90"  # the PTX's own .target
    assert "greyed controls set our kernels only" in text(app.controls.backend_note.value)
    assert mode.row.box.layout.display != "none"
    assert "saxpy_grid_stride (+1 other entry) · " in text(mode.views["PTX"].value)
    assert "after the run on sim" in text(mode.views["Run"].value)  # run on opening
    assert "per-warp softmax states come from the debug variants" in text(
        mode.views["Warps"].value).lower()
    assert "ptxas for sm_90" in text(mode.views["Resources"].value)
    size = mode.row.rows[3]
    assert size.kind.value == "number" and size.value.value == "1024"
    size.value.value = "100"  # as the browser would
    assert mode.state.form.param("saxpy_grid_stride_param_3").word() == "u64:100"
    run = mode.state.result
    x = run.runs["sim"].inputs["saxpy_grid_stride_param_1"]
    y = run.runs["sim"].arrays["saxpy_grid_stride_param_1"]
    assert np.array_equal(x[100:], y[100:]) and not np.array_equal(x[:100], y[:100])
    mode.row.rows[0].shape.value = "-4"
    assert "parameter saxpy_grid_stride_param_0: shape '-4'" in text(mode.row.status.value)
    assert "not run" in text(mode.views["Run"].value)
    assert "Traceback" not in mode.views["Run"].value
    mode.row.entry.value = "byte_histogram"
    assert mode.state.entry == "byte_histogram" and len(mode.row.rows) == 3
    assert "byte_histogram (+1 other entry)" in text(mode.views["PTX"].value)


def test_a_pinned_ptx_is_the_diff_baseline(ptx_app):
    mode = ptx_app.ptx_file
    assert "our kernel: multi-warp · head_dim 128" in text(mode.views["Diff"].value)
    mode.pin_button.click()
    mode.row.paste.value = (CORPUS / "ptx" / "grid_stride_debug.ptx").read_text()
    mode.row.open_button.click()
    diff = text(mode.views["Diff"].value)
    assert "pinned: grid_stride.ptx · saxpy_grid_stride" in diff
    assert "PTX file: pasted PTX · saxpy_grid_stride" in diff
    ptx_app.diff_mode.value = "side by side"
    assert "<table" in mode.views["Diff"].value
    mode.row.paste.value = "garbage {"
    mode.row.open_button.click()
    assert "does not look like PTX" in text(mode.row.status.value)
    assert "does not look like PTX" in text(mode.views["PTX"].value)
    assert mode.state.source.name == "pasted PTX"  # the previous PTX stays open


def test_switching_back_to_a_kernel_restores_the_kernel_mode_exactly():
    pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")
    from explorer.app import Explorer

    app = Explorer(Config(backend="sim", max_seq_len=128, seq_len=64), threads=False)
    try:
        app.change(head_dim=64)
        before = {t: v.value for t, v in app.kernel_views.items() if t != "Warps"}
        config, values = app.state.config, {n: w.value for n, w in app.controls.widgets.items()}
        app.controls.widgets["kernel"].value = "PTX file"
        assert app.mode == "ptx" and "Paste PTX" in text(app.ptx_file.views["PTX"].value)
        app.ptx_file.row.path.value = str(CORPUS / "ptx" / "shuffles.ptx")
        assert app.ptx_file.state.source.name == "shuffles.ptx"  # Enter in the path field
        assert "our kernel: multi-warp · head_dim 64" in text(app.ptx_file.views["Diff"].value)
        launch = app.current_launch()
        assert launch.entry == "shfl_modes" and launch.grid == (1, 1, 1)
        app.controls.widgets["kernel"].value = "multi-warp"
        assert app.mode == "kernel" and app.state.config == config
        assert {n: w.value for n, w in app.controls.widgets.items()} == values
        assert {t: v.value for t, v in app.kernel_views.items() if t != "Warps"} == before
        assert app.ptx_file.row.box.layout.display == "none"
        assert not app.controls.widgets["head_dim"].disabled
        kernel_launch = app.current_launch()
        assert kernel_launch.entry == "multi_warp_attention" and kernel_launch.args[1].shape == (
            8, 128, 64)
        app.controls.widgets["kernel"].value = "PTX file"  # and the PTX file is still open
        assert "shfl_modes" in text(app.ptx_file.views["PTX"].value)
        app.controls.widgets["kernel"].value = "split-kv"  # another kernel than the one left
        assert app.state.config.kernel == "split-kv" and app.mode == "kernel"
    finally:
        app.close()


def test_the_snapshot_of_a_ptx_file(ptx_app, tmp_path):
    ptx_app.export(tmp_path / "snap")
    assert "wrote 1 files" in text(ptx_app.export_status.value)
    page = (tmp_path / "snap" / "index.html").read_text()
    for words in ("saxpy_grid_stride_param_3", "u64:1024", "our kernel: multi-warp",
                  "ptxas for sm_90", "after the run on sim"):
        assert words in text(page)
    empty = foreign_session.ForeignState()
    with pytest.raises(ValueError, match="no PTX is open"):
        from explorer.app import snapshot

        snapshot.write_ptx_file(empty, Config(), tmp_path / "none")


def test_the_model_imports_without_ipywidgets():
    import subprocess
    import sys

    code = ("import sys; sys.modules['ipywidgets'] = None; "
            "import explorer.app.foreign, explorer.app.foreign_session, "
            "explorer.app.foreign_panes, explorer.app.runner")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_open_ptx_switches_a_kernel_app_to_the_ptx_file():
    pytest.importorskip("ipywidgets", reason="the app needs ipywidgets")
    from explorer.app import Explorer

    app = Explorer(Config(backend="sim", max_seq_len=64, seq_len=64), auto_run=False,
                   threads=False)
    try:
        with pytest.raises(ValueError, match="is empty"):
            app.open_ptx("")
        assert app.mode == "kernel"
        app.open_ptx(SAXPY, "byte_histogram", block=128, backend="sim")
        assert app.mode == "ptx" and app.ptx_file.state.form.block == "128"
        assert "press Run" in text(app.run_status.value)  # auto-run is off
        app.run_button.click()
        assert app.ptx_file.state.result.verdict == "ran"
    finally:
        app.close()
