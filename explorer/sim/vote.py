"""Warp-wide queries and reductions: `activemask`, `vote.sync.{all,any,uni,ballot}`,
`match.{any,all}.sync` and `redux.sync`.

A thread's member mask names the lanes it exchanges with. As for `shfl.sync` (`warp`), the
thread must be in its own mask and every non-exited lane the mask names must execute this
instruction with it, or the result is undefined on the hardware and a `SimError` here. Lanes
the mask names that do not exist (a partial last warp) or have exited take no part: they vote
false, match nothing and add nothing. `activemask` is the lanes of the warp executing it (those
whose guard holds): the simulator runs threads of one warp at one PC together, so the lanes
that reconverged there. It knows no memory.
"""

from __future__ import annotations

import numpy as np

from ..ptx.ir import Instruction
from .machine import WARP
from .operands import DecodeContext, Semantics, Unsupported, form, op_type, reader, writer
from .values import DTYPES
from .warp import check_members, warp_bits

LANE_BITS = np.uint64(1) << np.arange(WARP, dtype=np.uint64)


def _per_thread(m, sel, values) -> np.ndarray:
    n = m.T if isinstance(sel, slice) else len(sel)
    return np.broadcast_to(np.asarray(values), (n,))


def lane_matrix(m, sel, values, dtype) -> np.ndarray:
    """(warps, 32): each thread of `sel`'s value at [its global warp, its lane]; 0 elsewhere."""
    out = np.zeros((len(m.warp_starts), WARP), dtype)
    out[m.global_warp[sel], m.lane[sel]] = _per_thread(m, sel, values)
    return out


def lanes_of(masks: np.ndarray) -> np.ndarray:
    """(n, 32) booleans: which lanes each 32-bit mask names."""
    return (np.asarray(masks, np.uint64)[:, None] & LANE_BITS) != 0


def _members(m, sel, ins: Instruction, read_member) -> tuple[np.ndarray, np.ndarray]:
    """(each thread's member mask, the member lanes executing with it), after the checks."""
    member = _per_thread(m, sel, read_member(m, sel)).astype(np.uint64)
    executing = check_members(m, sel, ins, member)
    return member, member & executing


def decode_activemask(ins: Instruction, ctx: DecodeContext):
    write = writer(ins, ins.operands[0], "b32")

    def run(m, sel):
        write(m, sel, warp_bits(m, sel)[m.global_warp[sel]].astype(np.uint32))

    return run


def decode_vote(ins: Instruction, ctx: DecodeContext):
    mode = form(ins).get("mode")
    d, p, member = ins.operands
    if (mode == "ballot") != (op_type(ins) == "b32"):
        raise Unsupported(f"vote.sync.{mode} writes .{'b32' if mode == 'ballot' else 'pred'}")
    write = writer(ins, d, "b32" if mode == "ballot" else "pred")
    read_p, read_member = reader(ins, p, "pred", ctx), reader(ins, member, "b32", ctx)

    def run(m, sel):
        member, taking_part = _members(m, sel, ins, read_member)
        voted = lane_matrix(m, sel, read_p(m, sel), np.uint64) * LANE_BITS
        yes = np.bitwise_or.reduce(voted, axis=1)[m.global_warp[sel]] & taking_part
        if mode == "ballot":
            write(m, sel, yes.astype(np.uint32))
        elif mode == "any":
            write(m, sel, yes != 0)
        elif mode == "all":
            write(m, sel, yes == taking_part)
        else:  # uni: every lane taking part votes the same
            write(m, sel, (yes == taking_part) | (yes == 0))

    return run


def decode_match(ins: Instruction, ctx: DecodeContext):
    t = op_type(ins)
    d, a, member = ins.operands
    write = writer(ins, d, "b32")
    read_a, read_member = reader(ins, a, t, ctx), reader(ins, member, "b32", ctx)
    match_all = form(ins).get("mode") == "all"

    def run(m, sel):
        _, taking_part = _members(m, sel, ins, read_member)
        values = _per_thread(m, sel, read_a(m, sel))
        same = lane_matrix(m, sel, values, DTYPES[t])[m.global_warp[sel]] == values[:, None]
        mask = np.bitwise_or.reduce(same * LANE_BITS, axis=1) & taking_part
        if match_all:  # the whole set if every lane taking part agrees, else 0
            mask = np.where(mask == taking_part, mask, np.uint64(0))
        write(m, sel, mask.astype(np.uint32))

    return run


REDUCTIONS = {  # op -> (reduce over lanes, identity per type)
    "add": (np.add, lambda dt: 0),
    "min": (np.minimum, lambda dt: np.iinfo(dt).max),
    "max": (np.maximum, lambda dt: np.iinfo(dt).min),
    "and": (np.bitwise_and, lambda dt: np.iinfo(dt).max),
    "or": (np.bitwise_or, lambda dt: 0),
    "xor": (np.bitwise_xor, lambda dt: 0),
}


def decode_redux(ins: Instruction, ctx: DecodeContext):
    op, t = form(ins).get("op"), op_type(ins)
    if (op in ("and", "or", "xor")) != (t == "b32"):
        raise Unsupported(f"redux.sync.{op}.{t}: and/or/xor take .b32, add/min/max .u32/.s32")
    ufunc, identity = REDUCTIONS[op]
    dt = DTYPES[t]
    d, a, member = ins.operands
    write = writer(ins, d, t)
    read_a, read_member = reader(ins, a, t, ctx), reader(ins, member, "b32", ctx)

    def run(m, sel):
        _, taking_part = _members(m, sel, ins, read_member)
        lanes = lane_matrix(m, sel, read_a(m, sel), dt)[m.global_warp[sel]]
        lanes = np.where(lanes_of(taking_part), lanes, dt.type(identity(dt)))
        write(m, sel, ufunc.reduce(lanes, axis=1).astype(dt))  # add wraps modulo 2^32

    return run


SEMANTICS = {
    "vote": Semantics(
        decode_vote,
        ".sync.{all,any,uni}.pred and .sync.ballot.b32; member mask checked, absent lanes "
        "vote false",
    ),
    "activemask": Semantics(decode_activemask, ".b32: the lanes executing it together"),
    "match": Semantics(decode_match, ".{any,all}.sync.{b32,b64}; member mask checked"),
    "redux": Semantics(
        decode_redux, ".sync.{add,min,max}.{u32,s32} (add wraps), .sync.{and,or,xor}.b32"
    ),
}
