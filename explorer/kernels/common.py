"""What the seed's two attention kernels share: the kernel object's interface (its constructor
binds and checks its arguments through `explorer.schema`; it produces a `Program`, its
`Launch`es and its `BufferSpec`s, and decodes its results), the checks that span several
arguments, and the PTX pieces both emit (pointer setup, the per-position online-softmax step,
the warp sum). It writes PTX through the builder only; it launches nothing.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from .. import schema
from ..arch import PTX_VERSION, TARGETS
from ..dtypes import DTYPES
from ..ptx import BufferSpec, Kernel, KernelBuilder, Launch, Program
from ..ptx.ir import Address, Guard, Reg
from ..schema import MAX_ELEMENTS_PER_KV_HEAD, MAX_HEAD_DIM, require_int
from .online_softmax import NEG_INF, online_weights

MAX_SLOTS = MAX_HEAD_DIM // 32  # head-dim slots per lane: lane, lane+32, ...


def validate_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"target={target!r} is not supported; accepted: {', '.join(TARGETS)}")
    return target


@dataclass(frozen=True)
class AttentionShape:
    """The sizes baked into the PTX as immediates (one module per configuration)."""

    max_seq_len: int
    head_dim: int
    num_heads: int
    num_kv_heads: int
    scale: float

    @staticmethod
    def checked(values: dict[str, object]) -> AttentionShape:
        """The shape of options already checked one by one (`schema.bind`): num_kv_heads
        (default num_heads) must divide num_heads, the cache fit 32-bit indexing."""
        num_heads, head_dim, max_seq_len = (values[k] for k in
                                            ("num_heads", "head_dim", "max_seq_len"))
        num_kv_heads = num_heads if values["num_kv_heads"] is None else values["num_kv_heads"]
        num_kv_heads = require_int("num_kv_heads", num_kv_heads, 1, num_heads)
        if num_heads % num_kv_heads:
            raise ValueError(
                f"num_heads={num_heads} must be a multiple of num_kv_heads={num_kv_heads} "
                f"(accepted num_kv_heads: divisors of {num_heads})"
            )
        if max_seq_len * head_dim > MAX_ELEMENTS_PER_KV_HEAD:
            raise ValueError(
                f"max_seq_len * head_dim = {max_seq_len * head_dim} is too large for 32-bit "
                f"indexing (accepted: at most {MAX_ELEMENTS_PER_KV_HEAD})"
            )
        scale = values["scale"]
        scale = 1.0 / math.sqrt(head_dim) if scale is None else scale
        return AttentionShape(max_seq_len, head_dim, num_heads, num_kv_heads, scale)

    @property
    def slots(self) -> int:
        return -(-self.head_dim // 32)


NAN = float("nan")


class AttentionKernelBase:
    """The interface every kernel object keeps: entry, params, grid, block, shared bytes, and
    what the runtime asks for: `program`, `buffer_specs`, `length_arguments`, `launches`,
    `results` (and `emit`, the program's text).

    A subclass names its row of `explorer.schema.KERNEL_OPTIONS` (`name`); its constructor's
    signature is that row's, and `configure` sets what the options decide beyond the shape.
    """

    name = ""
    base_entry = ""
    dtype = "f32"  # storage dtype of q, k, v and out
    batch = 1
    indirect_seq_len = False
    debug = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.__signature__ = schema.signature(cls.name)

    def __init__(self, *args, **kwargs) -> None:
        values = schema.bind(self.name, args, kwargs)
        shape = AttentionShape.checked(values)
        self.shape = shape
        self.max_seq_len = shape.max_seq_len
        self.head_dim = shape.head_dim
        self.num_heads = shape.num_heads
        self.num_kv_heads = shape.num_kv_heads
        self.scale = shape.scale
        self.indirect_seq_len = values.get("indirect_seq_len", self.indirect_seq_len)
        self.debug = values.get("debug", self.debug)
        self._kernel: Kernel | None = None
        self.configure(values)

    def configure(self, values: dict[str, object]) -> None:
        """Set the attributes the options other than the shape decide."""

    @property
    def entry(self) -> str:
        """The seed's entry name, `_indirect` and `_debug` suffixed by mode."""
        return (
            self.base_entry
            + ("_indirect" if self.indirect_seq_len else "")
            + ("_debug" if self.debug else "")
        )

    @property
    def debug_layout(self):
        """Where the debug variant writes each warp's state (None for a plain kernel)."""
        from .debug import DebugLayout

        return DebugLayout.of(self) if self.debug else None

    @property
    def kernel(self) -> Kernel:
        """The IR, built once."""
        if self._kernel is None:
            self._kernel = self.build()
        return self._kernel

    @property
    def kernels(self) -> tuple[Kernel, ...]:
        """Every entry of the module, in launch order (one for the seed's kernels)."""
        return (self.kernel,)

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        """(name, PTX type) of each kernel parameter, in launch order."""
        return tuple((p.name, p.type) for p in self.kernel.params)

    def check_target(self, target: str) -> str:
        """`target` if this kernel can be emitted for it; else ValueError saying why."""
        return validate_target(target)

    def program(self, target: str = schema.TARGET.default, line_info: bool = False) -> Program:
        """The module of every entry, printed for `target`, with the entries' parameters;
        with `line_info`, `.loc` lines naming the line of `explorer/kernels/` behind each
        instruction."""
        return Program.from_ir(self.kernels, self.check_target(target), PTX_VERSION, line_info)

    def emit(self, target: str = schema.TARGET.default, line_info: bool = False) -> str:
        return self.program(target, line_info).ptx

    def buffer_specs(self) -> tuple[BufferSpec, ...]:
        """q, k, v, out in the seed's layouts (no batch dimension), then the device-side
        seq_len of an indirect kernel and the debug record of a debug kernel."""
        hd, kv = self.head_dim, (self.num_kv_heads, self.max_seq_len, self.head_dim)
        specs = list(self.attention_specs((self.num_heads, hd), kv))
        if self.indirect_seq_len:
            specs.append(BufferSpec("seq_len", (self.batch,), "uint32", "input"))
        if self.debug:
            from .debug import POISON

            specs.append(BufferSpec("debug", (self.debug_layout.words,), "uint32", "output",
                                    fill=POISON))
        return tuple(specs)

    def attention_specs(self, heads: tuple[int, ...], cache: tuple[int, ...]) -> tuple:
        """q [heads], k and v [cache] (inputs), out [heads] (poisoned), in the storage dtype."""
        stored = DTYPES[self.dtype]  # outputs start as a quiet NaN: an unwritten one shows
        dtype, poison = stored.numpy.name, stored.poison.item()
        return (BufferSpec("q", heads, dtype, "input", storage=self.dtype),
                BufferSpec("k", cache, dtype, "input", storage=self.dtype),
                BufferSpec("v", cache, dtype, "input", storage=self.dtype),
                BufferSpec("out", heads, dtype, "output", fill=poison, storage=self.dtype))

    def length_arguments(self, lengths: tuple[int, ...]) -> dict[str, object]:
        """`seq_len` for one run: the u32 array of per-sequence lengths (an indirect kernel's
        device buffer), or the one length as a u32 scalar."""
        if self.indirect_seq_len:
            return {"seq_len": np.array(lengths, dtype=np.uint32)}
        return {"seq_len": np.uint32(lengths[0])}

    def launches(self) -> list[Launch]:
        """The launches of one run; their arguments name `buffer_specs` and `seq_len`."""
        args = ("q", "k", "v", "out", "seq_len") + (("debug",) if self.debug else ())
        return [Launch(self.entry, self.grid, self.block, args)]

    def results(self, outputs: dict, lengths: tuple[int, ...], out_shape=None):
        """The output (reshaped to `out_shape`, the caller's q layout), and for a debug kernel
        `(output, WarpStates)` decoded from its record; `outputs` are the output buffers."""
        out = outputs["out"] if out_shape is None else outputs["out"].reshape(out_shape)
        if self.debug:
            return out, self.debug_layout.decode(outputs["debug"], lengths[0])
        return out

    def debug_variant(self) -> AttentionKernelBase:
        """This configuration with debug=True (it records each warp's state); ValueError
        where the kernel has no debug variant."""
        if self.debug:
            return self
        params = inspect.signature(type(self)).parameters
        args = {k: v for k, v in self.config().items() if k in params}
        return type(self)(**{**args, "debug": True})

    def build(self) -> Kernel:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({fields})"

    def config(self) -> dict[str, object]:
        """Every constructor option's value, the derived ones resolved: `type(k)(**k.config())`
        builds the same kernel."""
        return {o.name: getattr(self, o.name) for o in schema.options(self.name)}


@dataclass(frozen=True)
class Setup:
    """Registers every thread holds after the prologue."""

    head: Reg  # %ctaid.x: the q head
    lane: Reg
    warp: Reg
    tid: Reg
    seq_len: Reg  # clamped to max_seq_len
    q: tuple[Reg, ...]  # this lane's q slots, 0 where the slot is past head_dim
    k_head: Reg  # byte address of this lane's column in K row 0 of the KV head
    v_head: Reg
    out_row: Reg  # byte address of out[head, lane]
    partial: Reg | None  # lane + 32*(slots-1) < head_dim, when the last slot is partial


def prologue(b: KernelBuilder, shape: AttentionShape, indirect: bool) -> Setup:
    """Parameters, thread coordinates, GQA mapping, clamped seq_len and this lane's q slots."""
    b.comment("phase: setup (pointers, thread coordinates, GQA mapping, seq_len)")
    ptrs = [b.param(name, "u64") for name in ("q_ptr", "k_ptr", "v_ptr", "out_ptr")]
    seq_param = b.param("seq_len_ptr" if indirect else "seq_len", "u64" if indirect else "u32")
    q_ptr, k_ptr, v_ptr, out_ptr = (
        b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(p))) for p in ptrs
    )
    seq_regs = b.reserve("u64", 2 if indirect else 0, 2)  # same names whichever mode
    if indirect:
        b.set(seq_regs[0], "ld.param.u64", Address(seq_param))
        b.set(seq_regs[1], "cvta.to.global.u64", seq_regs[0])
        raw_len = b.op("ld.global.u32", Address(seq_regs[1]))
    else:
        raw_len = b.op("ld.param.u32", Address(seq_param))
    seq_len = b.op("min.u32", raw_len, shape.max_seq_len)  # never read past the cache
    tid = b.special("tid.x")
    head = b.special("ctaid.x")
    lane, warp = lane_and_warp(b, tid)
    # GQA: kv_head = head * num_kv_heads / num_heads
    kv_head = b.op("div.u32", b.op("mul.lo.u32", head, shape.num_kv_heads), shape.num_heads)
    lane_bytes = b.op("mul.wide.u32", lane, 4)
    kv_offset = b.op("mul.wide.u32", kv_head, shape.max_seq_len * shape.head_dim)
    kv_bytes = b.op("add.s64", b.op("shl.b64", kv_offset, 2), lane_bytes)
    k_head = b.op("add.s64", k_ptr, kv_bytes)
    v_head = b.op("add.s64", v_ptr, kv_bytes)
    row_bytes = b.op("add.s64", b.op("mul.wide.u32", head, shape.head_dim * 4), lane_bytes)
    q_row = b.op("add.s64", q_ptr, row_bytes)
    out_row = b.op("add.s64", out_ptr, row_bytes)
    partial = _partial_slot_predicate(b, shape, lane)
    b.comment("phase: load Q (slot s holds q[head, lane + 32*s])")
    q = b.reserve("f32", shape.slots, MAX_SLOTS)
    for s, reg in enumerate(q):
        if partial is not None and s == shape.slots - 1:
            b.set(reg, "mov.f32", 0.0)
        b.set(reg, "ld.global.f32", Address(q_row, 128 * s), guard=_slot_guard(shape, s, partial))
    return Setup(head, lane, warp, tid, seq_len, q, k_head, v_head, out_row, partial)


