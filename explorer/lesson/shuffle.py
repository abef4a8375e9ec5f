"""Lesson step 2: one warp's shuffle-down tree, run as real PTX.

`ShuffleTreeKernel` is a tiny kernel written with `KernelBuilder` around the attention kernels'
own `explorer.kernels.common.warp_sum` (not a copy of it): each lane loads one value, the tree
runs, and every lane's value before the tree and after each of the five `shfl.sync.down` +
`add.f32` steps is stored to global memory. On the simulator `shuffle_tree` reads those values
from the lane trace of the kernel's instructions (`explorer.sim.trace`: the load, then the
`add.f32` after each shuffle; `shuffle_trace` is the trace itself, `trace_table` its tree as
text); on CUDA, from what the kernel stored. `shuffle_tree_numpy` is the same tree from the
ISA's rule, to compare with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .. import runtime, sim
from ..kernels.common import PTX_VERSION, validate_target, warp_sum
from ..ptx import Kernel, KernelBuilder, Launch, Program
from ..ptx.ir import Address
from ..runtime.sim import SimBackend

SHUFFLE_DELTAS = (16, 8, 4, 2, 1)
SHUFFLE_ROWS = ("input", *(f"after shfl.down {d}" for d in SHUFFLE_DELTAS))


class _SumRecordingBuilder(KernelBuilder):
    """A KernelBuilder that remembers each register an `add.f32` writes: inside `warp_sum`
    those are the partial sums after each shuffle step (the builder never reuses a register,
    so they still hold those values when the lesson's kernel stores them)."""

    def __init__(self, entry: str) -> None:
        super().__init__(entry)
        self.sums: list = []

    def op(self, name, *sources, guard=None):
        result = super().op(name, *sources, guard=guard)
        if name == "add.f32":
            self.sums.append(result)
        return result


class ShuffleTreeKernel:
    """Entry `shuffle_tree(in_ptr .u64, out_ptr .u64)`, grid `(warps, 1, 1)`, block
    `(32, 1, 1)`: CTA c is one warp; lane i loads `in[c, i]` (f32 `[warps, 32]`), runs
    `warp_sum` and stores its value before the tree and after each step to `out[c, step, i]`
    (f32 `[warps, 6, 32]`)."""

    entry = "shuffle_tree"

    def build(self) -> Kernel:
        b = _SumRecordingBuilder(self.entry)
        src, dst = (
            b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(b.param(n, "u64"))))
            for n in ("in_ptr", "out_ptr")
        )
        lane, warp = b.special("tid.x"), b.special("ctaid.x")
        index = b.op("mad.lo.u32", warp, 32, lane)
        value = b.op("ld.global.f32", Address(b.op("mad.wide.u32", index, 4, src)))
        b.comment("the attention kernels' warp_sum, unchanged")
        warp_sum(b, value)
        if len(b.sums) != len(SHUFFLE_DELTAS):
            raise RuntimeError(
                f"warp_sum emitted {len(b.sums)} add.f32 instead of "
                f"{len(SHUFFLE_DELTAS)}: explorer.lesson.shuffle needs updating"
            )
        b.comment("record every lane's value: before the tree, then after each step")
        record = b.op("mad.lo.u32", warp, 32 * len(SHUFFLE_ROWS), lane)
        row0 = b.op("mad.wide.u32", record, 4, dst)
        for step, reg in enumerate([value, *b.sums]):
            b.op("st.global.f32", Address(row0, 32 * 4 * step), reg)
        b.op("ret")
        return b.build()

    def program(self, target: str = "sm_80") -> Program:
        """The module and its one entry (what the simulator parses and the driver JITs)."""
        return Program.from_ir([self.build()], validate_target(target), PTX_VERSION)

    def emit(self, target: str = "sm_80") -> str:
        return self.program(target).ptx

    def launch(self, warps: int) -> Launch:
        """One CTA of one warp per row of `in`."""
        return Launch(self.entry, (warps, 1, 1), (32, 1, 1), ("in", "out"))


