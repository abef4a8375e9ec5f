"""Thread-block clusters (sm_90+): the simulator's cluster semantics on small hand-written PTX
(distributed shared memory through `mapa` + `ld.shared::cluster`, the split cluster barrier,
the bugs it must catch, the shapes it must refuse), and the split-KV kernel's
`merge="cluster"` against the float64 reference on the simulator and, marked `gpu`, on a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import sim, verify
from explorer.kernels import SplitKVDecodeAttentionKernel
from explorer.ptx import parse
from explorer.ptx.ptxas import PtxasError, assemble, find_ptxas
from explorer.runtime import run

needs_ptxas = pytest.mark.skipif(find_ptxas() is None,
                                 reason="ptxas not installed (nvidia-cuda-nvcc)")
BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]

ADDRESS = """\
\tmov.u32 %r3, smem;
\tmad.lo.u32 %r4, %r2, 4, %r3;
"""
STORE = """\
\tmad.lo.u32 %r5, %r1, 100, %r2;
\tst.shared.u32 [%r4], %r5;
"""
WRITE = ADDRESS + STORE
FIRST_BARRIER = """\
\tbarrier.cluster.arrive.release.aligned;
\tbarrier.cluster.wait.acquire.aligned;
"""
READ_NEXT = """\
\tadd.u32 %r6, %r1, 1;
\trem.u32 %r7, %r6, %r12;
\tmapa.shared::cluster.u32 %r8, %r4, %r7;
\tld.shared::cluster.u32 %r9, [%r8];
"""
LAST_BARRIER = """\
\tbarrier.cluster.arrive.aligned;
\tbarrier.cluster.wait.aligned;
"""


def module(body: str, cluster: str = ".reqnctapercluster 4, 1, 1", target: str = "sm_90") -> str:
    """Each thread writes rank * 100 + tid to its shared word, then reads the word of the same
    thread in the next CTA of its cluster (by rank) and stores it to out[ctaid][tid]."""
    return f""".version 8.0
.target {target}
.address_size 64

.visible .entry k(
\t.param .u64 out_ptr
)
{cluster}
{{
\t.reg .pred %p<4>;
\t.reg .b32 %r<20>;
\t.reg .b64 %rd<10>;
\t.shared .align 4 .b8 smem[256];

\tld.param.u64 %rd1, [out_ptr];
\tmov.u32 %r1, %cluster_ctarank;
\tmov.u32 %r12, %cluster_nctarank;
\tmov.u32 %r2, %tid.x;
{body}\tmov.u32 %r10, %ctaid.x;
\tmad.lo.u32 %r11, %r10, 32, %r2;
\tmul.wide.u32 %rd2, %r11, 4;
\tadd.u64 %rd3, %rd1, %rd2;
\tst.global.u32 [%rd3], %r9;
\tret;
}}
"""


GOOD = module(WRITE + FIRST_BARRIER + READ_NEXT + LAST_BARRIER)


def launch(ptx: str, ctas: int = 8, block: int = 32, **kw) -> np.ndarray:
    out = np.full(ctas * 32, 0xFFFFFFFF, dtype=np.uint32)
    sim.launch(ptx, "k", (ctas, 1, 1), (block, 1, 1), [out], **kw)
    return out.reshape(ctas, 32)


def expected(ctas: int, size: int) -> np.ndarray:
    rank = np.arange(ctas) % size
    return ((rank + 1) % size * 100)[:, None] + np.arange(32)[None, :]


# -- the simulator's semantics ----------------------------------------------------------------
def test_mapa_and_ld_shared_cluster_read_another_ctas_shared_memory():
    assert (launch(GOOD, check_races=True) == expected(8, 4)).all()


def test_st_shared_cluster_writes_into_another_cta_and_fences_change_nothing():
    """Each thread stores into the next CTA's word (`st.shared::cluster`), then every thread
    reads its own word back (`ld.shared::cta`): the previous CTA's value."""
    body = ADDRESS + """\
\tadd.u32 %r6, %r1, 1;
\trem.u32 %r7, %r6, %r12;
\tmapa.shared::cluster.u32 %r8, %r4, %r7;
\tmad.lo.u32 %r5, %r1, 100, %r2;
\tst.shared::cluster.u32 [%r8], %r5;
\tfence.acq_rel.cluster;
""" + FIRST_BARRIER + "\tld.shared::cta.u32 %r9, [%r4];\n" + LAST_BARRIER
    got = launch(module(body), check_races=True)
    rank = np.arange(8) % 4
    assert (got == ((rank + 3) % 4 * 100)[:, None] + np.arange(32)).all()


