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
KNOWN_GAPS: dict[str, str] = {}


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