def shuffle_tree(values: Iterable[float], backend: str = "sim") -> np.ndarray:
    """Every lane's value through `ShuffleTreeKernel` on `values` (`[32]`, or `[warps, 32]`
    for several warps): float32 `[6, 32]` (`[warps, 6, 32]`), row 0 the input, row s every
    lane's value after the s-th `shfl.sync.down` + `add.f32`. Lane 0 ends with the sum. On
    the simulator the rows are the lane traces' (one launch per warp), on CUDA what one launch
    of all the warps stored."""
    vals = np.ascontiguousarray(values, dtype=np.float32)
    if vals.ndim not in (1, 2) or vals.shape[-1] != 32 or vals.size == 0:
        raise ValueError(f"values has shape {vals.shape}; accepted: [32] or [warps, 32]")
    batch = vals.reshape(-1, 32)
    be = runtime.get_backend(backend)
    if be.name == "sim":
        out = np.stack([tree_rows(shuffle_trace(row)) for row in batch])
    else:
        kernel = ShuffleTreeKernel()
        out = np.full((batch.shape[0], len(SHUFFLE_ROWS), 32), np.nan, dtype=np.float32)
        got = runtime.launch(kernel.program(be.target), [kernel.launch(batch.shape[0])],
                             {"in": batch, "out": out}, be)
        out = got["out"]
    return out[0] if vals.ndim == 1 else out


def shuffle_trace(values: Iterable[float]) -> sim.Trace:
    """The simulator's lane trace (`explorer.sim.trace`) of `ShuffleTreeKernel` run on one
    warp's `values` (`[32]`): every instruction the warp executed, with its 32 lanes."""
    vals = np.ascontiguousarray(values, dtype=np.float32)
    if vals.shape != (32,):
        raise ValueError(f"values has shape {vals.shape}; accepted: [32]")
    kernel = ShuffleTreeKernel()
    launch = kernel.launch(1)
    out = np.full((1, len(SHUFFLE_ROWS), 32), np.nan, dtype=np.float32)
    return sim.trace(kernel.emit(SimBackend.target), kernel.entry, launch.grid, launch.block,
                     [vals, out])


def tree_rows(trace: sim.Trace) -> np.ndarray:
    """float32 `[6, 32]` from a trace of `ShuffleTreeKernel`: the lanes of the `ld.global.f32`
    that loads the input, then of the `add.f32` after each `shfl.sync.down`."""
    rows, shuffled = [], False
    for step in trace:
        if step.text.startswith("ld.global.f32"):
            rows.append(step.lanes)
        elif step.text.startswith("shfl.sync.down"):
            shuffled = True
        elif shuffled and step.text.startswith("add.f32"):
            rows.append(step.lanes)
            shuffled = False
    if len(rows) != len(SHUFFLE_ROWS):
        raise RuntimeError(f"the trace has {len(rows)} of the tree's {len(SHUFFLE_ROWS)} rows: "
                           "explorer.lesson.shuffle needs updating")
    return np.stack(rows)


def trace_table(trace: sim.Trace, lanes: Sequence[int] = (0, 1, 16, 31)) -> str:
    """The tree's part of a `shuffle_trace` as text, one instruction a row (from the load of
    the input to the broadcast): its PTX line, its text and what `lanes` hold after it."""
    if not lanes or any(not 0 <= lane < 32 for lane in lanes):
        raise ValueError(f"lanes={tuple(lanes)!r}; accepted: lane numbers 0..31")
    texts = [step.text for step in trace]
    start = next(i for i, t in enumerate(texts) if t.startswith("ld.global.f32"))
    stop = next(i for i, t in enumerate(texts) if t.startswith("shfl.sync.idx")) + 1
    width = max(len(t) for t in texts[start:stop])
    head = f"{'line':>4}  {'instruction':{width}}  " + "  ".join(f"lane {n:>2}" for n in lanes)
    rows = [f"{step.line:>4}  {step.text:{width}}  "
            + "  ".join(f"{step.lanes[n]:>7g}" for n in lanes) for step in trace[start:stop]]
    return "\n".join([head, *rows])


def shuffle_tree_numpy(values: Iterable[float]) -> np.ndarray:
    """The same tree in NumPy (float32 `[6, 32]`) from the ISA's rule for `shfl.sync.down` with
    clamp 31: lane i reads lane i + delta, or its own value when i + delta > 31."""
    v = np.asarray(values, dtype=np.float32).reshape(32)
    rows, lanes = [v], np.arange(32)
    for delta in SHUFFLE_DELTAS:
        v = v + v[np.where(lanes + delta < 32, lanes + delta, lanes)]
        rows.append(v)
    return np.stack(rows)


def shuffle_sources(lane: int, step: int, backend: str = "sim") -> dict[int, int]:
    """{input lane: times} whose values lane `lane` holds (summed) after `step` steps: the
    kernel run on the 32 one-hot inputs at once (a sum is linear in its inputs)."""
    if not 0 <= lane < 32 or not 0 <= step < len(SHUFFLE_ROWS):
        raise ValueError(f"lane={lane}, step={step}; accepted: lane 0..31, step 0..5")
    counts = shuffle_tree(np.eye(32), backend)[:, step, lane]  # one warp per one-hot input
    return {j: int(c) for j, c in enumerate(counts) if c}
