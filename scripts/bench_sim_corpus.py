"""Time the simulator on every entry of the differential corpus (tests/corpus), on one core.

    python3 scripts/bench_sim_corpus.py [--runs 5]

Per entry: the first launch (parse + inline + decode + run, the program cache cleared) and the
median of `runs` launches of the cached program, with the group-steps it took; then the totals.
Entries the simulator cannot run yet are listed with their error. docs/simulator.md records the
figures next to the explorer's default kernel (scripts/bench_sim.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: one core, honestly
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from corpus_replay import ENTRIES, arguments, ptx_of  # noqa: E402

from explorer import sim  # noqa: E402
from explorer.ptx import PtxParseError  # noqa: E402
from explorer.sim.program import load  # noqa: E402


def launch(entry: dict) -> tuple[float, int]:
    args, _ = arguments(entry)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sim.SimWarning)
        result = sim.launch(ptx_of(entry), entry["entry"], tuple(entry["grid"]),
                            tuple(entry["block"]), args, shared_bytes=entry["shared_bytes"],
                            strict=False)
    return time.perf_counter() - start, result.steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"machine: {platform.machine()} {platform.processor() or ''} ({os.cpu_count()} cores, "
          f"1 used), Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"{'entry':32s} {'first':>8s} {'median':>8s} {'steps':>6s}")
    firsts, medians = [], []
    for name, entry in ENTRIES.items():
        load.cache_clear()
        try:
            first, steps = launch(entry)
        except (sim.SimError, PtxParseError) as err:
            print(f"{name:32s} cannot run yet: {str(err)[:90]}")
            continue
        median = statistics.median(launch(entry)[0] for _ in range(args.runs))
        firsts.append(first)
        medians.append(median)
        print(f"{name:32s} {first * 1e3:6.1f}ms {median * 1e3:6.1f}ms {steps:6d}")
    print(f"{len(firsts)} entries ran: first launches {sum(firsts):.3f} s in all "
          f"(max {max(firsts) * 1e3:.1f} ms), cached {sum(medians):.3f} s in all "
          f"(max {max(medians) * 1e3:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
