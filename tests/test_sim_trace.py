"""Lane traces (`explorer.sim.trace`): warp-shuffle reductions traced lane by lane equal NumPy's
lane values at every step (the lesson's `warp_sum` kernel and nvcc's `warp_sum_scan`); `.line`
points at the instruction in the PTX text; `.active` follows partial warps, guards and
divergence; instructions without a destination have None; bad arguments raise ValueError
naming them; a trace leaves exactly what a plain launch leaves."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from corpus_replay import ENTRIES, arguments, ptx_of

from explorer import sim
from explorer.lesson import ShuffleTreeKernel

LANES = np.arange(32)

# A warp of lanes 0..31 (and a partial one: run it with 48 threads) that takes a guarded add
# (lanes 0..7), diverges at `@%p2 bra` (lanes 20..31 jump) and meets again, then counts the
# guard's true lanes over the CTA with bar.red (its result is written when the barrier ends).
LANES_PTX = """\
.version 8.0
.target sm_90
.address_size 64

.visible .entry lanes(.param .u64 out_ptr)
{
    .reg .pred %p<3>;
    .reg .b32 %r<7>;
    .reg .b64 %rd<5>;

    ld.param.u64 %rd1, [out_ptr];
    cvta.to.global.u64 %rd2, %rd1;
    mov.u32 %r1, %tid.x;
    and.b32 %r2, %r1, 31;
    setp.lt.u32 %p1, %r2, 8;
    mov.u32 %r3, 7;
    @%p1 add.u32 %r3, %r2, 100;
    setp.ge.u32 %p2, %r2, 20;
    @%p2 bra $L_high;
    mul.lo.u32 %r4, %r2, 2;
    bra.uni $L_join;
$L_high:
    mul.lo.u32 %r4, %r2, 3;
$L_join:
    add.u32 %r5, %r4, %r3;
    bar.red.popc.u32 %r6, 0, %p1;
    add.u32 %r5, %r5, %r6;
    mul.wide.u32 %rd3, %r1, 4;
    add.s64 %rd4, %rd2, %rd3;
    st.global.u32 [%rd4], %r5;
    ret;
}
"""


def lanes_expected(threads: int) -> np.ndarray:
    """What LANES_PTX stores for one CTA of `threads` threads, from its source (every CTA
    writes out[tid], so a grid of several writes the same values)."""
    lane = np.arange(threads) % 32
    guarded = np.where(lane < 8, lane + 100, 7)
    branch = np.where(lane >= 20, lane * 3, lane * 2)
    return (branch + guarded + int((lane < 8).sum())).astype(np.uint32)


def by_text(t: sim.Trace, prefix: str) -> list[sim.TraceStep]:
    return [s for s in t if s.text.startswith(prefix)]


def normalized(line: str) -> str:
    return " ".join(line.split())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng()  # random inputs every run


# -- shuffle reductions, lane by lane -----------------------------------------------------------
def test_the_lessons_warp_sum_traced_equals_numpy(rng):
    kernel = ShuffleTreeKernel()
    values = rng.standard_normal(32).astype(np.float32)
    out = np.zeros((1, 6, 32), dtype=np.float32)
    t = sim.trace(kernel.emit(), kernel.entry, (1, 1, 1), (32, 1, 1), [values, out])
    downs, adds = by_text(t, "shfl.sync.down.b32"), by_text(t, "add.f32")
    assert [int(s.text.split(",")[2]) for s in downs] == [16, 8, 4, 2, 1]
    assert len(adds) == 5
    v = values
    for down, add in zip(downs, adds, strict=True):
        delta = int(down.text.split(",")[2])
        shuffled = v[np.where(LANES + delta < 32, LANES + delta, LANES)]  # clamp 31: own value
        assert down.lanes.dtype == np.float32 and add.lanes.dtype == np.float32
        np.testing.assert_array_equal(down.lanes, shuffled)
        v = v + shuffled
        np.testing.assert_array_equal(add.lanes, v)
        assert down.active.all() and add.active.all()
    (broadcast,) = by_text(t, "shfl.sync.idx.b32")
    np.testing.assert_array_equal(broadcast.lanes, np.full(32, v[0]))
    np.testing.assert_array_equal(out[0, 1:], np.stack([s.lanes for s in adds]))


def test_nvcc_warp_sum_and_scan_traced_equal_numpy():
    entry = ENTRIES["warp_sum_scan"]  # grid 2 x 64 threads; CTA 1, warp 1 is threads 96..127
    args, arrays = arguments(entry)
    t = sim.trace(ptx_of(entry), entry["entry"], tuple(entry["grid"]), tuple(entry["block"]),
                  args, cta=1, warp=1)
    assert (t.cta, t.warp, t.threads) == ((1, 0, 0), 1, 32)
    x, xi = arrays["x"][96:128], arrays["xi"][96:128]

    bfly, sums = by_text(t, "shfl.sync.bfly.b32"), by_text(t, "add.f32")
    s = x
    for shuffle, add, offset in zip(bfly, sums, (16, 8, 4, 2, 1), strict=True):
        value, in_range = shuffle.lanes  # a `d|p` destination: the value, then the predicate
        assert shuffle.dest[1].startswith("%p") and in_range.dtype == np.bool_ and in_range.all()
        np.testing.assert_array_equal(value.view(np.float32), s[LANES ^ offset])
        s = s + s[LANES ^ offset]
        np.testing.assert_array_equal(add.lanes, s)
    assert len(bfly) == 5

    ups, adds = by_text(t, "shfl.sync.up.b32"), by_text(t, "add.s32")
    c = xi
    for shuffle, add, d in zip(ups, adds, (1, 2, 4, 8, 16), strict=True):
        up = c[np.where(LANES >= d, LANES - d, LANES)]  # below the segment: its own value
        np.testing.assert_array_equal(shuffle.lanes[0].view(np.int32), up)
        np.testing.assert_array_equal(shuffle.lanes[1], LANES >= d)
        c = c + np.where(LANES >= d, up, 0)
        assert add.lanes.dtype == np.int32
        np.testing.assert_array_equal(add.lanes, c)
    assert len(ups) == 5
    np.testing.assert_array_equal(c, np.cumsum(xi, dtype=np.int32))


# -- lines and texts ------------------------------------------------------------------------------
def test_line_is_the_instructions_line_of_the_text():
    entry = ENTRIES["warp_sum_scan"]
    ptx = ptx_of(entry)
    lines = ptx.splitlines()
    t = sim.trace(ptx, entry["entry"], tuple(entry["grid"]), tuple(entry["block"]),
                  arguments(entry)[0])
    assert len(t) == 71
    for s in t:  # nvcc's tabs aside, the printer writes this text as nvcc did
        assert normalized(lines[s.line - 1]) == s.text
    kernel = ShuffleTreeKernel()
    ptx = kernel.emit()
    t = sim.trace(ptx, kernel.entry, (1, 1, 1), (32, 1, 1),
                  [np.ones(32, np.float32), np.zeros((1, 6, 32), np.float32)])
    assert [normalized(ptx.splitlines()[s.line - 1]) for s in t] == [s.text for s in t]


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_every_corpus_entry_traces_as_it_launches(name):
    """Every entry of the corpus (nvcc's, Triton's, inlined calls, brace scopes): the trace's
    lines hold its instructions' opcodes, and the trace leaves what a launch leaves."""
    entry = ENTRIES[name]
    ptx, grid, block = ptx_of(entry), tuple(entry["grid"]), tuple(entry["block"])
    options = {"shared_bytes": entry["shared_bytes"], "strict": False}
    plain_args, plain = arguments(entry)
    traced_args, traced = arguments(entry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sim.SimWarning)
        launched = sim.launch(ptx, entry["entry"], grid, block, plain_args, **options)
        t = sim.trace(ptx, entry["entry"], grid, block, traced_args, **options)
    lines = ptx.splitlines()
    for s in t:
        opcode = s.text.split()[1] if s.text.startswith("@") else s.text.split()[0]
        assert opcode.rstrip(";") in lines[s.line - 1], (s.line, s.text)
    assert t.result == launched and len(t) > 0 and not t.truncated
    for key in plain:
        np.testing.assert_array_equal(traced[key], plain[key], strict=True)


