"""Tests for explorer.ptx.ptxas: the -v parser on recorded outputs, and real ptxas runs."""

from __future__ import annotations

import pytest

from explorer.ptx import ptxas as ptxas_mod
from explorer.ptx.ptxas import (
    PtxasError,
    PtxasNotFound,
    PtxasReport,
    assemble,
    assemble_cubin,
    find_ptxas,
    parse_verbose,
)

needs_ptxas = pytest.mark.skipif(
    find_ptxas() is None, reason="ptxas not installed: pip install nvidia-cuda-nvcc>=13,<14"
)

# recorded from ptxas 13.5 (pip wheel), -arch=sm_80 -v: two entries, cmem[0] printed
SM80_TWO_ENTRIES = """\
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'empty' for 'sm_80'
ptxas info    : Function properties for empty
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 4 registers, used 0 barriers, 352 bytes cmem[0]
ptxas info    : Compile time = 3.148 ms
ptxas info    : Compiling entry function 'tile_store' for 'sm_80'
ptxas info    : Function properties for tile_store
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 8 registers, used 1 barriers, 512 bytes smem, 360 bytes cmem[0]
ptxas info    : Compile time = 1.486 ms
"""

# recorded from ptxas 13.5, -arch=sm_90 -v --maxrregcount 24: spills, a new "cumulative stack
# size" field, no cmem, and a .func whose properties follow the entry
SM90_SPILLS = """\
ptxas info    : Overriding maximum register limit 256 for 'spill' with  24 of maxrregcount option
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'spill' for 'sm_90'
ptxas info    : Function properties for spill
    336 bytes stack frame, 516 bytes spill stores, 524 bytes spill loads
ptxas info    : Used 24 registers, used 0 barriers, 336 bytes cumulative stack size
ptxas info    : Compile time = 22.709 ms
ptxas info    : Function properties for addone
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
"""

# older ptxas style: no barriers or smem part, properties before the entry header
OLD_STYLE = """\
ptxas info    : Function properties for _Z4axpyfPfS_
    8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Compiling entry function '_Z4axpyfPfS_' for 'sm_75'
ptxas info    : Used 10 registers, 372 bytes cmem[0]
"""

SMALL_KERNEL = """\
.version 8.0
.target sm_80
.address_size 64

.visible .entry tile_store(
    .param .u64 out_ptr
)
{
    .reg .b32 %r<6>;
    .reg .b64 %rd<5>;
    .shared .align 4 .b32 tile[128];

    ld.param.u64 %rd1, [out_ptr];
    cvta.to.global.u64 %rd2, %rd1;
    mov.u32 %r1, %tid.x;
    shl.b32 %r2, %r1, 2;
    mov.u32 %r3, tile;
    add.s32 %r4, %r3, %r2;
    st.shared.u32 [%r4], %r1;
    bar.sync 0;
    xor.b32 %r5, %r2, 4;
    add.s32 %r4, %r3, %r5;
    ld.shared.u32 %r5, [%r4];
    mul.wide.u32 %rd3, %r1, 4;
    add.s64 %rd4, %rd2, %rd3;
    st.global.u32 [%rd4], %r5;
    ret;
}
"""
TILE_BYTES = 128 * 4
BAD_LINE = 21  # the xor line of SMALL_KERNEL


def test_parse_two_entries_with_barriers_smem_and_cmem():
    reports = parse_verbose(SM80_TWO_ENTRIES)
    assert list(reports) == ["empty", "tile_store"]
    tile = reports["tile_store"]
    assert tile == PtxasReport(
        entry="tile_store",
        target="sm_80",
        registers=8,
        spill_store_bytes=0,
        spill_load_bytes=0,
        stack_frame_bytes=0,
        shared_bytes=512,
        barriers=1,
        cmem_bytes=360,
        raw=tile.raw,
    )
    assert tile.raw.splitlines()[0].endswith("Compiling entry function 'tile_store' for 'sm_80'")
    assert "Used 8 registers" in tile.raw and "'empty'" not in tile.raw
    empty = reports["empty"]
    assert (empty.registers, empty.shared_bytes, empty.barriers, empty.cmem_bytes) == (4, 0, 0, 352)


