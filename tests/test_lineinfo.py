"""Line info from Python through PTX to SASS: the builder's record of the kernel line behind
each instruction, the `.file`/`.loc` lines the printer writes from it (and nothing else), the
parser and simulator reading them, and `explorer.ptx.sass` mapping ptxas' SASS back to those
lines, to any PTX's own lines, and to nvcc's CUDA C lines, with the live registers."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from explorer.kernels import (
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)
from explorer.ptx import KernelBuilder, Program, emit, parse_module, sass
from explorer.ptx.ir import Instruction
from explorer.ptx.ptxas import assemble_with_cubin, find_ptxas
from explorer.runtime import launch
from explorer.verify import make_inputs

ROOT = Path(__file__).resolve().parents[1]
SHUFFLES = ROOT / "tests" / "corpus" / "ptx" / "shuffles.ptx"
SHUFFLES_CU = ROOT / "tests" / "corpus" / "src" / "shuffles.cu"

needs_ptxas = pytest.mark.skipif(
    find_ptxas() is None, reason="ptxas not installed: pip install nvidia-cuda-nvcc>=13,<14"
)
needs_tools = pytest.mark.skipif(
    find_ptxas() is None or sass.find_nvdisasm() is None,
    reason="ptxas and nvdisasm not installed: pip install nvidia-cuda-nvcc>=13,<14 "
           "nvidia-cuda-nvdisasm>=13,<14",
)

# (name, kernel, target): all three kernels, debug variants, split-kv on CUDA cores (f32 and
# f16, pipelined, last-CTA merge) and on tensor cores.
KERNELS = {
    "single-warp": (lambda: IncrementalAttentionKernel(
        max_seq_len=1100, head_dim=80, num_heads=8, num_kv_heads=2), "sm_80"),
    "single-warp-debug": (lambda: IncrementalAttentionKernel(
        max_seq_len=1100, head_dim=80, num_heads=8, num_kv_heads=2, debug=True,
        indirect_seq_len=True), "sm_80"),
    "multi-warp": (lambda: MultiWarpIncrementalAttentionKernel(
        max_seq_len=1100, head_dim=80, num_heads=8, num_kv_heads=8, num_warps=4), "sm_80"),
    "multi-warp-debug": (lambda: MultiWarpIncrementalAttentionKernel(
        max_seq_len=1100, head_dim=96, num_heads=8, num_kv_heads=4, num_warps=4,
        debug=True), "sm_80"),
    "split-kv": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8), "sm_90"),
    "split-kv-f16-pipelined-last-cta": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8, dtype="f16", mma=False,
        pipeline=True, merge="last-cta"), "sm_90"),
    "split-kv-mma": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8, dtype="f16", mma=True,
        pipeline=True, prefetch=2), "sm_80"),
    "split-kv-debug": (lambda: SplitKVDecodeAttentionKernel(
        max_seq_len=2048, head_dim=128, num_heads=32, num_kv_heads=8, debug=True), "sm_90"),
}
# A line names a builder call when it calls one of KernelBuilder's public methods.
BUILDER_CALL = re.compile(
    r"\.(" + "|".join(n for n, _ in inspect.getmembers(KernelBuilder, inspect.isfunction)
                      if not n.startswith("_")) + r")\("
)


def _kernel(name):
    make, target = KERNELS[name]
    return make(), target


def _source_line(path: str, line: int) -> str:
    return (ROOT / path).read_text().splitlines()[line - 1]


def _without_line_info(text: str) -> str:
    """`text` without its `.file` and `.loc` lines (and the blank line before the table)."""
    text = re.sub(r"\n\n(\.file [^\n]*\n)+", "\n", text)
    return re.sub(r"\t\.loc [^\n]*\n", "", text)


# -- the builder's record and the printer ----------------------------------------------------
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_every_loc_names_a_builder_call_in_the_kernels(name):
    kernel, _ = _kernel(name)
    for k in kernel.kernels:
        locs = [s.loc for s in k.body if isinstance(s, Instruction)]
        assert all(locs), f"{k.entry}: an instruction without a recorded line"
        for index, line in set(locs):
            path = k.files[index - 1]
            assert path.startswith("explorer/kernels/"), path
            text = _source_line(path, line)
            assert BUILDER_CALL.search(text), f"{path}:{line} holds no builder call: {text!r}"


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_line_info_only_adds_file_and_loc_lines(name):
    kernel, target = _kernel(name)
    plain, with_lines = kernel.emit(target), kernel.emit(target, line_info=True)
    assert ".loc" not in plain and ".file" not in plain
    assert with_lines.count("\t.loc ") > 10
    assert _without_line_info(with_lines) == plain


@pytest.mark.parametrize("name", ["multi-warp", "split-kv-mma", "split-kv-debug"])
def test_parsed_locs_are_the_builders_record(name):
    """parse(emit(k, line_info=True)) == k, and each instruction's `.loc` resolves (through the
    module's `.file` table, renumbered across split-kv's two entries) to the recorded line."""
    kernel, target = _kernel(name)
    module = parse_module(kernel.emit(target, line_info=True))
    assert module.kernels == kernel.kernels
    for parsed, built in zip(module.kernels, kernel.kernels, strict=True):
        for p, b in zip(parsed.body, built.body, strict=True):
            if isinstance(b, Instruction):
                assert (module.files[p.loc[0]], p.loc[1]) == (built.files[b.loc[0] - 1],
                                                               b.loc[1])


def _loop_and_if():
    b = KernelBuilder("k")
    tid = b.special("tid.x")
    with b.loop(0, tid, "l") as i:
        b.set(i, "add.u32", i, 1)
    with b.if_(b.op("setp.eq.u32", tid, 0)):
        b.op("add.u32", tid, 2)
    return b.build()


def test_a_loop_and_an_if_name_their_with_lines():
    """The instructions `loop` and `if_` emit on entry and on exit name the `with` line."""
    source, start = inspect.getsourcelines(_loop_and_if)

    def line(text):
        return start + next(n for n, code in enumerate(source) if text in code)

    kernel = _loop_and_if()
    assert kernel.files == ("tests/test_lineinfo.py",)
    got = [(s.name, s.loc[1]) for s in kernel.body if isinstance(s, Instruction)]
    loop, if_ = line("b.loop("), line("b.if_(")
    assert got == [("mov.u32", line("b.special(")), ("mov.u32", loop), ("setp.ge.u32", loop),
                   ("bra", loop), ("add.u32", line("b.set(i")), ("add.u32", loop),
                   ("bra.uni", loop), ("setp.eq.u32", if_), ("bra", if_),
                   ("add.u32", line("tid, 2)"))]


def test_printer_writes_a_loc_only_where_the_line_changes():
    b = KernelBuilder("k")
    x = b.op("add.u32", b.op("mov.u32", 1), 2)  # two instructions, one line
    b.op("mul.lo.u32", x, 3)
    text = emit(b.build(), line_info=True)
    body = text.split("{", 1)[1].splitlines()
    locs = [line for line in body if ".loc" in line]
    assert len(locs) == 2 and locs[0].startswith("\t.loc 1 ") and locs[0].endswith(" 0")
    assert '.file 1 "tests/test_lineinfo.py"' in text


def test_the_simulator_runs_line_info_ptx_to_the_same_bits():
    kernel = MultiWarpIncrementalAttentionKernel(max_seq_len=64, head_dim=40, num_heads=4,
                                                 num_kv_heads=2, num_warps=3)
    q, k, v = make_inputs(kernel, np.random.default_rng(7))
    values = {"q": q, "k": k, "v": v, **kernel.length_arguments((37,))}
    outputs = [launch(program, kernel.launches(), values, "sim", kernel.buffer_specs())["out"]
               for program in (kernel.program("sm_80"),
                               Program.from_ptx(kernel.emit("sm_80", line_info=True)))]
    assert np.isfinite(outputs[0]).all()
    assert outputs[0].tobytes() == outputs[1].tobytes()


# -- PTX's own lines and its sources (no tools needed) ----------------------------------------
def test_with_ptx_locs_names_each_instruction_by_its_own_line():
    text = SHUFFLES.read_text()
    marked = sass.with_ptx_locs(text)
    assert marked.rstrip().endswith('.file 3 "kernel.ptx"')  # nvcc's file 1 and 2 are taken
    original, new = text.splitlines(), marked.splitlines()
    module = parse_module(marked)
    assert module.files[3] == "kernel.ptx"
    instructions = [s for k in module.kernels for s in k.body if isinstance(s, Instruction)]
    assert len(instructions) > 100
    for ins in instructions:
        assert ins.loc[0] == 3
        assert original[ins.loc[1] - 1].strip() == new[ins.line - 1].strip()
    assert not any(re.match(r"\s*\.loc\s+[12]\b", line) for line in new)


def test_ptx_sources_read_nvcc_locs():
    sources = sass.ptx_sources(SHUFFLES.read_text())
    lines = SHUFFLES.read_text().splitlines()
    assert len(sources) > 100
    shuffles = [src for n, src in sources.items() if "shfl.sync" in lines[n - 1]]
    assert shuffles and all(f.endswith("sm_30_intrinsics.hpp") for f, _ in shuffles)
    stores = [src for n, src in sources.items() if "st.global" in lines[n - 1]]
    assert stores and all(f.endswith("tests/corpus/src/shuffles.cu") for f, _ in stores)


# Recorded from nvdisasm 13.5 -c -gi (an inlined shuffle: one line per inlining level) and
# -c --life-range-mode count on the same cubin of shuffles.ptx (sm_90).
LISTING = """\
//--------------------- .text.shfl_wide_types --------------------------
	.section	.text.shfl_wide_types,"ax",@progbits
