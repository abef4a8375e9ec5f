#!/usr/bin/env python3
"""Split-KV with and without programmatic dependent launch, side by side, by the bench's rules
(graph replays over rotated K/V, medians), in one process with the copy ceiling. GPU only.

    python scripts/bench_pdl.py OUT.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.bench import copy_bandwidth, time_kernel  # noqa: E402
from explorer.kernels import (
    SplitKVDecodeAttentionKernel,  # noqa: E402
    split_kv_build,  # noqa: E402
)

HEADS = dict(head_dim=128, num_heads=32, num_kv_heads=8)
POINTS = [(1, 1024), (1, 4096), (1, 16384), (1, 65536), (8, 4096), (32, 4096)]


def main(out: str, dtypes=("f16", "bf16", "f32"), points=POINTS,
         triggers=("start", "end")) -> int:
    copy = copy_bandwidth()
    rows = []
    for dtype in dtypes:
        for batch, n in points:
            for pdl, trigger in [(False, "")] + [(True, t) for t in triggers]:
                split_kv_build.PDL_TRIGGER = trigger or split_kv_build.PDL_TRIGGER
                k = SplitKVDecodeAttentionKernel(max_seq_len=n, batch=batch, dtype=dtype,
                                                 pdl=pdl, **HEADS)
                t = time_kernel(k, n)
                rows.append({**t.row(copy), "pdl": pdl, "trigger": trigger})
                print(f"{dtype:4s} b{batch:<2d} n={n:6d} pdl={pdl!s:5s} {trigger:5s} "
                      f"{t.us_per_launch:7.2f} us {100 * t.gbps / copy:5.1f}% of copy", flush=True)
    Path(out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "copy_gbps": copy,
                                     "rows": rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    quick = "--quick" in sys.argv  # f16 at the short points only
    sys.exit(main(sys.argv[1], ("f16",) if quick else ("f16", "bf16", "f32"),
                  POINTS[:2] + POINTS[4:5] if quick else POINTS))
