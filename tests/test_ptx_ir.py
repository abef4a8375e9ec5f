"""The PTX IR end to end: opcode table, builder, printer and parser agree with each other.

Covers what the emitter promises (one table row per instruction, fresh registers, derived
`.reg` lines, exact float immediates, `parse(emit(k)) == k`, errors that name the line); the
kernels' own contents are tested in test_kernels.py, barriers in test_barriers.py.
"""

from __future__ import annotations

import itertools
import math
import re

import pytest
from pygments import lex

from explorer.app.highlight import FixedPtxLexer, Modifier, Opcode, Space, Type, highlight_lines
from explorer.app.theme import esc
from explorer.kernels import (
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)
from explorer.ptx import (
    BarrierError,
    KernelBuilder,
    PtxParseError,
    check_barriers,
    emit,
    ir,
    parse,
    spec,
)
from explorer.ptx.ir import Address, F32Imm, Guard, Instruction, IntImm, Reg, Symbol, Vector
from explorer.ptx.parser import parse_module
from explorer.ptx.printer import statement_text
from explorer.sim.table import IMPLEMENTED, SEMANTICS

HEADER = ".version 8.0\n.target sm_80\n.address_size 64\n"
TYPE_PREFERENCE = ("f32", "u32", "b32", "u64", "pred")


def tiny_module(*lines: str) -> str:
    """A module with one parameterless entry whose body is `lines`."""
    return HEADER + ".visible .entry tiny()\n{\n" + "\n".join(lines) + "\n}\n"


def sources_for(row: spec.OpSpec, count: int) -> list:
    """`count` plausible source operands for an instruction of `row`."""
    if row.flow == "branch":
        return [Symbol("$L_target")]
    if row.opcode in ("ld", "prefetch"):
        return [Address(Reg("rd", 3), 8)][:count]
    if row.opcode in ("st", "atom", "red"):
        return [Address(Reg("rd", 3), -4), Reg("r", 2), Reg("r", 4)][:count]
    pool = [Reg("r", 7), IntImm(5), F32Imm.of(1.5), Reg("p", 2), IntImm(-1)]
    return pool[:count]


def valid_name(row: spec.OpSpec, group: str | None = None, modifier: str | None = None) -> str:
    """The row's opcode with every required group filled (`group` with `modifier`), each type
    chosen to fit the type rules of the modifiers chosen."""
    chosen = {g.name: g.alternatives[0] for g in row.groups if g.required and not g.holds_type}
    if group is not None:
        chosen[group] = modifier
    for _ in range(len(row.needs)):  # fill what the chosen modifiers need (barrier.cluster)
        for mod in list(chosen.values()):
            need_group, alternatives = row.needs.get(mod, (None, ()))
            if need_group and chosen.get(need_group) not in alternatives:
                chosen[need_group] = sorted(alternatives)[0]
    rules = [g.only_with[chosen[g.name]] for g in row.groups
             if chosen.get(g.name) in g.only_with]
    for g in row.groups:
        if g.holds_type and g.name not in chosen:
            fits = [t for t in g.alternatives if all(t in rule for rule in rules)]
            chosen[g.name] = next((t for t in TYPE_PREFERENCE if t in fits), fits[0])
    return ".".join([row.opcode] + [chosen[g.name] for g in row.groups if g.name in chosen])


def built_instruction(name: str, sources: list) -> Instruction:
    b = KernelBuilder("tiny")
    b.op(name, *sources)
    (ins,) = b.build().body
    return ins


def assert_round_trips(ins: Instruction) -> None:
    text = tiny_module(statement_text(ins))
    assert parse(text).body == (ins,), text


# -- the opcode table drives builder, printer and parser -------------------------------------


@pytest.mark.parametrize("opcode", sorted(spec.OPCODES))
def test_every_opcode_builds_prints_and_parses(opcode: str) -> None:
    row = spec.OPCODES[opcode]
    lo, hi = row.operands
    for count in sorted({lo, hi}):
        ins = built_instruction(valid_name(row), sources_for(row, count - row.writes))
        assert ins.opcode == opcode and len(ins.operands) == count
        assert_round_trips(ins)


