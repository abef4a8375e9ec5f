"""Replay one entry of the differential corpus (tests/corpus) on the simulator and compare
with what the GPU computed, by the entry's rule; shared by tests/test_corpus.py,
tests/test_corpus_fuzz.py and scripts/corpus_speed.py.

`python tests/corpus_replay.py` runs every entry and prints, per entry, pass / the error, and
the table of known gaps for tests/test_corpus.py (KNOWN_GAPS) as it stands.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).parent / "corpus"


def manifest() -> dict:
    return json.loads((CORPUS / "manifest.json").read_text())


ENTRIES = {e["name"]: e for e in manifest()["entries"]}


def ptx_of(entry: dict) -> str:
    return (CORPUS / entry["ptx"]).read_text()


def arguments(entry: dict) -> tuple[list, dict[str, np.ndarray]]:
    """The launch arguments in parameter order (arrays fresh from `in.*`), and the arrays by
    name."""
    data = np.load(CORPUS / entry["data"])
    args, arrays = [], {}
    for a in entry["args"]:
        if a["kind"] == "array":
            arr = np.array(data[a["npz_in"]], dtype=a["dtype"], copy=True)
            arrays[a["name"]] = arr
            args.append(arr)
        elif a["kind"] == "scalar":
            args.append(np.dtype(a["dtype"]).type(a["value"]))
        elif a["kind"] == "null":
            args.append(0)
        elif a["kind"] == "scratch":
            arr = np.zeros(a["bytes"], dtype=np.uint8)
            arrays[a["name"]] = arr
            args.append(arr)
        else:
            raise ValueError(f"{entry['name']}: argument kind {a['kind']!r}")
    return args, arrays


def run(entry: dict, **options) -> dict[str, np.ndarray]:
    """Launch the entry on the simulator as a user would (not strict: what the hardware's
    layout tolerates is a finding); its arrays by name, as the simulator left them."""
    from explorer import sim

    options.setdefault("strict", False)
    args, arrays = arguments(entry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sim.SimWarning)
        sim.launch(ptx_of(entry), entry["entry"], tuple(entry["grid"]), tuple(entry["block"]),
                   args, shared_bytes=entry["shared_bytes"], **options)
    return arrays


def mismatches(entry: dict, arrays: dict[str, np.ndarray]) -> list[str]:
    """Each output that differs from the GPU's by the entry's rule, in words."""
    data = np.load(CORPUS / entry["data"])
    out = []
    for a in entry["args"]:
        if "npz_out" not in a:
            continue
        sim, gpu = arrays[a["name"]], data[a["npz_out"]]
        bad = ~_agrees(sim, gpu, a["compare"])
        if bad.any():
            k = np.flatnonzero(bad.reshape(-1))[0]
            out.append(f"{a['name']}: {int(bad.sum())} of {bad.size} elements differ "
                       f"({a['compare']['rule']}); first at flat index {k}: simulator "
                       f"{sim.reshape(-1)[k]!r}, GPU {gpu.reshape(-1)[k]!r}")
    return out


def _agrees(sim: np.ndarray, gpu: np.ndarray, rule: dict) -> np.ndarray:
    if sim.shape != gpu.shape or sim.dtype != gpu.dtype:
        return np.zeros(gpu.shape, dtype=bool)
    if not np.issubdtype(gpu.dtype, np.floating):
        return sim == gpu
    both_nan = np.isnan(sim) & np.isnan(gpu)
    if rule["rule"] == "exact":
        bits = np.dtype(f"u{gpu.dtype.itemsize}")
        return (sim.view(bits) == gpu.view(bits)) | both_nan
    with np.errstate(all="ignore"):
        close = np.abs(sim.astype(np.float64) - gpu) <= rule["atol"] + rule["rtol"] * np.abs(gpu)
    return close | both_nan | ((sim == gpu) & np.isinf(gpu))


def outcome(name: str) -> tuple[str, float]:
    """("pass" | the error or mismatch, seconds) of one entry."""
    from explorer.ptx import PtxParseError
    from explorer.sim import SimError

    start = time.perf_counter()
    try:
        bad = mismatches(ENTRIES[name], run(ENTRIES[name]))
        result = "pass" if not bad else "mismatch: " + "; ".join(bad)
    except (SimError, PtxParseError) as err:
        result = str(err)
    return result, time.perf_counter() - start


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent.parent))
    gaps = {}
    for entry_name in ENTRIES:
        text, seconds = outcome(entry_name)
        print(f"{entry_name:32s} {seconds:7.2f} s  {text[:150]}")
        if text != "pass":
            gaps[entry_name] = text
    print("\nKNOWN_GAPS = {")
    for entry_name, text in gaps.items():
        print(f"    {entry_name!r}: {text!r},")
    print("}")
