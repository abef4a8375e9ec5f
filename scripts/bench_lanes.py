#!/usr/bin/env python3
"""Benchmark of the Lanes tab: from `LanesView.show_config(Config())` to the figure of the
default kernel's CTA 0 warp 0 on screen (headless, inline: threads=False), and a step.

    python scripts/bench_lanes.py [--runs 5]

"first": the first trace in this process (the app's imports done, plotly's first figure and
the PTX not yet made); "again": a new warp of the same kernel each time (a new trace, warm
caches). "step": one click on the next button inside the drawn window (the marker moves) and
one that leaves it (a new window is drawn). The figures exclude the transfer to the browser.
docs/app.md ("Lanes") records them. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.app.lanes_view import LanesView  # noqa: E402
from explorer.app.state import Config  # noqa: E402


def median_s(samples: list[float]) -> str:
    return f"median {statistics.median(samples):.3f} s, max {max(samples):.3f} s (n={len(samples)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    view = LanesView(threads=False)
    view.show(True)
    started = time.perf_counter()
    view.show_config(Config())
    first = time.perf_counter() - started
    t = view.lane_trace.trace
    again, traces = [], []
    for i in range(args.runs):
        view.warp.value = (i + 1) % 4  # a new trace each time, back to warp 0 at the end
        again.append(view.ready_seconds)
        traces.append(view.trace_seconds)
    view.warp.value = 0
    view.buttons["first"].click()
    inside, across = [], []
    for _ in range(args.runs):
        view.buttons["first"].click()
        started = time.perf_counter()
        view.buttons["next"].click()
        inside.append(time.perf_counter() - started)
        view.selection.go_to(view.drawn[1] - 1)
        started = time.perf_counter()
        view.buttons["next"].click()
        across.append(time.perf_counter() - started)
    sent = len(json.dumps(view.figure_out.outputs[0]))
    print(f"machine: {platform.machine()} ({os.cpu_count()} cores), Python "
          f"{platform.python_version()}")
    print(f"default kernel, CTA 0 warp 0: {len(t):,} steps, {view.selection.count} shfl, "
          f"window {view.window} steps")
    print(f"show_config -> figure, first in the process: {first:.3f} s")
    print(f"show_config -> figure, a new warp traced:     {median_s(again)}")
    print(f"  of which the trace:                         {median_s(traces)}")
    print(f"step inside the window (marker moves):        {median_s(inside)}")
    print(f"step out of the window (new window drawn):    {median_s(across)}")
    print(f"figure sent to the browser: {sent / 1024:.0f} KiB of JSON")
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
