"""The command line: each command works, and every user mistake is one line on stderr with
exit code 2 (no traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from explorer.app.gutter import without_line_info
from explorer.cli import main
from explorer.kernels import MultiWarpIncrementalAttentionKernel
from explorer.ptx.ptxas import find_ptxas


def test_emit_prints_the_kernels_ptx(capsys):
    assert main(["emit", "--head-dim", "64", "--warps", "2", "--target", "sm_90"]) == 0
    out = capsys.readouterr().out
    kernel = MultiWarpIncrementalAttentionKernel(512, 64, 32, 8, 2)  # the shared defaults
    assert out == kernel.emit("sm_90")


def test_emit_with_line_info_names_the_python_lines(capsys):
    assert main(["emit", "--kernel", "split-kv", "--dtype", "f16", "--line-info"]) == 0
    out = capsys.readouterr().out
    assert '.file 1 "explorer/kernels/' in out and "\t.loc 1 " in out
    plain, _ = without_line_info(out)
    assert main(["emit", "--kernel", "split-kv", "--dtype", "f16"]) == 0
    assert plain == capsys.readouterr().out  # the same PTX less its line info


def test_emit_single_warp_indirect(capsys):
    assert main(["emit", "--kernel", "single-warp", "--indirect"]) == 0
    assert ".entry incremental_attention_indirect(" in capsys.readouterr().out


@pytest.mark.skipif(find_ptxas() is None, reason="ptxas not installed (nvidia-cuda-nvcc)")
def test_resources_reports_ptxas_figures(capsys):
    assert main(["resources", "--warps", "8", "--target", "sm_90"]) == 0
    out = capsys.readouterr().out
    assert "registers" in out and "spill bytes    0" in out
    assert f"shared bytes   {(2 * 8 + 2 + 8 * 128) * 4}" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["emit", "--head-dim", "300"], "head_dim=300"),
        (["emit", "--head-dim", "0"], "head_dim=0"),
        (["emit", "--warps", "33"], "num_warps=33"),
        (["emit", "--warps", "x"], "--warps"),
        (["emit", "--num-heads", "12", "--num-kv-heads", "5"], "num_kv_heads=5"),
        (["emit", "--max-seq-len", "-1"], "max_seq_len=-1"),
        (["emit", "--max-seq-len", "20000000", "--head-dim", "256"], "32-bit"),
        (["emit", "--target", "sm_70"], "--target"),
        (["emit", "--kernel", "single-warp", "--warps", "4"], "--warps"),
        (["emit", "--scale", "nan"], "scale"),
        (["check", "--seq-len", "5000"], "seq_len=5000"),
        (["check", "--seq-len", "-3"], "seq_len=-3"),
        (["bogus"], "bogus"),
        ([], "command"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("explorer: error:")
    assert words in err


def test_module_entry_point_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "emit", "--head-dim", "999"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "head_dim=999" in proc.stderr


def test_check_without_a_gpu_says_so(capsys, monkeypatch):
    import explorer.runtime.cuda as cuda
    from explorer.runtime.errors import BackendUnavailable

    def no_gpu():
        raise BackendUnavailable("the cuda backend found no GPU (test)")

    monkeypatch.setattr(cuda, "cupy", no_gpu)
    assert main(["check", "--backend", "cuda", "--max-seq-len", "64", "--seq-len", "8"]) == 3
    assert "no GPU" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["snapshot", "--max-seq-len", "64"], ["bench"]])
def test_an_unwritable_output_folder_is_one_line_and_exit_2(command, capsys):
    assert main([*command, "--out", "/proc/nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("explorer: error: --out /proc/nope: cannot write there")
    assert "\n" not in err and "Traceback" not in err
