"""The configuration schema and the tables beside it: the kernels' signatures, the command
line's options and the app's controls all come from one row per option; the CLI and the app
start from the same configuration; the dtype and architecture tables agree with their users.
It builds kernels but runs nothing."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from explorer import arch, schema
from explorer.app.state import Config, build_kernel, kernel_args
from explorer.cli import build_parser, make_kernel
from explorer.dtypes import DTYPES
from explorer.kernels import KERNELS
from explorer.kernels.split_kv_geometry import counted_ctas_per_sm


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_every_kernel_has_a_schema_row_and_its_signature(name):
    cls = KERNELS[name]
    params = inspect.signature(cls).parameters
    assert list(params) == [o.name for o in schema.options(name)]
    assert [p.default for p in params.values()] == [o.default for o in schema.options(name)]


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_config_names_every_option_and_rebuilds_the_same_kernel(name):
    kernel = KERNELS[name](256, 64, 8, 2)
    assert list(kernel.config()) == [o.name for o in schema.options(name)]
    again = type(kernel)(**kernel.config())
    assert again.config() == kernel.config() and again.emit() == kernel.emit()


def test_num_kv_heads_defaults_to_num_heads_as_in_the_seed():
    for cls in KERNELS.values():
        kernel = cls(64, 32, 4)
        assert kernel.num_kv_heads == 4
        assert kernel.emit() == cls(64, 32, 4, 4).emit()


def test_a_call_python_would_refuse_is_a_type_error():
    with pytest.raises(TypeError, match="colour"):
        KERNELS["multi-warp"](64, 32, 4, colour="red")
    with pytest.raises(TypeError, match="head_dim"):
        KERNELS["single-warp"](64)


def test_messages_name_the_option_or_the_label_given_and_the_range():
    with pytest.raises(ValueError, match=r"^num_heads=0 is outside the accepted range 1\.\.65535$"):
        schema.NUM_HEADS.check(0)
    with pytest.raises(ValueError, match=r"^q heads=0 is outside the accepted range 1\.\.65535$"):
        schema.NUM_HEADS.check(0, called=schema.NUM_HEADS.title)
    mma = schema.option("split-kv", "mma")
    with pytest.raises(ValueError, match="mma must be True, False or None, got 1"):
        mma.check(1)
    with pytest.raises(ValueError, match=r"tensor cores='maybe'; accepted: auto, on, off"):
        mma.value_of("maybe")
    assert [mma.value_of(w) for w, _ in mma.words] == [None, True, False]
    assert [mma.word(v) for v in (None, True, False)] == ["auto", "on", "off"]


def test_the_command_line_has_a_flag_for_every_option():
    flags = {a.dest: a.option_strings for a in build_parser()._subparsers._group_actions[0]
             .choices["emit"]._actions}
    for option in schema.every_option():
        assert flags[option.name] == [option.cli_flag]


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_command_line_and_app_start_from_the_same_configuration(name):
    from_cli = make_kernel(build_parser().parse_args(["emit", "--kernel", name]))
    from_app = build_kernel(Config(kernel=name))
    if name == "split-kv":  # the app's warps control applies to split-kv too; the CLI's not
        assert kernel_args(Config(kernel=name))["num_warps"] == Config.num_warps
        from_app = build_kernel(Config(kernel=name, num_warps=from_cli.num_warps))
    assert from_cli.config() == from_app.config()
    assert build_parser().parse_args(["emit"]).target == Config.target == schema.TARGET.initial


def test_an_option_the_kernel_lacks_is_refused_naming_who_takes_it():
    from explorer.cli import UsageError

    args = build_parser().parse_args(["emit", "--kernel", "multi-warp", "--prefetch", "0"])
    with pytest.raises(UsageError, match="--prefetch applies to split-kv only, not multi-warp"):
        make_kernel(args)


def test_dtype_table_gives_the_tolerances_and_the_output_poison():
    from explorer.dtypes import to_float64
    from explorer.kernels import SplitKVDecodeAttentionKernel
    from explorer.verify import TOLERANCES

    assert {n: d.tolerance for n, d in DTYPES.items()} == TOLERANCES
    for name, d in DTYPES.items():
        assert np.asarray(d.poison).dtype == d.numpy
        assert np.isnan(to_float64(np.asarray(d.poison), name))  # a NaN in every storage form
        kernel = SplitKVDecodeAttentionKernel(64, 64, 4, 2, dtype=name)
        (out,) = [s for s in kernel.buffer_specs() if s.name == "out"]
        assert np.asarray(out.fill, dtype=d.numpy).tobytes() == np.asarray(d.poison).tobytes()
    assert {n: d.bytes for n, d in DTYPES.items()} == {"f32": 4, "f16": 2, "bf16": 2}


def test_architecture_rows_parse_the_target_once():
    assert arch.ARCHS["sm_86"].capability == (8, 6)
    assert arch.ARCHS["sm_90a"].capability == (9, 0) and arch.ARCHS["sm_90a"].arch_specific
    assert [t for t, a in arch.ARCHS.items() if not a.mma_f16] == ["sm_75"]
    assert arch.newest_target((8, 9)) == "sm_89"
    assert arch.newest_target((12, 0)) == "sm_90"  # PTX JITs forward; never the `a` target
    assert arch.newest_target((7, 0)) is None


def test_split_kv_counts_ctas_by_whole_warps_and_without_the_255_cap():
    # 40 registers, 1-warp CTAs: 65536 / 1280 = 51 warps; the Resources view allocates warps
    # in groups of 4 (48 CTAs), the splits heuristic counts all 51, capped at its 4 anyway
    assert arch.ctas_by_registers(arch.TUNED, 40, 1) == 48
    assert arch.ctas_by_registers(arch.TUNED, 40, 1, warp_granularity=1, max_registers=None) == 51
    # an estimate above 255 (mma=True past head_dim 128) still counts CTAs
    assert arch.ctas_by_registers(arch.TUNED, 284, 2) == 0
    assert counted_ctas_per_sm(2, 284) == 3
    assert counted_ctas_per_sm(4) == 4 and counted_ctas_per_sm(16) == 1


def test_kv_dtype_is_a_split_kv_option_with_a_flag_and_an_app_control():
    row = schema.option("split-kv", "kv_dtype")
    assert schema.takers("kv_dtype") == ["split-kv"]
    assert row.default is None and row.choices == ("e4m3",) and row.control == "kv_dtype"
    assert row.word(None) == "same" and row.value_of("e4m3") == "e4m3"
    assert row.cli_flag == "--kv-dtype" and row.accepted == "e4m3, None"
    with pytest.raises(ValueError, match=r"kv_dtype='bf16'; accepted: e4m3, None \(K and V"):
        row.check("bf16")
    args = build_parser().parse_args(["emit", "--kernel", "split-kv", "--dtype", "bf16",
                                      "--kv-dtype", "e4m3"])
    kernel = make_kernel(args)
    assert (kernel.dtype, kernel.kv_dtype, kernel.kv_storage) == ("bf16", "e4m3", "e4m3")
    assert "e4m3" not in schema.option("split-kv", "dtype").choices  # K/V only, never q/out
    assert [o.name for o in schema.every_option() if o.control == "kv_dtype"] == ["kv_dtype"]


def test_the_e4m3_row_of_the_dtype_table_is_for_k_and_v_only():
    from explorer.dtypes import DTYPE_BYTES, KV_ONLY, TABLE
    from explorer.verify import KV_TOLERANCES

    assert KV_ONLY == ("e4m3",) and "e4m3" not in DTYPES and DTYPE_BYTES["e4m3"] == 1
    assert KV_TOLERANCES == {"e4m3": (2e-2, 2e-2)} == {"e4m3": TABLE["e4m3"].tolerance}
    assert np.asarray(TABLE["e4m3"].poison).dtype == np.uint8


def test_tiles_in_flight_is_a_split_kv_option_with_a_flag_and_its_range():
    row = schema.option("split-kv", "tiles_in_flight")
    assert schema.takers("tiles_in_flight") == ["split-kv"]
    assert row.default is None and row.control == "" and row.accepted == "1..4"
    assert row.cli_flag == "--tiles-in-flight"
    with pytest.raises(ValueError, match="tiles_in_flight=5 is outside the accepted range 1..4"):
        row.check(5)
    args = build_parser().parse_args(["emit", "--kernel", "split-kv", "--dtype", "f16",
                                      "--tiles-in-flight", "3"])
    kernel = make_kernel(args)
    assert (kernel.tiles_in_flight, kernel.pipeline, kernel.mma) == (3, True, True)