def test_every_modifier_of_every_group_round_trips() -> None:
    failures = []
    for row in spec.OPCODES.values():
        for group in row.groups:
            for modifier in group.alternatives:
                name = valid_name(row, group.name, modifier)
                try:
                    lo = spec.operand_counts(row, name.split(".")[1:])[0]
                    sources = sources_for(row, lo - row.writes)
                    assert_round_trips(built_instruction(name, sources))
                except (AssertionError, ValueError, KeyError) as err:
                    failures.append(f"{name}: {type(err).__name__}: {err}")
    assert not failures, "\n".join(failures)


def test_optional_groups_share_no_modifier_with_a_later_group() -> None:
    """Sorting modifiers left to right is then unambiguous: a modifier an optional group
    accepts can belong to no group after it."""
    for row in spec.OPCODES.values():
        for i, group in enumerate(row.groups):
            later = {m for g in row.groups[i + 1:] for m in g.alternatives}
            if not group.required:
                assert not later & set(group.alternatives), (row.opcode, group.name)


def barrier_check_objects(ins: Instruction) -> bool:
    """Whether the barrier check rejects `@%p1 ins; bar.sync 0` with %p1 = tid.x < 16: it
    must, exactly where `ins` is a branch (past the barrier), an exit or a barrier itself."""
    tid, pred = Reg("r", 1), Reg("p", 1)
    body = (
        Instruction("mov", ("u32",), (tid, ir.SpecialReg("tid.x"))),
        Instruction("setp", ("lt", "u32"), (pred, tid, IntImm(16))),
        Instruction(ins.opcode, ins.modifiers, ins.operands, Guard(pred)),
        Instruction("bar", ("sync",), (IntImm(0),)),
        ir.Label("$L_target"),
        Instruction("ret", (), ()),
    )
    try:
        check_barriers(ir.Kernel("k", (), (), body))
    except BarrierError:
        return True
    return False


def test_builder_parser_highlighter_barrier_check_and_simulator_cover_the_same_opcodes() -> None:
    for opcode, row in spec.OPCODES.items():
        ins = built_instruction(valid_name(row), sources_for(row, row.operands[0] - row.writes))
        assert_round_trips(ins)
        line = statement_text(ins) + "\n"
        tokens = [(t, v) for t, v in lex(line, FixedPtxLexer()) if v.strip()]
        groups = [g for g in row.groups if spec.form_of(opcode, ins.modifiers).get(g.name)]
        kinds = [Type if g.holds_type else Space if g.name == "space" else Modifier
                 for g in groups]
        assert tokens[: 1 + len(groups)] == [(Opcode, opcode)] + [
            (kind, f".{m}") for kind, m in zip(kinds, ins.modifiers, strict=True)
        ], line
        assert f'title="{esc(row.summary)}"' in highlight_lines(line)[0]
        assert barrier_check_objects(ins) == (row.flow != "compute"), opcode
        assert (opcode in SEMANTICS) == row.simulated, opcode
    assert set(IMPLEMENTED) <= set(spec.OPCODES)
    assert {row.flow for row in spec.OPCODES.values()} <= set(spec.FLOWS)


# Together these emit every instruction form of scripts/ptx_hashes.py's grid (78 of them; the
# vector loads and stores of the warps' and splits' merges among them).
KERNEL_CONFIGS = [
    (IncrementalAttentionKernel, dict(max_seq_len=1100, head_dim=32, num_heads=8,
                                      num_kv_heads=8), "sm_80"),
    (MultiWarpIncrementalAttentionKernel, dict(max_seq_len=1100, head_dim=80, num_heads=12,
                                               num_kv_heads=2, num_warps=4, debug=True), "sm_90"),
    *[(SplitKVDecodeAttentionKernel, dict(max_seq_len=512, head_dim=hd, num_heads=8,
                                          num_kv_heads=8, dtype=dtype, merge=merge), "sm_90")
      for hd, dtype, merge in ((64, "f16", "last-cta"), (64, "f32", "kernel"),
                               (256, "f16", "kernel"))],
    (SplitKVDecodeAttentionKernel, dict(max_seq_len=2048, head_dim=128, num_heads=32,
                                        num_kv_heads=8, dtype="bf16", mma=True, num_warps=1,
                                        prefetch=2), "sm_80"),
]