def test_parse_spills_and_skips_non_entry_functions():
    reports = parse_verbose(SM90_SPILLS)
    assert list(reports) == ["spill"]
    spill = reports["spill"]
    assert (spill.target, spill.registers) == ("sm_90", 24)
    assert (spill.stack_frame_bytes, spill.spill_store_bytes, spill.spill_load_bytes) == (
        336,
        516,
        524,
    )
    assert spill.spill_bytes == 516 + 524
    assert (spill.shared_bytes, spill.barriers, spill.cmem_bytes) == (0, 0, 0)


def test_parse_missing_fields_read_zero_and_properties_may_come_first():
    report = parse_verbose(OLD_STYLE)["_Z4axpyfPfS_"]
    assert (report.registers, report.barriers, report.shared_bytes) == (10, 0, 0)
    assert (report.stack_frame_bytes, report.cmem_bytes, report.target) == (8, 372, "sm_75")


def test_parse_empty_text():
    assert parse_verbose("") == {}


@needs_ptxas
@pytest.mark.parametrize("target", ["sm_80", "sm_90"])
def test_assemble_small_kernel(target):
    reports = assemble(SMALL_KERNEL, target)
    assert list(reports) == ["tile_store"]
    report = reports["tile_store"]
    assert report.target == target
    assert report.registers > 0
    assert report.spill_bytes == 0
    assert report.shared_bytes == TILE_BYTES
    assert report.barriers == 1


@needs_ptxas
def test_assemble_cubin_is_an_elf():
    assert assemble_cubin(SMALL_KERNEL, "sm_80")[:4] == b"\x7fELF"


@needs_ptxas
def test_bad_ptx_names_the_line():
    bad = SMALL_KERNEL.replace("xor.b32", "xorr.b32")
    with pytest.raises(PtxasError) as info:
        assemble(bad, "sm_80")
    assert f"line {BAD_LINE}" in str(info.value)
    assert "sm_80" in str(info.value)
    assert "xorr" in info.value.stderr


@pytest.mark.parametrize("target", ["sm80", "compute_80", "sm_80b", "80", ""])
def test_bad_target_raises_value_error(target):
    with pytest.raises(ValueError, match="target"):
        assemble(SMALL_KERNEL, target)


def test_not_found_when_nothing_anywhere(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-ptxas"
    monkeypatch.setenv("PTXAS", str(missing))
    monkeypatch.setattr(ptxas_mod, "_tool_from_wheel", lambda name, subdirs: None)
    monkeypatch.setattr(ptxas_mod.shutil, "which", lambda name: None)
    assert find_ptxas() is None
    with pytest.raises(PtxasNotFound) as info:
        assemble(SMALL_KERNEL, "sm_80")
    message = str(info.value)
    assert "nvidia-cuda-nvcc" in message and "PTXAS=" in message and str(missing) in message


def test_env_override_comes_first(monkeypatch, tmp_path):
    fake = tmp_path / "ptxas"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PTXAS", str(fake))
    assert find_ptxas() == str(fake)


def test_find_tool_looks_in_the_variable_then_the_wheel_then_path(monkeypatch, tmp_path):
    fake = tmp_path / "nvdisasm"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("NVDISASM", str(fake))
    assert ptxas_mod.find_tool("nvdisasm", "NVDISASM", ("cu13/bin",)) == str(fake)
    monkeypatch.setenv("NVDISASM", str(tmp_path / "missing"))  # not executable: skipped
    monkeypatch.setattr(ptxas_mod, "_tool_from_wheel", lambda name, subdirs: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ptxas_mod.find_tool("nvdisasm", "NVDISASM", ("cu13/bin",)) == str(fake)
    monkeypatch.setenv("PATH", "")
    assert ptxas_mod.find_tool("nvdisasm", "NVDISASM", ("cu13/bin",)) is None
