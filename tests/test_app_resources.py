"""The Resources view: the occupancy estimate per architecture and its limiting resource, the
ptxas report (cached), SASS grouped under its PTX lines and the register plot when nvdisasm
is there, any PTX without a kernel object, and a clear note without ptxas or nvdisasm."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape

import pytest
from corpus_replay import ENTRIES, ptx_of

from explorer import arch
from explorer.app import occupancy, regplot, resources, sassview
from explorer.app.render import emit
from explorer.app.state import Config, build_kernel
from explorer.arch import ARCHS
from explorer.kernels import MultiWarpIncrementalAttentionKernel as MultiWarp
from explorer.ptx import ptxas, sass
from explorer.ptx.ptxas import find_ptxas

needs_ptxas = pytest.mark.skipif(find_ptxas() is None,
                                 reason="ptxas not installed (nvidia-cuda-nvcc, dev extra)")


def test_architectures_cover_the_targets():
    from explorer.kernels import TARGETS

    assert set(TARGETS) <= set(ARCHS)
    assert ARCHS["sm_90"].max_warps_per_sm == 64
    assert ARCHS["sm_86"].max_warps_per_sm == 48
    assert ARCHS["sm_75"].max_ctas_per_sm == 16


@pytest.mark.parametrize("target, threads, regs, smem, ctas, limiter", [
    # 32 regs x 128 threads: 16 CTAs by registers and by warp slots (a tie) on sm_90
    ("sm_90", 128, 32, 2088, 16, "registers and warp slots"),
    # 128 regs: 512 warps' worth of registers per 4-warp CTA -> 4 CTAs
    ("sm_90", 128, 128, 2088, 4, "registers"),
    # 40 KB of shared per CTA: 228 KB / (40 KB + 1 KB reserved) -> 5
    ("sm_90", 128, 32, 40 * 1024, 5, "shared memory"),
    # one-warp CTAs: the CTA slots run out first (16 on sm_86)
    ("sm_86", 32, 16, 0, 16, "CTA slots"),
    # without ptxas (registers 0: unknown, not counted)
    ("sm_90", 128, 0, 2088, 16, "warp slots"),
    # sm_75 has 32 warp slots: 8-warp CTAs -> 4
    ("sm_75", 256, 32, 1024, 4, "warp slots"),
])
def test_occupancy_names_the_limiting_resource(target, threads, regs, smem, ctas, limiter):
    occ = occupancy.estimate(target, threads, regs, smem)
    assert occ.ctas_per_sm == ctas
    assert occ.limiter == limiter
    assert occ.warps_per_sm == ctas * -(-threads // 32)


def test_register_allocation_rounds_per_warp():
    # 33 regs x 32 lanes = 1056 -> 1280 per warp; 65536 / 1280 = 51 warps -> 48 (groups of 4)
    assert arch.ctas_by_registers(ARCHS["sm_90"], 33, 4) == 12
    assert arch.ctas_by_registers(ARCHS["sm_90"], 256, 4) == 0


def test_occupancy_refuses_unknown_targets():
    with pytest.raises(ValueError, match="no occupancy data for target='sm_70'"):
        occupancy.estimate("sm_70", 128, 32, 0)


@needs_ptxas
def test_ptxas_report_occupancy_and_cache():
    config = Config()
    kernel = build_kernel(config)
    ptx = emit(config)
    found = resources.collect(ptx, kernel.entry, config.target, with_sass=False)
    assert found.report.shared_bytes == kernel.shared_bytes
    assert resources.cached(ptx, kernel.entry, config.target, with_sass=False) is found
    html = resources.render(found, kernel)
    for words in ("registers per thread", "Occupancy estimate", "limits", "CTAs per SM",
                  ARCHS[config.target].part):
        assert words in html


@needs_ptxas
def test_sass_when_nvdisasm_is_installed():
    if sass.find_nvdisasm() is None:
        pytest.skip("nvdisasm not installed (nvidia-cuda-nvdisasm, dev extra)")
    config = Config(head_dim=32, num_warps=2, target="sm_80")
    kernel = build_kernel(config)
    found = resources.collect(emit(config), kernel.entry, "sm_80")
    assert found.sass and "EXIT" in found.sass
    assert "SASS from nvdisasm" in resources.render(found, kernel)


def test_a_clear_note_without_ptxas(monkeypatch):
    def missing(*args, **kwargs):
        raise ptxas.PtxasNotFound()

    monkeypatch.setattr(ptxas, "assemble_with_cubin", missing)
    config = Config(head_dim=48)
    kernel = build_kernel(config)
    found = resources.collect(emit(config), kernel.entry, config.target)
    assert found.report is None
    html = resources.render(found, kernel)
    assert "ptxas not found" in html and "nvidia-cuda-nvcc" in html
    assert "without ptxas" in html  # the estimate says registers are not counted
    assert resources.cached(emit(config), kernel.entry, config.target) is None


def test_pending_message_names_the_target():
    assert "Assembling with ptxas for sm_86" in resources.pending("sm_86")


@needs_ptxas
def test_one_cta_per_sm_is_singular():
    config = Config(num_warps=32, head_dim=256)  # 1,024 threads: one CTA fits
    kernel = build_kernel(config)
    html = resources.render(resources.collect(emit(config), kernel.entry, config.target,
                                              with_sass=False), kernel)
    assert "1 CTA per SM" in html and "1 CTAs" not in html


# -- SASS under its PTX lines, the register plot, any PTX ------------------------------------
needs_tools = pytest.mark.skipif(
    find_ptxas() is None or sass.find_nvdisasm() is None,
    reason="ptxas and nvdisasm not installed (the tools extra: nvidia-cuda-nvcc, "
           "nvidia-cuda-nvdisasm)")
SASS_ROW = re.compile(r"/\*([0-9a-f]{4,})\*/  (.*?)<span")


def _grouped_part(html: str) -> str:
    start = html.index("SASS under the PTX line it came from")
    return html[start:html.index("plain listing</summary>")]


def _sass_rows(html: str) -> Counter:
    return Counter((int(offset, 16), unescape(text)) for offset, text in SASS_ROW.findall(html))


def _ins(function, index, line, live=None, text=None):
    return sass.SassInstruction(function, index, 16 * index, text or f"IADD3 R{index} ;",
                                "kernel.ptx" if line else None, line, live_gpr=live)


def test_grouped_sass_lists_each_instruction_once_under_its_line():
    ptx = MultiWarp(64, 32, 4, 1, 2).emit("sm_80")
    lines = [n for n, text in enumerate(ptx.split("\n"), 1) if text.startswith("\tmov.u32")]
    instructions = (_ins("k", 0, lines[1]), _ins("k", 1, lines[0]), _ins("k", 2, lines[1]),
                    _ins("k", 3, None), _ins("other", 0, lines[2], text="EXIT ;"))
    html = sassview.grouped(ptx, instructions, {lines[0]: ("a.py:3", "emitted by a.py:3")})
    assert _sass_rows(html) == Counter((i.offset, i.text) for i in instructions)
    first, second = html.index(f">{lines[0]}</span>"), html.index(f">{lines[1]}</span>")
    assert first < html.index("/*0010*/") < second < html.index("/*0000*/")  # PTX order
    assert html.index("(no line)") < html.index("/*0030*/")
    assert '"emitted by a.py:3">a.py:3' in html
    assert html.count("<details open") >= 1 and "other: 1 SASS instructions" in html
    assert "k: 4 SASS instructions from 2 PTX lines" in html


@needs_tools
@pytest.mark.parametrize("config", [Config(), Config(kernel="split-kv", head_dim=64)])
def test_resources_group_real_sass_under_ptx_lines_with_python_lines(config):
    kernel = build_kernel(config)
    ptx = emit(config)
    found = resources.collect(ptx, kernel.entry, config.target)
    html = resources.render(found, kernel)
    assert "✖" not in html and "⚠" not in html
    assert _sass_rows(_grouped_part(html)) == Counter((i.offset, i.text)
                                                      for i in found.instructions)
    assert {i.function for i in found.instructions} == {k.entry for k in kernel.kernels}
    plain_lines = ptx.split("\n")
    for line in {i.line for i in found.instructions}:
        assert not plain_lines[line - 1].lstrip().startswith((".", "//", "$"))  # instructions
    assert "emitted by explorer/kernels/" in html and "1. setup" in html
    assert "SASS from nvdisasm" in html and "EXIT" in found.sass
    live = sass.registers_of(sass.SassListing(found.target, found.reports, found.instructions),
                             ptx, kernel.entry)
    assert f"peak {live.peak}" in html and f"ptxas: {found.report.registers} registers" in html
    assert "<svg" in html and "<script" not in html


def test_register_plot_draws_peak_ptxas_count_and_phases():
    ins = tuple(_ins("k", i, 10 + i, live=n) for i, n in enumerate([1, 3, 7, 5, 2, 2]))
    phases = (sass.PhaseStart("setup (pointers)", 9, 0), sass.PhaseStart("loop; x", 11, 2))
    live = sass.LiveRegisters("k", "sm_80", ins, phases, 16, {})
    svg = regplot.live_registers_svg(live)
    assert "peak 7" in svg and "ptxas: 16 registers" in svg and "ptxas allocates 16" in svg
    assert ">setup</text>" in svg and ">loop</text>" in svg
    assert svg.count('stroke-dasharray="2,3"') == 2  # one line per phase
    path = re.search(r'<path d="([^"]*)" fill="none"', svg).group(1)
    assert path.count("V") == 4  # steps 1->3->7->5->2, the last 2 repeats
    bare = regplot.live_registers_svg(sass.LiveRegisters("k", "sm_80", ins, (), 16, {}))
    assert "stroke-dasharray=\"2,3\"" not in bare and "peak 7" in bare


def _corpus_target(ptx: str) -> str:
    return re.search(r"^\.target\s+(\w+)", ptx, re.M).group(1)


@needs_ptxas
@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_any_corpus_entry_renders_without_a_kernel(name):
    entry = ENTRIES[name]
    ptx = ptx_of(entry)
    found = resources.collect(ptx, entry["entry"], _corpus_target(ptx))
    threads = entry["block"][0] * entry["block"][1] * entry["block"][2]
    html = resources.render(found, None, block_threads=threads,
                            shared_bytes=entry["shared_bytes"])
    assert "✖" not in html and "⚠" not in html and "Traceback" not in html
    assert "Occupancy estimate" in html and "CTAs per SM" in html
    if sass.find_nvdisasm() is not None:
        assert found.instructions and "<svg" in html
        assert _sass_rows(_grouped_part(html)) == Counter((i.offset, i.text)
                                                          for i in found.instructions)


def test_dynamic_shared_bytes_count_in_the_occupancy_of_any_ptx():
    report = ptxas.PtxasReport("k", "sm_90", 32, 0, 0, 0, 1024, 1, 0, "")
    res = resources.Resources("sm_90", {"k": report}, "k", None, ())
    small = resources.render(res, None, block_threads=128)
    big = resources.render(res, None, block_threads=128, shared_bytes=100 * 1024)
    assert "limited by registers and warp slots" in small
    assert "2 CTAs per SM" in big and "limited by shared memory" in big
    assert "Its grid has" not in big  # no kernel: no grid to read against the part
    assert "no block size given" in resources.render(res, None)


def test_without_nvdisasm_a_note_names_the_tools_extra(monkeypatch):
    if find_ptxas() is None:
        pytest.skip("ptxas not installed (nvidia-cuda-nvcc, dev extra)")
    monkeypatch.setattr(sass, "find_nvdisasm", lambda: None)
    monkeypatch.setattr(resources, "_cache", {})  # no result of a run with nvdisasm, and
    config = Config(head_dim=24)  # none of this one left for the other tests
    kernel = build_kernel(config)
    found = resources.collect(emit(config), kernel.entry, config.target)
    html = resources.render(found, kernel)
    assert found.report is not None and not found.instructions
    assert "nvdisasm is not installed" in html and "warp-explorer[tools]" in html
    assert "<svg" not in html and "Traceback" not in html


def test_without_ptxas_the_note_names_the_tools_extra(monkeypatch):
    def missing(*args, **kwargs):
        raise ptxas.PtxasNotFound()

    monkeypatch.setattr(ptxas, "assemble_with_cubin", missing)
    monkeypatch.setattr(resources, "_cache", {})
    ptx = ptx_of(ENTRIES["shfl_modes"])
    html = resources.render(resources.collect(ptx, "shfl_modes", "sm_90"), None,
                            block_threads=64)
    assert "ptxas not found" in html and "warp-explorer[tools]" in html
    assert "without ptxas" in html and "<svg" not in html