def test_every_instruction_the_kernels_emit_validates_strictly() -> None:
    forms = set()
    for cls, kw, target in KERNEL_CONFIGS:
        for kernel in parse_module(cls(**kw).emit(target)).kernels:
            for ins in kernel.body:
                if isinstance(ins, Instruction):
                    spec.check(ins.opcode, ins.modifiers, len(ins.operands), strict=True)
                    forms.add(f"{ins.name}/{len(ins.operands)}")
    assert len(forms) == 78, sorted(forms)


def test_opcode_outside_the_table_is_rejected_by_builder_and_parser() -> None:
    assert "frob" not in spec.OPCODES
    with pytest.raises(ValueError, match=r"frob\.u32: unsupported opcode 'frob'"):
        KernelBuilder("t").op("frob.u32", 1, 2)
    with pytest.raises(PtxParseError, match="line 6: .*unsupported opcode 'frob'"):
        parse(tiny_module("\tfrob.u32 %r1, %r2, 3;"))


# -- builder -----------------------------------------------------------------------------------


RESULT_KINDS = (
    "add.u32:r add.f32:f add.s64:rd add.f64:fd add.u16:rs setp.lt.f32:p setp.eq.u64:p "
    "cvt.rn.f32.u32:f cvt.u64.u32:rd mul.wide.u32:rd mul.wide.s16:r mul.lo.u32:r "
    "shfl.sync.down.b32:r ld.global.u64:rd ld.param.f32:f"
)


@pytest.mark.parametrize(("name", "kind"), [t.split(":") for t in RESULT_KINDS.split()])
def test_op_returns_a_fresh_register_of_the_result_kind(name: str, kind: str) -> None:
    row = spec.OPCODES[name.split(".")[0]]
    sources = sources_for(row, row.operands[0] - 1)
    b = KernelBuilder("t")
    first, second = b.op(name, *sources), b.op(name, *sources)
    assert (first, second) == (Reg(kind, 1), Reg(kind, 2))
    assert b.op("st.global.f32", Address(Reg("rd", 9)), 1.0) is None  # writes nothing


def test_set_refuses_a_destination_of_the_wrong_kind() -> None:
    b = KernelBuilder("t")
    for dst in (Reg("p", 1), Reg("f", 1), Reg("rd", 1)):
        with pytest.raises(ValueError, match=rf"add\.u32: destination %{dst.kind}1 is not a u32"):
            b.set(dst, "add.u32", 1, 2)
    with pytest.raises(ValueError, match=r"ld\.global\.v4\.f32: destination %r2"):
        b.set(Vector((Reg("f", 1), Reg("r", 2))), "ld.global.v4.f32", Address(Reg("rd", 1)))
    with pytest.raises(ValueError, match=r"st\.global\.f32 writes no register"):
        b.set(Reg("f", 1), "st.global.f32", Address(Reg("rd", 1)))


def test_set_accepts_any_32_bit_register_for_a_b32_shuffle() -> None:
    b = KernelBuilder("t")
    for dst in (Reg("f", 3), Reg("r", 4)):
        assert b.set(dst, "shfl.sync.down.b32", Reg("f", 1), 16, 31, -1) == dst
    vec = Vector((Reg("f", 1), Reg("f", 2), Reg("f", 3), Reg("f", 4)))
    assert b.set(vec, "ld.global.v4.f32", Address(Reg("rd", 1))) == vec