# -- active lanes: partial warps, guards, divergence ------------------------------------------
def test_a_partial_warp_has_its_lanes_past_the_cta_inactive():
    out = np.zeros(96, dtype=np.uint32)  # two CTAs of 48: the next CTA's threads follow warp 1
    t = sim.trace(LANES_PTX, "lanes", (2, 1, 1), (48, 1, 1), [out], warp=1)
    assert t.threads == 16 and t.cta == (0, 0, 0)
    for s in t:
        assert not s.active[16:].any(), s.text
        for lanes in (s.lanes if isinstance(s.lanes, tuple) else (s.lanes,)):
            assert lanes is None or not lanes[16:].any()  # past the CTA's threads: 0
    (mov,) = by_text(t, "mov.u32 %r1, %tid.x")
    np.testing.assert_array_equal(mov.active, LANES < 16)
    np.testing.assert_array_equal(mov.lanes, np.where(LANES < 16, LANES + 32, 0))
    assert not by_text(t, "mul.lo.u32 %r4, %r2, 3")  # no lane of warp 1 reaches lane 20
    (low,) = by_text(t, "mul.lo.u32 %r4, %r2, 2")  # run as a group of some threads only
    np.testing.assert_array_equal(low.active, LANES < 16)
    np.testing.assert_array_equal(out[:48], lanes_expected(48))


