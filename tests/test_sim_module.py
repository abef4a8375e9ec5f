"""The simulator at module level, as nvcc and Triton write PTX: dynamic shared memory sized at
launch, the finding (not strict) of shared code that assumes its symbol sits at address 0,
`.func` calls, barriers with numbers and counts, generic addresses, the step limit naming the
loop, and the directives other generators write around the code."""

from __future__ import annotations

import numpy as np
import pytest
from sim_ptx import HEADER, OUT_PROLOGUE, module

from explorer import sim
from explorer.ptx import PtxParseError
from explorer.ptx.parser import parse_module

DYNAMIC = "\t.extern .shared .align 16 .b8 dyn[];\n"
THROUGH_DYNAMIC = OUT_PROLOGUE + """
	mov.u32 %r2, dyn;
	shl.b32 %r3, %r1, 2;
	add.s32 %r4, %r2, %r3;
	st.shared.u32 [%r4], %r1;
	bar.sync 0;
	xor.b32 %r5, %r3, 4;
	add.s32 %r6, %r2, %r5;
	ld.shared.u32 %r7, [%r6];
	st.global.u32 [%rd3], %r7;
	ret;
"""


def test_extern_shared_is_sized_by_shared_bytes() -> None:
    ptx = module(".param .u64 out", THROUGH_DYNAMIC, DYNAMIC)
    out = np.zeros(32, np.uint32)
    result = sim.launch(ptx, "k", 1, 32, [out], shared_bytes=128)
    assert (out == np.arange(32) ^ 1).all() and result.findings == ()
    with pytest.raises(sim.SimError, match=r"out-of-bounds shared store .* dyn at \[0x100, "
                                           r"0x140\).*tid \(16,0,0\)"):
        sim.launch(ptx, "k", 1, 32, [out], shared_bytes=64)


@pytest.mark.parametrize("value", [-1, 227 * 1024 + 1, 1.5, True])
def test_shared_bytes_outside_the_hardware_is_a_value_error(value) -> None:
    ptx = module(".param .u64 out", THROUGH_DYNAMIC, DYNAMIC)
    with pytest.raises(ValueError, match="shared_bytes"):
        sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.uint32)], shared_bytes=value)


def test_static_and_dynamic_shared_together_are_held_to_227_kb() -> None:
    ptx = module(".param .u64 out", THROUGH_DYNAMIC, "\t.shared .b8 tile[40960];\n" + DYNAMIC)
    sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.uint32)], shared_bytes=227 * 1024 - 40960)
    with pytest.raises(ValueError, match=r"outside 0\.\.191488 .* 40960 static"):
        sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.uint32)], shared_bytes=191489)


# Shared memory addressed by raw offsets from 0, as code that assumes its one `.shared` array
# sits at address 0 does.
RAW_OFFSETS = OUT_PROLOGUE + """
	shl.b32 %r5, %r1, 2;
	cvt.rn.f32.u32 %f1, %r1;
	st.shared.f32 [%r5], %f1;
	bar.sync 0;
	ld.shared.f32 %f2, [%r5+4];
	st.global.f32 [%rd3], %f2;
	ret;
"""
SMEM = "\t.shared .align 4 .b8 smem[132];\n"


def test_raw_shared_offsets_are_an_error_when_strict() -> None:
    ptx = module(".param .u64 out", RAW_OFFSETS, SMEM)
    with pytest.raises(sim.SimError, match="out-of-bounds shared store of 4 bytes at shared "
                                           "address 0x0"):
        sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.float32)])  # strict is the default