def test_the_header_directive_is_read_in_any_spelling():
    for directive, dims in ((".explicitcluster\n.reqnctapercluster 2", (2, 1, 1)),
                            (".reqnctapercluster 2, 2", (2, 2, 1)), ("", None)):
        assert parse(module("\tmov.u32 %r9, 0;\n", cluster=directive)).cluster == dims


def test_special_registers_give_rank_and_cluster_position():
    body = """\
\tmov.u32 %r13, %clusterid.x;
\tmov.u32 %r14, %cluster_ctaid.x;
\tmov.u32 %r15, %nclusterid.x;
\tmad.lo.u32 %r16, %r13, 1000, %r14;
\tmad.lo.u32 %r17, %r15, 100000, %r16;
\tmad.lo.u32 %r9, %r12, 10000000, %r17;
"""
    got = launch(module(body), ctas=8)[:, 0]
    ctas = np.arange(8)
    assert (got == 4 * 10000000 + 2 * 100000 + ctas // 4 * 1000 + ctas % 4).all()


def test_without_a_declared_cluster_each_cta_is_a_cluster_of_one():
    got = launch(module(WRITE + FIRST_BARRIER + READ_NEXT + LAST_BARRIER, cluster=""), ctas=3)
    assert (got == np.arange(32)[None, :]).all()  # rank 0 of 1 reads its own word


def test_reading_before_the_barrier_sees_no_value_or_is_a_race():
    early = module(ADDRESS + READ_NEXT + STORE + FIRST_BARRIER + LAST_BARRIER)
    assert (launch(early) == 0xFFFFFFFF).all()  # uninitialised shared bytes: the read is early
    with pytest.raises(sim.SimError, match="shared-memory race"):
        launch(module(WRITE + READ_NEXT + FIRST_BARRIER + LAST_BARRIER), check_races=True)


def test_a_cta_that_exits_while_others_may_read_its_shared_memory_is_caught():
    with pytest.raises(sim.SimError, match="exits while the access to its shared memory"):
        launch(module(WRITE + FIRST_BARRIER + READ_NEXT))


def test_a_cta_skipping_the_barrier_is_caught_naming_the_line():
    skip = """\
\tsetp.eq.u32 %p1, %r1, 3;
\t@%p1 bra $L_skip;
""" + FIRST_BARRIER + "$L_skip:\n\tmov.u32 %r9, 0;\n"
    ptx = module(WRITE + skip)
    line = next(i for i, t in enumerate(ptx.splitlines(), 1) if "barrier.cluster.wait" in t)
    with pytest.raises(sim.SimError, match=f"wait at line {line} `barrier.cluster.wait"):
        launch(ptx)


def test_threads_stuck_elsewhere_deadlock_the_cluster_barrier():
    """Warp 0 of rank 3 waits at a bar.sync for 64 threads that never come; its warp 1 and
    every other CTA wait at the cluster barrier for warp 0."""
    stuck = """\
\tsetp.eq.u32 %p1, %r1, 3;
\tsetp.lt.u32 %p2, %r2, 32;
\tand.pred %p3, %p1, %p2;
\t@%p3 bra $L_stuck;
""" + FIRST_BARRIER + "\tbra.uni $L_done;\n$L_stuck:\n\tbar.sync 1, 64;\n$L_done:\n" \
        "\tmov.u32 %r9, 0;\n"
    ptx = module(WRITE + stuck)
    line = next(i for i, t in enumerate(ptx.splitlines(), 1) if "barrier.cluster.wait" in t)
    with pytest.raises(sim.SimError, match=f"deadlock: barrier 1 .* wait at line {line}"):
        launch(ptx, block=64)


@pytest.mark.parametrize("body, words", [
    ("\tbarrier.cluster.wait.aligned;\n", "without a barrier.cluster.arrive"),
    ("\tbarrier.cluster.arrive.aligned;\n\tbarrier.cluster.arrive.aligned;\n",
     "arrive again before"),
    ("\tmapa.shared::cluster.u32 %r8, smem, 4;\n", "mapa to CTA rank 4"),
])
def test_misuse_of_the_cluster_barrier_and_mapa_is_an_error(body, words):
    with pytest.raises(sim.SimError, match=words):
        launch(module(body + "\tmov.u32 %r9, 0;\n"))


@pytest.mark.parametrize("cluster, ctas, words", [
    (".reqnctapercluster 4, 1, 1", 6, "not a whole number of clusters"),
    (".reqnctapercluster 16, 1, 1", 16, "at most 8.*16 is a non-portable size"),
    (".reqnctapercluster 32", 32, "at most 8, the portable cluster size\\)"),
])
def test_bad_cluster_shapes_are_refused(cluster, ctas, words):
    with pytest.raises(ValueError, match=words):
        launch(module(WRITE + "\tmov.u32 %r9, 0;\n", cluster=cluster), ctas=ctas)


def test_cluster_ptx_below_sm_90_is_refused():
    with pytest.raises(ValueError, match="below sm_90"):
        launch(module(WRITE + "\tmov.u32 %r9, 0;\n", target="sm_80"))


def test_launches_without_clusters_compute_no_cluster_state():
    ptx = module("\tmov.u32 %r9, 7;\n", cluster="").replace(
        "\tmov.u32 %r1, %cluster_ctarank;\n\tmov.u32 %r12, %cluster_nctarank;\n", "")
    program = sim.program.load(ptx, "k")
    assert not program.clusters
    assert (launch(ptx, ctas=2) == 7).all()


EVERY_FORM = ADDRESS + """\
\tmapa.shared::cluster.u32 %r8, %r4, %r1;
\tmapa.shared::cluster.u64 %rd5, smem, 1;
\tst.shared::cluster.u32 [%r8], %r2;
\tfence.acq_rel.cluster;
\tfence.sc.cluster;
\tbarrier.cluster.arrive.relaxed.aligned;
\tbarrier.cluster.wait;
\tld.shared::cta.u32 %r9, [%r4];
\tmov.u32 %r13, %clusterid.x;
\tmov.u32 %r14, %nclusterid.y;
\tmov.u32 %r15, %cluster_nctaid.z;
\tmov.u32 %r16, %cluster_ctaid.y;
\tbarrier.cluster.arrive;
\tbarrier.cluster.wait.acquire;
"""


@needs_ptxas
def test_ptxas_takes_the_hand_written_cluster_ptx_for_sm_90_only():
    assert "k" in assemble(GOOD, "sm_90")
    assert "k" in assemble(module(EVERY_FORM), "sm_90")
    launch(module(EVERY_FORM))  # and the simulator runs every form
    with pytest.raises(PtxasError):
        assemble(GOOD.replace(".target sm_90", ".target sm_80"), "sm_80")


# -- the split-KV kernel's cluster merge --------------------------------------------------------
def cluster_kernel(head_dim=64, group=4, batch=1, dtype="f16", max_seq_len=1000, **kw):
    kv = 2 if group < 8 else 1
    return SplitKVDecodeAttentionKernel(max_seq_len, head_dim, kv * group, kv, batch=batch,
                                        dtype=dtype, merge="cluster", **kw)


def test_the_cluster_entry_is_one_launch_with_its_cluster_declared():
    k = cluster_kernel()
    (launch_,) = k.launches()
    assert k.num_splits == 8 and launch_.grid == (8, 2, 1)
    assert launch_.args == ("q", "k", "v", "seq_len", "out")
    assert [s.name for s in k.buffer_specs()] == ["q", "k", "v", "out", "seq_len"]
    ptx = k.emit("sm_90")
    assert ".reqnctapercluster 8, 1, 1" in ptx and "split_kv_combine" not in ptx
    assert ptx.count("barrier.cluster.arrive.release.aligned;") == 2
    assert ptx.count("mapa.shared::cluster.u32") == 8
    assert parse(ptx) == k.kernel
    assert ".reqnctapercluster" not in SplitKVDecodeAttentionKernel(96, 64, 8, 2).emit("sm_90")


@pytest.mark.parametrize("options, words", [
    ({"num_splits": 9}, "num_splits=9 with merge='cluster'.*1..8.*co-resident"),
    ({"num_splits": 16}, "portable cluster size"),
    ({"debug": True}, "debug=True with merge='cluster'"),
    ({"pdl": True}, "merge='cluster' has no combine kernel"),
])
def test_combinations_not_built_are_refused(options, words):
    with pytest.raises(ValueError, match=words):
        cluster_kernel(**options)


def test_refused_before_sm_90():
    with pytest.raises(ValueError, match="merge='cluster'.*needs sm_90"):
        cluster_kernel().emit("sm_80")


@needs_ptxas
@pytest.mark.parametrize("dtype, mma", [("f16", None), ("bf16", False), ("f32", None)])
def test_ptxas_assembles_the_cluster_kernel_for_sm_90(dtype, mma):
    k = cluster_kernel(head_dim=128, dtype=dtype, mma=mma)
    (report,) = assemble(k.emit("sm_90"), "sm_90").values()
    assert report.spill_bytes == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["f16", "bf16", "f32"])