def test_a_guard_false_in_some_lanes_leaves_them_inactive():
    t = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (64, 1, 1), [np.zeros(64, np.uint32)])
    (add,) = by_text(t, "@%p1 add.u32")
    np.testing.assert_array_equal(add.active, LANES < 8)
    np.testing.assert_array_equal(add.lanes, np.where(LANES < 8, LANES + 100, 7))  # others: 7
    (branch,) = by_text(t, "@%p2 bra")
    np.testing.assert_array_equal(branch.active, LANES >= 20)  # the lanes that jump
    (setp,) = by_text(t, "setp.lt.u32")
    assert setp.lanes.dtype == np.bool_
    np.testing.assert_array_equal(setp.lanes, LANES < 8)


def test_divergent_groups_appear_in_the_order_the_scheduler_runs_them():
    t = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (64, 1, 1), [np.zeros(64, np.uint32)])
    texts = [s.text for s in t]
    at = texts.index("@%p2 bra $L_high;")
    assert texts[at + 1 : at + 5] == ["mul.lo.u32 %r4, %r2, 2;", "bra.uni $L_join;",
                                      "mul.lo.u32 %r4, %r2, 3;", "add.u32 %r5, %r4, %r3;"]
    low, jump, high, join = t[at + 1 : at + 5]
    np.testing.assert_array_equal(low.active, LANES < 20)  # the fall-through group runs first
    np.testing.assert_array_equal(jump.active, LANES < 20)
    np.testing.assert_array_equal(high.active, LANES >= 20)
    assert join.active.all()  # together again at the label
    np.testing.assert_array_equal(low.lanes, np.where(LANES < 20, 2 * LANES, 0))
    np.testing.assert_array_equal(high.lanes, np.where(LANES < 20, 2, 3) * LANES)


def test_nvcc_divergence_with_a_vector_load():
    entry = ENTRIES["scale_float4"]  # 128 threads, 100 float4s: warp 3 has 4 lanes in range
    args, arrays = arguments(entry)
    t = sim.trace(ptx_of(entry), entry["entry"], tuple(entry["grid"]), tuple(entry["block"]),
                  args, warp=3)
    (load,) = by_text(t, "ld.global.nc.v4.f32")
    np.testing.assert_array_equal(load.active, LANES < 4)
    assert isinstance(load.lanes, tuple) and len(load.lanes) == 4
    assert load.dest == ("%f3", "%f4", "%f5", "%f6")
    for j, lanes in enumerate(load.lanes):
        np.testing.assert_array_equal(lanes[:4], arrays["x"][96:100, j])
    (ret,) = by_text(t, "ret;")
    assert ret.active.all()  # the lanes that jumped over the body wait there and join


