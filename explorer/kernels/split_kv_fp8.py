"""The tensor-core path's e4m3 K/V fragments: a lane's 16-byte loads of e4m3 codes turned into
the B fragments of `mma.sync.aligned.m16n8k16` with `cvt.rn.f16x2.e4m3x2` (exact: every e4m3
value is an f16 and a bf16). PTX through the builder only; where the loads come from and
which mma consumes the fragments is `split_kv_mma.py`'s.

- K (q.k): B reg0/reg1 hold two consecutive head dims of one position, so each 16-bit half of
  a loaded word converts straight into one fragment register (f16x2); with bf16 q the words
  are widened once more to bf16x2 (`vector_io.bf16_word`), since the q.k mma takes one type.
- V (p.v): B reg0 holds positions 2t, 2t+1 of one dim, reg1 positions 2t+8, 2t+9. The codes of
  two positions are interleaved byte by byte with `prmt.b32` (selectors 0x5140, 0x7362) before
  the conversion, so each `cvt` gives a whole fragment register. The p.v mma is f16 whatever
  q's dtype: V is exact in f16, and P, in [0, 1], is rounded to f16 (finer than bf16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ptx import KernelBuilder
from ..ptx.ir import Reg
from .vector_io import bf16_word, f16_words

if TYPE_CHECKING:
    from .split_kv import SplitKVDecodeAttentionKernel as SplitKV

LOW_BYTES, HIGH_BYTES = 0x5140, 0x7362  # prmt: {a.b0, b.b0, a.b1, b.b1}, {a.b2, b.b2, ...}


def pv_type(k: SplitKV) -> str:
    """The operand type of the p.v mma (and of the packed P): f16 with e4m3 V, else dtype."""
    return "f16" if k.kv_dtype else k.dtype


def k_fragments(b: KernelBuilder, k: SplitKV, words) -> list[Reg]:
    """The 4 words of 16 K codes (dims d .. d+16 of one position) as 8 B-fragment words of
    q's dtype, two consecutive dims each (the k-steps' reg0, reg1 in turn)."""
    halves = f16_words(b, words)
    return halves if k.dtype == "f16" else [bf16_word(b, w) for w in halves]


def v_fragments(b: KernelBuilder, rows) -> list[tuple[Reg, Reg]]:
    """The B fragments (reg0, reg1) of the 16 n-tiles of one V chunk: `rows` are the 4 words
    of 16 dims of positions 2t, 2t+1, 2t+8, 2t+9; n-tile i is dim i of them."""
    lo_words = _interleave(b, rows[0], rows[1])  # positions 2t, 2t+1
    hi_words = _interleave(b, rows[2], rows[3])  # positions 2t+8, 2t+9
    return list(zip(f16_words(b, lo_words), f16_words(b, hi_words), strict=True))


def _interleave(b: KernelBuilder, first, second) -> list[Reg]:
    """Per word pair, two words whose 16-bit halves hold (first, second)'s codes of one dim:
    `prmt.b32` with LOW_BYTES then HIGH_BYTES, in dim order."""
    out = []
    for a, c in zip(first, second, strict=True):
        out += [b.op("prmt.b32", a, c, LOW_BYTES), b.op("prmt.b32", a, c, HIGH_BYTES)]
    return out