@pytest.mark.parametrize("count", [0, 1, 3, 8])
def test_reserve_keeps_later_register_names_stable(count: int) -> None:
    b = KernelBuilder("t")
    before = b.fresh("f32")
    block = b.reserve("f32", count, 8)
    assert block == tuple(Reg("f", 2 + i) for i in range(count))
    assert (before, b.fresh("f32"), b.fresh("u32")) == (Reg("f", 1), Reg("f", 10), Reg("r", 1))
    with pytest.raises(ValueError, match="reserve: count 9 outside 0..8"):
        b.reserve("f32", 9, 8)


@pytest.mark.parametrize(
    ("name", "sources", "message"),
    [
        ("add.zz.u32", (1, 2), r"add\.zz\.u32: \.zz is not a modifier of add \(\[rounding "),
        ("add.u32", (1,), r"add\.u32: 2 operands, expected 3\.\.3"),
        ("fma.rn.f32", (1.0, 2.0, 3.0, 4.0), r"fma\.rn\.f32: 5 operands, expected 4\.\.4"),
        ("bar.sync", (0, 1, 2), r"bar\.sync: 3 operands, expected 1\.\.2"),
        ("ex2.approx", (1.0,), r"ex2\.approx: no type modifier \(ex2 needs one of \.f32\)"),
        ("ret", (1,), r"ret: 1 operands, expected 0\.\.0"),
    ],
)
def test_bad_modifiers_and_operand_counts_name_the_instruction(name, sources, message) -> None:
    with pytest.raises(ValueError, match=message):
        KernelBuilder("t").op(name, *sources)


WRONG_FORMS = {
    "setp.lt.gt.u32": r"\.gt is a second compare after \.lt \(setp takes one of \.eq \.ne \.lt",
    "add.f32.u32": r"\.u32 is a second type after \.f32 \(add takes one of \.u16 \.u32",
    "ld.global.shared.f32": r"\.shared is a second space after \.global",
    "ld.global.v2.v4.f32": r"\.v4 is a second vector after \.v2 \(ld takes one of \.v2 \.v4\)",
    "add.f32.rn": r"\.rn is out of order \(add writes \[rounding \.rn\|\.rz",
    "ex2.ftz.approx.f32": r"\.approx is out of order",
    "add.rn.u32": r"\.rn goes only with \.bf16 .*\.f32 \.f64, not \.u32",
    "mul.lo.f32": r"\.lo goes only with .*\.u32 .*, not \.f32",
    "add.ftz.f64": r"\.ftz goes only with \.f16 \.f16x2 \.f32, not \.f64",
    "setp.ltu.s32": r"\.ltu goes only with .*\.f32 \.f64, not \.s32",
    "setp.lt.b32": r"\.lt goes only with .*, not \.b32",
    "cvt.rn.u32.s32": r"\.rn goes only with .*, not \.u32 \.s32",
    "rem.f32": r"\.f32 is not a modifier of rem \(type \.u16\|\.u32",
    "and.u32": r"\.u32 is not a modifier of and",
    "shfl.sync.b32": r"no mode modifier \(shfl needs one of \.up \.down \.bfly \.idx\)",
    "cvt.f32": r"no atype modifier",
}


@pytest.mark.parametrize(("name", "message"), WRONG_FORMS.items())
def test_the_builder_refuses_a_wrong_form_naming_the_modifier(name: str, message: str) -> None:
    row = spec.OPCODES[name.split(".")[0]]
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}: {message}"):
        KernelBuilder("t").op(name, *sources_for(row, row.operands[0] - row.writes))


def test_the_parser_reads_the_same_rows_leaving_only_type_rules_to_the_builder() -> None:
    lenient = tiny_module("\tadd.rn.u32 %r1, %r2, 3;")  # a type rule: the builder's alone
    assert parse(lenient).body[0].name == "add.rn.u32"
    with pytest.raises(ValueError, match=r"\.rn goes only with"):
        spec.check("add", ("rn", "u32"), 3)
    for name in ("setp.lt.gt.u32", "add.f32.u32", "add.f32.rn", "rem.f32"):
        opcode, *mods = name.split(".")
        with pytest.raises(ValueError) as strict:
            spec.check(opcode, tuple(mods), 3)
        with pytest.raises(PtxParseError) as parsed:
            parse(tiny_module(f"\t{name} %r1, %r2, 3;"))
        assert str(strict.value) in str(parsed.value)


