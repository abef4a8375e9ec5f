"""The app's state logic without a browser: a control change redraws the right views, the diff
is against the right baseline, impossible combinations are adjusted or reported."""

from __future__ import annotations

import pytest

from explorer.app.state import (
    PTX_VIEWS,
    RUN_VIEWS,
    VIEWS,
    AppState,
    Config,
    build_kernel,
    changed_views,
    config_from_kernel,
    describe,
    gqa_ratios,
    kernel_args,
    parse_changes,
    ptx_problems,
    run_problems,
)
from explorer.kernels import KERNELS, MultiWarpIncrementalAttentionKernel


def test_default_configuration_is_the_issues():
    config = Config()
    assert (config.kernel, config.head_dim, config.num_heads, config.num_kv_heads) == (
        "multi-warp", 128, 32, 8)
    assert (config.num_warps, config.max_seq_len, config.seq_len, config.target) == (
        4, 512, 512, "sm_80")
    assert ptx_problems(config) == [] and run_problems(config) == []


@pytest.mark.parametrize("change, views", [
    ({"head_dim": 64}, PTX_VIEWS | RUN_VIEWS),
    ({"num_warps": 8}, PTX_VIEWS | RUN_VIEWS),
    ({"gqa_ratio": 8}, PTX_VIEWS | RUN_VIEWS),
    ({"indirect": True}, PTX_VIEWS | RUN_VIEWS),
    ({"target": "sm_90"}, PTX_VIEWS | RUN_VIEWS),  # the target decides whether it can run
    ({"merge": "cluster"}, frozenset()),  # the multi-warp kernel takes no merge
    ({"seq_len": 100}, RUN_VIEWS),  # seq_len is a launch argument, not in the PTX
    ({"backend": "sim"}, RUN_VIEWS),
    ({"head_dim": 128}, frozenset()),  # no change, nothing to redraw
])
def test_a_change_redraws_exactly_the_views_that_depend_on_it(change, views):
    state = AppState()
    assert state.update(**change).views == views


def test_warps_do_not_matter_to_a_kernel_without_them():
    single = Config(kernel="single-warp")
    assert "num_warps" not in kernel_args(single)
    assert changed_views(single, single.replace(num_warps=16)) == frozenset()


def test_the_diff_is_against_the_previous_configuration_whose_ptx_differs():
    state = AppState()
    assert state.baseline is None
    state.update(head_dim=64)
    assert state.baseline == Config() and state.baseline_label == "previous"
    state.update(seq_len=10)  # the PTX did not change: the diff stays as it was
    assert state.baseline == Config()
    state.update(num_warps=8)
    assert state.baseline == Config(head_dim=64, seq_len=10)


def test_a_pinned_baseline_stays_until_unpinned():
    state = AppState()
    state.update(head_dim=64)
    state.pin()
    pinned = state.config
    state.update(num_warps=8)
    state.update(num_warps=2)
    assert state.baseline == pinned and state.baseline_label == "pinned"
    state.set_baseline_mode("previous")
    assert state.baseline == Config(head_dim=64, num_warps=8)
    with pytest.raises(ValueError, match="baseline mode"):
        state.set_baseline_mode("yesterday")


def test_an_invalid_configuration_is_never_a_baseline():
    state = AppState()
    state.update(head_dim=300)
    state.update(head_dim=64)
    assert state.baseline == Config()


@pytest.mark.parametrize("change, words", [
    ({"head_dim": 300}, "head_dim=300 is outside the accepted range 1..256"),
    ({"head_dim": 0}, "head_dim=0"),
    ({"num_warps": 33}, "warps/head=33 is outside the accepted range 1..32"),
    ({"num_heads": 0}, "q heads=0 is outside the accepted range 1..65535"),
    ({"max_seq_len": 0}, "max_seq_len=0"),
])
def test_invalid_values_are_reported_naming_the_control(change, words):
    problems = ptx_problems(Config().replace(**change))
    assert problems and words in problems[0]


def test_a_ratio_that_does_not_divide_the_heads_is_explained():
    problems = ptx_problems(Config(num_heads=12, gqa_ratio=5))
    assert problems == ["GQA ratio 5 does not divide num_heads=12 (possible ratios: 1, 2, 3, 4, "
                        "6, 12)"]


def test_changing_heads_adjusts_an_impossible_ratio_and_says_so():
    state = AppState()
    update = state.update(num_heads=6)
    assert update.config.gqa_ratio == 3 and update.config.num_kv_heads == 2
    assert "GQA ratio 4 is impossible with 6 q heads" in update.notes[0]


def test_seq_len_follows_max_seq_len_down():
    update = AppState().update(max_seq_len=128)
    assert update.config.seq_len == 128 and "seq_len 512" in update.notes[0]
    assert run_problems(Config(seq_len=600)) == ["seq_len=600 is outside 0..max_seq_len=512"]


def test_only_possible_ratios_are_offered():
    assert gqa_ratios(32) == [1, 2, 4, 8, 16, 32]
    assert gqa_ratios(12) == [1, 2, 3, 4, 6, 12]


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_every_registered_kernel_builds_from_the_default_controls(kernel):
    config = Config(kernel=kernel)
    assert ptx_problems(config) == []
    assert build_kernel(config).name == kernel


