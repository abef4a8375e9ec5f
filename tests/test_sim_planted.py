"""Planted bugs: each bad kernel makes the simulator raise the right `SimError`, naming the PTX
line, the instruction and the ctaid, tid and lane of the first offending thread."""

from __future__ import annotations

import numpy as np
import pytest
from sim_ptx import OUT_PROLOGUE, module

from explorer import sim
from explorer.kernels import MultiWarpIncrementalAttentionKernel
from explorer.verify import make_inputs


def line_of(ptx: str, text: str) -> int:
    """The 1-based line of the PTX holding `text` (exactly one)."""
    hits = [n for n, line in enumerate(ptx.splitlines(), 1) if text in line]
    assert len(hits) == 1, hits
    return hits[0]


def raises(ptx: str, args, grid=1, block=32, **kw) -> sim.SimError:
    with pytest.raises(sim.SimError) as err:
        sim.launch(ptx, "k", grid, block, args, **kw)
    return err.value


def assert_names(err: sim.SimError, ptx: str, text: str, tid: int, cta: int = 0) -> None:
    message = str(err)
    assert f"line {line_of(ptx, text)} `{text}" in message, message
    assert f"ctaid ({cta},0,0) tid ({tid},0,0) lane {tid % 32}" in message, message


def planted(body: str, why: str, at: str, tid: int, shared: str = "", words: int = 32,
            **launch) -> sim.SimError:
    """Run `body` in a kernel with one `out` pointer of `words` u32s; the SimError must say
    `why` and name the line holding `at` and thread `tid`."""
    ptx = module(".param .u64 out", body, shared)
    err = raises(ptx, [np.zeros(words, np.uint32)], **launch)
    assert why in str(err), str(err)
    assert_names(err, ptx, at, tid=tid)
    return err


def test_out_of_bounds_global_store():
    store = "st.global.u32 [%rd3], %r1;"
    planted(f"{OUT_PROLOGUE}\t{store}\n\tret;",
            "out-of-bounds global store of 4 bytes at out+244: the buffer has 244 bytes",
            store, tid=61, words=61, grid=2, block=64)


def test_out_of_bounds_store_of_a_real_kernel_given_a_short_output():
    kernel = MultiWarpIncrementalAttentionKernel(64, 80, 4, 1, 3)
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    out = np.zeros((kernel.num_heads - 1, kernel.head_dim), np.float32)  # one head short
    with pytest.raises(sim.SimError, match=r"out_ptr.*ctaid \(3,0,0\) tid \(0,0,0\) lane 0"):
        sim.launch(kernel.emit(), kernel.entry, kernel.grid, kernel.block, [q, k, v, out, 50])


def test_shared_address_that_assumes_the_symbol_sits_at_zero():
    body = OUT_PROLOGUE + "\tshl.b32 %r2, %r1, 2;\n\tst.shared.u32 [%r2], %r1;\n\tret;"
    planted(body, "out-of-bounds shared store of 4 bytes at shared address 0x0",
            "st.shared.u32 [%r2], %r1;", tid=0, shared="\t.shared .align 4 .b8 smem[128];\n")


DIVERGENT_BARRIER = (
    OUT_PROLOGUE
    + """
	setp.lt.u32 %p1, %r1, 32;
	@!%p1 bra $L__skip;
	bar.sync 0;
$L__skip:
	ret;
"""
)


def test_barrier_inside_a_divergent_branch():
    ptx = module(".param .u64 out", DIVERGENT_BARRIER)
    err = raises(ptx, [np.zeros(64, np.uint32)], block=64)
    assert f"wait at line {line_of(ptx, 'bar.sync 0;')} `bar.sync`" in str(err)
    assert_names(err, ptx, "ret;", tid=32)


IF_ELSE_BARRIERS = (
    OUT_PROLOGUE
    + """
	setp.lt.u32 %p1, %r1, 32;
	@!%p1 bra $L__else;
	bar.sync 0;
	bra.uni $L__end;
$L__else:
	bar.sync 1;
$L__end:
	ret;
"""
)


def test_threads_of_one_cta_at_different_barriers_deadlock():
    ptx = module(".param .u64 out", IF_ELSE_BARRIERS)
    err = raises(ptx, [np.zeros(64, np.uint32)], grid=2, block=64)
    lines = f"line {line_of(ptx, 'bar.sync 0;')}, line {line_of(ptx, 'bar.sync 1;')}"
    assert f"wait at different bar.sync instructions ({lines})" in str(err)
    assert_names(err, ptx, "bar.sync 0;", tid=0)


RACE = (
    OUT_PROLOGUE
    + """
	mov.u32 %r2, smem;
	shl.b32 %r3, %r1, 2;
	add.u32 %r4, %r2, %r3;
	st.shared.u32 [%r4], %r1;
	{barrier}
	ld.shared.u32 %r5, [%r4+4];
	st.global.u32 [%rd3], %r5;
	ret;
"""
)
SMEM = "\t.shared .align 4 .b8 smem[260];\n"


def test_missing_barrier_is_a_race_when_asked():
    ptx = module(".param .u64 out", RACE.format(barrier=""), SMEM)
    out = np.zeros(64, np.uint32)
    sim.launch(ptx, "k", 1, 64, [out])  # races are only reported when asked
    err = raises(ptx, [out], block=64, check_races=True)
    message = str(err)
    assert "shared-memory race: read after another thread's write of shared byte 0x104" in message
    assert f"on line {line_of(ptx, 'st.shared.u32 [%r4], %r1;')}" in message
    assert_names(err, ptx, "ld.shared.u32 %r5, [%r4+4];", tid=0)
    assert "[other thread: ctaid (0,0,0) tid (1,0,0) lane 1]" in message


