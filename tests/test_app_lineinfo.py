"""The PTX view's source gutter: the project's kernels show the plain emission (the line
numbers every other view uses) with the Python line of each instruction's builder call;
foreign PTX keeps its original line numbers with its `.loc`/`.file` lines hidden and its own
sources in the gutter; one line can be emphasised and every row has an id."""

from __future__ import annotations

import html
import inspect
import re
from pathlib import Path

import pytest
from corpus_replay import CORPUS

from explorer.app import gutter, render, theme
from explorer.app.highlight import render_ptx
from explorer.app.state import Config
from explorer.kernels import (
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)
from explorer.ptx import KernelBuilder, sass
from explorer.ptx.scan import scan

ROOT = Path(__file__).resolve().parents[1]
BUILDER_CALL = re.compile(
    r"\.(" + "|".join(n for n, _ in inspect.getmembers(KernelBuilder, inspect.isfunction)
                      if not n.startswith("_")) + r")\("
)
# (kernel, target): the three kernels, debug variants, and split-kv's variants
VARIANTS = {
    "single-warp": (lambda: IncrementalAttentionKernel(512, 64, 8, 2), "sm_80"),
    "single-warp-debug-indirect": (lambda: IncrementalAttentionKernel(
        512, 64, 8, 2, debug=True, indirect_seq_len=True), "sm_80"),
    "multi-warp": (lambda: MultiWarpIncrementalAttentionKernel(512, 128, 32, 8, 4), "sm_80"),
    "multi-warp-debug": (lambda: MultiWarpIncrementalAttentionKernel(
        256, 96, 8, 4, num_warps=4, debug=True), "sm_90"),
    "split-kv": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8), "sm_90"),
    "split-kv-f16-pipelined-last-cta": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=1024, head_dim=128, num_heads=32, num_kv_heads=8, dtype="f16", mma=False,
        pipeline=True, merge="last-cta"), "sm_90"),
    "split-kv-bf16-mma": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=1024, head_dim=64, num_heads=16, num_kv_heads=4, dtype="bf16", mma=True),
        "sm_80"),
    "split-kv-debug": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=512, head_dim=64, num_heads=8, num_kv_heads=2, debug=True), "sm_80"),
}
ROW = re.compile(r'<div id="ptx-line-(\d+)" style="([^"]*)">(.*?)</div>')
LINENO = re.compile(r'user-select:none">(\d+)</span>')


def _text(row_html: str) -> str:
    """A row's code as text: tags and the gutter cell removed, entities decoded."""
    code = re.sub(rf'^<span style="{re.escape(theme.LINENO)}">\d+</span>', "", row_html)
    code = re.sub(rf'^ <span style="{re.escape(theme.GUTTER)}"[^>]*>[^<]*</span>', "", code)
    return html.unescape(re.sub(r"<[^>]+>", "", code))[1:]  # the space after the number


def _instruction_lines(ptx: str) -> set[int]:
    return {item.line for item in scan(ptx)
            if item.kind == "stmt" and not item.text.startswith(".")}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_plain_emission_is_the_line_info_emission_without_its_loc_lines(name):
    make, target = VARIANTS[name]
    kernel = make()
    plain, with_lines = kernel.emit(target), kernel.emit(target, line_info=True)
    text, kept = gutter.without_line_info(with_lines)
    assert text == plain
    assert len(kept) == plain.count("\n") + 1 and len(kept) < with_lines.count("\n") + 1
    assert gutter.printed_sources(with_lines) == sass.ptx_sources(with_lines)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_instruction_gets_the_builder_line_that_emitted_it(name):
    make, target = VARIANTS[name]
    kernel = make()
    plain = kernel.emit(target)
    sources = gutter.kernel_sources(plain, kernel.emit(target, line_info=True))
    assert set(sources) == _instruction_lines(plain)
    for label, title in set(sources.values()):
        path, line = re.fullmatch(r"emitted by (explorer/kernels/\w+\.py):(\d+)", title).groups()
        assert label == f"{Path(path).name}:{line}"
        code = (ROOT / path).read_text().splitlines()[int(line) - 1]
        assert BUILDER_CALL.search(code), f"{title}: {code!r}"


def test_gutter_refuses_a_line_info_text_of_another_kernel():
    small = MultiWarpIncrementalAttentionKernel(64, 32, 4, 1, 2)
    other = MultiWarpIncrementalAttentionKernel(64, 64, 4, 1, 2)
    with pytest.raises(ValueError, match="not the plain emission"):
        gutter.kernel_sources(small.emit("sm_80"), other.emit("sm_80", line_info=True))


@pytest.mark.parametrize("config", [Config(), Config(kernel="split-kv"),
                                    Config(kernel="single-warp", head_dim=64)])
def test_ptx_pane_numbers_the_plain_emission_and_names_python_lines(config):
    plain = render.emit(config)
    pane = render.ptx_pane(config)
    rows = ROW.findall(pane)
    assert [int(n) for n, _, _ in rows] == list(range(1, plain.count("\n") + 1))
    assert [_text(inner) for _, _, inner in rows] == plain.split("\n")[:-1]
    assert ".loc" not in pane and "emitted by explorer/kernels/" in pane
    sources = render.sources(config)
    first = min(sources)
    label, title = sources[first]
    row = next(inner for n, _, inner in rows if int(n) == first)
    assert f'title="{title}">{label}' in row