def test_a_guard_false_in_every_lane_still_shows_the_step():
    entry = ENTRIES["scale_float4"]  # warp 0: every lane in range, none takes the branch
    t = sim.trace(ptx_of(entry), entry["entry"], tuple(entry["grid"]), tuple(entry["block"]),
                  arguments(entry)[0])
    (branch,) = by_text(t, "@%p1 bra")
    assert not branch.active.any() and branch.lanes is None
    assert by_text(t, "ld.global.nc.v4.f32")[0].active.all()


def test_bar_red_shows_the_ctas_count_once_the_barrier_completes():
    t = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (48, 1, 1), [np.zeros(48, np.uint32)])
    (red,) = by_text(t, "bar.red.popc.u32")
    np.testing.assert_array_equal(red.lanes, np.full(32, 16))  # 8 lanes of each warp


# -- what each step holds ----------------------------------------------------------------------
def test_instructions_without_a_destination_have_none():
    t = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (32, 1, 1), [np.zeros(32, np.uint32)])
    for prefix in ("@%p2 bra", "bra.uni", "st.global.u32", "ret;"):
        for s in by_text(t, prefix):
            assert s.lanes is None and s.dest == (), s.text
    assert all(s.lanes is not None for s in t if s.text.startswith(("mov", "add", "mul")))
    assert t[0].line == 11 and t[0].dest == ("%rd1",)


def test_steps_are_read_only_records():
    t = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (32, 1, 1), [np.zeros(32, np.uint32)])
    with pytest.raises(ValueError):
        t[2].lanes[0] = 5
    with pytest.raises(ValueError):
        t[2].active[0] = False


def test_cta_as_linear_id_or_coordinates():
    entry = ENTRIES["warp_sum_scan"]
    ptx, grid = ptx_of(entry), (2, 1, 1)
    by_id = sim.trace(ptx, entry["entry"], grid, (64, 1, 1), arguments(entry)[0], cta=1)
    by_xyz = sim.trace(ptx, entry["entry"], grid, (64, 1, 1), arguments(entry)[0], cta=(1, 0))
    first = sim.trace(ptx, entry["entry"], grid, (64, 1, 1), arguments(entry)[0])
    assert by_id.cta == by_xyz.cta == (1, 0, 0) and first.cta == (0, 0, 0)
    (a,), (b,), (c,) = (by_text(x, "ld.global.f32") for x in (by_id, by_xyz, first))
    np.testing.assert_array_equal(a.lanes, b.lanes)
    np.testing.assert_array_equal(a.lanes, arguments(entry)[1]["x"][64:96])
    np.testing.assert_array_equal(c.lanes, arguments(entry)[1]["x"][:32])


def test_a_3d_grid_counts_ctas_x_fastest():
    out = np.zeros(6 * 32, dtype=np.uint32)
    ptx = LANES_PTX.replace("mov.u32 %r1, %tid.x;", "mov.u32 %r1, %ctaid.y;")
    t = sim.trace(ptx, "lanes", (2, 3, 1), (32, 1, 1), [out], cta=3)
    assert t.cta == (1, 1, 0)
    (mov,) = by_text(t, "mov.u32 %r1, %ctaid.y")
    np.testing.assert_array_equal(mov.lanes, np.ones(32))


# -- limits and errors --------------------------------------------------------------------------
def test_max_trace_steps_truncates_the_record_not_the_launch():
    full_out, cut_out = np.zeros(64, np.uint32), np.zeros(64, np.uint32)
    full = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (64, 1, 1), [full_out])
    cut = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (64, 1, 1), [cut_out], max_trace_steps=5)
    assert len(cut) == 5 and cut.truncated and not full.truncated
    assert [s.text for s in cut] == [s.text for s in full.steps[:5]]
    np.testing.assert_array_equal(cut_out, full_out)
    np.testing.assert_array_equal(cut_out, lanes_expected(64))
    exact = sim.trace(LANES_PTX, "lanes", (1, 1, 1), (64, 1, 1), [np.zeros(64, np.uint32)],
                      max_trace_steps=len(full))
    assert len(exact) == len(full) and not exact.truncated


