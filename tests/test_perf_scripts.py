"""The scripts behind docs/performance.md's instruction counts and peers figure: the phase
counts add up and tell an empty split from one that streams, and the figure picks the rows it
says it draws."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_phase_counts_add_up_and_an_empty_split_does_less():
    script = _script("phase_instructions")
    options = dict(max_seq_len=256, num_heads=8, num_kv_heads=2, num_splits=4)
    entry, steps, by_phase, by_opcode = script.count(options, 1, 0, 1, 0)
    assert entry == "split_kv_attention"
    assert sum(by_phase.values()) == steps == sum(by_opcode.values())
    assert by_phase["final sum"] > 0 and by_phase["setup"] > 0
    _, streaming, streamed, _ = script.count(options, 1, 0, 0, 0)  # split 0 has the position
    assert streaming > steps and streamed["the last, partial tile"] > by_phase.get(
        "the last, partial tile", 0)
    entry, steps, by_phase, _ = script.count(options, 1, 1, 0, 0)
    assert entry == "split_kv_combine" and sum(by_phase.values()) == steps
    with pytest.raises(SystemExit, match="has 2 launch"):
        script.count(options, 1, 2, 0, 0)


def _row(group, kernel, seq_len, us, batch=1, **config):
    return {"group": group, "kernel": kernel, "seq_len": seq_len, "us_per_launch": us,
            "config": {"batch": batch, **config}}


def test_the_peers_figure_picks_our_default_rows_and_each_peer():
    pytest.importorskip("plotly")
    script = _script("plot_peers")
    rows = [_row("split-kv", "split-kv", 1024, 5.8, dtype="f16", mma=True),
            _row("split-kv", "split-kv", 1024, 6.1, dtype="f16", mma=True, pdl=True),
            _row("split-kv", "split-kv", 1024, 8.4, dtype="f16", mma=False),
            _row("split-kv", "split-kv", 1024, 5.3, dtype="f16", mma=True, merge="cluster"),
            _row("split-kv", "split-kv", 1024, 5.4, dtype="f16", mma=True, kv_dtype="e4m3"),
            _row("split-kv", "split-kv", 4096, 36.9, batch=8, dtype="f16", mma=True),
            _row("sdpa", "torch-sdpa", 1024, 7.8, dtype="f16"),
            _row("sdpa", "torch-sdpa", 1024, 63.4, dtype="f32"),
            _row("flashinfer", "flashinfer-single", 1024, 10.6, dtype="f16", kv_dtype="e4m3",
                 tensor_cores=True),
            _row("flashinfer", "flashinfer-single", 1024, 8.9, dtype="f16", kv_dtype="f16",
                 tensor_cores=True)]
    assert script._series(script._ours(rows)) == ({1024: 5.8}, {8: 36.9})
    assert script._series(script._ours(rows, "e4m3"))[0] == {1024: 5.4}
    assert script._series(script._sdpa(rows))[0] == {1024: 7.8}
    assert script._series(script._flashinfer(rows, "e4m3", True))[0] == {1024: 10.6}
    assert script._series(script._flashinfer(rows, "f16", True))[0] == {1024: 8.9}
    assert script._flashinfer(rows, "f16", False) == []