@pytest.mark.parametrize("where", ["op", "set"])
def test_bool_operands_are_rejected(where: str) -> None:
    b = KernelBuilder("t")
    with pytest.raises(TypeError, match="a bool is not a PTX operand"):
        if where == "op":
            b.op("add.u32", True, 1)
        else:
            b.set(Reg("r", 1), "add.u32", Reg("r", 1), False)


def body_lines(b: KernelBuilder) -> list[str]:
    return [statement_text(s) for s in b.build().body]


def test_if_emits_a_branch_around_its_body_with_unique_labels() -> None:
    b = KernelBuilder("t")
    pred = b.op("setp.eq.u32", Reg("r", 1), 0)
    with b.if_(pred):
        b.op("ret")
    with b.if_(pred, negated=True):
        b.op("exit")
    assert body_lines(b)[1:] == [
        "\t@!%p1 bra $L_if_end;",
        "\tret;",
        "$L_if_end:",
        "\t@%p1 bra $L_if_end_1;",
        "\texit;",
        "$L_if_end_1:",
    ]


def test_loop_emits_the_counted_loop_of_its_docstring_with_unique_labels() -> None:
    b = KernelBuilder("t")
    for _ in range(2):
        with b.loop(0, Reg("r", 9), "walk", step=2) as i:
            b.op("st.global.u32", Address(Reg("rd", 1)), i)
    expected = []
    for reg, pred, suffix in (("%r1", "%p1", ""), ("%r2", "%p2", "_1")):
        expected += [
            f"\tmov.u32 {reg}, 0;",
            f"$L_walk{suffix}:",
            f"\tsetp.ge.u32 {pred}, {reg}, %r9;",
            f"\t@{pred} bra $L_walk_end{suffix};",
            f"\tst.global.u32 [%rd1], {reg};",
            f"\tadd.u32 {reg}, {reg}, 2;",
            f"\tbra.uni $L_walk{suffix};",
            f"$L_walk_end{suffix}:",
        ]
    assert body_lines(b) == expected


def test_labels_stay_unique_when_one_hint_is_another_hint_plus_a_number() -> None:
    b = KernelBuilder("t")
    names = [b.label("row"), b.label("row"), b.label("row_1")]
    assert len(set(names)) == 3, names


@pytest.mark.parametrize("name", ["mul.wide.f32", "mul.wide.u64", "mad.wide.b32"])
def test_wide_with_an_unwidenable_type_raises_value_error(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(name)):
        KernelBuilder("t").op(name, *([1] * (spec.OPCODES[name[:3]].operands[0] - 1)))


@pytest.mark.parametrize("name", ["ld.global.u8", "ld.global.s8", "cvt.u8.u32"])
def test_8bit_result_types_get_a_register(name: str) -> None:
    source = Address(Reg("rd", 1)) if name.startswith("ld") else Reg("r", 1)
    try:
        reg = KernelBuilder("t").op(name, source)
    except ValueError:
        return  # an explicit refusal naming the instruction would also do
    assert reg.kind in {"rs", "r"}


# -- printer -----------------------------------------------------------------------------------


def test_emit_is_deterministic() -> None:
    a = MultiWarpIncrementalAttentionKernel(4096, 80, 12, 2, 4).emit()
    b = MultiWarpIncrementalAttentionKernel(4096, 80, 12, 2, 4).emit()
    k = MultiWarpIncrementalAttentionKernel(4096, 80, 12, 2, 4).kernel
    assert a == b == emit(k, version="8.0") == emit(k, version="8.0")
    assert a.endswith("}\n")


