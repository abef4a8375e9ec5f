"""Shared pytest setup: tests marked ``gpu`` are skipped, with the reason, without a usable GPU."""

from __future__ import annotations

import pytest

from explorer.runtime import gpu_probe


def gpu_available() -> tuple[bool, str]:
    """(True, "") when CuPy finds a GPU; else (False, the reason). The runtime's own probe,
    so the tests skip for exactly the reasons the app and the lesson fall back to the
    simulator."""
    found, detail = gpu_probe()
    return (True, "") if found else (False, f"no GPU: {detail}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    ok, reason = gpu_available()
    if not ok:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))