def test_raw_shared_offsets_are_a_finding_naming_the_line_when_not_strict() -> None:
    ptx = module(".param .u64 out", RAW_OFFSETS, SMEM)
    out = np.zeros(32, np.float32)
    with pytest.warns(sim.SimWarning, match="is outside every declared shared symbol"):
        result = sim.launch(ptx, "k", 1, 32, [out], strict=False)
    store = ptx.splitlines().index("\tst.shared.f32 [%r5], %f1;") + 1
    load = ptx.splitlines().index("\tld.shared.f32 %f2, [%r5+4];") + 1
    assert [(f.line, f.instruction) for f in result.findings] == [
        (store, "st.shared.f32 [%r5], %f1;"), (load, "ld.shared.f32 %f2, [%r5+4];")]
    assert str(result.findings[0]) == (
        f"line {store} `st.shared.f32 [%r5], %f1;`: shared address 0x0 is outside every "
        "declared shared symbol; this relies on the symbol sitting at offset 0")
    assert out[:31].tolist() == list(range(1, 32))  # the accesses went where the GPU's go


def test_an_access_outside_every_symbol_even_from_0_stays_an_error() -> None:
    ptx = module(".param .u64 out", RAW_OFFSETS, "\t.shared .align 4 .b8 smem[64];\n")
    with pytest.raises(sim.SimError, match="out-of-bounds shared store"):
        sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.float32)], strict=False)


FUNCTIONS = """
.func (.param .b32 func_retval0) twice(
	.param .b32 twice_param_0
)
{
	.reg .b32 %r<3>;
	ld.param.u32 %r1, [twice_param_0];
	add.u32 %r2, %r1, %r1;
	st.param.b32 [func_retval0+0], %r2;
	ret;
}
.func (.param .b32 func_retval0) loop_forever(
	.param .b32 loop_forever_param_0
)
{
	.reg .b32 %r<3>;
	{ // callseq 9, 0
	.param .b32 param0;
	st.param.b32 [param0+0], 1;
	.param .b32 retval0;
	call.uni (retval0),
	loop_forever,
	(
	param0
	);
	} // callseq 9
	ret;
}
.func (.param .b32 func_retval0) missing(.param .b32 missing_param_0);
"""
CALL = OUT_PROLOGUE + """
	setp.lt.u32 %p1, %r1, 16;
	mov.u32 %r9, 7;
	{ // callseq 0, 0
	.reg .b32 temp_param_reg;
	.param .b32 param0;
	st.param.b32 [param0+0], %r1;
	.param .b32 retval0;
	@%p1 call.uni (retval0),
	{name},
	(
	param0
	);
	@%p1 ld.param.b32 %r9, [retval0+0];
	} // callseq 0
	st.global.u32 [%rd3], %r9;
	ret;
"""


def _with_functions(name: str) -> str:
    text = module(".param .u64 out", CALL.replace("{name}", name))
    return text.replace(HEADER, HEADER + FUNCTIONS, 1)


def test_a_guarded_call_with_a_return_value_runs_the_function_for_its_threads() -> None:
    out = np.zeros(32, np.uint32)
    sim.launch(_with_functions("twice"), "k", 1, 32, [out])
    assert out.tolist() == [2 * t for t in range(16)] + [7] * 16


@pytest.mark.parametrize(("name", "why"), [
    ("loop_forever", "call of loop_forever: recursion is not modelled"),
    ("missing", "call of missing: the module gives no body for it"),
])
def test_calls_the_simulator_cannot_inline_raise_naming_the_call(name: str, why: str) -> None:
    ptx = _with_functions(name)
    with pytest.raises(sim.SimError, match=why) as info:
        sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.uint32)])
    assert info.value.line is not None


def test_the_step_limit_names_the_loop_the_threads_were_in() -> None:
    body = OUT_PROLOGUE + "$L__spin:\n\tadd.u32 %r1, %r1, 1;\n\tbra.uni $L__spin;\n\tret;"
    ptx = module(".param .u64 out", body)
    top = ptx.splitlines().index("\tadd.u32 %r1, %r1, 1;") + 1
    with pytest.raises(sim.SimError, match=rf"looping in lines {top}-{top + 1}, the branch at "
                                           rf"line {top + 1} back to line {top} taken \d+ times"):
        sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.uint32)], max_steps=500)


NAMED_BARRIER = OUT_PROLOGUE + """
	setp.lt.u32 %p1, %r1, 32;
	@%p1 bra $L__first;
	bar.sync 1, 64;
	bra.uni $L__done;
$L__first:
	bar.arrive 1, 64;
$L__done:
	bar.red.popc.u32 %r2, 0, %p1;
	st.global.u32 [%rd3], %r2;
	ret;
"""