def test_module_header_comes_from_the_arguments() -> None:
    k = IncrementalAttentionKernel(64, 32, 2, 1).kernel
    text = emit(k, target="sm_90a", version="8.3", address_size=32)
    header = [ln for ln in text.splitlines() if ln.startswith(".")][:3]
    assert header == [".version 8.3", ".target sm_90a", ".address_size 32"]


def test_reg_lines_are_derived_from_the_highest_index_used() -> None:
    b = KernelBuilder("t")
    b.reserve("f32", 0, 6)  # indices 1..6 never used
    f7 = b.fresh("f32")
    pred = b.op("setp.gt.f32", f7, 0.0)
    b.op("st.global.v2.f32", Address(b.fresh("u64")), Vector((f7, Reg("f", 11))), guard=Guard(pred))
    regs = [ln.strip() for ln in emit(b.build()).splitlines() if ln.strip().startswith(".reg")]
    assert regs == [".reg .pred %p<2>;", ".reg .b64 %rd<2>;", ".reg .f32 %f<12>;"]


F32_TEXTS = {1.0: "0f3F800000", -math.inf: "0fFF800000", math.inf: "0f7F800000",
             -0.0: "0f80000000", 1 / math.sqrt(128): "0f3DB504F3"}  # fmt: skip


@pytest.mark.parametrize(("value", "text"), F32_TEXTS.items())
def test_f32_immediates_print_as_hex_bits(value: float, text: str) -> None:
    b = KernelBuilder("t")
    b.op("mov.f32", value)
    assert f"mov.f32 %f1, {text};" in emit(b.build())


@pytest.mark.parametrize("bits", [0x7FC00000, 0x7FC00001, 0xFFFFFFFF, 0x7F800001, 0x00000001])
def test_nan_and_denormal_bits_round_trip(bits: int) -> None:
    b = KernelBuilder("t")
    b.op("add.f32", F32Imm(bits), 1.0)
    kernel = b.build()
    parsed = parse(emit(kernel))
    assert parsed == kernel and parsed.body[0].operands[1].bits == bits


# -- parser ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head_dim", "indirect", "heads"),
    list(itertools.product([1, 32, 80, 128, 256], [False, True], [(8, 8), (12, 2)])),
)
def test_parse_of_emit_is_the_kernel(head_dim: int, indirect: bool, heads) -> None:
    kernels = [IncrementalAttentionKernel(512, head_dim, *heads, indirect_seq_len=indirect)]
    kernels += [
        MultiWarpIncrementalAttentionKernel(512, head_dim, *heads, w, indirect_seq_len=indirect)
        for w in (1, 4, 32)
    ]
    for k in kernels:
        assert parse(k.emit()) == k.kernel, k


FOREIGN = """\
// Generated by another PTX writer
.version 8.0
.target sm_80
.address_size 64

.shared .align 4 .b8 buf[128];

.visible .entry foreign(
\t.param .u64 p0,
\t.param .u32 p1
)
{
\t.reg .pred %p<3>;
\t.reg .u32 %r<68>;
\t.reg .b64 %rd<5>;
\t.reg .f32 %f<8>;

\tld.param.u64 %rd1, [p0];
\tld.param.u32 %r1, [p1];
\tmov.u32 %r2, %tid.x;
\tsetp.eq.u32 %p1, %r2, 0xffffffff;
\t@!%p1 bra LBL;
\tld.global.f32 %f5, [%rd1+-4];
\tld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd2];
\tdiv.u32 %r3, %r1, 3;
\trem.u32 %r4, %r1, 3;
\tselp.f32 %f6, %f1, %f2, %p1;
\tshfl.sync.bfly.b32 %r5, %r4, 1, 31, -1;
LBL:
\tadd.s32 \t%r6, %r5, %r4;
\tret;
}
"""