def test_ptx_pane_without_its_gutter_still_shows_the_ptx(monkeypatch):
    def broken(plain, with_lines):
        raise ValueError("the line-info emission minus its .file/.loc lines is not the plain "
                         "emission: no gutter")

    monkeypatch.setattr(render, "kernel_sources", broken)
    render._sources.cache_clear()
    render._ptx_body.cache_clear()
    config = Config(head_dim=40)
    pane = render.ptx_pane(config)
    render._sources.cache_clear()
    render._ptx_body.cache_clear()
    assert "no gutter" in pane and "emitted by" not in pane
    assert len(ROW.findall(pane)) == render.emit(config).count("\n")


LOC_ENTRIES = sorted(p.name for p in (CORPUS / "ptx").glob("*.ptx")
                     if "\t.loc" in p.read_text())


def test_the_corpus_has_loc_lines_from_nvcc_and_triton():
    assert "shuffles.ptx" in LOC_ENTRIES and "triton_softmax_rows.ptx" in LOC_ENTRIES


@pytest.mark.parametrize("name", LOC_ENTRIES)
def test_foreign_loc_lines_are_hidden_and_the_numbers_stay_original(name):
    ptx = (CORPUS / "ptx" / name).read_text()
    lines = ptx.split("\n")
    hidden = {n for n, line in enumerate(lines, 1) if re.match(r"\s*\.(loc|file)\s", line)}
    assert hidden and hidden == gutter.hidden_lines(ptx)
    rows = ROW.findall(render_ptx(ptx))
    shown = [int(n) for n, _, _ in rows]
    assert shown == [n for n in range(1, len(lines)) if n not in hidden]
    assert all(_text(inner) == lines[int(n) - 1] for n, _, inner in rows)
    everything = ROW.findall(render_ptx(ptx, show_locs=True))
    assert [int(n) for n, _, _ in everything] == list(range(1, len(lines)))
    sources = sass.ptx_sources(ptx, outermost=True)
    for number, (path, line) in list(sources.items())[:40]:
        inner = next(inner for n, _, inner in rows if int(n) == number)
        assert f"from {html.escape(path)}:{line}" in inner  # every row has its title


def test_an_inlined_intrinsic_names_its_call_site_in_the_gutter():
    ptx = (CORPUS / "ptx" / "shuffles.ptx").read_text()
    sources = gutter.own_sources(ptx)
    shfl = [n for n, line in enumerate(ptx.split("\n"), 1) if "shfl.sync" in line]
    cu = (CORPUS / "src" / "shuffles.cu").read_text().splitlines()
    for number in shfl:
        label, title = sources[number]
        assert label.startswith("shuffles.cu:") and "__shfl" in cu[int(label[12:]) - 1]
        assert "(inlined: " in title and "sm_30_intrinsics.hpp" in title


def test_the_current_line_is_emphasised_and_every_row_has_an_id():
    ptx = MultiWarpIncrementalAttentionKernel(64, 32, 4, 1, 2).emit("sm_80")
    page = render_ptx(ptx, 20, 40, current=30)
    rows = ROW.findall(page)
    assert [int(n) for n, _, _ in rows] == list(range(20, 41))
    marked = [int(n) for n, style, _ in rows if theme.CURRENT_BG in style]
    assert marked == [30]
    assert page.count(theme.CURRENT_BG) == 1
    assert 'id="lanes-line-7"' in render_ptx(ptx, 5, 9, anchor="lanes-line")


def test_a_window_starts_with_its_label_and_repeats_are_blank():
    ptx = MultiWarpIncrementalAttentionKernel(64, 32, 4, 1, 2).emit("sm_80")
    sources = {10: ("a.py:1", "emitted by a.py:1"), 11: ("a.py:1", "emitted by a.py:1"),
               12: ("b.py:2", "emitted by b.py:2")}
    rows = {int(n): inner for n, _, inner in ROW.findall(render_ptx(ptx, 11, 12,
                                                                    sources=sources))}
    assert '"emitted by a.py:1">a.py:1' in rows[11]  # the first row shown names its line
    assert '"emitted by b.py:2">b.py:2' in rows[12]
    rows = {int(n): inner for n, _, inner in ROW.findall(render_ptx(ptx, 10, 12,
                                                                    sources=sources))}
    assert '"emitted by a.py:1">      </span>' in rows[11]  # a repeat: blank, title kept


@pytest.mark.skipif(sass.find_nvdisasm() is None or sass._ptxas.find_ptxas() is None,
                    reason="ptxas and nvdisasm not installed (the tools extra)")
@pytest.mark.parametrize("name", ["shuffles", "decode_attention", "votes_bits"])
def test_the_gutter_agrees_with_nvdisasms_line_table(name):
    """nvcc's -lineinfo PTX, SASS -> PTX line -> its `.loc`: the innermost line is the one
    nvdisasm's own table gives every SASS instruction, and so is the gutter's label where
    nothing was inlined. Where something was, the label's file is nvdisasm's call-site file;
    its line can be later: the PTX names each call of an intrinsic, ptxas' table repeats the
    first call's line for a later call of the same intrinsic."""
    ptx = (CORPUS / "ptx" / f"{name}.ptx").read_text()
    direct = sass.sass_listing(ptx, "sm_90").instructions
    through_ptx = sass.sass_listing(sass.with_ptx_locs(ptx), "sm_90").instructions
    assert len(direct) > 100 and [i.text for i in direct] == [i.text for i in through_ptx]
    inner, outer = sass.ptx_sources(ptx), sass.ptx_sources(ptx, outermost=True)
    for d, p in zip(direct, through_ptx, strict=True):
        assert inner[p.line] == (d.file, d.line), d
        if d.inlined_at:
            assert outer[p.line][0] == d.source[0] and outer[p.line][1] >= d.source[1], d
        else:
            assert outer[p.line] == d.source, d
