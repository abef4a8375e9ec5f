"""The state of one launch: every thread of every CTA as one NumPy vector.

Thread `t` (0 <= t < T = nctas * threads_per_cta) is thread `t % threads_per_cta` of CTA
`t // threads_per_cta`. A register is one array of length T (dtype by register kind; other types
of the same width are bit views); beside it a written-mask says which threads ever wrote it, so
a read of an uninitialised register is caught. Special registers are precomputed arrays.
A set of threads (`sel`) is either `ALL` (the slice of every thread) or a sorted index array.

It holds state and answers questions about threads; the opcode semantics live in `ops`,
`memops` and `warp`, the scheduler in `launch`.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import Instruction
from .clusters import Clusters, NoClusters
from .errors import Finding, SimError, ThreadCoords, instruction_text
from .memory import GlobalMemory, SharedMemory
from .values import STORAGE

ALL = slice(None)
WARP = 32
# The hardware's limits (CUDA's compute capability table, 7.5 to 9.0), and the simulator's own:
# every register is one array over all threads of the launch.
MAX_GRID = (2**31 - 1, 65535, 65535)
MAX_BLOCK = (1024, 1024, 64)
MAX_CTA_THREADS = 1024
MAX_SIM_THREADS = 2**20


def dims3(value, name: str) -> tuple[int, int, int]:
    """A launch dimension as (x, y, z) within the hardware's limits; raises ValueError naming
    `name`."""
    if isinstance(value, (list, tuple)):
        dims = tuple(value)
    else:
        dims = (value,)
    limits = MAX_GRID if name == "grid" else MAX_BLOCK
    if not 1 <= len(dims) <= 3 or any(
        isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 1
        for d in dims
    ):
        raise ValueError(f"{name} must be 1 to 3 positive integers, got {value!r}")
    if any(d > hi for d, hi in zip(dims, limits, strict=False)):
        raise ValueError(f"{name}={value!r} exceeds the hardware's limits (x, y, z) <= {limits}")
    return tuple(int(d) for d in dims) + (1,) * (3 - len(dims))


def check_size(grid: tuple[int, int, int], block: tuple[int, int, int]) -> None:
    """Threads per CTA within the hardware's limit, and per launch within the simulator's."""
    cta = int(np.prod(block))
    if cta > MAX_CTA_THREADS:
        raise ValueError(f"block={block} has {cta} threads; a CTA has at most {MAX_CTA_THREADS}")
    total = cta * int(np.prod(grid, dtype=object))
    if total > MAX_SIM_THREADS:
        raise ValueError(f"grid={grid} x block={block} is {total} threads; the simulator runs at "
                         f"most {MAX_SIM_THREADS} threads per launch")


class Machine:
    """Registers, special registers, thread coordinates and memory of one launch."""

    def __init__(self, grid, block, registers, global_mem: GlobalMemory, shared_decls,
                 shared_bytes: int = 0, strict: bool = True,
                 cluster: tuple[int, int, int] | None = None) -> None:
        self.grid, self.block = dims3(grid, "grid"), dims3(block, "block")
        self.cta_threads = int(np.prod(self.block))
        self.nctas = int(np.prod(self.grid))
        self.T = T = self.nctas * self.cta_threads
        t = np.arange(T, dtype=np.int64)
        self.cta = t // self.cta_threads
        local = t % self.cta_threads
        self.lane = (local % WARP).astype(np.uint32)
        self.warp = (local // WARP).astype(np.uint32)
        # A warp's first thread and its number of lanes (the last warp of a CTA may be partial).
        self.warp_base = t - self.lane
        warps_per_cta = -(-self.cta_threads // WARP)
        self.warp_lanes = np.minimum(WARP, self.cta_threads - self.warp * WARP).astype(np.int64)
        self.global_warp = self.cta * warps_per_cta + self.warp
        self.warp_starts = np.flatnonzero(np.diff(self.global_warp, prepend=-1))
        self.full_warps = self.cta_threads % WARP == 0
        self.specials = self._specials(local)
        # `cluster`: the shape of the launch's thread-block clusters, None when its PTX names
        # no cluster feature (then nothing about clusters is computed or checked)
        self.clusters = NoClusters() if cluster is None else Clusters(self.grid, cluster,
                                                                       self.cta, T)
        if cluster is not None:
            self.specials.update(self.clusters.specials(self.specials))
        self.alive = np.bincount(self.cta, minlength=self.nctas)  # the scheduler's, per CTA
        # Keyed by register name: str hashes are cached, which the hot loop notices.
        self.store = {str(r): np.zeros(T, dtype=STORAGE[r.kind]) for r in registers}
        self.written = {str(r): np.zeros(T, dtype=bool) for r in registers}
        self.full = dict.fromkeys(self.store, False)  # written by every thread already
        self.exited = np.zeros(T, dtype=bool)
        self.glob = global_mem
        self.shared = SharedMemory(shared_decls, self.nctas, shared_bytes, strict)
        self.findings: dict[tuple[int | None, str], Finding] = {}  # by (line, kind)
        self.races = None  # a RaceTracker when the launch checks races
        self.param_values: dict[str, int | float] = {}
        self.cache: dict[object, object] = {}  # per-launch data of decoded instructions

    def _specials(self, local: np.ndarray) -> dict[str, object]:
        bx, by, bz = self.block
        gx, gy, gz = self.grid
        u32 = np.uint32
        return {
            "tid.x": (local % bx).astype(u32),
            "tid.y": (local // bx % by).astype(u32),
            "tid.z": (local // (bx * by)).astype(u32),
            "ntid.x": u32(bx),
            "ntid.y": u32(by),
            "ntid.z": u32(bz),
            "ctaid.x": (self.cta % gx).astype(u32),
            "ctaid.y": (self.cta // gx % gy).astype(u32),
            "ctaid.z": (self.cta // (gx * gy)).astype(u32),
            "nctaid.x": u32(gx),
            "nctaid.y": u32(gy),
            "nctaid.z": u32(gz),
            "laneid": self.lane,
            "warpid": self.warp,  # the warp's index in its CTA (hardware may differ; see docs)
        }

    # -- threads ----------------------------------------------------------------------------
    def indices(self, sel) -> np.ndarray:
        """`sel` as an index array."""
        return np.arange(self.T) if isinstance(sel, slice) else sel

    def coords(self, t: int) -> ThreadCoords:
        bx, by, _ = self.block
        gx, gy, _ = self.grid
        cta, local = divmod(int(t), self.cta_threads)
        ctaid = (cta % gx, cta // gx % gy, cta // (gx * gy))
        tid = (local % bx, local // bx % by, local // (bx * by))
        return ThreadCoords(ctaid, tid, local % WARP)

    def fail(self, what: str, ins: Instruction, sel, bad=None, other=None) -> SimError:
        """A SimError naming the first thread of `sel` where `bad` holds (all of `sel` if None)."""
        idx = self.indices(sel)
        if bad is not None:
            idx = idx[np.asarray(bad, dtype=bool)] if np.ndim(bad) else idx
        first = self.coords(idx[0]) if len(idx) else None
        return SimError(what, ins, first, self.coords(other) if other is not None else None)

    def note(self, ins: Instruction, kind: str, what: str) -> None:
        """Record a finding, the first of its kind on its PTX line."""
        key = (ins.line, kind)
        if key not in self.findings:
            self.findings[key] = Finding(ins.line, instruction_text(ins), what)

    # -- registers --------------------------------------------------------------------------
    def check_written(self, reg: str, sel, ins: Instruction) -> None:
        """Raise unless every thread of `sel` has written `reg` (not strict: note a finding;
        generators read registers a predicated load left unset in lanes whose result no one
        uses, and the hardware gives whatever the register held)."""
        ok = self.written[reg][sel]
        if not ok.all():
            if not self.shared.strict:
                t = self.coords(self.indices(sel)[~ok][0])
                self.note(ins, reg, f"read of uninitialised register {reg} (first by {t}); its "
                               "value is undefined on the hardware, 0 here")
                return
            raise self.fail(f"read of uninitialised register {reg}", ins, sel, ~ok)

    def mark_written(self, reg: str, sel) -> None:
        if isinstance(sel, slice):
            self.full[reg] = True
            return
        mask = self.written[reg]
        mask[sel] = True
        if len(sel) * 8 >= self.T:  # cheap enough to test for completeness now and then
            self.full[reg] = bool(mask.all())
