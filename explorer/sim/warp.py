"""`shfl.sync.{up,down,bfly,idx}.b32 d, a, b, c, membermask`, exactly as the PTX ISA's
pseudo-code computes the source lane:

    bval = b[4:0]; cval = c[4:0]; segmask = c[12:8]
    maxLane = (lane & segmask) | (cval & ~segmask);  minLane = lane & segmask
    up:   j = lane - bval;                  pval = j >= maxLane
    down: j = lane + bval;                  pval = j <= maxLane
    bfly: j = lane ^ bval;                  pval = j <= maxLane
    idx:  j = minLane | (bval & ~segmask);  pval = j <= maxLane
    if !pval: j = lane   (out-of-range sources return the thread's own value)

Checked, where the hardware leaves the result undefined: the executing thread must be in
membermask; every non-exited lane named in membermask must execute this same instruction with
the thread (converged); the source lane must be one of the threads executing it. The `d|p`
form also writes p, whether the computed source lane was in range.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ptx.ir import Instruction, IntImm, RegPair
from .operands import DecodeContext, Semantics, form, reader, writer


def source_lanes(mode: str, lane, b, c):
    """The lane each thread reads (its own lane where the computed one is out of range)."""
    j, pval = computed_lanes(mode, lane, b, c)
    return np.where(pval, j, np.asarray(lane, dtype=np.int64))


def computed_lanes(mode: str, lane, b, c):
    """(the computed source lane j, whether it is in range: the `p` of `d|p`)."""
    lane = np.asarray(lane, dtype=np.int64)
    bval = np.asarray(b, dtype=np.int64) & 31
    cval = np.asarray(c, dtype=np.int64) & 31
    segmask = (np.asarray(c, dtype=np.int64) >> 8) & 31
    max_lane = (lane & segmask) | (cval & ~segmask & 31)
    min_lane = lane & segmask
    if mode == "up":
        j = lane - bval
        pval = j >= max_lane
    elif mode == "down":
        j = lane + bval
        pval = j <= max_lane
    elif mode == "bfly":
        j = lane ^ bval
        pval = j <= max_lane
    else:
        j = min_lane | (bval & ~segmask & 31)
        pval = j <= max_lane
    return j, pval


def warp_bits(m, sel, present: np.ndarray | None = None) -> np.ndarray:
    """Per warp (global warp index), the lanes of `sel` (or of `present`) as a 32-bit mask."""
    bits = np.zeros(m.T, dtype=np.uint64)
    if present is None:
        bits[sel] = np.uint64(1) << m.lane[sel].astype(np.uint64)
    else:
        bits[present] = np.uint64(1) << m.lane[present].astype(np.uint64)
    return np.bitwise_or.reduceat(bits, m.warp_starts)


def check_members(m, sel, ins: Instruction, member) -> np.ndarray:
    """Raise unless each thread of `sel` is in its member mask and every non-exited lane named
    there executes this instruction with it (`.sync` collectives: shfl, vote, match, redux);
    return, per thread of `sel`, the lanes of its warp executing it (uint64 masks)."""
    name = f"{ins.opcode}.sync"
    lane = m.lane[sel].astype(np.uint64)
    member = np.asarray(member, dtype=np.uint64)
    outside = ((member >> lane) & np.uint64(1)) == 0
    if outside.any():
        raise m.fail(f"{name}: the thread's lane is not in membermask", ins, sel, outside)
    warp = m.global_warp[sel]
    executing = warp_bits(m, sel)[warp]
    alive = warp_bits(m, sel, ~m.exited)[warp]
    missing = member & alive & ~executing
    if missing.any():
        bad = missing != 0
        lanes = [k for k in range(32) if int(missing[bad][0]) >> k & 1]
        raise m.fail(
            f"{name} not converged: lane(s) {lanes} named in membermask "
            f"{int(np.broadcast_to(member, bad.shape)[bad][0]):#010x} are not executing this "
            "instruction with the thread",
            ins,
            sel,
            bad,
        )
    return executing


def _check_converged(m, sel, ins: Instruction, member, j) -> None:
    executing = check_members(m, sel, ins, member)
    absent = ((executing >> j.astype(np.uint64)) & np.uint64(1)) == 0
    if absent.any():
        raise m.fail(
            f"shfl.sync reads lane {int(j[absent][0])}, which is not executing this instruction",
            ins,
            sel,
            absent,
        )


def decode_shfl(ins: Instruction, ctx: DecodeContext):
    mode = form(ins).get("mode")  # the table allows only shfl.sync.{up,down,bfly,idx}.b32
    if isinstance(ins.operands[0], RegPair):
        return _with_predicate(ins, ctx, mode)
    d, a, b, c, member = ins.operands
    write = writer(ins, d, "b32")
    read_a = reader(ins, a, "b32", ctx)
    read_b, read_c = reader(ins, b, "b32", ctx), reader(ins, c, "b32", ctx)
    read_member = reader(ins, member, "b32", ctx)
    constant = isinstance(b, IntImm) and isinstance(c, IntImm)
    # immediates are .b32 operands: only their low 32 bits count
    table = source_lanes(mode, np.arange(32), b.value & 0xFFFFFFFF, c.value & 0xFFFFFFFF) \
        if constant else None
    full_mask = isinstance(member, IntImm) and member.value & 0xFFFFFFFF == 0xFFFFFFFF
    key = object()  # this instruction's slot in the machine's cache

    def run(m, sel):
        values = read_a(m, sel)
        if constant:
            j = table[m.lane[sel]]
        else:
            j = source_lanes(mode, m.lane[sel], read_b(m, sel), read_c(m, sel))
        if isinstance(sel, slice) and constant and full_mask and m.full_warps:
            src = m.cache.get(key)
            if src is None:  # the source thread of every thread, once per launch
                src = m.cache.setdefault(key, m.warp_base + table[m.lane])
            # every lane of every warp is here: no checks needed (an immediate `a` is one value)
            write(m, sel, values[src] if np.ndim(values) else values)
            return
        _check_converged(m, sel, ins, read_member(m, sel), j)
        everyone = np.zeros(m.T, dtype=np.uint32)
        everyone[sel] = values
        write(m, sel, everyone[m.warp_base[sel] + j])

    return run


def _with_predicate(ins: Instruction, ctx: DecodeContext, mode: str):
    """`shfl.sync d|p, ...`: the shuffle into d, and p = whether the source lane was in range."""
    pair, a, b, c, member = ins.operands
    shuffle = decode_shfl(replace(ins, operands=(pair.value, a, b, c, member)), ctx)
    write_p = writer(ins, pair.pred, "pred")
    read_b, read_c = reader(ins, b, "b32", ctx), reader(ins, c, "b32", ctx)

    def run(m, sel):
        shuffle(m, sel)
        write_p(m, sel, computed_lanes(mode, m.lane[sel], read_b(m, sel), read_c(m, sel))[1])

    return run


SEMANTICS = {
    "shfl": Semantics(
        decode_shfl, ".sync.{up,down,bfly,idx}.b32 with clamp/segment mask, the d|p form; "
        "member mask checked"
    ),
}