def test_foreign_subset_parses() -> None:
    k = parse(FOREIGN)
    assert k.entry == "foreign" and [(p.name, p.type) for p in k.params] == [
        ("p0", "u64"),
        ("p1", "u32"),
    ]
    assert [(s.name, s.type, s.count, s.align) for s in k.shared] == [("buf", "b8", 128, 4)]
    ins = {s.name: s for s in k.body if isinstance(s, Instruction)}
    assert ins["setp.eq.u32"].operands[2] == IntImm(0xFFFFFFFF)
    assert ins["bra"].guard == Guard(Reg("p", 1), negated=True)
    assert ins["bra"].operands == (Symbol("LBL"),)
    assert ins["ld.global.f32"].operands[1] == Address(Reg("rd", 1), -4)
    assert ins["ld.global.v4.f32"].operands[0] == Vector(tuple(Reg("f", i) for i in range(1, 5)))
    assert ins["selp.f32"].operands[3] == Reg("p", 1)
    assert ins["shfl.sync.bfly.b32"].operands[2:] == (IntImm(1), IntImm(31), IntImm(-1))
    assert {"div.u32", "rem.u32", "add.s32", "ret"} <= set(ins)
    assert k.registers() == {"p": 2, "r": 7, "rd": 3, "f": 7}
    assert ins["ret"].line == FOREIGN.splitlines().index("\tret;") + 1


def test_a_tab_between_opcode_and_operands_parses() -> None:
    assert parse(tiny_module("\tadd.s32\t%r6, %r5, %r4;")).body[0].name == "add.s32"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("\tfrob.u32 %r2, %r1;", "unsupported opcode 'frob'"),
        ("\tmov.u32 %foo, %r1;", "unsupported register name '%foo'"),
        ("\tmov.u32 %r2, %r1", "instruction without ';'"),
        ("\tadd.u32 %r2, %r1;", "2 operands, expected 3..3"),
        ("\tld.global.f32 %f1, [42];", "unsupported address '[42]'"),
    ],
)
def test_parse_errors_name_the_line(line: str, why: str) -> None:
    text = tiny_module("\tmov.u32 %r1, 1;", line, "\tret;")
    with pytest.raises(PtxParseError, match=f"^line 7: .*{re.escape(why)}") as info:
        parse(text)
    assert info.value.line == 7 and isinstance(info.value, ValueError)


def test_missing_closing_brace_names_the_entry_line() -> None:
    text = tiny_module("\tret;").rstrip().removesuffix("}")
    with pytest.raises(PtxParseError, match=r"^line 4: missing closing brace") as info:
        parse(text)
    assert info.value.line == 4


def test_a_guard_must_be_a_predicate_register() -> None:
    b = KernelBuilder("t")
    with pytest.raises(ValueError, match="not a predicate"):
        b.op("add.u32", 1, 2, guard=Guard(Reg("r", 1)))


def test_a_vector_load_returns_a_vector_of_fresh_registers() -> None:
    b = KernelBuilder("t")
    dst = b.op("ld.global.v4.f32", Address(Reg("rd", 1)))
    assert isinstance(dst, Vector) and [r.kind for r in dst.regs] == ["f"] * 4
    assert len(set(dst.regs)) == 4


def test_maxntid_prints_parses_and_bounds_the_simulated_launch() -> None:
    from explorer import sim

    b = KernelBuilder("k", max_threads=64)
    b.op("ret")
    kernel = b.build()
    text = emit(kernel, "sm_80")
    assert ")\n.maxntid 64, 1, 1\n{" in text
    assert parse(text) == kernel
    assert parse(text.replace(".maxntid 64, 1, 1", ".maxntid 16, 2, 2")).max_threads == 64
    with pytest.raises(PtxParseError, match="maxntid of 2048"):
        parse(text.replace(".maxntid 64, 1, 1", ".maxntid 1024, 2"))
    sim.launch(text, "k", 1, 64, [])
    with pytest.raises(ValueError, match="block=\\(65, 1, 1\\).*maxntid 64"):
        sim.launch(text, "k", 1, 65, [])
