"""The parts of scripts/sanitize.py that need no GPU: the case grid covers every case asked for
(every kernel, indirect on and off, debug on and off, the seq_len edges, device lengths past
max_seq_len), the grid runs and matches the reference (here on the simulator, at a small
max_seq_len), the sanitizer's summary lines are read right, and the summary files are written.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer import sim
from explorer.kernels import KERNELS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sanitize.py"
_spec = importlib.util.spec_from_file_location("sanitize", SCRIPT)
sanitize = sys.modules["sanitize"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sanitize)


@pytest.mark.parametrize("quick", [False, True])
def test_grid_covers_every_kernel_mode_and_edge_length(quick):
    grid = sanitize.cases(quick)
    assert {c.kernel for c in grid} == set(KERNELS)
    seed = [c for c in grid if c.kernel != "split-kv"]
    modes = {(c.kwargs["indirect_seq_len"], c.kwargs["debug"]) for c in seed}
    assert modes == {(False, False), (False, True), (True, False), (True, True)}
    assert {c.kwargs["dtype"] for c in grid if c.kernel == "split-kv"} >= {"f32", "f16"}
    for case in grid:
        kernel = case.build()
        m = kernel.max_seq_len
        firsts = {lengths[0] for lengths in case.lengths}
        assert {0, 1, m, m + 1, 2**31, 2**32 - 1} <= firsts, case.name
        assert all(len(lengths) == kernel.batch for lengths in case.lengths)
        if kernel.batch > 1:
            assert any(len(set(lengths)) > 1 for lengths in case.lengths)


def test_full_grid_is_every_dtype_and_fits_the_time_budget():
    grid = sanitize.cases()
    assert {c.kwargs["dtype"] for c in grid if c.kernel == "split-kv"} == {"f32", "f16", "bf16"}
    assert {c.kwargs.get("num_warps") for c in grid if c.kernel == "multi-warp"} >= {1, 32}
    runs = sum(len(c.lengths) for c in grid)
    assert 1500 <= runs <= 2500  # a minute or two per tool on an H100 or H200


def test_planted_bugs_are_real_bugs():
    """The controls parse, and the simulator catches three of them as the sanitizer must (it
    has no model of uninitialised global memory, initcheck's planted bug)."""
    out = np.zeros(64, dtype=np.uint32)
    ptx = sanitize.CONTROL_PTX
    with pytest.raises(sim.SimError, match="out-of-bounds global store"):
        sim.launch(ptx, "past_the_end", 1, 32, [out, 64])
    with pytest.raises(sim.SimError, match="shared-memory race"):
        sim.launch(ptx, "shared_race", 1, 64, [out], check_races=True)
    with pytest.raises(sim.SimError, match="divergent barrier"):
        sim.launch(ptx, "divergent_barrier", 1, 32, [out])
    sim.launch(ptx, "read_uninitialised", 1, 32, [np.empty(64, np.uint32), out])
    assert set(sanitize.CONTROLS) == set(sanitize.TOOLS)


def test_quick_grid_runs_and_matches_the_reference_on_the_simulator():
    grid = sanitize.cases(quick=True, max_seq_len=40)
    report = sanitize.run_cases(grid, "sim")  # the child's grid, on the simulator
    assert report.failures == []
    assert report.runs == sum(len(c.lengths) for c in grid)
    assert report.launches > report.runs  # split-kv runs are two launches


SAMPLES = [
    ("memcheck", "========= COMPUTE-SANITIZER\n========= ERROR SUMMARY: 0 errors\n", 0, 0),
    ("initcheck", "========= ERROR SUMMARY: 3 errors\n", 3, 0),
    ("synccheck", "========= ERROR SUMMARY: 1 error\n", 1, 0),
    ("racecheck", "========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)\n",
     0, 0),
    ("racecheck", "========= RACECHECK SUMMARY: 5 hazards displayed (2 errors, 3 warnings)\n",
     2, 3),
    ("memcheck", "Traceback (most recent call last):\n  ...\n", None, 0),
    ("none", "", 0, 0),
]


@pytest.mark.parametrize("tool, log, errors, warnings", SAMPLES)
def test_summary_lines_are_read(tool, log, errors, warnings):
    assert sanitize.parse_summary(tool, log) == {"errors": errors, "warnings": warnings}


def test_results_and_summary_files(tmp_path):
    report = {"launches": 12, "runs": 10, "seconds": 3.5, "failures": []}
    clean = sanitize.tool_result("memcheck", 0, "ERROR SUMMARY: 0 errors", report,
                                 "ERROR SUMMARY: 1 error")
    blind = sanitize.tool_result("memcheck", 0, "ERROR SUMMARY: 0 errors", report,
                                 "ERROR SUMMARY: 0 errors")
    dirty = sanitize.tool_result("initcheck", 1, "ERROR SUMMARY: 2 errors", report)
    crashed = sanitize.tool_result("racecheck", -1, "TIMEOUT", None)
    assert clean["ok"] and not blind["ok"] and not dirty["ok"] and not crashed["ok"]
    assert crashed["reference_failures"] == ["the child wrote no report"]
    sanitize.write_summary(tmp_path, {"device": "test", "date": "2026-11-27"},
                           [clean, dirty, crashed])
    summary = json.loads((tmp_path / "sanitize.json").read_text())
    assert [r["tool"] for r in summary["tools"]] == ["memcheck", "initcheck", "racecheck"]
    table = (tmp_path / "sanitize.md").read_text()
    assert "| memcheck | 12 | 10 | 0 | 0 | all match | found (1) | 3.5 |" in table
    assert "| racecheck | 0 | 0 | no summary |" in table


def test_commands():
    report = Path("/tmp/r.json")
    cmd = sanitize.sanitizer_command("/cs", "racecheck", report, quick=True)
    assert cmd[:5] == ["/cs", "--tool", "racecheck", "--error-exitcode", "1"]
    assert cmd[-3:] == ["--child", str(report), "--quick"]
    planted = sanitize.sanitizer_command("/cs", "memcheck", report, False, planted=True)
    assert planted[-2:] == ["--control", "memcheck"]
    assert sanitize.sanitizer_command(None, "none", report, quick=False)[-2:] == [
        "--child", str(report)]
    some = sanitize.sanitizer_command("/cs", "memcheck", report, False, match="merge=cluster")
    assert some[-2:] == ["--match", "merge=cluster"]  # the child runs those cases only
    assert "--match" not in sanitize.sanitizer_command("/cs", "memcheck", report, False,
                                                       planted=True, match="merge=cluster")


def test_match_picks_cases_by_name_and_refuses_one_that_names_none(capsys):
    grid = sanitize.cases()
    cluster = sanitize.matching(grid, "merge=cluster")
    assert len(cluster) == 4 and all(c.kwargs["merge"] == "cluster" for c in cluster)
    assert sanitize.matching(grid, "") == grid
    with pytest.raises(SystemExit):
        sanitize.main(["/tmp/unused", "--tools", "none", "--match", "no-such-case"])
    assert "names no case of the grid" in capsys.readouterr().err


def test_bad_tool_and_missing_sanitizer(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        sanitize.main([str(tmp_path), "--tools", "memcheck,bogus"])
    assert exit_.value.code == 2
    monkeypatch.setattr(sanitize, "find_sanitizer", lambda: None)
    assert sanitize.main([str(tmp_path), "--tools", "memcheck"]) == 2
    assert "compute-sanitizer not found" in capsys.readouterr().err


def test_a_summary_names_the_first_reports(tmp_path):
    """The log of the run that found 34 errors and kept only the count: the summary now says
    what they were (here cuda-bindings' probes of driver entry points, the cause then)."""
    probe = ('========= Program hit CUDA_ERROR_INVALID_VALUE (error 1) due to "invalid '
             'argument" on CUDA API call to cuGetProcAddress_v2.\n'
             "=========     Saved host backtrace up to driver entry point at error\n"
             "=========         Host Frame:  [0xd4a2] in cydriver.so\n")
    access = ("========= Invalid __global__ read of size 4 bytes\n"
              "=========     at split_kv+0x1f0\n"
              "=========     by thread (3,0,0) in block (1,0,0)\n")
    log = probe * 3 + access + "========= ERROR SUMMARY: 4 errors\n"
    assert sanitize.first_reports(log) == [
        'Program hit CUDA_ERROR_INVALID_VALUE (error 1) due to "invalid argument" on CUDA '
        "API call to cuGetProcAddress_v2. (Saved host backtrace up to driver entry point at "
        "error)",
        "Invalid __global__ read of size 4 bytes (at split_kv+0x1f0)"]
    report = {"launches": 1, "runs": 1, "seconds": 1.0, "failures": []}
    row = sanitize.tool_result("memcheck", 1, log, report)
    assert not row["ok"] and len(row["first_reports"]) == 2
    assert sanitize.tool_result("memcheck", 0, "ERROR SUMMARY: 0 errors",
                                report)["first_reports"] == []
    sanitize.write_summary(tmp_path, {"date": "2026-12-01"}, [row])
    assert "- memcheck reported: Invalid __global__ read of size 4 bytes (at split_kv+0x1f0)" \
        in (tmp_path / "sanitize.md").read_text()