def test_describe_names_what_differs():
    a, b = describe(Config()), describe(Config(num_warps=8))
    assert "4 warps" in a and "8 warps" in b
    assert "warps" not in describe(Config(kernel="single-warp"))


def test_unknown_controls_are_refused():
    with pytest.raises(ValueError, match="unknown controls: colour"):
        AppState().update(colour="red")


def test_command_line_configuration_round_trips():
    kernel = MultiWarpIncrementalAttentionKernel(512, 64, 16, 4, 2)
    config = config_from_kernel(kernel, "sm_80", 100, "sim")
    assert build_kernel(config).config() == kernel.config()
    with pytest.raises(ValueError, match="no control for scale"):
        config_from_kernel(MultiWarpIncrementalAttentionKernel(512, 64, 16, 4, 2, scale=0.5),
                           "sm_80", 100, "sim")


def test_parse_changes_types_values_and_names_mistakes():
    assert parse_changes("head_dim=64, num_warps=8,indirect=true") == {
        "head_dim": 64, "num_warps": 8, "indirect": True}
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        parse_changes("warps=8")
    with pytest.raises(ValueError, match="head_dim='x' is not a valid int"):
        parse_changes("head_dim=x")


def test_views_are_the_five_tabs():
    assert VIEWS == ("ptx", "diff", "resources", "run", "warps")


def test_dtype_reaches_kernels_that_take_one_and_is_ignored_by_the_others():
    split = Config(kernel="split-kv", dtype="f16", max_seq_len=256, seq_len=100)
    assert kernel_args(split)["dtype"] == "f16"
    assert build_kernel(split).dtype == "f16" and "f16" in describe(split)
    assert changed_views(split, split.replace(dtype="bf16")) == PTX_VIEWS | RUN_VIEWS
    multi = Config(dtype="f16")
    assert "dtype" not in kernel_args(multi) and "f16" not in describe(multi)
    assert changed_views(multi, multi.replace(dtype="bf16")) == frozenset()


def test_configurations_with_the_same_ptx_share_one_emitted_text():
    from explorer.app import render

    render._emit.cache_clear()
    text = render.emit(Config())
    for same_ptx in (Config(seq_len=10), Config(backend="sim"), Config(dtype="bf16")):
        assert render.emit(same_ptx) is text  # multi-warp takes no dtype: the same PTX
    assert render._emit.cache_info().misses == 1
    assert render.emit(Config(head_dim=64)) != text


def test_the_ratio_returns_to_the_chosen_one_when_q_heads_allow_it_again():
    state = AppState(Config(num_heads=32, gqa_ratio=4))
    assert state.update(num_heads=7).config.gqa_ratio == 1  # 7 has no groups of 4
    assert state.update(num_heads=32).config.gqa_ratio == 4  # and back
    assert state.update(num_heads=6).config.gqa_ratio == 3
    assert state.update(num_heads=12).config.gqa_ratio == 4
    state.update(gqa_ratio=2)  # a new choice is remembered
    assert state.update(num_heads=7).config.gqa_ratio == 1
    assert state.update(num_heads=16).config.gqa_ratio == 2


def test_split_kv_takes_its_own_warps_until_they_are_chosen_and_each_kernel_keeps_its_own():
    state = AppState()
    assert state.update(kernel="split-kv").config.num_warps == 16  # f32, one sequence
    assert state.update(dtype="f16").config.num_warps == 8  # tensor cores
    assert state.update(num_warps=4).config.num_warps == 4  # chosen: kept from now on
    assert state.update(dtype="bf16").config.num_warps == 4
    assert state.update(kernel="multi-warp").config.num_warps == 4
    state.update(num_warps=8)
    state.update(kernel="split-kv")
    assert state.config.num_warps == 4 and state.update(kernel="multi-warp").config.num_warps == 8


def test_controls_a_kernel_does_not_take_stand_for_what_applies_to_it():
    from explorer.app.state import applicable_value

    assert applicable_value(Config(kernel="single-warp"), "num_warps") == 1
    assert applicable_value(Config(kernel="multi-warp", dtype="f16"), "dtype") == "f32"
    assert applicable_value(Config(kernel="multi-warp", mma="on"), "mma") == "off"
    assert applicable_value(Config(kernel="split-kv"), "indirect") is True


def test_the_ptx_file_choice_is_no_kernel_name():
    """The kernel list's last choice opens any PTX; a kernel registered under that name would
    be unreachable, and a configuration never holds it."""
    from explorer.app.state import PTX_FILE
    from explorer.kernels import KERNELS

    assert PTX_FILE not in KERNELS
    with pytest.raises(ValueError, match="kernel='PTX file'; accepted"):
        build_kernel(Config(kernel=PTX_FILE))


def test_a_target_change_reruns_what_the_old_target_refused():
    split = AppState(Config(kernel="split-kv", dtype="f16", merge="cluster"))
    assert "needs sm_90" in " ".join(run_problems(split.config))
    update = split.update(target="sm_90")
    assert RUN_VIEWS <= update.views and run_problems(update.config) == []
    assert "merge cluster" in describe(update.config)
    assert "e4m3 K/V" in describe(split.update(kv_dtype="e4m3").config)
