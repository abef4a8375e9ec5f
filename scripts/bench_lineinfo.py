"""What recording line info costs the emitter: building and printing a set of kernels with the
builder's source-line record as it is, with the record switched off (`KernelBuilder._loc` stubbed),
and printed with `line_info=True`. Best of several rounds, per configuration.

    python scripts/bench_lineinfo.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer.kernels import (  # noqa: E402
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)
from explorer.ptx import builder  # noqa: E402

CONFIGS = [
    (IncrementalAttentionKernel, dict(max_seq_len=1100, head_dim=128, num_heads=32,
                                      num_kv_heads=8), "sm_80"),
    (MultiWarpIncrementalAttentionKernel, dict(max_seq_len=1100, head_dim=128, num_heads=32,
                                               num_kv_heads=8, num_warps=8), "sm_90"),
    (SplitKVDecodeAttentionKernel, dict(max_seq_len=4096, head_dim=128, num_heads=32,
                                        num_kv_heads=8), "sm_90"),
    (SplitKVDecodeAttentionKernel, dict(max_seq_len=4096, head_dim=128, num_heads=32,
                                        num_kv_heads=8, dtype="f16", mma=False,
                                        pipeline=True, unroll=4), "sm_90"),
    (SplitKVDecodeAttentionKernel, dict(max_seq_len=2048, head_dim=128, num_heads=32,
                                        num_kv_heads=8, dtype="f16", mma=True, pipeline=True,
                                        prefetch=2), "sm_80"),
]


def best_time(cls, kwargs, target, line_info: bool, rounds: int) -> tuple[float, int]:
    """(best seconds to build and print one configuration, instructions built)."""
    best, count = float("inf"), 0
    for _ in range(rounds):
        start = time.perf_counter()
        kernel = cls(**kwargs)
        kernel.emit(target, line_info=line_info)
        best = min(best, time.perf_counter() - start)
        count = sum(len(k.body) for k in kernel.kernels)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    recorded = builder.KernelBuilder._loc
    total = {"off": 0.0, "on": 0.0, "printed": 0.0}
    print(f"{'kernel':<34} {'stmts':>6} {'record off':>11} {'record on':>10} "
          f"{'line_info':>10}")
    for cls, kwargs, target in CONFIGS:
        builder.KernelBuilder._loc = lambda self: None
        try:
            off, count = best_time(cls, kwargs, target, False, rounds)
        finally:
            builder.KernelBuilder._loc = recorded
        on, _ = best_time(cls, kwargs, target, False, rounds)
        printed, _ = best_time(cls, kwargs, target, True, rounds)
        for key, value in (("off", off), ("on", on), ("printed", printed)):
            total[key] += value
        name = f"{cls.__name__[:20]} {kwargs.get('dtype', 'f32')} {target}"
        print(f"{name:<34} {count:>6} {off * 1e3:>9.1f}ms {on * 1e3:>8.1f}ms "
              f"{printed * 1e3:>8.1f}ms")
    print(f"{'total':<34} {'':>6} {total['off'] * 1e3:>9.1f}ms {total['on'] * 1e3:>8.1f}ms "
          f"{total['printed'] * 1e3:>8.1f}ms")
    print(f"recording: +{(total['on'] / total['off'] - 1) * 100:.1f}% on build + emit; "
          f"printing .loc: +{(total['printed'] / total['on'] - 1) * 100:.1f}%")


if __name__ == "__main__":
    main()
