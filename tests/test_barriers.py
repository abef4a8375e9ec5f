"""The build-time barrier check, driven through `KernelBuilder.build()`.

The real kernels must pass; small planted kernels with a barrier that some threads of the CTA
may not reach must raise `BarrierError` naming that barrier; uniform control flow must pass.
It does not run anything: whether the kernels compute the right numbers is tested elsewhere.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import pytest

from explorer.kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from explorer.ptx import BarrierError, KernelBuilder, check_barriers
from explorer.ptx import builder as builder_module
from explorer.ptx.ir import Address, Guard, Instruction, Kernel, Reg

Plant = Callable[[KernelBuilder], None]


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[Kernel]:
    """Every kernel `build()` hands to the barrier check, so a test can look at the one
    that was rejected (build raises before returning it)."""
    seen: list[Kernel] = []

    def spy(kernel: Kernel) -> None:
        seen.append(kernel)
        check_barriers(kernel)

    monkeypatch.setattr(builder_module, "check_barriers", spy)
    return seen


def build(plant: Plant) -> Kernel:
    """A kernel with one u32 param `n`, shared `s[128]`, `plant`'s body, then `ret`."""
    b = KernelBuilder("planted")
    b.param("n", "u32")
    b.shared("s", "b8", 128)
    plant(b)
    b.op("ret")
    return b.build()


def param_n(b: KernelBuilder) -> Reg:
    return b.op("ld.param.u32", Address(b.param("m", "u32")))


def tid_below_16(b: KernelBuilder) -> Reg:
    return b.op("setp.lt.u32", b.special("tid.x"), 16)


# -- unsafe: every one must be rejected --------------------------------------------------------


def bar_in_if_on_tid(b: KernelBuilder) -> None:
    with b.if_(tid_below_16(b), "low"):
        b.op("bar.sync", 0)


def bar_in_if_on_arithmetic_of_tid(b: KernelBuilder) -> None:
    warp = b.op("shr.u32", b.op("add.u32", b.special("tid.x"), 7), 5)
    with b.if_(b.op("setp.eq.u32", warp, 0), "warp0"):
        b.op("bar.sync", 0)


def bar_in_loop_bounded_by_laneid(b: KernelBuilder) -> None:
    with b.loop(0, b.special("laneid"), "lanes"):
        b.op("bar.sync", 0)


def bar_in_loop_bounded_by_warpid(b: KernelBuilder) -> None:
    stop = b.op("add.u32", b.special("warpid"), param_n(b))
    with b.loop(0, stop, "warps"):
        b.op("st.shared.u32", Address(b.op("mov.u32", b.param("x", "u32"))), 1)
        b.op("bar.sync", 0)


def bar_after_ret_on_tid(b: KernelBuilder) -> None:
    b.op("ret", guard=Guard(tid_below_16(b)))
    b.op("bar.sync", 0)


def bar_after_ret_under_tid_branch(b: KernelBuilder) -> None:
    with b.if_(tid_below_16(b), "leave"):
        b.op("ret")
    b.op("bar.sync", 0)


def bar_guarded_by_varying_predicate(b: KernelBuilder) -> None:
    b.op("bar.sync", 0, guard=Guard(tid_below_16(b)))


def bar_guarded_by_negated_varying_predicate(b: KernelBuilder) -> None:
    b.op("bar.sync", 0, guard=Guard(tid_below_16(b), negated=True))


def bar_after_branch_on_value_loaded_from_tid_address(b: KernelBuilder) -> None:
    base = b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(b.param("p", "u64"))))
    addr = b.op("add.s64", base, b.op("mul.wide.u32", b.special("tid.x"), 4))
    value = b.op("ld.global.u32", Address(addr))
    with b.if_(b.op("setp.ne.u32", value, 0), "loaded"):
        b.op("bar.sync", 0)


def bar_after_branch_on_shuffled_value(b: KernelBuilder) -> None:
    total = b.op("shfl.sync.bfly.b32", param_n(b), 1, 31, -1)
    with b.if_(b.op("setp.gt.u32", total, 3), "shuffled"):
        b.op("bar.sync", 0)


def bar_after_branch_on_an_atomics_old_value(b: KernelBuilder) -> None:
    counter = b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(b.param("c", "u64"))))
    old = b.op("atom.global.add.u32", Address(counter), 1)  # every thread gets its own value
    with b.if_(b.op("setp.eq.u32", old, 0), "first"):
        b.op("bar.sync", 0)


def bar_in_uniform_loop_with_a_tid_break(b: KernelBuilder) -> None:
    with b.loop(0, param_n(b), "breaking"):
        done = b.label("out")
        b.op("bra", done, guard=Guard(tid_below_16(b)))
        b.op("bar.sync", 0)
    b.place(done)


def bar_in_if_on_value_written_under_tid_guard(b: KernelBuilder) -> None:
    flag = b.op("mov.u32", 0)
    b.set(flag, "mov.u32", 1, guard=Guard(tid_below_16(b)))
    with b.if_(b.op("setp.eq.u32", flag, 1), "flag"):
        b.op("bar.sync", 0)