def test_named_barriers_count_threads_and_bar_red_counts_predicates() -> None:
    ptx = module(".param .u64 out", NAMED_BARRIER)
    out = np.zeros(64, np.uint32)
    sim.launch(ptx, "k", 2, 64, [out])  # both CTAs write the same words
    assert (out == 32).all()
    with pytest.raises(sim.SimError, match="barrier 1 waits for 64 threads; the CTA has 32"):
        sim.launch(ptx, "k", 1, 32, [out[:32]])


GENERIC = OUT_PROLOGUE + """
	mov.u32 %r2, smem;
	shl.b32 %r3, %r1, 2;
	add.s32 %r4, %r2, %r3;
	cvt.u64.u32 %rd5, %r4;
	cvta.shared.u64 %rd6, %rd5;
	st.u32 [%rd6], %r1;
	cvta.to.shared.u64 %rd7, %rd6;
	ld.shared.u32 %r5, [%rd7];
	add.u32 %r6, %r5, 0x10;
	st.u32 [%rd3], %r6;
	exit;
"""


def test_generic_addresses_reach_shared_and_global_memory() -> None:
    ptx = module(".param .u64 out", GENERIC, SMEM)
    out = np.zeros(32, np.uint32)
    sim.launch(ptx, "k", 1, 32, [out])
    assert out.tolist() == [t + 16 for t in range(32)]


DIRECTIVES = """//
// Generated by LLVM NVPTX Back-End
//

.version 9.9
.target sm_121a
.address_size 64

	// .globl	k
.global .align 1 .b8 _$_str[3] = {104, 105, 0};
.extern .shared .align 16 .b8 global_smem[];

.visible .entry k(
	.param .u64 .ptr .global .align 16 k_param_0
)
.reqntid 32
.maxnreg 64
.minnctapersm 2
{
	.reg .b32 	%r<4>;
	.reg .b64 	%rd<3>;
	.loc	1 14 0
$L__func_begin0:
	ld.param.b64 	%rd1, [k_param_0];
	.loc	1 15 24
	mov.u32 	%r1, %tid.x;
	.pragma "nounroll";
	{ .reg .b64 %tmp;
		mul.wide.u32 	%tmp, %r1, 4;
		add.s64 	%rd2, %rd1, %tmp; }
	mov.b32 	%r2, 0x2A;
	// begin inline asm
	st.global.b32 [ %rd2 + 0 ], { %r2 };
	// end inline asm
	ret;
$L__func_end0:
}
	.file	1 "/src/k.py"
	.section	.debug_abbrev
	{
.b8 1                                   // Abbreviation Code
.b8 17                                  // DW_TAG_compile_unit
	}
	.section	.debug_macinfo	{	}
"""


def test_directives_other_generators_write_parse_and_run() -> None:
    module_ = parse_module(DIRECTIVES)
    assert (module_.version, module_.target, module_.files) == ("9.9", "sm_121a",
                                                                {1: "/src/k.py"})
    assert [(v.name, v.count, v.init) for v in module_.variables] == [("_$_str", 3,
                                                                        (104, 105, 0))]
    (kernel,) = module_.kernels
    assert kernel.max_threads == 32 and kernel.shared[0].extern
    mov = next(s for s in kernel.body if getattr(s, "opcode", "") == "mov" and
               s.operands[0].index == 1)
    assert mov.loc == (1, 15)
    out = np.zeros(32, np.uint32)
    sim.launch(DIRECTIVES, "k", 1, 32, [out])
    assert (out == 42).all()


