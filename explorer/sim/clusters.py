"""Thread-block clusters (sm_90+) in the simulator: the cluster shape a kernel declares
(`.reqnctapercluster`), the cluster special registers, distributed shared memory (`mapa`
and `ld/st.shared::cluster` on another CTA's shared memory) and the split cluster barrier
(`barrier.cluster.arrive` / `.wait`).

Every CTA of a launch runs at once, so the CTAs of a cluster are always co-resident. A launch
whose kernel declares no cluster runs as clusters of one CTA (as the hardware does from sm_90):
rank 0, `%cluster_nctarank` 1. A shared::cluster address is a CTA's window address with its
rank + 1 in bits 24 and up (`mapa` makes one); a plain window address names the executing
CTA. The barrier completes a phase when every non-exited thread of the cluster has arrived in
it; `wait` returns once the phase of the thread's own arrival has completed. Errors: a wait
without an arrive, two arrivals without a wait, a thread that exits while threads of its
cluster wait for it, an access to the shared memory of a CTA that has exited, and a CTA that
exits while another CTA's access to its shared memory is not yet ordered before the exit by a
completed cluster barrier phase (the hardware may free its shared memory first).

It decodes `mapa`, translates cluster addresses and counts cluster barriers; the scheduler owns
the program counters, `memops` the loads and stores.
"""

from __future__ import annotations

import numpy as np

from ..arch import ARCHS
from ..ptx.ir import CLUSTER_SPECIAL_REGS, Instruction, Kernel, SpecialReg
from .memory import MemoryFault
from .operands import DecodeContext, Semantics, Unsupported, form, reader, writer

RANK_SHIFT = 24  # a shared::cluster address: (rank + 1) << 24 | window address
LOCAL_MASK = (1 << RANK_SHIFT) - 1
MAX_PORTABLE = 8  # CTAs per cluster every sm_90+ part runs (16: opt-in, non-portable)
MAX_NON_PORTABLE = 16
CLUSTERS_SINCE = (9, 0)


def uses_clusters(kernel: Kernel, instructions) -> bool:
    """Whether a kernel declares a cluster shape or any instruction names a cluster feature."""
    if kernel.cluster:
        return True
    for ins in instructions:
        if ins.opcode == "mapa" or "cluster" in ins.modifiers or "shared::cluster" in \
                ins.modifiers or any(isinstance(op, SpecialReg) and op.name in
                                     CLUSTER_SPECIAL_REGS for op in ins.operands):
            return True
    return False


def capability(target: str | None) -> tuple[int, int] | None:
    """The compute capability a `.target` names (`sm_90a` -> (9, 0)); None if it names none."""
    if not target:
        return None
    name = target.split(",")[0].strip()
    if name in ARCHS:
        return ARCHS[name].capability
    digits = name[3:].rstrip("af") if name.startswith("sm_") else ""
    return (int(digits[:-1]), int(digits[-1])) if digits.isdigit() and len(digits) >= 2 else None


def check_cluster(kernel: Kernel, grid: tuple[int, int, int], target: str | None,
                  uses: bool) -> tuple[int, int, int]:
    """The launch's cluster shape ((1, 1, 1) without `.reqnctapercluster`); ValueError for a
    shape above the portable size, one that does not divide the grid, or cluster PTX on a
    target below sm_90."""
    cap = capability(target)
    if uses and cap is not None and cap < CLUSTERS_SINCE:
        raise ValueError(f"{kernel.entry}: the module's .target {target} is below sm_90; "
                         "thread-block clusters (.reqnctapercluster, barrier.cluster, mapa, "
                         "shared::cluster, %cluster_*) need sm_90 or newer (ptxas refuses "
                         "them)")
    dims = kernel.cluster or (1, 1, 1)
    size = int(np.prod(dims))
    if size > MAX_PORTABLE:
        note = (f"; {MAX_NON_PORTABLE} is a non-portable size on sm_90, which the kernel "
                "must opt into (cudaFuncAttributeNonPortableClusterSizeAllowed) and launch "
                "with cuLaunchKernelEx, and the simulator does not model"
                if size <= MAX_NON_PORTABLE else "")
        raise ValueError(f"{kernel.entry}: .reqnctapercluster {', '.join(map(str, dims))} is "
                         f"{size} CTAs per cluster (accepted: at most {MAX_PORTABLE}, the "
                         f"portable cluster size{note})")
    if any(g % c for g, c in zip(grid, dims, strict=True)):
        raise ValueError(f"grid={grid} is not a whole number of clusters of {dims} "
                         f"({kernel.entry} declares .reqnctapercluster): each grid dimension "
                         "must be a multiple of the cluster's")
    return dims


class NoClusters:
    """A launch whose PTX names no cluster feature: nothing to count or check."""

    active = False
    size = 1
    waiting: dict[int, np.ndarray] = {}