UNSAFE = [
    bar_in_if_on_tid,
    bar_in_if_on_arithmetic_of_tid,
    bar_in_loop_bounded_by_laneid,
    bar_in_loop_bounded_by_warpid,
    bar_after_ret_on_tid,
    bar_after_ret_under_tid_branch,
    bar_guarded_by_varying_predicate,
    bar_guarded_by_negated_varying_predicate,
    bar_after_branch_on_value_loaded_from_tid_address,
    bar_after_branch_on_shuffled_value,
    bar_after_branch_on_an_atomics_old_value,
    bar_in_uniform_loop_with_a_tid_break,
    bar_in_if_on_value_written_under_tid_guard,
]


@pytest.mark.parametrize("plant", UNSAFE, ids=lambda f: f.__name__)
def test_unsafe_barrier_is_rejected_naming_the_statement(plant: Plant, checked) -> None:
    with pytest.raises(BarrierError) as info:
        build(plant)
    message = str(info.value)
    match = re.match(r"planted: statement (\d+) `bar\.sync \.\.\.`", message)
    assert match, message
    statement = checked[-1].body[int(match.group(1))]
    assert isinstance(statement, Instruction) and statement.name == "bar.sync"
    assert isinstance(info.value, ValueError)


def test_message_says_why(checked) -> None:
    reasons = {
        bar_guarded_by_varying_predicate: "guarded by thread-dependent predicate %p1",
        bar_in_if_on_tid: "statement 2 `@!%p1 bra $L_low_end` branches on a varying value",
        bar_after_ret_on_tid: "follows a thread-dependent early exit at statement 2 `@%p1 ret`",
    }
    for plant, reason in reasons.items():
        with pytest.raises(BarrierError, match=re.escape(reason)):
            build(plant)


# -- safe: every one must build ------------------------------------------------------------


def bar_in_if_on_ctaid(b: KernelBuilder) -> None:
    head = b.special("ctaid.x")
    with b.if_(b.op("setp.lt.u32", b.op("and.b32", head, 1), 1), "even_cta"):
        b.op("bar.sync", 0)


def bar_in_if_on_param(b: KernelBuilder) -> None:
    with b.if_(b.op("setp.gt.u32", param_n(b), 0), "nonempty"):
        b.op("bar.sync", 0)


def bar_after_uniform_loop(b: KernelBuilder) -> None:
    acc = b.op("mov.u32", 0)
    with b.loop(0, param_n(b), "uniform") as i:
        b.set(acc, "add.u32", acc, i)
    b.op("bar.sync", 0)


def bar_inside_uniform_loop(b: KernelBuilder) -> None:
    with b.loop(b.special("ctaid.x"), param_n(b), "uniform", step=4):
        b.op("bar.sync", 0)


def bar_after_tid_branch_rejoins(b: KernelBuilder) -> None:
    with b.if_(tid_below_16(b), "low"):
        b.op("st.shared.u32", Address(b.op("mov.u32", b.param("x", "u32"))), 1)
    b.op("bar.sync", 0)


def bar_after_tid_bounded_loop(b: KernelBuilder) -> None:
    with b.loop(b.special("tid.x"), param_n(b), "strided", step=32):
        b.op("st.shared.u32", Address(b.op("mov.u32", b.param("x", "u32"))), 1)
    b.op("bar.sync", 0)


def bar_after_uniform_ret(b: KernelBuilder) -> None:
    b.op("ret", guard=Guard(b.op("setp.eq.u32", param_n(b), 0)))
    b.op("bar.sync", 0)


SAFE = [
    bar_in_if_on_ctaid,
    bar_in_if_on_param,
    bar_after_uniform_loop,
    bar_inside_uniform_loop,
    bar_after_tid_branch_rejoins,
    bar_after_tid_bounded_loop,
    bar_after_uniform_ret,
]


@pytest.mark.parametrize("plant", SAFE, ids=lambda f: f.__name__)
def test_uniform_barrier_builds(plant: Plant) -> None:
    kernel = build(plant)
    assert any(isinstance(s, Instruction) and s.opcode == "bar" for s in kernel.body)


def bar_in_uniform_loop_after_tid_if(b: KernelBuilder) -> None:
    """The tiled-loop pattern: `for tile: if (tid < 16) store; __syncthreads();`."""
    with b.loop(0, param_n(b), "tiles") as i:
        with b.if_(tid_below_16(b), "low"):
            b.op("st.shared.u32", Address(b.op("mov.u32", b.param("x", "u32"))), i)
        b.op("bar.sync", 0)


def test_barrier_in_uniform_loop_after_a_rejoined_tid_branch_builds() -> None:
    build(bar_in_uniform_loop_after_tid_if)


# -- the real kernels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head_dim", "warps", "indirect"),
    list(itertools.product([1, 64, 80, 256], [1, 2, 4, 32], [False, True])),
)
def test_real_kernels_pass_the_check(head_dim: int, warps: int, indirect: bool) -> None:
    multi = MultiWarpIncrementalAttentionKernel(
        2048, head_dim, 12, 2, warps, indirect_seq_len=indirect
    )
    kernels = [multi.kernel, IncrementalAttentionKernel(2048, head_dim, 12, 2).kernel]
    for kernel in kernels:
        check_barriers(kernel)
    bars = [s for s in multi.kernel.body if isinstance(s, Instruction) and s.opcode == "bar"]
    assert len(bars) == 3 and all(s.guard is None for s in bars)
