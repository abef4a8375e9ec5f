"""Running PTX nobody here wrote from the command line: arguments described in words and made
from the entry's parameter list, the launch on the simulator, the mistakes as one line."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import run_ptx
from explorer.cli import main
from explorer.ptx.ptxas import find_ptxas

SAXPY = """.version 8.0
.target sm_80
.address_size 64

.visible .entry saxpy(
\t.param .u64 x_ptr,
\t.param .u64 y_ptr,
\t.param .f32 a,
\t.param .u32 n
)
{
\t.reg .pred %p<2>;
\t.reg .b32 %r<6>;
\t.reg .b64 %rd<8>;
\t.reg .f32 %f<5>;

\tld.param.u64 %rd1, [x_ptr];
\tcvta.to.global.u64 %rd2, %rd1;
\tld.param.u64 %rd3, [y_ptr];
\tcvta.to.global.u64 %rd4, %rd3;
\tld.param.f32 %f1, [a];
\tld.param.u32 %r1, [n];
\tmov.u32 %r2, %ctaid.x;
\tmov.u32 %r3, %ntid.x;
\tmov.u32 %r4, %tid.x;
\tmad.lo.u32 %r5, %r2, %r3, %r4;
\tsetp.ge.u32 %p1, %r5, %r1;
\t@%p1 bra DONE;
\tmul.wide.u32 %rd5, %r5, 4;
\tadd.s64 %rd6, %rd2, %rd5;
\tadd.s64 %rd7, %rd4, %rd5;
\tld.global.f32 %f2, [%rd6];
\tld.global.f32 %f3, [%rd7];
\tfma.rn.f32 %f4, %f1, %f2, %f3;
\tst.global.f32 [%rd7], %f4;
DONE:
\tret;
}
"""
WORDS = ["f32:500:randn", "f32:500:randn", "2.5", "500"]


@pytest.fixture
def saxpy_file(tmp_path):
    path = tmp_path / "saxpy.ptx"
    path.write_text(SAXPY)
    return path


def test_the_words_make_arrays_and_scalars_and_the_run_matches_numpy():
    (run,) = run_ptx.run_ptx(SAXPY, None, (4, 1, 1), (128, 1, 1), WORDS, seed=3)
    x, y = run.inputs["x_ptr"], run.inputs["y_ptr"]
    assert x.dtype == np.float32 and x.shape == (500,) and np.abs(x).sum() > 0  # never zeros
    want = (np.float64(2.5) * x + y).astype(np.float32)
    np.testing.assert_allclose(run.arrays["y_ptr"], want, rtol=1e-6)
    assert np.array_equal(run.arrays["x_ptr"], x)  # the input array is left as it was


@pytest.mark.parametrize("word, dtype, shape, first", [
    ("i32:4x2:arange", np.int32, (4, 2), 0), ("u8:3:ones", np.uint8, (3,), 1),
    ("f16:2:full=1.5", np.float16, (2,), 1.5), ("f64:5:zeros", np.float64, (5,), 0),
])
def test_array_words(word, dtype, shape, first):
    a = run_ptx.make_argument(word, "p", "u64", np.random.default_rng(0))
    assert a.dtype == dtype and a.shape == shape and a.ravel()[0] == first


@pytest.mark.parametrize("word, ptx_type, words", [
    ("f99:4:zeros", "u64", "dtype 'f99'"), ("f32:0:zeros", "u64", "shape '0'"),
    ("f32:4:bogus", "u64", "fill 'bogus'"), ("null", "u32", "null is for pointers only"),
    ("7", "u64", "is a pointer"), ("hello", "u32", "is not an argument word"),
    ("missing.npy", "u64", "cannot read missing.npy"), ("f32:4:full=x", "u64", "not a number"),
])
def test_bad_words_name_the_parameter(word, ptx_type, words):
    with pytest.raises(ValueError, match="parameter p") as err:
        run_ptx.make_argument(word, "p", ptx_type, np.random.default_rng(0))
    assert words in str(err.value)


def test_a_npy_file_is_an_argument(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(6, dtype=np.int16))
    assert run_ptx.make_argument(str(path), "p", "u64", None).tolist() == list(range(6))


def test_the_command_prints_the_written_arrays(saxpy_file, capsys):
    assert main(["run-ptx", str(saxpy_file), "--grid", "4", "--block", "128",
                 *[f"--arg={w}" for w in WORDS]]) == 0
    out = capsys.readouterr().out
    assert "on sim:" in out and "y_ptr float32 (500,) (written)" in out
    assert "x_ptr float32 (500,):" in out  # printed, not written


@pytest.mark.parametrize("argv, words", [
    (["--arg", "f32:4:zeros"], "saxpy takes 4 arguments"),
    (["--entry", "nope", *sum((["--arg", w] for w in WORDS), [])], "entry 'nope' is not"),
    (["--grid", "0", *sum((["--arg", w] for w in WORDS), [])], "--grid '0'"),
    (["--shared", "-1", *sum((["--arg", w] for w in WORDS), [])], "--shared -1"),
])
def test_mistakes_are_one_line_and_exit_2(saxpy_file, capsys, argv, words):
    assert main(["run-ptx", str(saxpy_file), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_a_missing_file_is_one_line(capsys):
    assert main(["run-ptx", "/nonexistent/x.ptx"]) == 2
    assert "cannot read it as PTX text" in capsys.readouterr().err


def test_highlight_colours_only_when_asked(saxpy_file, capsys):
    assert main(["highlight", str(saxpy_file), "--color", "never"]) == 0
    assert capsys.readouterr().out == SAXPY
    assert main(["highlight", str(saxpy_file), "--color", "always"]) == 0
    coloured = capsys.readouterr().out
    assert "\x1b[" in coloured and "saxpy" in coloured


@pytest.mark.skipif(find_ptxas() is None, reason="ptxas not installed (nvidia-cuda-nvcc)")
def test_resources_of_any_file(saxpy_file, capsys):
    assert main(["resources", str(saxpy_file), "--target", "sm_90"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"saxpy ({saxpy_file}) for sm_90") and "registers" in out


def test_largest_difference_counts_one_sided_nans():
    a = np.array([1.0, np.nan, np.nan], dtype=np.float32)
    assert run_ptx.largest_difference(a, a) == 0.0
    assert run_ptx.largest_difference(a, np.array([1.5, np.nan, 2.0])) == np.inf
    assert run_ptx.largest_difference(a[:1], np.array([1.25])) == 0.25


def test_a_triton_softmax_from_the_corpus_runs_with_its_findings(capsys):
    """Triton's PTX (extern shared sized at launch, scratch pointers, shuffles of lanes a
    masked load left unset): it runs, the rows sum to 1, and the unset lanes are findings."""
    path = "tests/corpus/ptx/triton_softmax_rows.ptx"
    (run,) = run_ptx.run_ptx(open(path).read(), None, (6, 1, 1), (128, 1, 1),
                             ["f32:6x100:randn", "f32:6x100:zeros", "100", "100", "null",
                              "null"], shared_bytes=16)
    (y,) = [a for n, a in run.arrays.items() if n.endswith("param_1")]
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    assert any("uninitialised register" in str(f) for f in run.findings)


@pytest.mark.parametrize("word, value", [("512", 512), ("0x1e", 30), ("-1", -1), ("2.5", 2.5),
                                         ("1e3", 1000.0), ("0xE0", 224)])
def test_scalar_words(word, value):
    got = run_ptx.make_argument(word, "n", "u32", None)
    assert got == value and type(got) is type(value)


def test_a_64_bit_parameter_takes_a_number_when_its_word_says_so(capsys):
    assert run_ptx.make_argument("u64:1000", "n", "u64", None) == 1000
    with pytest.raises(ValueError, match="or u64:7 where it is a number"):
        run_ptx.make_argument("7", "n", "u64", None)
    path = "tests/corpus/ptx/grid_stride.ptx"  # nvcc's size_t n is a .u64 parameter
    assert main(["run-ptx", path, "--entry", "saxpy_grid_stride", "--grid", "3", "--block",
                 "64", "--arg", "f32:1000:ones", "--arg", "f32:1000:ones", "--arg", "2.5",
                 "--arg", "u64:1000"]) == 0
    assert "saxpy_grid_stride_param_1 float32 (1000,) (written): [3.5 3.5" in (
        capsys.readouterr().out)


def test_array_words_are_checked_without_allocating():
    word = run_ptx.parse_array_word("f64:4x8:full=2", "p")
    assert word == run_ptx.ArrayWord("f64", (4, 8), "full", 2.0) and word.nbytes == 256
    with pytest.raises(ValueError, match="parameter p: shape '100000x100000'.*at most"):
        run_ptx.parse_array_word("f32:100000x100000:zeros", "p")
    with pytest.raises(ValueError, match="parameter p: shape '-4'"):
        run_ptx.parse_array_word("f32:-4:zeros", "p")
    with pytest.raises(ValueError, match="fill 'full'"):
        run_ptx.parse_array_word("f32:4:full", "p")
