"""The lesson's functions (explorer.lesson): online softmax against the reference, the shuffle
tree run as PTX against the ISA's rule (on the simulator read from its lane trace), the debug
run, the timings, the figures, and the three exercises' checkers (pass with the reference
answer, fail with planted wrong ones). Last, the lesson notebook runs headless with the
reference answers filled in and every check passes."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from explorer import lesson, sim
from explorer.lesson import timings

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["sim", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng()  # random inputs every run


# -- softmax and online softmax --------------------------------------------------------------
def test_naive_softmax_overflows_and_the_stable_one_does_not():
    assert np.isnan(lesson.softmax_naive([1.0, 2.0, 100.0])).any()
    stable = lesson.softmax([1.0, 2.0, 100.0])
    assert np.isfinite(stable).all() and math.isclose(stable.sum(), 1.0)


def test_online_softmax_of_the_identity_is_the_softmax(rng):
    scores = rng.standard_normal(37) * 3
    trace = lesson.online_softmax(scores)
    np.testing.assert_allclose(trace.out, lesson.softmax(scores), rtol=1e-12)
    np.testing.assert_array_equal(trace.m, np.maximum.accumulate(scores))
    rose = np.r_[False, np.diff(trace.m) > 0]
    assert (trace.corr[1:][~rose[1:]] == 1.0).all() and (trace.corr[rose] < 1.0).all()


@pytest.mark.parametrize("kind", ["normal", "increasing"])
def test_online_attention_matches_the_reference(kind, rng):
    seed = int(rng.integers(1 << 30))
    q, k, v = lesson.lesson_inputs(
        seq_len=29, head_dim=12, num_heads=4, num_kv_heads=2, kind=kind, seed=seed
    )
    for head in range(4):
        trace, result = lesson.online_attention(q, k, v, seq_len=29, head=head)
        assert result.passed, result
        assert trace.scores.size == 29


def test_online_attention_without_rescale_fails_on_increasing_scores():
    q, k, v = lesson.lesson_inputs(seq_len=16, kind="increasing")
    _, result = lesson.online_attention(q, k, v, seq_len=16, rescale=False)
    assert not result.passed


def test_online_softmax_rejects_bad_input():
    with pytest.raises(ValueError, match="scores is empty"):
        lesson.online_softmax([])
    with pytest.raises(ValueError, match="values has shape"):
        lesson.online_softmax([1.0, 2.0], np.ones((3, 2)))
    q, k, v = lesson.lesson_inputs(seq_len=4)
    with pytest.raises(ValueError, match="head=1"):
        lesson.online_attention(q, k, v, 4, head=1)


# -- the shuffle tree --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_shuffle_tree_follows_the_isa_rule(backend, rng):
    values = rng.standard_normal(32).astype(np.float32)
    steps = lesson.shuffle_tree(values, backend=backend)
    assert steps.shape == (6, 32) and steps.dtype == np.float32
    np.testing.assert_array_equal(steps, lesson.shuffle_tree_numpy(values))
    np.testing.assert_allclose(steps[-1, 0], values.sum(dtype=np.float64), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shuffle_tree_runs_several_warps_in_one_launch(backend, rng):
    values = rng.standard_normal((3, 32))
    steps = lesson.shuffle_tree(values, backend=backend)
    assert steps.shape == (3, 6, 32)
    for warp in range(3):
        np.testing.assert_array_equal(steps[warp], lesson.shuffle_tree_numpy(values[warp]))


def test_the_simulators_rows_are_the_trace_and_what_the_kernel_stores(rng):
    values = rng.standard_normal(32).astype(np.float32)
    trace = lesson.shuffle_trace(values)
    rows = lesson.tree_rows(trace)
    np.testing.assert_array_equal(rows, lesson.shuffle_tree(values))
    kernel = lesson.ShuffleTreeKernel()
    stored = np.full((1, 6, 32), np.nan, dtype=np.float32)
    sim.launch(kernel.emit(), kernel.entry, (1, 1, 1), (32, 1, 1), [values, stored])
    np.testing.assert_array_equal(rows, stored[0])
    shuffles = [s for s in trace if s.text.startswith("shfl.sync.down")]
    assert [int(s.text.split(",")[2]) for s in shuffles] == list(lesson.SHUFFLE_DELTAS)


def test_trace_table_shows_the_trees_instructions_and_lanes():
    table = lesson.trace_table(lesson.shuffle_trace(np.arange(1, 33)), lanes=(0, 31))
    rows = table.splitlines()
    assert rows[0].split()[-4:] == ["lane", "0", "lane", "31"]
    assert len(rows) == 1 + 1 + 2 * 5 + 1  # header, the load, five shuffle+add, the broadcast
    assert "ld.global.f32" in rows[1] and rows[1].split()[-2:] == ["1", "32"]
    assert "add.f32" in rows[-2] and rows[-2].split()[-2:] == ["528", "1024"]
    assert rows[-1].split()[-2:] == ["528", "528"]
    with pytest.raises(ValueError, match="lanes=\\(32,\\)"):
        lesson.trace_table(lesson.shuffle_trace(np.ones(32)), lanes=(32,))
    with pytest.raises(ValueError, match="accepted: \\[32\\]"):
        lesson.shuffle_trace(np.ones((2, 32)))


def test_shuffle_kernel_is_the_kernels_warp_sum():
    ptx = lesson.ShuffleTreeKernel().emit()
    downs = [line.split(",")[2].strip() for line in ptx.splitlines() if "shfl.sync.down" in line]
    assert downs == [str(d) for d in lesson.SHUFFLE_DELTAS]
    assert ptx.count("shfl.sync.idx.b32") == 1 and ptx.count("st.global.f32") == 6


@pytest.mark.parametrize("step", range(6))
def test_lane_0_sums_every_stride_th_lane(step):
    stride = 32 >> step
    assert lesson.shuffle_sources(0, step) == {j: 1 for j in range(0, 32, stride)}


def test_lanes_past_the_edge_count_their_own_value_again():
    assert lesson.shuffle_sources(31, 5) == {31: 32}


def test_shuffle_tree_rejects_bad_input():
    with pytest.raises(ValueError, match="accepted: \\[32\\] or \\[warps, 32\\]"):
        lesson.shuffle_tree(np.ones(31))
    with pytest.raises(ValueError, match="backend='gpu'"):
        lesson.shuffle_tree(np.ones(32), backend="gpu")
    with pytest.raises(ValueError, match="lane=32"):
        lesson.shuffle_sources(32, 0)


# -- warps: the debug run ----------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_debug_run_matches_the_reference(backend, rng):
    run = lesson.debug_run(
        seq_len=203, num_warps=4, seed=int(rng.integers(1 << 30)), backend=backend
    )
    assert run.comparison.passed, run.comparison
    assert run.state_problems == []
    assert "M = " in run.warp_table(head=1)


def test_debug_run_with_empty_warps():
    run = lesson.debug_run(seq_len=5, num_warps=8, max_seq_len=64, kind="increasing")
    assert run.comparison.passed and run.state_problems == []
    assert (run.states.factor[:, 5:] == 0).all() and np.isneginf(run.states.m[:, 5:]).all()


# -- timings -----------------------------------------------------------------------------------
def test_recorded_timings_are_the_bench_files_and_name_the_card():
    t = lesson.recorded_timings(4096)
    assert not t.measured and "NVIDIA H200" in t.source and "2026-11-27" in t.source
    rows = json.loads((ROOT / lesson.BENCH_FILE).read_text())["rows"]
    single = next(r for r in rows if r["group"] == "single-warp" and r["seq_len"] == 4096)
    assert t.us("single-warp") == single["us_per_launch"]
    assert [r.label for r in t.rows][0] == "single-warp"
    assert t.rows[-1].label.startswith("split-KV")  # fastest last
    assert "x the single-warp speed" in t.summary()
    assert len(lesson.recorded_timings(1024).rows) == 6


def test_recorded_timings_found_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lesson.find_bench_file() == ROOT / lesson.BENCH_FILE


def test_timings_reject_bad_arguments():
    with pytest.raises(ValueError, match="accepted: 1024, 4096"):
        lesson.recorded_timings(999)
    with pytest.raises(ValueError, match="source='cpu'"):
        lesson.kernel_timings(source="cpu")
    with pytest.raises(KeyError, match="no row starts with"):
        lesson.recorded_timings().us("tensor cores")


def test_auto_timings_use_the_recorded_figures_without_a_gpu(monkeypatch):
    monkeypatch.setattr(timings, "default_backend", lambda: "sim")
    assert not lesson.kernel_timings(source="auto").measured


@pytest.mark.gpu
def test_measured_timings_on_a_gpu():
    t = lesson.kernel_timings(seq_len=1024, source="gpu")
    assert t.measured and t.rows[0].label == "single-warp"
    assert t.rows[-1].label.startswith("split-KV")


def test_parallelism_table():
    rows = {r["kernel"].split(",")[0]: r for r in lesson.parallelism_table(4096)}
    assert rows["single-warp"]["rows per warp"] == 4096 and rows["single-warp"]["warps"] == 32
    assert rows["split-KV"]["SMs used"] == min(rows["split-KV"]["CTAs"], 132) >= 128
    seed_mb, split_mb = rows["single-warp"]["K/V MB asked"], rows["split-KV"]["K/V MB asked"]
    assert seed_mb == pytest.approx(4 * split_mb, rel=1e-2)  # GQA 4:1, one read per group
    text = lesson.format_table(lesson.parallelism_table(4096))
    assert text.splitlines()[0].startswith("kernel") and "4,096" in text


# -- figures -----------------------------------------------------------------------------------
def test_figures():
    go = pytest.importorskip("plotly.graph_objects", reason="the figures need plotly (not on "
                             "the GPU machine)")
    steps = lesson.shuffle_tree(np.arange(1, 33))
    fig = lesson.shuffle_tree_figure(steps)
    assert isinstance(fig, go.Figure) and len(fig.layout.shapes) == 6
    assert fig.data[0].z[-1][0] == 528
    with pytest.raises(ValueError, match="accepted: \\[6, 32\\]"):
        lesson.shuffle_tree_figure(steps[:5])
    assert len(lesson.timings_figure(lesson.recorded_timings()).data[0].x) == 6
    assert len(lesson.online_softmax_figure(lesson.online_softmax([1.0, 3.0, 2.0])).data) == 3


# -- exercise 1: merge factor ------------------------------------------------------------------
@pytest.fixture(scope="module")
def run():
    return lesson.debug_run(seq_len=203, num_warps=4)


def test_merge_factor_reference_answer_passes(run):
    for warp in range(4):
        answer = math.exp(run.states.m[0, warp] - run.states.M[0])
        assert lesson.check_merge_factor(answer, run.states, warp).passed
    # the float64 reference's states give the same answer as the kernel's record
    ref = run.reference
    verdict = lesson.check_merge_factor(math.exp(ref.m[3, 2] - ref.M[3]), run.states, 2, head=3)
    assert verdict.passed and str(verdict).startswith("PASS: exp(m_w - M)")


@pytest.mark.parametrize(
    "planted, hint",
    [
        (lambda m, big_m: m - big_m, "the exponent m_w - M"),
        (lambda m, big_m: math.exp(big_m - m), "inverted"),
        (lambda m, big_m: 1.5, "lies in (0, 1]"),
    ],
)
def test_merge_factor_planted_wrong_answers_fail(run, planted, hint):
    warp = int(np.argmin(run.states.m[0]))  # a warp whose factor is below 1
    verdict = lesson.check_merge_factor(
        planted(run.states.m[0, warp], run.states.M[0]), run.states, warp
    )
    assert not verdict.passed and hint in verdict.message and str(verdict).startswith("FAIL")


def test_merge_factor_unanswered_and_empty_warps(run):
    assert "no answer yet" in str(lesson.check_merge_factor(None, run.states, 0))
    assert "must be a number" in str(lesson.check_merge_factor("0.5", run.states, 0))
    tiny = lesson.debug_run(seq_len=5, num_warps=8, max_seq_len=64)
    assert lesson.check_merge_factor(0.0, tiny.states, 7).passed
    assert not lesson.check_merge_factor(1.0, tiny.states, 7).passed
    with pytest.raises(ValueError, match="warp 0..3"):
        lesson.check_merge_factor(0.5, run.states, 4)


# -- exercise 2: broken rescale ----------------------------------------------------------------
def test_rescale_bug_is_caught_exactly_where_the_max_rises():
    for name in lesson.RESCALE_CASES:
        scores, _ = lesson.rescale_case(name)
        rises = any(scores[t] > scores[:t].max() for t in range(1, scores.size))
        assert lesson.rescale_bug_caught(name) == rises, name


def test_broken_rescale_reference_answer_passes():
    verdict = lesson.check_broken_rescale({"random", "increasing"})
    assert verdict.passed and "increasing" in verdict.message


@pytest.mark.parametrize(
    "planted, says",
    [
        ({"increasing"}, "missed ['random']"),
        (set(lesson.RESCALE_CASES), "pass with the bug"),
        ("increasing", "missed ['random']"),
        ({"sorted"}, "unknown case"),
        (None, "no answer yet"),
    ],
)
def test_broken_rescale_planted_wrong_answers_fail(planted, says):
    verdict = lesson.check_broken_rescale(planted)
    assert not verdict.passed and says in verdict.message
    assert "decreasing" in lesson.rescale_cases_table()


# -- exercise 3: shuffle sources ---------------------------------------------------------------
def test_shuffle_sources_reference_answer_passes():
    assert lesson.check_shuffle_sources(range(0, 32, 4), lane=0, step=3).passed
    verdict = lesson.check_shuffle_sources([31], lane=31, step=5)
    assert verdict.passed and "{31: 32}" in verdict.message


@pytest.mark.parametrize(
    "planted, says",
    [
        (range(8), "missing lanes [8, 12, 16, 20, 24, 28]"),
        ([0, 16], "missing lanes [4, 8, 12, 20, 24, 28]"),
        (["a"], "must be lane numbers"),
        (None, "no answer yet"),
    ],
)
def test_shuffle_sources_planted_wrong_answers_fail(planted, says):
    verdict = lesson.check_shuffle_sources(planted, lane=0, step=3)
    assert not verdict.passed and says in verdict.message


# -- the notebook ------------------------------------------------------------------------------
NOTEBOOK = ROOT / "notebooks" / "warp_softmax.ipynb"
REFERENCE_ANSWERS = {
    "answer_1 = None": "answer_1 = float(np.exp(run.states.m[0, 2] - run.states.M[0]))",
    "answer_2 = None": 'answer_2 = {"random", "increasing"}',
    "answer_3 = None": "answer_3 = list(range(0, 32, 4))",
    "answer_4 = None": "answer_4 = float(splits.states.L[0, 0])",
}


def test_notebook_holds_no_logic():
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra")
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    for source in cells:
        assert len(source.splitlines()) <= 6, source
        for word in ("def ", "class ", "lambda", "for ", "while "):
            assert word not in source, source
    assert sum("import" in source for source in cells) == 1
    assert all(stmt in "".join(cells) for stmt in REFERENCE_ANSWERS)


def test_notebook_runs_with_the_reference_answers(monkeypatch):
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        for unanswered, answer in REFERENCE_ANSWERS.items():
            cell.source = cell.source.replace(unanswered, answer)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)  # the kernel starts in notebooks/, as in Jupyter
    nbclient.NotebookClient(
        nb, timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    text = "\n".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "")
        for cell in nb.cells
        for out in cell.get("outputs", [])
    )
    assert text.count("PASS: exp(m_w - M)") == 1
    assert "PASS: only increasing, random catch it" in text
    assert "PASS: after 3 step(s) lane 0 holds" in text
    assert "PASS: L = sum_s l_s * 2^(m_s - M)" in text
    assert "recorded states: match the float64 reference" in text
    assert "FAIL" in text  # the planted bug of section 1 fails its comparison, as it should


def test_exercise_one_is_not_readable_off_the_table_it_is_computed_from():
    run = lesson.debug_run(seq_len=203, num_warps=4, backend="sim")  # the notebook's run
    table = run.warp_table(head=0)
    assert f"{run.states.factor[0, 2]:.3f}" not in table and "factor" not in table
    assert f"{run.states.m[0, 2]:.4f}" in table and f"M = {run.states.M[0]:.4f}" in table
    assert "factor" in run.warp_table(head=0, merge=True)


def test_the_rescale_cases_table_says_what_its_numbers_are():
    header = lesson.rescale_cases_table().splitlines()[0]
    assert "scores" in header and "input case" in header


def test_exercise_four_merges_two_splits_and_names_the_usual_mistakes():
    run = lesson.split_run(seq_len=300, num_splits=2, backend="sim")  # the notebook's run
    assert run.passed
    table = run.split_table(head=0)
    s = run.states
    assert f"{s.L[0, 0]:.4f}" not in table and "weight" not in table
    assert f"{s.m[0, 0, 1]:.4f}" in table and f"{s.l[0, 0, 0]:.4f}" in table
    assert lesson.check_split_merge(float(s.L[0, 0]), run)
    plain = lesson.check_split_merge(float(s.l[0, 0].sum()), run)
    assert not plain and "rescaled to the global M" in plain.message
    natural = sum(float(l) * math.exp(float(m) - float(s.M[0, 0]))
                  for m, l in zip(s.m[0, 0], s.l[0, 0], strict=True))
    assert "log2 units" in lesson.check_split_merge(natural, run).message
    assert "no answer yet" in lesson.check_split_merge(None, run).message
