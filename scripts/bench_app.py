#!/usr/bin/env python3
"""Benchmark of the explorer's live path: how long a control change takes to redraw the PTX,
its highlighting and its diff (ptxas excluded: it runs on a worker thread and fills the
Resources tab afterwards), and how long that ptxas step takes.

    python scripts/bench_app.py            # default configuration, 30 changes per case

"cold": every change is to a configuration never seen (caches cleared), as when a user
explores; "warm": back and forth between two configurations (cached PTX and highlighting).
The breakdown times each stage alone, and the PTX pane (with its gutter) of the default and
the split-kv configuration cold and warm. Runs without a browser or a GPU; the numbers exclude
the transfer to the browser (tests/e2e/test_browser.py prints the browser's round trip).
It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.app import Explorer, gutter, render, resources  # noqa: E402
from explorer.app.diff import render_diff  # noqa: E402
from explorer.app.highlight import highlight_lines, line_tokens, render_ptx  # noqa: E402
from explorer.app.state import Config, build_kernel, describe  # noqa: E402

HEAD_DIMS = [d for d in range(8, 257, 8) if d != 128]


def clear_caches() -> None:
    for cached in (render._built, render._emit, render._sources, render._ptx_body,
                   highlight_lines, line_tokens, gutter.kernel_sources, gutter.hidden_lines,
                   gutter.own_sources):
        cached.cache_clear()


def median_ms(samples: list[float]) -> str:
    return (f"median {statistics.median(samples):6.1f} ms, max {max(samples):6.1f} ms "
            f"(n={len(samples)})")


def widget_changes(n: int, cold: bool) -> list[float]:
    """Time `Explorer.change` (state, PTX pane, diff pane, Resources placeholder)."""
    app = Explorer(Config(), auto_run=False)
    app._ptxas_lane.drain()
    times = []
    for i in range(n):
        if cold:
            clear_caches()
            head_dim = HEAD_DIMS[i % len(HEAD_DIMS)]
        else:
            head_dim = 64 if i % 2 == 0 else 128
        started = time.perf_counter()
        app.change(head_dim=head_dim)
        times.append((time.perf_counter() - started) * 1e3)
        app._ptxas_lane.drain()  # let ptxas finish: it is not part of the live path
    app.close()
    return times


def stages(n: int) -> dict[str, list[float]]:
    """Each stage of a cold change from the default configuration to head_dim 64."""
    old, new = Config(), Config(head_dim=64)
    out: dict[str, list[float]] = {"emit": [], "highlight": [], "diff": [], "ptxas": [],
                                   "ptxas+SASS": []}
    for _ in range(n):
        clear_caches()
        old_ptx = render.emit(old)
        t0 = time.perf_counter()
        new_ptx = render.emit(new)
        t1 = time.perf_counter()
        render_ptx(new_ptx)
        t2 = time.perf_counter()
        render_diff(old_ptx, new_ptx, describe(old), describe(new), "unified")
        t3 = time.perf_counter()
        resources._cache.clear()
        resources.collect(new_ptx, build_kernel(new).entry, new.target, with_sass=False)
        t4 = time.perf_counter()
        resources.collect(new_ptx, build_kernel(new).entry, new.target, with_sass=True)
        t5 = time.perf_counter()
        for name, dt in zip(out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            out[name].append(dt * 1e3)
    return out


def ptx_pane(config: Config, n: int) -> tuple[list[float], list[float]]:
    """`render.ptx_pane` (summary, legend, highlighted PTX with its Python-line gutter), every
    cache cleared first ("cold"), then drawn again ("warm")."""
    cold, warm = [], []
    for _ in range(n):
        clear_caches()
        started = time.perf_counter()
        render.ptx_pane(config)
        cold.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        render.ptx_pane(config)
        warm.append((time.perf_counter() - started) * 1e3)
    return cold, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=30, help="changes per case")
    args = parser.parse_args()
    print(f"explorer live-update benchmark · {describe(Config())}")
    print(f"python {platform.python_version()} on {platform.machine()} "
          f"({platform.processor() or platform.platform()})")
    print(f"widget change, cold: {median_ms(widget_changes(args.n, cold=True))}")
    print(f"widget change, warm: {median_ms(widget_changes(args.n, cold=False))}")
    for config in (Config(), Config(kernel="split-kv")):
        cold, warm = ptx_pane(config, max(5, args.n // 2))
        print(f"PTX pane, {config.kernel}: cold {median_ms(cold)}; warm {median_ms(warm)}")
    for name, samples in stages(max(5, args.n // 3)).items():
        note = "  (worker thread, after the live update)" if "ptxas" in name else ""
        print(f"  stage {name:10s} {median_ms(samples)}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