@pytest.mark.parametrize(
    "options, says",
    [
        ({"cta": 1}, r"cta=1 is not a CTA of grid \(1, 1, 1\) \(accepted: a linear id 0\.\.0"),
        ({"cta": -1}, r"cta=-1"),
        ({"cta": (0, 1)}, r"cta=\(0, 1\).*x < 1, y < 1, z < 1"),
        ({"cta": (0, 0, 0, 0)}, r"cta=\(0, 0, 0, 0\)"),
        ({"cta": True}, r"cta=True"),
        ({"cta": "0"}, r"cta='0'"),
        ({"warp": 2}, r"warp=2 is not a warp of a 48-thread CTA \(accepted: 0\.\.1\)"),
        ({"warp": -1}, r"warp=-1"),
        ({"warp": 1.0}, r"warp=1\.0"),
        ({"max_trace_steps": 0}, r"max_trace_steps must be a positive integer, got 0"),
        ({"max_trace_steps": None}, r"max_trace_steps"),
        ({"shared_bytes": -1}, r"shared_bytes=-1 is outside"),
        ({"max_steps": 0}, r"max_steps must be a positive integer"),
    ],
)
def test_bad_options_raise_value_errors_naming_them(options, says):
    with pytest.raises(ValueError, match=says):
        sim.trace(LANES_PTX, "lanes", (1, 1, 1), (48, 1, 1), [np.zeros(48, np.uint32)],
                  **options)


def test_bad_entry_grid_and_args_raise_as_launch_does():
    args = [np.zeros(48, np.uint32)]
    with pytest.raises(ValueError, match="entry 'nope' not in module"):
        sim.trace(LANES_PTX, "nope", (1, 1, 1), (48, 1, 1), args)
    with pytest.raises(ValueError, match="grid must be 1 to 3 positive integers"):
        sim.trace(LANES_PTX, "lanes", (0, 1, 1), (48, 1, 1), args)
    with pytest.raises(ValueError, match="block="):
        sim.trace(LANES_PTX, "lanes", (1, 1, 1), (2048, 1, 1), args)
    for bad in ([], [args[0], 1]):
        with pytest.raises(ValueError) as trace_error:
            sim.trace(LANES_PTX, "lanes", (1, 1, 1), (48, 1, 1), bad)
        with pytest.raises(ValueError) as launch_error:
            sim.launch(LANES_PTX, "lanes", (1, 1, 1), (48, 1, 1), bad)
        assert str(trace_error.value) == str(launch_error.value)


def test_sim_errors_are_raised_as_launch_raises_them():
    broken = LANES_PTX.replace("mov.u32 %r3, 7;", "")  # lanes 8.. read %r3 unset
    with pytest.raises(sim.SimError, match="read of uninitialised register %r3"):
        sim.trace(broken, "lanes", (1, 1, 1), (32, 1, 1), [np.zeros(32, np.uint32)])


# -- the launch is the launch -------------------------------------------------------------------
def test_the_trace_leaves_what_a_plain_launch_leaves(rng):
    kernel = ShuffleTreeKernel()
    values = rng.standard_normal((3, 32)).astype(np.float32)
    plain, traced = (np.full((3, 6, 32), np.nan, np.float32) for _ in range(2))
    launched = sim.launch(kernel.emit(), kernel.entry, (3, 1, 1), (32, 1, 1), [values, plain])
    t = sim.trace(kernel.emit(), kernel.entry, (3, 1, 1), (32, 1, 1), [values, traced], cta=2)
    np.testing.assert_array_equal(traced, plain, strict=True)
    assert t.result == launched
    adds = by_text(t, "add.f32")
    np.testing.assert_array_equal(np.stack([s.lanes for s in adds]), plain[2, 1:])
