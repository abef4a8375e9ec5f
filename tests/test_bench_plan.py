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


def test_the_fp8_rows_time_ours_in_e4m3_and_f16_and_flashinfer_fp8_at_each_point():
    from explorer import bench_fp8

    def split(seq_len, dtype, batch=1, **options):
        return bench_suite._split(seq_len, dtype, batch=batch, **options)

    rows = bench_fp8.fp8_plan(split, lambda kernel, n: kernel,
                              lambda *args, **kw: ("flashinfer", args, kw))
    sweep = [thunk() for label, thunk in rows if label == "fp8-sweep"]
    rows = [(label, thunk) for label, thunk in rows if label != "fp8-sweep"]
    assert len(bench_suite.plan(132, only="fp8")) == len(rows) + len(sweep)
    assert len(rows) == 4 * 5 + 2 * 3 and len(sweep) == 2 * 8 <= 16
    assert all(k.mma and k.max_seq_len in (16384, 65536) for k in sweep)
    e4m3 = [k for k in sweep if k.kv_dtype == "e4m3"]
    f16 = [k for k in sweep if k.kv_dtype is None]
    assert {k.tiles_in_flight for k in e4m3} == {1, 2, 3, 4} and len(e4m3) == 12
    assert sorted(k.tiles_in_flight for k in f16) == [3, 3, 4, 4]
    assert {k.num_warps for k in e4m3} == {4, 8}  # 4: two CTAs per SM, twice the splits
    assert {k.num_splits for k in e4m3 if k.num_warps == 4} == {33}
    assert all(not k.pipeline for k in sweep if k.tiles_in_flight == 1)
    built = [thunk() for _, thunk in rows]
    ours = [k for k in built if not isinstance(k, tuple)]
    points = {(k.batch, k.max_seq_len) for k in ours}
    assert points == set(bench_fp8.FP8_POINTS)
    for batch, n in bench_fp8.FP8_POINTS:
        here = [k for k in ours if (k.batch, k.max_seq_len) == (batch, n)]
        assert {(k.dtype, k.kv_dtype, k.mma) for k in here} >= {("f16", "e4m3", True),
                                                                 ("f16", None, True)}
        assert all((k.num_heads, k.num_kv_heads, k.head_dim) == (32, 8, 128) for k in here)
    peers = [p for p in built if isinstance(p, tuple)]
    assert len(peers) == 6 and all(p[2] == {"tensor_cores": True, "kv_dtype": "e4m3"}
                                   for p in peers)


def test_the_fp8_summary_reads_the_ratio_at_64k():
    from explorer import bench_fp8

    def row(kernel, us, dtype, kv=None, mma=True, batch=1, n=65536):
        config = {"dtype": dtype, "batch": batch, "mma": mma}
        if kv:
            config["kv_dtype"] = kv
        return {"kernel": kernel, "seq_len": n, "us_per_launch": us, "config": config}

    rows = [row("split-kv", 34.0, "f16", "e4m3"), row("split-kv", 66.3, "f16"),
            row("split-kv", 50.0, "f16", "e4m3", mma=False),
            row("flashinfer-single", 52.78, "f16", "e4m3", mma=None)]
    text = bench_fp8.fp8_summary(rows)
    assert "| 64K | 34.00 | 66.30 | 1.95x | 52.78 | 1.55x |" in text
    assert "runs at 1.95x the speed of f16 (target >= 1.85x: met)" in text
    assert "| 1K | - | - | - | - | - |" in text
    slow = bench_fp8.fp8_summary([row("split-kv", 40.0, "f16", "e4m3"),
                                  row("split-kv", 66.3, "f16")])
    assert "1.66x the speed of f16 (target >= 1.85x: missed)" in slow
    assert "not timed" in bench_fp8.fp8_summary([])
    assert "tiles in flight" not in text  # no sweep rows, no sweep table
    swept = {**row("split-kv", 35.5, "f16", "e4m3"), "group": "fp8-sweep"}
    swept["config"] |= {"tiles_in_flight": 4, "num_warps": 8, "num_splits": 16}
    text = bench_fp8.fp8_summary([*rows, swept])
    assert "| 64K | e4m3 | 4 | 8 | 16 | 35.50 |" in text
    assert "| 64K | 34.00 | 66.30 | 1.95x |" in text  # the sweep's row is not the default's


def test_the_cluster_rows_compare_both_merges_at_the_same_points():
    rows = bench_suite.plan(132, only="cluster")
    configs = bench_suite.cluster_configs()
    assert len(rows) == len(configs) == 3 * 3 * 2 + 3 * 2 * 3
    assert {label for label, _ in rows} == {"split-kv"}
    def splits(o):  # the cluster merge's default is 8 splits
        return o.get("num_splits", 8 if o["merge"] == "cluster" else "default")

    points = Counter((n, d, splits(o), o["merge"]) for n, d, o in configs)
    assert set(points.values()) == {1}
    pairs = Counter((n, d, splits(o)) for n, d, o in configs
                    if splits(o) != "default" and n <= 4096)
    assert set(pairs.values()) == {2}  # 4 and 8 splits: each point with both merges
    for n, d, o in configs[::5]:  # every kernel of the plan builds, clusters for sm_90
        k = bench_suite._split(n, d, **o)
        assert k.emit("sm_90") and (k.merge == "cluster") == (len(k.launches()) == 1)


def test_markdown_names_the_cluster_merge():
    row = {"kernel": "split-kv", "seq_len": 1024, "us_per_launch": 5.0, "gbps": 800.0,
           "pct_copy": 19.0, "config": {"dtype": "f16", "merge": "cluster", "num_splits": 8}}
    line = bench_suite.markdown([row], 4169.0).splitlines()[-1]
    assert line.startswith("| split-kv +cluster | f16 | 1 | 1024 |")
