"""Run on a GPU: the core grid against float64 (counts and worst errors), then the timing the
core issue asks for (multi-warp at the seed's shape) and the copy ceiling, into OUT_DIR.

    PYTHONPATH=. python scripts/gpu_validate.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from explorer.bench import copy_bandwidth, time_kernel
from explorer.kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from explorer.kernels.grid import core_grid
from explorer.runtime import cuda
from explorer.verify.grid import check_kernel


def validate() -> dict:
    t0 = time.time()
    cases = passed = 0
    worst_rel = worst_abs = (0.0, "")
    failures = []
    for kernel in core_grid():
        for r in check_kernel(kernel, "cuda"):
            cases += 1
            passed += r.comparison.passed
            if not r.comparison.passed:
                failures.append(str(r))
            worst_rel = max(worst_rel, (r.comparison.rel_l2, str(r)))
            rel_abs = r.comparison.max_abs / max(1.0, r.comparison.max_ref)
            worst_abs = max(worst_abs, (rel_abs, str(r)))
    return {
        "cases": cases, "passed": passed, "failures": failures[:50],
        "worst_rel_l2": worst_rel, "worst_abs_over_max1_ref": worst_abs,
        "seconds": round(time.time() - t0, 1),
    }


def timings() -> dict:
    shape = dict(max_seq_len=4096, head_dim=128, num_heads=32, num_kv_heads=8)
    rows = []
    for seq_len in (128, 1024, 4096):
        for kernel in (
            MultiWarpIncrementalAttentionKernel(num_warps=8, **shape),
            MultiWarpIncrementalAttentionKernel(num_warps=4, **shape),
            IncrementalAttentionKernel(**shape),
        ):
            t = time_kernel(kernel, seq_len)
            rows.append({**t.__dict__, "gbps": t.gbps})
            print(f"{t.kernel} seq_len={seq_len}: {t.us_per_launch:.1f} us, {t.gbps:.0f} GB/s",
                  flush=True)
    return {"copy_gbps": copy_bandwidth(), "rows": rows}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "gpu-validation-out")
    out.mkdir(parents=True, exist_ok=True)
    cp = cuda.cupy()
    props = cp.cuda.runtime.getDeviceProperties(0)
    info = {
        "device": props["name"].decode(), "target": cuda.device_target(),
        "cupy": cp.__version__, "driver": cp.cuda.runtime.driverGetVersion(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(info, flush=True)
    result = {"info": info, "timings": timings(), "validation": validate()}
    (out / "gpu_validate.json").write_text(json.dumps(result, indent=1))
    v = result["validation"]
    print(f"cases {v['cases']} passed {v['passed']} in {v['seconds']} s")
    print(f"worst rel L2 {v['worst_rel_l2']}\nworst abs {v['worst_abs_over_max1_ref']}")
    print(f"copy bandwidth {result['timings']['copy_gbps']:.0f} GB/s")


if __name__ == "__main__":
    main()