def _partial_slot_predicate(b: KernelBuilder, shape: AttentionShape, lane: Reg) -> Reg | None:
    (reg,) = b.reserve("pred", 1, 1)
    if shape.head_dim % 32 == 0:
        return None
    b.set(reg, "setp.lt.u32", lane, shape.head_dim - 32 * (shape.slots - 1))
    return reg


def maybe_guard(pred: Reg | None) -> Guard | None:
    """`Guard(pred)`, or None (no guard) where there is no predicate."""
    return None if pred is None else Guard(pred)


def _slot_guard(shape: AttentionShape, slot: int, partial: Reg | None) -> Guard | None:
    """Only the last slot can be partial; its lanes past head_dim do nothing."""
    if partial is not None and slot == shape.slots - 1:
        return Guard(partial)
    return None


def slot_guards(setup: Setup, shape: AttentionShape) -> list[Guard | None]:
    return [_slot_guard(shape, s, setup.partial) for s in range(shape.slots)]


def lane_and_warp(b: KernelBuilder, tid: Reg) -> tuple[Reg, Reg]:
    """This thread's lane and warp from its id: `and.b32 tid, 31` and `shr.u32 tid, 5`."""
    return b.op("and.b32", tid, 31), b.op("shr.u32", tid, 5)


def warp_sum(b: KernelBuilder, value: Reg) -> Reg:
    """Tree sum over the warp: `shfl.sync.down.b32` by 16, 8, 4, 2, 1 with `add.f32`, then
    `shfl.sync.idx.b32` from lane 0 so every lane holds the total."""
    for delta in (16, 8, 4, 2, 1):
        other = b.set(b.fresh("f32"), "shfl.sync.down.b32", value, delta, 31, -1)
        value = b.op("add.f32", value, other)
    return b.set(b.fresh("f32"), "shfl.sync.idx.b32", value, 0, 31, -1)