@pytest.mark.parametrize("group", [1, 4, 8])
@pytest.mark.parametrize("head_dim", [64, 128])
def test_cluster_merge_matches_float64(backend, dtype, group, head_dim):
    """Batch 3 with lengths 1000, 17 and 1 (poisoned outputs, random inputs), then one
    sequence of 128 and an empty one."""
    k = cluster_kernel(head_dim, group, batch=3, dtype=dtype)
    got = verify.verify(k, backend, [1000, 17, 1], seed=head_dim + group, states=False)
    assert got.passed, got
    one = cluster_kernel(head_dim, group, batch=1, dtype=dtype, max_seq_len=128)
    for n, inputs in ((128, "increasing"), (0, "normal")):
        got = verify.verify(one, backend, n, inputs=inputs, seed=group, states=False)
        assert got.passed, got


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("splits", [1, 3, 4])
def test_fewer_splits_and_cuda_cores(backend, splits):
    k = cluster_kernel(num_splits=splits, mma=False, batch=2)
    got = verify.verify(k, backend, [999, 40], inputs="increasing", seed=splits, states=False)
    assert got.passed, got


def test_the_simulator_catches_no_race_in_the_kernel():
    k = cluster_kernel(group=8, head_dim=64, max_seq_len=96)
    q, kk, v = verify.make_inputs(k, np.random.default_rng(3))
    bufs = {"q": q, "k": kk, "v": v, "seq_len": np.array([77], np.uint32),
            "out": np.full(q.shape, np.nan, q.dtype)}
    (one,) = k.launches()
    sim.launch(k.emit("sm_90"), one.entry, one.grid, one.block,
               [bufs[a] for a in one.args], check_races=True)
    want = verify.reference_output(k, q, kk, v, 77)
    assert verify.compare(bufs["out"], want, k.dtype).passed


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["f16", "bf16", "f32"])
@pytest.mark.parametrize("n", [4096, 16384, 65536])
def test_long_lengths_on_a_gpu(dtype, n):
    k = SplitKVDecodeAttentionKernel(n, 128, 32, 8, dtype=dtype, merge="cluster")
    got = verify.verify(k, "cuda", n, seed=7, states=False)
    assert got.passed, got


@pytest.mark.gpu
def test_cluster_merge_in_a_captured_graph():
    k = SplitKVDecodeAttentionKernel(1024, 128, 32, 8, dtype="f16", merge="cluster")
    q, kk, v = verify.make_inputs(k, np.random.default_rng(1))
    from explorer.runtime.cuda import DecodeGraph

    graph = DecodeGraph(k, q, kk, v)
    for n in (1024, 1, 300, 0):
        out = graph.step(n)
        want = verify.reference_output(k, q, kk, v, n)
        assert verify.compare(out, want, k.dtype).passed, n
    assert verify.compare(run(k, q, kk, v, 300, backend="cuda"),
                          verify.reference_output(k, q, kk, v, 300), k.dtype).passed
