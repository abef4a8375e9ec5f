"""ptxas assembles every configuration of both kernels for sm_80 and sm_90, with no spills, the
shared size the kernel object declares, and one hardware barrier (multi-warp) or none.

About 980 ptxas runs. They go through a thread pool (ptxas is a subprocess, so threads overlap),
one test per (kernel, target) that reports every failing configuration together. Skipped, with
the reason, where ptxas is not installed. It checks what ptxas says, not what the kernels compute.
"""

from __future__ import annotations

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from explorer.kernels import IncrementalAttentionKernel, MultiWarpIncrementalAttentionKernel
from explorer.ptx.ptxas import PtxasError, assemble, find_ptxas

MAX_SEQ_LEN = 4096
HEAD_DIMS = (32, 64, 80, 96, 128, 160, 256)
WARPS = (1, 2, 4, 8, 16, 32)
HEADS = ((8, 8), (32, 8), (12, 2), (28, 4), (4, 1))  # (num_heads, num_kv_heads)
INDIRECT = (False, True)
TARGETS = ("sm_80", "sm_90")

pytestmark = pytest.mark.skipif(
    find_ptxas() is None, reason="ptxas not installed: pip install 'nvidia-cuda-nvcc>=13,<14'"
)


@functools.cache
def kernels(name: str) -> tuple:
    """Every configuration of one kernel, built once and shared by both targets."""
    if name == "single-warp":
        grid = itertools.product(HEAD_DIMS, HEADS, INDIRECT)
        return tuple(
            IncrementalAttentionKernel(MAX_SEQ_LEN, hd, h, kv, indirect_seq_len=ind)
            for hd, (h, kv), ind in grid
        )
    grid = itertools.product(HEAD_DIMS, WARPS, HEADS, INDIRECT)
    return tuple(
        MultiWarpIncrementalAttentionKernel(MAX_SEQ_LEN, hd, h, kv, w, indirect_seq_len=ind)
        for hd, w, (h, kv), ind in grid
    )


def problems(kernel, target: str) -> str | None:
    """What is wrong with one configuration on one target, or None."""
    try:
        reports = assemble(kernel.emit(target), target)
    except PtxasError as err:
        return f"{kernel!r} on {target}: {err}"
    report = reports.get(kernel.entry)
    if report is None:
        return f"{kernel!r} on {target}: no report for {kernel.entry} in {sorted(reports)}"
    wrong = []
    if report.spill_bytes:
        wrong.append(f"{report.spill_bytes} spill bytes")
    if report.shared_bytes != kernel.shared_bytes:
        wrong.append(f"smem {report.shared_bytes} != shared_bytes {kernel.shared_bytes}")
    barriers = 1 if isinstance(kernel, MultiWarpIncrementalAttentionKernel) else 0
    if report.barriers != barriers:
        wrong.append(f"{report.barriers} barriers, expected {barriers}")
    if not wrong:
        return None
    return f"{kernel!r} on {target}: {', '.join(wrong)}\n{report.raw}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("name", "count"), [("multi-warp", 7 * 6 * 5 * 2), ("single-warp", 7 * 5 * 2)]
)
def test_every_configuration_assembles_without_spills(name: str, count: int, target: str) -> None:
    configs = kernels(name)
    assert len(configs) == count
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        failures = [f for f in pool.map(problems, configs, itertools.repeat(target)) if f]
    summary = f"{len(failures)} of {count} {name} configurations failed on {target}"
    assert not failures, summary + ":\n" + "\n".join(failures)