class Clusters:
    """The clusters of one launch: which CTAs form each (by rank), the special registers, the
    barrier's phases and the accesses to other CTAs' shared memory still to be ordered."""

    active = True

    def __init__(self, grid, dims, cta: np.ndarray, T: int) -> None:
        self.dims, self.size = tuple(dims), int(np.prod(dims))
        gx, gy, gz = grid
        nctas = gx * gy * gz
        c = np.arange(nctas)
        pos = np.stack([c % gx, c // gx % gy, c // (gx * gy)])
        d = np.array(self.dims)[:, None]
        within, cid = pos % d, pos // d
        ncl = (np.array(grid) // np.array(self.dims))
        self.rank = within[0] + d[0] * (within[1] + d[1] * within[2])
        self.cluster = cid[0] + ncl[0] * (cid[1] + ncl[1] * cid[2])
        self.count = int(np.prod(ncl))
        self.members = np.zeros((self.count, self.size), dtype=np.int64)
        self.members[self.cluster, self.rank] = c
        self._pos, self._ncl, self._cta, self.T = (within, cid), ncl, cta, T
        self.phase = np.zeros(self.count, dtype=np.int64)  # completed phases per cluster
        self.arrived = np.zeros(self.count, dtype=np.int64)  # arrivals in the current phase
        self.pending = np.zeros(T, dtype=bool)  # arrived, not yet waited
        self.arrived_in = np.zeros(T, dtype=np.int64)  # the phase of the last arrival
        self.need = np.zeros(nctas, dtype=np.int64)  # phases to complete before it may exit
        self.need_by = np.zeros(nctas, dtype=np.int64)  # the last thread to access it remotely
        self.need_line = np.zeros(nctas, dtype=np.int64)
        self.waiting: dict[int, np.ndarray] = {}  # pc of a barrier.cluster.wait -> threads

    def specials(self, grid_specials: dict) -> dict[str, object]:
        """The cluster special registers, per thread (uniform ones as scalars)."""
        u32, cta = np.uint32, self._cta
        (within, cid), ncl = self._pos, self._ncl
        regs = {"cluster_ctarank": self.rank[cta].astype(u32),
                "cluster_nctarank": u32(self.size)}
        for i, a in enumerate("xyz"):
            regs[f"cluster_ctaid.{a}"] = within[i][cta].astype(u32)
            regs[f"cluster_nctaid.{a}"] = u32(self.dims[i])
            regs[f"clusterid.{a}"] = cid[i][cta].astype(u32)
            regs[f"nclusterid.{a}"] = u32(ncl[i])
        return regs

    # -- distributed shared memory ------------------------------------------------------
    def flat(self, m, ins: Instruction, sel, addr: np.ndarray, nbytes: int, verb: str):
        """Flat offsets into the launch's shared bytes of shared::cluster accesses (in the
        CTA the address names); MemoryFault for a rank outside the cluster or a CTA that has
        exited. Records accesses to other CTAs for the exit check."""
        a = addr.astype(np.int64)
        own = m.cta[sel]
        hi, local = a >> RANK_SHIFT, a & LOCAL_MASK
        outside = hi > self.size
        if outside.any():
            raise MemoryFault(f"shared::cluster {verb} at {int(a[outside][0]):#x}: the "
                              f"address names CTA rank {int(hi[outside][0]) - 1}; the cluster "
                              f"has ranks 0..{self.size - 1}", outside)
        target = np.where(hi == 0, own, self.members[self.cluster[own], np.maximum(hi - 1, 0)])
        gone = m.alive[target] == 0
        if gone.any():
            t = int(target[gone][0])
            raise MemoryFault(f"shared::cluster {verb} from the shared memory of CTA rank "
                              f"{int(self.rank[t])} of the cluster, which has exited", gone)
        remote = target != own
        if remote.any():
            threads = m.indices(sel)[remote]
            next_phase = self.phase[self.cluster[own[remote]]] + self.pending[threads]
            np.maximum.at(self.need, target[remote], next_phase + 1)
            self.need_by[target[remote]] = threads
            self.need_line[target[remote]] = ins.line or 0
        return m.shared.flat(local, target, nbytes, verb)

    # -- the cluster barrier ------------------------------------------------------------
    def step(self, m, pc: int, ins: Instruction, mode: str, aligned: bool, idx: np.ndarray,
             alive: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Threads `idx` execute `barrier.cluster.<mode>` at `pc`; the (pc, threads) to go on."""
        if aligned:
            _check_aligned(m, ins, idx)
        if mode == "arrive":
            twice = self.pending[idx]
            if twice.any():
                raise m.fail("barrier.cluster.arrive again before this thread's "
                             "barrier.cluster.wait (an arrival waits once)", ins, idx, twice)
            self.pending[idx] = True
            cl = self.cluster[m.cta[idx]]
            self.arrived_in[idx] = self.phase[cl]
            self.arrived += np.bincount(cl, minlength=self.count)
            return [(pc + 1, idx), *self.complete(m, alive)]
        early = ~self.pending[idx]
        if early.any():
            raise m.fail("barrier.cluster.wait without a barrier.cluster.arrive before it",
                         ins, idx, early)
        self.pending[idx] = False
        done = self.arrived_in[idx] < self.phase[self.cluster[m.cta[idx]]]
        if not done.all():
            self.waiting[pc] = _merge(self.waiting.get(pc), idx[~done])
        return [(pc + 1, idx[done])] if done.any() else []

    def complete(self, m, alive: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Complete the phase of every cluster whose non-exited threads have all arrived;
        release the threads waiting for it."""
        live = alive[self.members].sum(axis=1)
        ready = (self.arrived >= live) & (self.arrived > 0)
        if not ready.any():
            return []
        self.phase[ready] += 1
        self.arrived[ready] = 0
        if m.races is not None:
            m.races.release(self.members[ready].ravel())
        out = []
        for pc in sorted(self.waiting):
            threads = self.waiting.pop(pc)
            go = self.arrived_in[threads] < self.phase[self.cluster[m.cta[threads]]]
            if go.any():
                out.append((pc + 1, threads[go]))
            if not go.all():
                self.waiting[pc] = threads[~go]
        return out

    def exit(self, m, steps, idx: np.ndarray, alive: np.ndarray, ins: Instruction):
        """Threads `idx` exit (`alive` already counts them out): raise if threads of their
        cluster wait for an arrival they never made, or if a CTA that has now exited still had
        another CTA's access to its shared memory unordered; else the threads released."""
        cl = self.cluster[m.cta[idx]]
        absent = ~(self.pending[idx] & (self.arrived_in[idx] == self.phase[cl]))
        for pc, waiting in self.waiting.items():
            blocked = absent & np.isin(cl, self.cluster[m.cta[waiting]])
            if blocked.any():
                bar = steps[pc].ins
                raise m.fail(f"thread exits while threads of its cluster wait at line "
                             f"{bar.line} `{bar.name}` (a cluster barrier not every thread of "
                             "the cluster arrives at)", ins, idx, blocked)
        counted = ~absent  # arrived in the current phase: no longer expected
        self.arrived -= np.bincount(cl[counted], minlength=self.count)
        self.pending[idx] = False
        for cta in np.unique(m.cta[idx]):
            if alive[cta] == 0 and self.need[cta] > self.phase[self.cluster[cta]]:
                reader = m.coords(int(self.need_by[cta]))
                raise m.fail(f"CTA rank {int(self.rank[cta])} of its cluster exits while the "
                             f"access to its shared memory by {reader} on line "
                             f"{int(self.need_line[cta])} is not ordered before the exit by a "
                             "barrier.cluster (its shared memory may be gone before the "
                             "access)", ins, idx, m.cta[idx] == cta)
        return self.complete(m, alive)


def _check_aligned(m, ins: Instruction, idx: np.ndarray) -> None:
    """`.aligned`: every non-exited thread of each warp present executes it together."""
    warps, present = np.unique(m.global_warp[idx], return_counts=True)
    live = np.bincount(m.global_warp[~m.exited], minlength=int(warps.max()) + 1)[warps]
    short = present < live
    if short.any():
        raise m.fail(f"{ins.name} not converged: warp {int(warps[short][0])} of the launch "
                     f"reaches it with {int(present[short][0])} of its {int(live[short][0])} "
                     "live threads (.aligned needs the whole warp)", ins, idx,
                     m.global_warp[idx] == warps[short][0])


def _merge(a, b):
    return b if a is None else np.sort(np.concatenate([a, b]))


def decode_mapa(ins: Instruction, ctx: DecodeContext):
    """`mapa.shared::cluster.{u32,u64} d, a, b`: a's window address in CTA rank b."""
    f = form(ins)
    if f.get("space") != "shared::cluster":
        raise Unsupported("generic mapa (without .shared::cluster) is not modelled")
    t = f.get("type")
    dst = writer(ins, ins.operands[0], t)
    a, b = reader(ins, ins.operands[1], t, ctx), reader(ins, ins.operands[2], "u32", ctx)

    def run(m, sel):
        n = m.T if isinstance(sel, slice) else len(sel)
        addr = np.broadcast_to(np.asarray(a(m, sel), dtype=np.uint64), (n,))
        rank = np.broadcast_to(np.asarray(b(m, sel), dtype=np.uint64), (n,))
        bad = rank >= m.clusters.size
        if bad.any():
            raise m.fail(f"mapa to CTA rank {int(rank[bad][0])}: the cluster has ranks "
                         f"0..{m.clusters.size - 1}", ins, sel, bad)
        mapped = (addr & np.uint64(LOCAL_MASK)) | ((rank + np.uint64(1)) << np.uint64(RANK_SHIFT))
        dst(m, sel, mapped.astype(np.uint32 if t == "u32" else np.uint64))

    return run


SEMANTICS = {
    "mapa": Semantics(
        decode_mapa, ".shared::cluster.u32/.u64: the address in the shared memory of the "
        "cluster's CTA of rank b (register or immediate); rank checked against the cluster"),
}
