"""Runs from the app: the backend choice (auto falls back to the simulator without a GPU), the
comparison with the reference, the warp states of the debug variant, and errors as messages."""

from __future__ import annotations

import pytest

from explorer import runtime
from explorer.app import runner
from explorer.app.render import run_pane
from explorer.app.state import Config
from explorer.kernels import KERNELS


def test_sim_is_chosen_when_asked():
    assert runner.resolve_backend("sim") == ("sim", "the CPU simulator (chosen)")


def test_auto_names_what_it_picked_and_why():
    backend, why = runner.resolve_backend("auto")
    found, _ = runtime.gpu_probe()
    assert backend == ("cuda" if found else "sim")
    assert "(auto" in why


def test_default_configuration_passes_on_the_simulator():
    result = runner.run(Config(backend="sim", seq_len=300))
    assert result.backend == "sim" and result.errors == []
    assert result.passed, result.comparison
    assert result.states_source == "kernel" and result.state_problems == []
    assert result.states.num_warps == 4 and result.us_per_launch is None
    html = run_pane(result)
    assert "PASS" in html and "max abs error" in html and "warp states" in html


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_every_kernel_runs_on_the_simulator(kernel):
    config = Config(kernel=kernel, backend="sim", head_dim=40, num_heads=8, max_seq_len=64,
                    seq_len=37)
    result = runner.run(config)
    assert result.passed, (result.errors, result.comparison)


def test_invalid_configuration_is_a_message_not_an_exception():
    result = runner.run(Config(head_dim=300, backend="sim"))
    assert not result.passed and result.comparison is None
    assert "head_dim=300" in result.errors[0]
    assert "head_dim=300" in run_pane(result)


def test_a_failing_backend_is_reported_inline(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(runner.runtime, "run", broken)
    result = runner.run(Config(backend="sim", max_seq_len=64, seq_len=64))
    assert not result.passed
    assert any("the device fell over" in e for e in result.errors)
    assert result.states_source == "reference"  # the Warps view still has something to show
    assert "reference" in result.notes[0]


def test_progress_is_reported_in_order():
    steps = []
    runner.run(Config(backend="sim", max_seq_len=64, seq_len=10),
               progress=lambda step, fraction: steps.append(fraction))
    assert steps == sorted(steps) and steps[-1] == 1.0


def test_a_configuration_that_cannot_be_built_is_not_run_not_failed():
    result = runner.run(Config(head_dim=-4, backend="sim"), timing=False)
    assert result.verdict == "not run" and result.not_run.startswith("head_dim=-4 is outside")
    html = run_pane(result)
    assert "not run" in html and "FAIL" not in html and "backend" not in html


def test_cuda_chosen_without_a_gpu_is_not_run(monkeypatch):
    monkeypatch.setattr(runtime, "gpu_probe", lambda: (False, "CuPy is not installed"))
    result = runner.run(Config(max_seq_len=64, seq_len=64, backend="cuda"), timing=False)
    assert result.verdict == "not run" and "CuPy is not installed" in result.not_run
