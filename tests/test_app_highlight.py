"""PTX highlighting: the fixed lexer types predicates, hex floats and modifier chains, never
emits Error tokens, and the HTML has inline styles, line numbers and phase marks."""

from __future__ import annotations

import re

import pytest
from pygments import lex
from pygments.lexers.ptx import PtxLexer
from pygments.token import Error

from explorer.app.highlight import (
    FixedPtxLexer,
    Guard,
    HexFloat,
    Modifier,
    Opcode,
    PhaseComment,
    PtxHtmlFormatter,
    Space,
    Type,
    hex_float_value,
    highlight_lines,
    phases,
    render_ptx,
    short_phase,
)
from explorer.app.state import Config, build_kernel
from explorer.kernels import KERNELS, TARGETS
from explorer.kernels import MultiWarpIncrementalAttentionKernel as MultiWarp


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in lex(text, FixedPtxLexer()) if v.strip()]


def test_predicate_guards_are_one_token_not_errors():
    line = "\t@!%p4 bra $L_end;\n\t@%p3 st.shared.f32 [%r18], %f9;\n"
    assert [t for t, _ in lex(line, PtxLexer()) if t in Error], "Pygments' gap is gone?"
    found = tokens(line)
    assert (Guard, "@!") in found and (Guard, "%p4") in found and (Guard, "@") in found
    assert not [t for t, _ in found if t in Error]


def test_hex_floats_are_one_number_with_their_value():
    assert (HexFloat, "0fFF800000") in tokens("\tmov.f32 %f9, 0fFF800000;\n")
    assert hex_float_value("0fFF800000") == "-inf"
    assert hex_float_value("0f3FB8AA3B") == "1.44269502"
    assert hex_float_value("0d3FF0000000000000") == "1"


def test_modifier_chains_are_split_and_typed():
    found = tokens("\tshfl.sync.down.b32 %f1, %f2, 16, 31, -1;\n\tld.shared.f32 %f3, [smem];\n")
    assert found[:4] == [(Opcode, "shfl"), (Modifier, ".sync"), (Modifier, ".down"),
                         (Type, ".b32")]
    assert (Space, ".shared") in found and (Type, ".f32") in found


TYPED_BY_GROUP = {
    "ld.relaxed.gpu.global.nc.L1::no_allocate.v4.f32 {%f1, %f2, %f3, %f4}, [%rd1]": [
        (Modifier, ".relaxed"), (Modifier, ".gpu"), (Space, ".global"), (Modifier, ".nc"),
        (Modifier, ".L1::no_allocate"), (Modifier, ".v4"), (Type, ".f32")],
    "atom.global.add.u32 %r1, [%rd2], 1": [(Space, ".global"), (Modifier, ".add"),
                                           (Type, ".u32")],
    "cvt.rn.f32.u32 %f5, %r1": [(Modifier, ".rn"), (Type, ".f32"), (Type, ".u32")],
}


@pytest.mark.parametrize(("line", "modifiers"), TYPED_BY_GROUP.items())
def test_modifiers_are_typed_by_the_group_of_the_opcode_row(line, modifiers):
    found = tokens(f"\t{line};\n")
    assert found[: 1 + len(modifiers)] == [(Opcode, line.split(".")[0]), *modifiers]


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("target", [TARGETS[0], "sm_90"])
def test_no_error_tokens_in_any_kernel(kernel, target):
    ptx = build_kernel(Config(kernel=kernel, head_dim=96, num_heads=8, gqa_ratio=4)).emit(target)
    assert not [(t, v) for t, v in lex(ptx, FixedPtxLexer()) if t in Error]


def test_html_has_inline_styles_line_numbers_and_phase_marks():
    ptx = MultiWarp(512, 128, 32, 8, 4).emit("sm_90")
    html = render_ptx(ptx)
    assert "class=" not in html and "<style" not in html
    assert len(highlight_lines(ptx)) == ptx.count("\n")
    marks = phases(ptx)
    assert [short_phase(m.name) for m in marks][:3] == ["setup", "load Q", "chunk loop"]
    numbers = re.findall(r'user-select:none">(\d+)</span>', html)
    assert numbers == [str(n) for n in range(1, ptx.count("\n") + 1)]
    assert html.count("background:#fff8c5") == len(marks)  # one band per phase mark
    assert (PhaseComment, "// phase: " + marks[0].name) in tokens(ptx)


def test_formatter_through_pygments_highlight():
    from pygments import highlight

    ptx = MultiWarp(64, 32, 4, 1, 2).emit("sm_80")
    assert highlight(ptx, FixedPtxLexer(), PtxHtmlFormatter()) == render_ptx(ptx)


def test_a_range_of_lines_is_rendered():
    ptx = MultiWarp(64, 32, 4, 1, 2).emit("sm_80")
    html = render_ptx(ptx, 5, 9)
    assert re.findall(r'user-select:none">(\d+)</span>', html) == ["5", "6", "7", "8", "9"]


def test_phase_names_keep_their_words_after_a_comma():
    assert short_phase("the last, partial tile (positions past the split masked)") == (
        "the last, partial tile")
    assert short_phase("warp reduction done; lane 0 holds the sum") == "warp reduction done"