shfl_wide_types:
	//## File "/src/shuffles.cu", line 41
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/                   S2R R0, SR_TID.X ;
.L_x_20:
	//## File "/cuda/sm_30.hpp", line 373 inlined at "/cuda/sm_30.hpp", line 457
	//## File "/cuda/sm_30.hpp", line 457 inlined at "/src/shuffles.cu", line 43
	//## File "/src/shuffles.cu", line 43
        /*0190*/                   SHFL.IDX PT, R7, R5, R21, 0x1f ;
        /*01b0*/               @P0 BRA `(.L_x_2) ;
//--------------------- .text.other --------------------------
        /*0000*/                   EXIT ;
"""
LIFE_RANGES = """\
//--------------------- .text.shfl_wide_types --------------------------
                                                  // +-------+--------+--------+
                                                  // | GPR   | PRED   | UGPR   |
                                                  // |   #   |   #    |   #    |
                                                  // +-------+--------+--------+
shfl_wide_types:                                  // |       |        |        |
        /*0000*/                   LDC R1, c[0x0][0x28] ;     // |   1   |        |        |
        /*0190*/                   SHFL.IDX PT, R7, R5, R21, 0x1f ;  // |  12   |   1    |   2    |
"""


def test_parse_listing_follows_inlining_and_functions():
    ins = sass.parse_listing(LISTING)
    assert [(i.function, i.index, i.offset) for i in ins] == [
        ("shfl_wide_types", 0, 0), ("shfl_wide_types", 1, 16), ("shfl_wide_types", 2, 0x190),
        ("shfl_wide_types", 3, 0x1b0), ("other", 0, 0)]
    assert ins[1].line == 41 and ins[1].inlined_at == ()
    assert (ins[2].file, ins[2].line) == ("/cuda/sm_30.hpp", 373)
    assert ins[2].inlined_at == (("/cuda/sm_30.hpp", 457), ("/src/shuffles.cu", 43))
    assert ins[2].source == ("/src/shuffles.cu", 43)
    assert ins[3].text == "@P0 BRA `(.L_x_2) ;" and ins[3].opcode == "BRA"
    assert ins[3].source == ins[2].source  # a line carries over to the next comment
    assert ins[4].file is None and ins[4].source is None  # reset per function


