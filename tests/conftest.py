"""Shared pytest setup: tests marked ``gpu`` are skipped, with the reason, without a usable GPU."""

from __future__ import annotations

import functools

import pytest


@functools.cache
def gpu_available() -> tuple[bool, str]:
    """(True, "") when CuPy imports and CUDA reports a device; else (False, the reason)."""
    try:
        import cupy  # lazy: the suite must run without CuPy
    except ImportError as exc:
        return False, f"no GPU: CuPy is not installed ({exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, or a missing driver library
        return False, f"no GPU: CUDA reports 0 devices ({type(exc).__name__}: {exc})"
    if count < 1:
        return False, "no GPU: CUDA reports 0 devices"
    return True, ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    ok, reason = gpu_available()
    if not ok:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))
