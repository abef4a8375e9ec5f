"""The simulator's 8-bit float conversions, `cvt.rn.f16x2.e4m3x2` and `cvt.rn.f16x2.e5m2x2`,
on a small kernel built with `KernelBuilder`, against a pure-Python decoding of the formats
written here from their definitions (not from the simulator's or the dtype table's tables):
every code in the low byte and in the high byte of the source, each landing in the same half
of the f16x2 result (PTX ISA: the halves keep their order).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from explorer import sim
from explorer.ptx import KernelBuilder, emit, parse
from explorer.ptx.ir import Address

rng = np.random.default_rng(20261201)  # fixed: a failure reproduces


def decode(code: int, fmt: str) -> float:
    """The value of an 8-bit float code: e4m3 (bias 7, no infinities, S.1111.111 NaN) or
    e5m2 (bias 15, IEEE-like infinities and NaNs)."""
    exp_bits, man_bits, bias = {"e4m3": (4, 3, 7), "e5m2": (5, 2, 15)}[fmt]
    sign = -1.0 if code & 0x80 else 1.0
    e, m = (code >> man_bits) & (2**exp_bits - 1), code & (2**man_bits - 1)
    if fmt == "e4m3" and e == 15 and m == 7:
        return float("nan")
    if fmt == "e5m2" and e == 31:
        return sign * float("inf") if m == 0 else float("nan")
    if e == 0:
        return sign * m * 2.0 ** (1 - bias - man_bits)
    return sign * (1 + m / 2**man_bits) * 2.0 ** (e - bias)


def f16_bits(x: float) -> int:
    return struct.unpack("<H", struct.pack("<e", x))[0]


def _cvt_kernel(fmt: str) -> str:
    """Thread i loads the u16 src[i], writes cvt.rn.f16x2.<fmt>x2 of it to out[i]."""
    b = KernelBuilder("cvt_f8")
    src, out = (b.op("cvta.to.global.u64", b.op("ld.param.u64", Address(b.param(n, "u64"))))
                for n in ("src", "out"))
    tid = b.special("tid.x")
    pair = b.op("ld.global.u16", Address(b.op("mad.wide.u32", tid, 2, src)))
    word = b.op(f"cvt.rn.f16x2.{fmt}x2", pair)
    b.op("st.global.b32", Address(b.op("mad.wide.u32", tid, 4, out)), word)
    b.op("ret")
    return emit(b.build(), target="sm_90")


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_every_code_widens_exactly_into_its_own_half(fmt):
    codes = np.arange(256, dtype=np.uint16)
    others = rng.integers(0, 256, size=256).astype(np.uint16)
    for low, high in ((codes, others), (others, codes)):
        src = (high << np.uint16(8)) | low
        out = np.zeros(256, dtype=np.uint32)
        sim.launch(_cvt_kernel(fmt), "cvt_f8", 1, 256, [src, out])
        for lo, hi, word in zip(low.tolist(), high.tolist(), out.tolist(), strict=True):
            for code, half in ((lo, word & 0xFFFF), (hi, word >> 16)):
                want = decode(code, fmt)
                if want != want:  # any f16 NaN
                    assert half & 0x7C00 == 0x7C00 and half & 0x3FF, (fmt, hex(code), hex(half))
                else:
                    assert half == f16_bits(want), (fmt, hex(code), hex(half))


def test_the_decoding_reference_on_known_codes():
    assert decode(0x7E, "e4m3") == 448.0 and decode(0xFE, "e4m3") == -448.0
    assert decode(0x01, "e4m3") == 2.0**-9 and decode(0x08, "e4m3") == 2.0**-6
    assert decode(0x38, "e4m3") == 1.0 and decode(0x7F, "e4m3") != decode(0x7F, "e4m3")
    assert decode(0x7B, "e5m2") == 57344.0 and decode(0x7C, "e5m2") == float("inf")


def test_the_conversion_prints_parses_and_is_typed():
    text = _cvt_kernel("e4m3")
    assert "cvt.rn.f16x2.e4m3x2 %r" in text and ", %rs" in text
    assert emit(parse(text), target="sm_90") == text


def test_other_eight_bit_conversions_are_refused_by_name():
    b = KernelBuilder("k")
    pair = b.op("mov.b16", 0x3838)
    with pytest.raises(ValueError, match="relu is not a modifier of cvt"):
        b.op("cvt.rn.relu.f16x2.e4m3x2", pair)
    b.op("cvt.rn.f32.e4m3x2", pair)  # PTX has no such form; the simulator says so
    b.op("ret")
    with pytest.raises(Exception, match="8-bit float pairs convert only as"):
        sim.launch(emit(b.build(), target="sm_90"), "k", 1, 1, [])
