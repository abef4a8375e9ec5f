"""The one check pipeline, `explorer.verify.verify`: what a verdict holds, that it fails when
the output or the warp states are wrong, the debug variant's states for a plain kernel, the
unchecked path's clamp, and failures recorded as messages (the app) or raised (the CLI)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from explorer import runtime
from explorer.kernels import MultiWarpIncrementalAttentionKernel, SplitKVDecodeAttentionKernel
from explorer.verify import make_inputs, verify

KERNEL = MultiWarpIncrementalAttentionKernel(64, 40, 6, 2, 3)


def test_a_plain_kernel_gets_its_debug_variants_states():
    got = verify(KERNEL, "sim", 37, inputs="increasing", seed=5)
    assert got.passed and got.lengths == (37,) and got.seq_len == 37
    assert got.out.shape == got.reference.shape == (6, 40)
    assert got.states.num_warps == 3 and got.reference_states.num_warps == 3
    assert got.state_problems == () and got.notes == () and got.errors == ()
    assert str(got).endswith("seq_len=37 inputs=increasing: " + str(got.comparison))


def test_without_states_nothing_more_runs(monkeypatch):
    calls = []
    real = runtime.run
    monkeypatch.setattr(runtime, "run", lambda *a, **kw: calls.append(a[0]) or real(*a, **kw))
    got = verify(KERNEL, "sim", 20, states=False)
    assert got.passed and got.states is None and calls == [KERNEL]


def test_a_wrong_output_fails(monkeypatch):
    monkeypatch.setattr(runtime, "run", lambda kernel, q, *a, **kw: np.zeros_like(q))
    got = verify(KERNEL, "sim", 20, states=False)
    assert not got.passed and not got.comparison.passed


def test_wrong_states_fail_stage_by_stage(monkeypatch):
    real = runtime.run

    def skewed(kernel, *args, **kwargs):
        result = real(kernel, *args, **kwargs)
        if not kernel.debug:
            return result
        out, states = result
        return out, dataclasses.replace(states, l=states.l * 1.01)

    monkeypatch.setattr(runtime, "run", skewed)
    got = verify(KERNEL, "sim", 20)
    assert got.comparison.passed and not got.passed
    assert [p.split(":")[0] for p in got.state_problems] == ["l"]


def test_a_kernel_without_a_debug_variant_gets_a_note(monkeypatch):
    kernel = SplitKVDecodeAttentionKernel(40, 32, 4, 2, batch=2, num_splits=2)

    def refuse():
        raise ValueError("debug=True; accepted: False (no debug variant)")

    monkeypatch.setattr(kernel, "debug_variant", refuse)
    got = verify(kernel, "sim", [40, 3])
    assert got.passed and got.seq_len == [40, 3] and got.states is None
    assert got.notes == ("No warp states: debug=True; accepted: False (no debug variant).",)


def test_a_split_kv_kernel_gets_its_debug_variants_split_states():
    kernel = SplitKVDecodeAttentionKernel(40, 32, 4, 2, batch=2, num_splits=2)
    got = verify(kernel, "sim", [40, 3], inputs="increasing")
    assert got.passed and got.notes == () and got.state_problems == ()
    assert got.states.start.shape == got.reference_states.start.shape == (2, 4, 2)


def test_given_inputs_and_unchecked_lengths():
    kernel = MultiWarpIncrementalAttentionKernel(32, 32, 4, 1, 2, indirect_seq_len=True,
                                                 debug=True)
    q, k, v = make_inputs(kernel, np.random.default_rng(9))
    with pytest.raises(ValueError, match="seq_len=33 is outside"):
        verify(kernel, "sim", 33, inputs=(q, k, v))
    got = verify(kernel, "sim", 2**32 - 1, inputs=(q, k, v), host_checks=False)
    assert got.inputs == "given" and got.lengths == (2**32 - 1,)
    assert got.passed, (got.comparison, got.state_problems)  # the answer at max_seq_len
    assert np.array_equal(got.reference, verify(kernel, "sim", 32, inputs=(q, k, v)).reference)


def test_failures_raise_or_become_messages(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(runtime, "run", broken)
    with pytest.raises(RuntimeError, match="fell over"):
        verify(KERNEL, "sim", 10)
    got = verify(KERNEL, "sim", 10, on_error="record")
    assert not got.passed and got.out is None and got.comparison is None
    assert got.errors == ("the sim run failed: RuntimeError: the device fell over",)
    assert got.states is None and got.reference_states is not None
    assert "the debug variant did not run on sim" in got.notes[0]
    with pytest.raises(ValueError, match="on_error='ignore'"):
        verify(KERNEL, "sim", 10, on_error="ignore")


def test_progress_is_reported_in_order():
    steps = []
    verify(KERNEL, "sim", 5, progress=lambda step, fraction: steps.append((fraction, step)))
    assert [f for f, _ in steps] == sorted(f for f, _ in steps)
    assert steps[1][1] == "running on sim"