def test_parse_life_ranges_reads_each_column():
    counts = sass.parse_life_ranges(LIFE_RANGES)
    assert counts == {("shfl_wide_types", 0): {"GPR": 1, "PRED": 0, "UGPR": 0},
                      ("shfl_wide_types", 0x190): {"GPR": 12, "PRED": 1, "UGPR": 2}}


def test_phase_starts_are_each_phases_first_sass_instruction():
    ptx = "\n".join(["// phase: setup", "a;", "b;", "// phase: loop (x)", "c;", "// phase: gone"])
    ins = [sass.SassInstruction("k", i, 16 * i, "NOP ;", "kernel.ptx", line)
           for i, line in enumerate([2, 5, 3, 5, None])]
    starts = sass.phase_starts(ptx, ins)
    assert [(p.short, p.ptx_line, p.index) for p in starts] == [("setup", 1, 0), ("loop", 4, 1)]


# -- ptxas and nvdisasm ------------------------------------------------------------------------
@needs_ptxas
@pytest.mark.parametrize("target", ["sm_80", "sm_90"])
@pytest.mark.parametrize("name", ["single-warp-debug", "multi-warp", "split-kv-mma",
                                  "split-kv-debug"])
def test_line_info_ptx_assembles_to_the_same_registers(name, target):
    kernel, _ = _kernel(name)
    plain, _ = assemble_with_cubin(kernel.emit(target), target)
    lined, cubin = assemble_with_cubin(kernel.emit(target, line_info=True), target,
                                       line_info=True)
    assert {e: r.registers for e, r in lined.items()} == {e: r.registers for e, r in plain.items()}
    assert cubin[:4] == b"\x7fELF"


