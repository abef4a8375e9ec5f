"""The differential corpus (tests/corpus): every entry's PTX, written by nvcc 13 or Triton 3.6,
runs on the simulator and must leave what an H200 left, by the entry's comparison rule.

One test per entry. An entry the simulator cannot run yet is listed in KNOWN_GAPS with the
exact error it raises; its test is a strict xfail, so it stays red if the error changes and
turns red (XPASS) the day the gap is closed: then delete its row. `python
tests/corpus_replay.py` prints the table as it stands.
"""

from __future__ import annotations

import pytest
from corpus_replay import ENTRIES, mismatches, run

from explorer.ptx import PtxParseError
from explorer.sim import SimError

# entry name -> the exact message of the error it raises today
KNOWN_GAPS: dict[str, str] = {
    'votes_partial_warp': (
        "line 42: activemask.b32: unsupported opcode 'activemask' (supported: ['abs', 'ad"
        "d', 'and', 'atom', 'bar', 'barrier', 'bra', 'call', 'cvt', 'cvta', 'div', 'ex2',"
        " 'exit', 'fma', 'ld', 'lg2', 'mad', 'max', 'membar', 'min', 'mma', 'mov', 'mul',"
        " 'neg', 'not', 'or', 'prefetch', 'prmt', 'rcp', 'rem', 'ret', 'selp', 'setp', 's"
        "hfl', 'shl', 'shr', 'sqrt', 'st', 'sub', 'xor']): 'activemask.b32 %r5;'"
    ),
    'bit_ops': (
        "line 42: activemask.b32: unsupported opcode 'activemask' (supported: ['abs', 'ad"
        "d', 'and', 'atom', 'bar', 'barrier', 'bra', 'call', 'cvt', 'cvta', 'div', 'ex2',"
        " 'exit', 'fma', 'ld', 'lg2', 'mad', 'max', 'membar', 'min', 'mma', 'mov', 'mul',"
        " 'neg', 'not', 'or', 'prefetch', 'prmt', 'rcp', 'rem', 'ret', 'selp', 'setp', 's"
        "hfl', 'shl', 'shr', 'sqrt', 'st', 'sub', 'xor']): 'activemask.b32 %r5;'"
    ),
    'shared_atomics': (
        'line 233: atom.global.sys.add.u32: .sys is out of order (atom writes [sem .relax'
        'ed|.acquire|.release|.acq_rel], [scope .cta|.gpu|.sys], [space .global|.shared],'
        ' op .add|.inc|.dec|.min|.max|.and|.or|.xor|.exch, type .b32|.b64|.u32|.u64|.s32|'
        ".s64|.f32|.f64): 'atom.global.sys.add.u32 \\t%r17, [%rd25], %r16;'"
    ),
    'global_atomics': (
        'line 233: atom.global.sys.add.u32: .sys is out of order (atom writes [sem .relax'
        'ed|.acquire|.release|.acq_rel], [scope .cta|.gpu|.sys], [space .global|.shared],'
        ' op .add|.inc|.dec|.min|.max|.and|.or|.xor|.exch, type .b32|.b64|.u32|.u64|.s32|'
        ".s64|.f32|.f64): 'atom.global.sys.add.u32 \\t%r17, [%rd25], %r16;'"
    ),
    'cas_exch': (
        'line 233: atom.global.sys.add.u32: .sys is out of order (atom writes [sem .relax'
        'ed|.acquire|.release|.acq_rel], [scope .cta|.gpu|.sys], [space .global|.shared],'
        ' op .add|.inc|.dec|.min|.max|.and|.or|.xor|.exch, type .b32|.b64|.u32|.u64|.s32|'
        ".s64|.f32|.f64): 'atom.global.sys.add.u32 \\t%r17, [%rd25], %r16;'"
    ),
    'float_math': (
        "line 97: rsqrt.approx.f32: unsupported opcode 'rsqrt' (supported: ['abs', 'add',"
        " 'and', 'atom', 'bar', 'barrier', 'bra', 'call', 'cvt', 'cvta', 'div', 'ex2', 'e"
        "xit', 'fma', 'ld', 'lg2', 'mad', 'max', 'membar', 'min', 'mma', 'mov', 'mul', 'n"
        "eg', 'not', 'or', 'prefetch', 'prmt', 'rcp', 'rem', 'ret', 'selp', 'setp', 'shfl"
        "', 'shl', 'shr', 'sqrt', 'st', 'sub', 'xor']): 'rsqrt.approx.f32 \\t%f33, %f32;'"
    ),
    'int_math': (
        "line 97: rsqrt.approx.f32: unsupported opcode 'rsqrt' (supported: ['abs', 'add',"
        " 'and', 'atom', 'bar', 'barrier', 'bra', 'call', 'cvt', 'cvta', 'div', 'ex2', 'e"
        "xit', 'fma', 'ld', 'lg2', 'mad', 'max', 'membar', 'min', 'mma', 'mov', 'mul', 'n"
        "eg', 'not', 'or', 'prefetch', 'prmt', 'rcp', 'rem', 'ret', 'selp', 'setp', 'shfl"
        "', 'shl', 'shr', 'sqrt', 'st', 'sub', 'xor']): 'rsqrt.approx.f32 \\t%f33, %f32;'"
    ),
    'conversions': (
        "line 97: rsqrt.approx.f32: unsupported opcode 'rsqrt' (supported: ['abs', 'add',"
        " 'and', 'atom', 'bar', 'barrier', 'bra', 'call', 'cvt', 'cvta', 'div', 'ex2', 'e"
        "xit', 'fma', 'ld', 'lg2', 'mad', 'max', 'membar', 'min', 'mma', 'mov', 'mul', 'n"
        "eg', 'not', 'or', 'prefetch', 'prmt', 'rcp', 'rem', 'ret', 'selp', 'setp', 'shfl"
        "', 'shl', 'shr', 'sqrt', 'st', 'sub', 'xor']): 'rsqrt.approx.f32 \\t%f33, %f32;'"
    ),
    'byte_histogram': (
        'line 147 `atom.shared.add.u32 %r17, [%r16], 1;`: unsupported instruction: only a'
        'tom.global.add.u32 is modelled [ctaid (0,0,0) tid (0,0,0) lane 0]'
    ),
    'byte_histogram_debug': (
        'line 359 `atom.add.u32 %r2, [%rd1], %r1;`: unsupported instruction: only atom.gl'
        'obal.add.u32 is modelled [ctaid (0,0,0) tid (0,0,0) lane 0]'
    ),
    'triton_histogram_atomic': (
        'line 148: atom.global.gpu.acq_rel.add.u32: .gpu is out of order (atom writes [se'
        'm .relaxed|.acquire|.release|.acq_rel], [scope .cta|.gpu|.sys], [space .global|.'
        'shared], op .add|.inc|.dec|.min|.max|.and|.or|.xor|.exch, type .b32|.b64|.u32|.u'
        "64|.s32|.s64|.f32|.f64): '@%p1 atom.global.gpu.acq_rel.add.u32 %r5, [ %rd5 + 0 ]"
        ", %r6;'"
    ),
}


class GapChanged(AssertionError):
    """A known gap raised something other than its recorded message."""


def _param(name: str):
    gap = KNOWN_GAPS.get(name)
    if gap is None:
        return name
    mark = pytest.mark.xfail(strict=True, raises=(SimError, PtxParseError), reason=gap)
    return pytest.param(name, marks=mark)


def test_every_known_gap_is_an_entry() -> None:
    assert set(KNOWN_GAPS) <= set(ENTRIES)


@pytest.mark.parametrize("name", [_param(name) for name in ENTRIES])
def test_entry_matches_the_gpu(name: str) -> None:
    entry = ENTRIES[name]
    try:
        arrays = run(entry)
    except (SimError, PtxParseError) as err:
        if name in KNOWN_GAPS and str(err) != KNOWN_GAPS[name]:
            raise GapChanged(f"{name} now raises {str(err)!r}; update KNOWN_GAPS") from err
        raise
    bad = mismatches(entry, arrays)
    assert not bad, f"{name} ({entry['compiler']}, {entry['ptx']}): " + "; ".join(bad)