def shuffle_xor(b: KernelBuilder, value: Reg, lane_mask: int) -> Reg:
    """`value` of lane `lane ^ lane_mask`, into a fresh f32 register: `shfl.sync.bfly.b32
    %f, value, lane_mask, 31, -1` (the step of a butterfly reduction)."""
    return b.set(b.fresh("f32"), "shfl.sync.bfly.b32", value, lane_mask, 31, -1)


@dataclass(frozen=True)
class SoftmaxState:
    """Loop-carried online-softmax state of one warp: running max, sum and output slots
    (updated in place through `b.set`, never replaced)."""

    m: Reg
    l: Reg
    o: tuple[Reg, ...]


def init_state(b: KernelBuilder, shape: AttentionShape) -> SoftmaxState:
    m = b.op("mov.f32", NEG_INF)
    l = b.op("mov.f32", 0.0)
    o = b.reserve("f32", shape.slots, MAX_SLOTS)
    for reg in o:
        b.set(reg, "mov.f32", 0.0)
    return SoftmaxState(m, l, o)


def attend_position(
    b: KernelBuilder, shape: AttentionShape, setup: Setup, state: SoftmaxState, pos: Reg
) -> Reg:
    """One position: score = scale * q.k (warp sum), then the online-softmax update of m, l, o.

    `m' = max(m, s)`, `corr = 2^((m - m') log2e)`, `p = 2^((s - m') log2e)`, `l = l*corr + p`,
    `o = o*corr + p*v`, with 0 in place of m' while m' is -inf (corr = p = 0 then, not NaN).
    The old max stays in `state.m` until `corr` is computed.
    Returns the scaled score.
    """
    guards = slot_guards(setup, shape)
    row = b.op("mul.wide.u32", pos, shape.head_dim * 4)
    k_row = b.op("add.s64", setup.k_head, row)
    v_row = b.op("add.s64", setup.v_head, row)
    # V does not depend on the score: issue its loads with K's so both latencies overlap.
    k = b.reserve("f32", shape.slots, MAX_SLOTS)
    v = b.reserve("f32", shape.slots, MAX_SLOTS)
    for s in range(shape.slots):
        b.set(k[s], "ld.global.f32", Address(k_row, 128 * s), guard=guards[s])
        b.set(v[s], "ld.global.f32", Address(v_row, 128 * s), guard=guards[s])
    dot = b.op("mov.f32", 0.0)
    for s in range(shape.slots):
        b.set(dot, "fma.rn.f32", setup.q[s], k[s], dot, guard=guards[s])
    score = b.op("mul.f32", warp_sum(b, dot), shape.scale)
    m_new = b.op("max.f32", state.m, score)
    corr, (p,) = online_weights(b, state.m, m_new, [score], natural=True)
    b.set(state.l, "fma.rn.f32", state.l, corr, p)
    for s in range(shape.slots):
        b.set(state.o[s], "mul.f32", state.o[s], corr, guard=guards[s])
        b.set(state.o[s], "fma.rn.f32", p, v[s], state.o[s], guard=guards[s])
    b.set(state.m, "mov.f32", m_new)
    return score


def store_output(b: KernelBuilder, shape: AttentionShape, setup: Setup, o) -> None:
    """`out[head, lane + 32*s] = o[s]` for each slot."""
    for s, (reg, guard) in enumerate(zip(o, slot_guards(setup, shape), strict=False)):
        b.op("st.global.f32", Address(setup.out_row, 128 * s), reg, guard=guard)