@needs_tools
@pytest.mark.parametrize("name", ["multi-warp", "split-kv-mma"])
def test_sass_maps_to_builder_lines_and_through_ptx_lines_alike(name):
    """Every SASS instruction maps to a builder call of explorer/kernels; the same line comes
    out of the chain SASS -> PTX line -> `.loc`; and line info changes no SASS."""
    kernel, target = _kernel(name)
    ptx = kernel.emit(target, line_info=True)
    direct = sass.sass_listing(ptx, target).of(kernel.entry)
    assert len(direct) > 100
    for ins in direct:
        assert ins.file.startswith("explorer/kernels/"), ins
        assert BUILDER_CALL.search(_source_line(ins.file, ins.line)), ins
    live = sass.live_registers(ptx, kernel.entry, target)
    n = len(live.instructions)
    assert [i.text for i in live.instructions] == [i.text for i in direct[:n]]
    assert {i.opcode for i in direct[n:]} <= {"NOP"}  # the padding after the last instruction
    assert [live.sources[i.line] for i in live.instructions] == [(i.file, i.line)
                                                                 for i in direct[:n]]
    plain = sass.disassemble(assemble_with_cubin(kernel.emit(target), target)[1])
    assert [i.text for i in plain if i.function == kernel.entry] == [i.text for i in direct]


@needs_tools
def test_sass_of_any_ptx_maps_to_its_instruction_lines():
    kernel, target = _kernel("split-kv")
    ptx = kernel.emit(target)
    listing = sass.sass_listing(sass.with_ptx_locs(ptx), target)
    starts = {ins.line for k in parse_module(ptx).kernels for ins in k.body
              if isinstance(ins, Instruction)}
    groups = sass.group_by_line(listing.instructions)
    assert set(groups) <= starts and len(groups) > len(starts) // 2
    assert sum(map(len, groups.values())) == len(listing.instructions)  # none without a line
    assert {i.function for i in listing.instructions} == {k.entry for k in kernel.kernels}


