"""The two seed kernels as objects and as PTX: the interface of kernel-contract.md (entries,
params, launch shape, shared size, defaults, argument checks), stable register names across
configurations, and the landmarks of the algorithm in the emitted text.

It does not run the kernels (numbers are checked against the reference elsewhere); ptxas is
used only to confirm the shared size and is skipped, with the reason, where it is missing.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re

import pytest

from explorer.kernels import (
    TARGETS,
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
)
from explorer.ptx.ir import Address, F32Imm, Instruction, IntImm, Reg, SpecialReg, Symbol
from explorer.ptx.ptxas import assemble, find_ptxas

Multi, Single = MultiWarpIncrementalAttentionKernel, IncrementalAttentionKernel
POINTERS = [("q_ptr", "u64"), ("k_ptr", "u64"), ("v_ptr", "u64"), ("out_ptr", "u64")]
needs_ptxas = pytest.mark.skipif(
    find_ptxas() is None, reason="ptxas not installed: pip install 'nvidia-cuda-nvcc>=13,<14'"
)


def instructions(kernel) -> list[Instruction]:
    return [s for s in kernel.kernel.body if isinstance(s, Instruction)]


# -- interface -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kernel", "entry", "last_param"),
    [
        (Single(4096, 128, 32, 8), "incremental_attention", ("seq_len", "u32")),
        (Single(4096, 128, 32, 8, indirect_seq_len=True), "incremental_attention_indirect",
         ("seq_len_ptr", "u64")),
        (Multi(4096, 128, 32, 8, 4), "multi_warp_attention", ("seq_len", "u32")),
        (Multi(4096, 128, 32, 8, 4, indirect_seq_len=True), "multi_warp_attention_indirect",
         ("seq_len_ptr", "u64")),
    ],
)  # fmt: skip
def test_entry_and_params_follow_the_contract(kernel, entry: str, last_param) -> None:
    assert kernel.entry == entry == kernel.kernel.entry
    assert kernel.params == (*POINTERS, last_param)
    text = kernel.emit()
    assert f".visible .entry {entry}(" in text
    declared = re.findall(r"^\t\.param \.(\w+) (\w+),?$", text, re.M)
    assert [(name, type_) for type_, name in declared] == [*POINTERS, last_param]


@pytest.mark.parametrize(("warps", "head_dim"), [(1, 128), (3, 80), (4, 128), (8, 64), (32, 256)])
def test_launch_shape_and_shared_size(warps: int, head_dim: int) -> None:
    k = Multi(1024, head_dim, 12, 2, warps)
    assert (k.grid, k.block) == ((12, 1, 1), (32 * warps, 1, 1))
    assert k.shared_bytes == (2 * warps + 2 + warps * head_dim) * 4
    assert re.findall(r"\.shared \.align 4 \.b8 smem\[(\d+)\];", k.emit()) == [str(k.shared_bytes)]
    s = Single(1024, head_dim, 12, 2)
    assert (s.grid, s.block, s.shared_bytes) == ((12, 1, 1), (32, 1, 1), 0)
    assert ".shared" not in s.emit()


@needs_ptxas
@pytest.mark.parametrize("kernel", [Multi(1024, 80, 12, 2, 3), Multi(4096, 256, 4, 1, 32),
                                    Single(4096, 128, 32, 8)], ids=repr)  # fmt: skip
def test_ptxas_reports_the_declared_shared_size(kernel) -> None:
    report = assemble(kernel.emit("sm_80"), "sm_80")[kernel.entry]
    assert report.shared_bytes == kernel.shared_bytes


@pytest.mark.parametrize("head_dim", [1, 64, 80, 128, 256])
def test_default_scale_is_one_over_sqrt_head_dim(head_dim: int) -> None:
    for k in (Single(64, head_dim, 2, 1), Multi(64, head_dim, 2, 1, 2)):
        assert k.scale == 1 / math.sqrt(head_dim)
        muls = [i for i in instructions(k) if F32Imm.of(k.scale) in i.operands]
        assert [i.name for i in muls] == ["mul.f32"]  # score = warp sum * scale
    assert Multi(64, head_dim, 2, 1, 2, scale=0.5).scale == 0.5


def test_constructor_attributes_keep_the_seed_names() -> None:
    k = Multi(max_seq_len=2048, head_dim=96, num_heads=12, num_kv_heads=2, num_warps=4,
              scale=0.25, indirect_seq_len=True)  # fmt: skip
    assert (k.max_seq_len, k.head_dim, k.num_heads, k.num_kv_heads) == (2048, 96, 12, 2)
    assert (k.num_warps, k.num_warps_per_head, k.scale, k.indirect_seq_len) == (4, 4, 0.25, True)
    s = Single(max_seq_len=2048, head_dim=96, num_heads=12, num_kv_heads=2)
    assert (s.max_seq_len, s.head_dim, s.num_heads, s.num_kv_heads, s.num_warps) == (
        2048, 96, 12, 2, 1)  # fmt: skip
    assert (s.scale, s.indirect_seq_len) == (1 / math.sqrt(96), False)


# -- argument checks ---------------------------------------------------------------------------

GOOD = {"max_seq_len": 4096, "head_dim": 128, "num_heads": 32, "num_kv_heads": 8}
BAD_ARGUMENTS = [
    ({"head_dim": 0}, "head_dim"),
    ({"head_dim": 257}, "head_dim"),
    ({"head_dim": 1.5}, "head_dim"),
    ({"head_dim": True}, "head_dim"),
    ({"num_heads": 12, "num_kv_heads": 5}, "num_heads=12 must be a multiple of num_kv_heads=5"),
    ({"num_heads": 4, "num_kv_heads": 8}, "num_kv_heads"),
    ({"max_seq_len": 0}, "max_seq_len"),
    ({"max_seq_len": -1}, "max_seq_len"),
    ({"num_heads": 0}, "num_heads"),
    ({"num_heads": -8}, "num_heads"),
    ({"num_kv_heads": 0}, "num_kv_heads"),
    ({"num_kv_heads": -1}, "num_kv_heads"),
    ({"max_seq_len": 2**23, "head_dim": 256}, "max_seq_len * head_dim"),
    ({"max_seq_len": 2**31, "head_dim": 1}, "max_seq_len"),
    ({"scale": -0.5}, "scale"),
    ({"scale": 0.0}, "scale"),
    ({"scale": math.nan}, "scale"),
    ({"scale": math.inf}, "scale"),
    ({"scale": -math.inf}, "scale"),
    ({"indirect_seq_len": 1}, "indirect_seq_len"),
    ({"indirect_seq_len": "yes"}, "indirect_seq_len"),
]


@pytest.mark.parametrize("cls", [Single, Multi])
@pytest.mark.parametrize(("change", "named"), BAD_ARGUMENTS)
def test_bad_argument_raises_value_error_naming_it(cls, change: dict, named: str) -> None:
    args = {**GOOD, **change}
    if cls is Multi:
        args["num_warps"] = 4
    with pytest.raises(ValueError, match=re.escape(named)):
        cls(**args)


@pytest.mark.parametrize("warps", [0, 33, -1, 4.0, True])
def test_bad_warp_count_names_num_warps(warps) -> None:
    with pytest.raises(ValueError, match="num_warps"):
        Multi(4096, 128, 32, 8, warps)


@pytest.mark.parametrize("target", ["sm_70", "sm_99", "sm80", ""])
def test_unknown_target_names_the_target(target: str) -> None:
    for k in (Single(64, 32, 2, 1), Multi(64, 32, 2, 1, 2)):
        with pytest.raises(ValueError, match=f"target={target!r} is not supported"):
            k.emit(target=target)


def test_edges_of_the_accepted_ranges_build() -> None:
    for k in (Multi(2**31 - 1, 1, 1, 1, 32), Multi(2**23 - 1, 256, 65535, 1, 1)):
        assert k.emit().endswith("}\n")
    for target in TARGETS:
        assert f".target {target}\n" in Single(64, 256, 4, 4).emit(target)


# -- stable names ------------------------------------------------------------------------------

NUMBER = re.compile(r"(?<![%\w])(?:0f[0-9A-F]{8}|-?\d+)")
REGISTER = re.compile(r"%[a-z]+\d+")


def changed_pairs(a: str, b: str) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Lines that changed in place (pairs), lines only in `a`, lines only in `b`."""
    old, new = a.splitlines(), b.splitlines()
    pairs, removed, added = [], [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:
            pairs += zip(old[i1:i2], new[j1:j2], strict=True)
        elif tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return pairs, removed, added


def test_changing_num_warps_changes_only_numbers() -> None:
    pairs, removed, added = changed_pairs(
        Multi(4096, 128, 32, 8, 4).emit(), Multi(4096, 128, 32, 8, 8).emit()
    )
    assert removed == added == []
    assert len(pairs) >= 10
    for old, new in pairs:
        assert NUMBER.sub("N", old) == NUMBER.sub("N", new), (old, new)
        assert REGISTER.findall(old) == REGISTER.findall(new), (old, new)
    assert ("\t.shared .align 4 .b8 smem[2088];", "\t.shared .align 4 .b8 smem[4168];") in pairs


def test_changing_head_dim_does_not_renumber_registers() -> None:
    wide, narrow = Multi(4096, 128, 32, 8, 4).emit(), Multi(4096, 96, 32, 8, 4).emit()
    pairs, removed, added = changed_pairs(wide, narrow)
    assert added == [] and len(removed) >= 10  # the fourth slot's lines go, nothing new comes
    for old, new in pairs:
        assert NUMBER.sub("N", old) == NUMBER.sub("N", new), (old, new)
        assert REGISTER.findall(old) == REGISTER.findall(new), (old, new)
    shuffles = [[ln for ln in t.splitlines() if "shfl" in ln] for t in (wide, narrow)]
    assert shuffles[0] == shuffles[1] and len(shuffles[0]) == 6


# -- landmarks in the PTX ----------------------------------------------------------------------

CONFIGS = list(itertools.product([1, 32, 80, 128, 200, 256], [False, True]))


def kernels_for(head_dim: int, indirect: bool):
    return (
        Single(1024, head_dim, 12, 2, indirect_seq_len=indirect),
        Multi(1024, head_dim, 12, 2, 4, indirect_seq_len=indirect),
    )


@pytest.mark.parametrize(("head_dim", "indirect"), CONFIGS)
def test_partial_slot_loads_are_guarded_only_when_needed(head_dim: int, indirect: bool) -> None:
    for k, loads in zip(
        kernels_for(head_dim, indirect), (3, 4), strict=True
    ):  # q, k, v (+ shared rows)
        guarded = [i for i in instructions(k) if i.opcode == "ld" and i.guard is not None]
        if head_dim % 32 == 0:
            assert guarded == []
            continue
        assert [i.modifiers[0] for i in guarded] == ["global"] * 3 + ["shared"] * (loads - 3)
        (setp,) = [i for i in instructions(k) if i.operands[:1] == (guarded[0].guard.pred,)]
        assert setp.name == "setp.lt.u32" and setp.operands[2] == IntImm(head_dim % 32)


@pytest.mark.parametrize(("head_dim", "indirect"), CONFIGS)
def test_barriers_shuffles_and_exponentials(head_dim: int, indirect: bool) -> None:
    single, multi = kernels_for(head_dim, indirect)
    for k, bars in ((single, 0), (multi, 3)):
        text = k.emit()
        assert text.count("\tbar.sync 0;") == text.count("bar.") == bars
        downs = re.findall(r"\tshfl\.sync\.down\.b32 %f\d+, %f\d+, (\d+), 31, -1;", text)
        assert downs == ["16", "8", "4", "2", "1"]
        assert len(re.findall(r"\tshfl\.sync\.idx\.b32 %f\d+, %f\d+, 0, 31, -1;", text)) == 1
        assert text.count("shfl") == 6
        assert text.count("\tex2.approx.f32 %f") >= 2  # exp(x) = ex2(x log2e): corr and p


@pytest.mark.parametrize(("head_dim", "indirect"), CONFIGS)
def test_seq_len_is_clamped_to_max_seq_len(head_dim: int, indirect: bool) -> None:
    for k in kernels_for(head_dim, indirect):
        ins = instructions(k)
        reads = [i for i in ins if i.name in ("ld.param.u32", "ld.global.u32")]
        assert len(reads) == 1
        raw = reads[0].operands[0]
        users = [i for i in ins if raw in i.operands[1:]]
        assert [(i.name, i.operands[1:]) for i in users] == [("min.u32", (raw, IntImm(1024)))]


@pytest.mark.parametrize(("head_dim", "indirect"), CONFIGS)
def test_shared_memory_is_addressed_from_the_symbol(head_dim: int, indirect: bool) -> None:
    single, multi = kernels_for(head_dim, indirect)
    assert not [i for i in instructions(single) if "shared" in i.modifiers]
    ins = instructions(multi)
    bases = [i for i in ins if i.name == "mov.u32" and i.operands[1] == Symbol("smem")]
    assert len(bases) == 1 and len(re.findall(r"\tmov\.u32 %r\d+, smem;", multi.emit())) == 1
    derived: set[Reg] = {bases[0].operands[0]}
    for i in ins:  # one forward pass suffices: the addresses are computed in program order
        if i.opcode not in ("st", "ld") and any(op in derived for op in i.operands[1:]):
            derived.add(i.operands[0])
    accesses = [i for i in ins if "shared" in i.modifiers]
    assert len(accesses) >= 8
    for i in accesses:
        addr = i.operands[1] if i.opcode == "ld" else i.operands[0]
        assert isinstance(addr, Address), i
        assert addr.base in derived or addr.base == Symbol("smem"), i


def registers_derived_from(ins: list[Instruction], seeds: set[Reg]) -> set[Reg]:
    """Registers computed (in program order) from any of `seeds`."""
    derived = set(seeds)
    for i in ins:
        if i.opcode not in ("st", "bar", "bra") and any(op in derived for op in i.operands[1:]):
            derived.add(i.operands[0])
    return derived


@pytest.mark.parametrize(("head_dim", "warps"), [(32, 1), (80, 3), (128, 4), (256, 8)])
def test_each_lane_owns_its_columns_of_the_shared_rows(head_dim: int, warps: int) -> None:
    k = Multi(1024, head_dim, 12, 2, warps)
    ins = instructions(k)
    (tid,) = [i.operands[0] for i in ins if i.operands[1:] == (SpecialReg("tid.x"),)]
    lane_mask = (tid, IntImm(31))
    (lane,) = [i.operands[0] for i in ins if i.name == "and.b32" and i.operands[1:] == lane_mask]
    by_lane = registers_derived_from(ins, {lane})
    rows = [
        i
        for i in ins
        if "shared" in i.modifiers
        and any(isinstance(a, Address) and a.offset >= k.rows_offset for a in i.operands)
    ]
    assert len(rows) == 2 * k.shape.slots  # the rescale stores and the final-sum loads
    for i in rows:
        (addr,) = [a for a in i.operands if isinstance(a, Address)]
        assert addr.base in by_lane, f"{k}: lanes of a warp share the address of {i}"
