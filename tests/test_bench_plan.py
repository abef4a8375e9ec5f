"""The benchmark suite's plan and table, without a GPU: which rows it times (our kernels, SDPA,
FlashInfer in every case it supports) and how a row reads in bench.md."""

from __future__ import annotations

from collections import Counter

from explorer import bench_suite


def test_quick_plan_times_every_peer_next_to_our_kernels():
    labels = Counter(label for label, _ in bench_suite.plan(132, quick=True))
    # 1K and 4K x f32/f16/bf16 (our split-kv, with and without programmatic dependent launch;
    # f16/bf16 also on CUDA cores) and SDPA for each;
    # FlashInfer on CUDA cores and tensor cores for f16/bf16, fp8 KV for f16;
    # batch 8 and 32 at 4K for f32 and f16.
    assert labels["split-kv"] == 2 * 3 * 2 + 2 * 2 + 4 * 2  # each also with pdl=True
    assert labels["sdpa"] == 2 * 3 + 4
    assert labels["flashinfer"] == 2 * (3 + 2) + 2 * 3


def test_flashinfer_rows_need_a_16_bit_dtype():
    assert bench_suite._flashinfer_rows(1, 4096, "f32") == []
    assert len(bench_suite._flashinfer_rows(8, 4096, "bf16")) == 2


def test_markdown_names_fp8_kv_and_tensor_cores():
    row = {"kernel": "flashinfer-single", "seq_len": 4096, "us_per_launch": 10.83,
           "gbps": 1549.0, "pct_copy": 37.2,
           "config": {"dtype": "f16", "kv_dtype": "e4m3", "tensor_cores": True}}
    line = bench_suite.markdown([row], 4169.0).splitlines()[-1]
    assert line.startswith("| flashinfer-single | f16/e4m3 | 1 | 4096 |")
    assert "| True |" in line and "| 10.8 |" in line


def test_the_pdl_rows_time_each_point_with_and_without():
    rows = bench_suite.plan(132, only="pdl")
    assert len(rows) == 3 * len(bench_suite.PDL_POINTS) * 2
    assert {label for label, _ in rows} == {"split-kv"}