@needs_tools
def test_nvcc_lineinfo_ptx_maps_sass_to_its_cuda_lines():
    listing = sass.sass_listing(SHUFFLES.read_text(), "sm_90")
    cu = SHUFFLES_CU.read_text().splitlines()
    assert len(listing.instructions) > 100
    for ins in listing.instructions:
        path, line = ins.source
        assert path.endswith("tests/corpus/src/shuffles.cu"), ins
        code = cu[line - 1].strip()
        assert code and not code.startswith("//"), (ins, code)
        if ins.opcode.startswith("SHFL"):
            assert "__shfl" in code, (ins, code)
            assert ins.file.endswith("sm_30_intrinsics.hpp")  # inlined from the intrinsic


@needs_tools
@pytest.mark.parametrize("name, phases", [
    ("multi-warp", ["setup", "load Q", "chunk loop", "warp reduction done", "cross-warp merge",
                    "rescale", "final sum"]),
    ("split-kv-mma", None),
])
def test_live_registers_along_the_phases(name, phases):
    kernel, target = _kernel(name)
    ptx = kernel.emit(target)
    live = sass.live_registers(ptx, kernel.entry, target)
    counts = live.counts
    assert len(counts) == len(live.instructions) > 100
    assert all(ins.live_gpr is not None and ins.live_pred is not None
               for ins in live.instructions)
    assert 0 < live.peak <= live.ptxas_registers and counts[live.peak_index] == live.peak
    marks = sass.phase_marks(ptx)
    if phases is not None:
        assert [p.short for p in live.phases] == phases
    assert [p.ptx_line for p in live.phases] == sorted(p.ptx_line for p in live.phases)
    for phase in live.phases:
        first = live.instructions[phase.index]
        after = [line for line, _ in marks if line > phase.ptx_line]
        assert phase.ptx_line < first.line < (after[0] if after else 10**9)
        earlier = live.instructions[:phase.index]
        assert not any(phase.ptx_line < i.line < (after[0] if after else 10**9)
                       for i in earlier)


def test_unknown_entry_names_the_functions():
    listing = sass.SassListing("sm_80", {}, (sass.SassInstruction("a", 0, 0, "EXIT ;"),))
    with pytest.raises(ValueError, match=r"'b'.*functions: a"):
        listing.of("b")


def test_live_registers_figure_draws_counts_phases_and_ptxas_count():
    plots = pytest.importorskip("explorer.plots", reason="plotly is a runtime dependency")
    ins = tuple(sass.SassInstruction("k", i, 16 * i, f"NOP{i} ;", "kernel.ptx", 10 + i,
                                     live_gpr=n, live_pred=0)
                for i, n in enumerate([1, 3, 7, 5, 2]))
    phases = (sass.PhaseStart("setup (pointers)", 9, 0), sass.PhaseStart("loop; x", 11, 2))
    live = sass.LiveRegisters("k", "sm_80", ins, phases, 16, {12: ("explorer/kernels/a.py", 4)})
    fig = plots.live_registers_figure(live)
    steps, peak = fig.data
    assert list(steps.y) == [1, 3, 7, 5, 2] and list(steps.x) == [0, 1, 2, 3, 4]
    assert "a.py:4" in steps.text[2] and "NOP2" in steps.text[2]
    assert (list(peak.x), list(peak.y)) == ([2], [7])
    lines = [(s.type, s.x0, s.y0) for s in fig.layout.shapes]
    assert ("line", 0, 0) in lines and ("line", 2, 0) in lines  # the phases' vertical lines
    assert any(s.y0 == 16 == s.y1 for s in fig.layout.shapes)  # ptxas' count
    texts = [a.text for a in fig.layout.annotations]
    assert {"setup", "loop", "ptxas: 16 registers"} <= set(texts)