def test_the_same_exchange_behind_a_barrier_is_no_race():
    ptx = module(".param .u64 out", RACE.format(barrier="bar.sync 0;"), SMEM)
    out = np.zeros(64, np.uint32)
    sim.launch(ptx, "k", 1, 64, [out], check_races=True)
    assert (out[:63] == np.arange(1, 64)).all()


def test_two_threads_writing_one_word_race():
    body = OUT_PROLOGUE + "\tmov.u32 %r2, smem;\n\tst.shared.u32 [%r2], %r1;\n\tret;"
    ptx = module(".param .u64 out", body, SMEM)
    err = raises(ptx, [np.zeros(32, np.uint32)], check_races=True)
    assert "two threads write" in str(err)


@pytest.mark.parametrize(
    "line,why",
    [
        ("ld.local.u32 %r2, [%rd3];", ".local memory is not modelled"),
        ("bar.sync %r1;", "barrier number in a register"),
        ("fma.rn.f64 %fd1, %fd2, %fd2, %fd2;", "f32 only"),
        ("div.rz.f32 %f1, %f2, %f2;", "rounding .rz"),
    ],
)
def test_unsupported_instruction(line, why):
    err = planted(OUT_PROLOGUE + f"\t{line}\n\tret;", why, line, tid=0)
    assert "unsupported instruction" in str(err)


def test_infinite_loop_hits_the_step_limit():
    ptx = module(".param .u64 out", OUT_PROLOGUE + "$L__spin:\n\tbra.uni $L__spin;\n\tret;")
    err = raises(ptx, [np.zeros(32, np.uint32)], max_steps=1000)
    assert "step limit of 1000 group-steps exceeded (probable infinite loop" in str(err)
    assert_names(err, ptx, "bra.uni $L__spin;", tid=0)


def test_read_of_a_register_no_thread_wrote():
    planted(OUT_PROLOGUE + "\tadd.u32 %r2, %r9, 1;\n\tret;", "read of uninitialised register %r9",
            "add.u32 %r2, %r9, 1;", tid=0)


def test_read_of_a_register_only_some_threads_wrote():
    body = (
        OUT_PROLOGUE
        + """
	setp.lt.u32 %p1, %r1, 20;
	@%p1 mov.u32 %r9, 7;
	@%p1 add.u32 %r2, %r9, 1;
	add.u32 %r3, %r9, 1;
	ret;
"""
    )
    # guarded-off threads do not read
    planted(body, "read of uninitialised register %r9", "add.u32 %r3, %r9, 1;", tid=20)


NOT_CONVERGED = (
    OUT_PROLOGUE
    + """
	setp.lt.u32 %p1, %r1, 16;
	@!%p1 bra $L__end;
	shfl.sync.down.b32 %r2, %r1, 1, 31, {mask};
	st.global.u32 [%rd3], %r2;
$L__end:
	ret;
"""
)


def test_shfl_whose_member_mask_names_lanes_that_diverged():
    planted(NOT_CONVERGED.format(mask="-1"), "shfl.sync not converged: lane(s) [16, 17,",
            "shfl.sync.down.b32 %r2, %r1, 1, 31, -1;", tid=0)


def test_shfl_reading_a_lane_outside_the_member_mask():
    planted(NOT_CONVERGED.format(mask="65535"), "reads lane 16, which is not executing this "
            "instruction", "shfl.sync.down.b32 %r2, %r1, 1, 31, 65535;", tid=15)


def test_shfl_by_a_thread_outside_its_member_mask():
    shfl = "shfl.sync.idx.b32 %r2, %r1, 0, 31, 65535;"
    planted(f"{OUT_PROLOGUE}\t{shfl}\n\tret;", "the thread's lane is not in membermask", shfl,
            tid=16)


def test_a_converged_half_warp_with_its_own_mask_is_fine():
    ptx = module(
        ".param .u64 out",
        NOT_CONVERGED.format(mask="65535").replace("1, 31, 65535", "1, 15, 65535"),
    )
    out = np.zeros(32, np.uint32)
    sim.launch(ptx, "k", 1, 32, [out])
    assert (out[:16] == np.minimum(np.arange(16) + 1, 15)).all()


def test_the_real_kernel_without_its_first_barrier_races():
    kernel = MultiWarpIncrementalAttentionKernel(64, 80, 4, 1, 3)
    ptx = kernel.emit()
    assert ptx.count("\tbar.sync 0;\n") == 3
    broken = ptx.replace("\tbar.sync 0;\n", "", 1)
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    out = np.zeros((4, 80), np.float32)
    args = [q, k, v, out, 50]
    sim.launch(broken, kernel.entry, kernel.grid, kernel.block, args)  # silently wrong
    with pytest.raises(sim.SimError) as err:
        sim.launch(broken, kernel.entry, kernel.grid, kernel.block, args, check_races=True)
    message = str(err.value)
    assert "read after another thread's write of shared byte 0x104 (smem+4)" in message
    assert "ctaid (0,0,0) tid (0,0,0) lane 0] [other thread: ctaid (0,0,0) tid (32,0,0)" in message
