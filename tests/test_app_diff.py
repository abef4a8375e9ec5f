"""PTX diffs: counts agree with difflib, both configurations are named, both modes render, and a
one-parameter change touches only the lines that depend on it."""

from __future__ import annotations

import difflib
import html as html_module
import re

import pytest

from explorer.app.diff import MODES, diff_counts, render_diff, side_by_side, unified
from explorer.kernels import MultiWarpIncrementalAttentionKernel as MultiWarp


def text_of(html: str) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def ptx(head_dim=128, warps=4):
    return MultiWarp(512, head_dim, 32, 8, warps).emit("sm_90")


def test_counts_agree_with_difflib():
    a, b = ptx(), ptx(head_dim=64)
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0))
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    assert diff_counts(a, b) == (added, removed)


def test_changing_warps_changes_the_shared_declaration_and_few_lines():
    a, b = ptx(head_dim=64, warps=4), ptx(head_dim=64, warps=8)
    added, removed = diff_counts(a, b)
    assert 0 < added == removed < 30  # stable register names: a readable diff
    html = text_of(unified(a, b, "previous: 4 warps", "current: 8 warps").html)
    assert "smem[1064]" in html and "smem[2120]" in html
    assert "previous: 4 warps" in html and "current: 8 warps" in html
    assert f"+{added}" in html and f"−{removed}" in html


@pytest.mark.parametrize("mode", MODES)
def test_both_modes_render_the_same_counts(mode):
    a, b = ptx(), ptx(warps=2)
    diff = render_diff(a, b, "old", "new", mode)
    assert (diff.added, diff.removed) == diff_counts(a, b)
    assert diff.summary == f"+{diff.added} −{diff.removed}"


def test_side_by_side_pads_the_shorter_side():
    a = "x\ny\nz\n"
    b = "x\nw\n"
    diff = side_by_side(a, b, "a", "b")
    assert (diff.added, diff.removed) == (1, 2)
    assert diff.html.count("<tr>") == 3  # x | x, y | w, z | (padding)


def test_identical_texts_say_so():
    assert "identical" in text_of(unified(ptx(), ptx(), "a", "b").html)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="diff mode"):
        render_diff("a", "b", "a", "b", "sideways")


def test_side_by_side_wraps_long_lines_instead_of_cutting_them():
    long_line = "    ld.global.nc.v4.f32 {%f1, %f2, %f3, %f4}, [%rd99+" + "1" * 120 + "];"
    diff = side_by_side("ret;\n", long_line + "\nret;\n", "a", "b")
    assert "1" * 120 in diff.html
    assert "white-space:pre-wrap" in diff.html