@pytest.mark.parametrize(("text", "why"), [
    (".version 8.0\n.target sm_90\n.frobnicate 3;\n", "line 3: unsupported module-level "
                                                     "directive"),
    (HEADER + ".visible .entry k()\n{\n\t.reg .b32 %r<2>;\n\tmov.u32 %r1, %tmp;\n\tret;\n}\n",
     "line 8: unsupported register name '%tmp'"),
    (HEADER + ".visible .entry k()\n{\n\t{ .reg .b32 %tmp;\n\t}\n\tmov.u32 %tmp, 1;\n}\n",
     "line 9: unsupported register name '%tmp'"),
    (HEADER + ".visible .entry k()\n.maxntid 4096\n{\n\tret;\n}\n", "maxntid of 4096"),
])
def test_what_the_parser_refuses_names_the_line(text: str, why: str) -> None:
    with pytest.raises(PtxParseError, match=why):
        parse_module(text)


SPLIT_AT_ONE_BARRIER = OUT_PROLOGUE + """
	setp.lt.u32 %p1, %r1, {split};
	@%p1 bra $L__low;
	bar.sync 0;
	bra.uni $L__done;
$L__low:
	bar.sync 0;
$L__done:
	st.global.u32 [%rd3], %r1;
	ret;
"""


def test_one_warp_at_two_instructions_of_a_barrier_is_divergent_two_warps_are_not() -> None:
    split = module(".param .u64 out", SPLIT_AT_ONE_BARRIER.replace("{split}", "16"))
    with pytest.raises(sim.SimError, match=r"divergent barrier: threads of one warp wait at "
                                           r"different barrier 0 instructions \(line 24, line 27"):
        sim.launch(split, "k", 1, 64, [np.zeros(64, np.uint32)])
    by_warp = module(".param .u64 out", SPLIT_AT_ONE_BARRIER.replace("{split}", "32"))
    out = np.zeros(64, np.uint32)
    sim.launch(by_warp, "k", 1, 64, [out])  # as producer/consumer code does, per warp
    assert (out == np.arange(64)).all()


VARIABLES = """
.const .align 4 .f32 coeffs[4] = {0f3F800000, 0f40000000, 0f40400000};
.global .align 4 .u32 counter;
.global .align 4 .b8 bytes[4] = {1, 2, 3, 4};
"""
READ_VARIABLES = OUT_PROLOGUE + """
	ld.const.f32 %f1, [coeffs+8];
	mov.u64 %rd5, coeffs;
	ld.const.f32 %f2, [%rd5+12];
	add.f32 %f3, %f1, %f2;
	st.global.u32 [counter], %r1;
	ld.global.u32 %r2, [counter];
	mov.u64 %rd6, bytes;
	ld.u8 %rs1, [%rd6+3];
	cvt.rn.f32.u16 %f4, %rs1;
	add.f32 %f5, %f3, %f4;
	cvt.rn.f32.u32 %f6, %r2;
	add.f32 %f7, %f5, %f6;
	st.global.f32 [%rd3], %f7;
	ret;
"""


def test_module_global_and_const_variables_are_memory_with_their_initializers() -> None:
    ptx = module(".param .u64 out", READ_VARIABLES).replace(HEADER, HEADER + VARIABLES, 1)
    out = np.zeros(32, np.float32)
    sim.launch(ptx, "k", 1, 32, [out])
    assert (out == 3 + 0 + 4 + 31).all()  # coeffs[2], the 0 after the list, bytes[3], the
    # counter as the last thread of the step (thread order) left it
    written = ptx.replace("ld.const.f32 %f1, [coeffs+8];", "st.global.u32 [coeffs], %r1;")
    with pytest.raises(sim.SimError, match="global store into read-only buffer coeffs"):
        sim.launch(written, "k", 1, 32, [out])


@pytest.mark.parametrize(("decl", "why"), [
    ("\t.shared .align 9223372036854775808 .b8 huge[4];\n", r"\.align 9223372036854775808 is "
                                                          r"not a power of two up to 65536"),
    ("\t.shared .align 4 .b8 big[65536];\n", "static shared memory is at most 49152"),
])
def test_shared_declarations_past_the_limits_are_value_errors(decl: str, why: str) -> None:
    ptx = module(".param .u64 out", THROUGH_DYNAMIC, decl + DYNAMIC)
    with pytest.raises(ValueError, match=why):
        sim.launch(ptx, "k", 1, 32, [np.zeros(32, np.uint32)], shared_bytes=128)
