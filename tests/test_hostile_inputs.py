"""Hostile inputs at every public entry, and hostile device-side lengths inside the kernels.

1. Each kind of bad input at each entry (kernel constructors, `emit`, `explorer.runtime.run`,
   `explorer.sim.launch`, the command line) raises ValueError (the CLI: one line on stderr, exit
   2) whose message names the parameter, the value and what is accepted. `CATALOGUE` lists them;
   docs/reliability.md's table is generated from it (`python tests/test_hostile_inputs.py`)
   and a test keeps the two in step, so the table shows what a user actually sees.
2. For every seq_len a device buffer can hold (0 .. 2^32 - 1), no kernel reads or writes outside
   its buffers: each kernel runs with device-side lengths {0, 1, max-1, max, max+1, 2^31,
   2^32-1} given past the host checks (`verify(..., host_checks=False)`, which runs
   `runtime.run_unchecked`), on the simulator (which bounds-checks every access, with
   read-only inputs and race checks) and on CUDA (marked gpu), and returns the answer (and a
   debug kernel the warp states) for min(seq_len, max_seq_len).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from explorer import runtime, sim
from explorer.cli import main
from explorer.kernels import (
    IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel,
)
from explorer.ptx import PtxParseError
from explorer.verify import compare, make_inputs, reference_output, verify

Multi, Single, Split = (MultiWarpIncrementalAttentionKernel, IncrementalAttentionKernel,
                        SplitKVDecodeAttentionKernel)
GOOD = dict(max_seq_len=64, head_dim=32, num_heads=4, num_kv_heads=2)
KERNEL = Multi(**GOOD, num_warps=2)
Q, K, V = make_inputs(KERNEL, np.random.default_rng(0))
OUT = np.zeros_like(Q)
PTX, ENTRY = KERNEL.emit(), KERNEL.entry
ARGS = [Q, K, V, OUT, 3]
BATCHED = Split(**GOOD, batch=2, num_splits=2)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


class CliExit(Exception):
    """What `explorer` printed on stderr when it exited 2."""


class FakeCupyArray:
    """Looks like a cupy.ndarray to the checks (module, `__cuda_array_interface__`, `get`)."""

    __module__ = "cupy._core.core"

    def __init__(self, host: np.ndarray) -> None:
        self.host, self.shape, self.dtype, self.flags = host, host.shape, host.dtype, host.flags
        self.__cuda_array_interface__ = {"shape": host.shape, "typestr": host.dtype.str}

    def get(self) -> np.ndarray:
        return self.host.copy()


def cli(*argv: str) -> None:
    """Run the command line; raise CliExit(its stderr) if it exited 2 with one line."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    lines = err.getvalue().splitlines()
    assert code == 2 and len(lines) == 1, f"exit {code}, stderr {lines}"
    raise CliExit(lines[0])


def run(*args, backend="sim", kernel=KERNEL):
    return runtime.run(kernel, *args, backend=backend)


def launch(ptx=PTX, entry=ENTRY, grid=KERNEL.grid, block=KERNEL.block, args=ARGS, **kw):
    return sim.launch(ptx, entry, grid, block, args, **kw)


def with_arg(i: int, value) -> list:
    return [value if j == i else a for j, a in enumerate(ARGS)]


def read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class Bad:
    entry: str
    what: str
    call: Callable[[], object]
    words: str  # a piece of the message the user must see
    error: type = ValueError


def _ctor(cls, what, words, **changes):
    base = dict(GOOD, num_warps=2) if cls is Multi else dict(GOOD)
    return Bad(f"{cls.__name__}(...)", what, lambda: cls(**(base | changes)), words)


CATALOGUE = [
    _ctor(Multi, "None for an int", "head_dim must be an integer in 1..256, got None",
          head_dim=None),
    _ctor(Multi, "a string for an int", "got '32'", head_dim="32"),
    _ctor(Multi, "a float for an int", "got 32.0", head_dim=32.0),
    _ctor(Multi, "a bool for an int", "got True", num_heads=True),
    _ctor(Multi, "zero", "head_dim=0 is outside", head_dim=0),
    _ctor(Multi, "negative", "max_seq_len=-1 is outside", max_seq_len=-1),
    _ctor(Multi, "huge (2**64)", "num_heads=18446744073709551616", num_heads=2**64),
    _ctor(Multi, "NaN for an int", "got nan", max_seq_len=float("nan")),
    _ctor(Multi, "above the range", "head_dim=300 is outside the accepted range 1..256",
          head_dim=300),
    _ctor(Multi, "too many warps", "num_warps=33", num_warps=33),
    _ctor(Multi, "num_kv_heads not a divisor", "divisors of 4", num_kv_heads=3),
    _ctor(Multi, "num_kv_heads above num_heads", "num_kv_heads=8 is outside", num_kv_heads=8),
    _ctor(Multi, "cache too large for 32-bit indexing", "32-bit", max_seq_len=2**30,
          head_dim=4),
    _ctor(Multi, "NaN scale", "scale must be a number in 1e-30..1e+30", scale=float("nan")),
    _ctor(Multi, "infinite scale", "got inf", scale=float("inf")),
    _ctor(Multi, "negative scale", "got -0.5", scale=-0.5),
    _ctor(Multi, "scale beyond f32", "got 1e+39", scale=1e39),
    _ctor(Multi, "a string for a flag", "indirect_seq_len must be True or False",
          indirect_seq_len="yes"),
    _ctor(Multi, "an int for a flag", "debug must be True or False, got 1", debug=1),
    _ctor(Single, "huge (2**64)", "max_seq_len=18446744073709551616", max_seq_len=2**64),
    _ctor(Split, "unknown dtype", "dtype='f64'; accepted: f32, f16, bf16", dtype="f64"),
    _ctor(Split, "a list for a string", "dtype=['f32']", dtype=["f32"]),
    _ctor(Split, "head_dim not a multiple of a 16-byte load", "multiple of 8", head_dim=36,
          dtype="f16"),
    _ctor(Split, "a float for batch", "batch must be an integer in 1..65535, got 2.5",
          batch=2.5),
    _ctor(Split, "too many splits", "num_splits=65536", num_splits=65536),
    _ctor(Split, "unroll out of range", "unroll=0", unroll=0),
    _ctor(Split, "a string for debug", "debug must be", debug="yes"),
    _ctor(Split, "too much shared memory", "shared memory", head_dim=256, num_heads=64,
          num_kv_heads=1, num_warps=8),
    _ctor(Split, "workspace past 32-bit indexing", "32-bit indexing", num_heads=64,
          num_kv_heads=64, head_dim=256, batch=64, num_splits=4096),
    Bad("kernel.emit(target)", "unknown target", lambda: KERNEL.emit("sm_70"),
        "target='sm_70' is not supported; accepted: sm_75"),
    Bad("kernel.emit(target)", "None", lambda: KERNEL.emit(None), "target=None"),
    # runtime.run
    Bad("runtime.run", "not a kernel", lambda: runtime.run("multi-warp", Q, K, V, 3),
        "kernel must be a kernel object"),
    Bad("runtime.run", "unknown backend", lambda: run(Q, K, V, 3, backend="gpu"),
        "backend='gpu'; accepted: cuda, sim"),
    Bad("runtime.run", "None for an array", lambda: run(None, K, V, 3),
        "q must be a NumPy or CuPy array, got NoneType"),
    Bad("runtime.run", "a list for an array", lambda: run(Q.tolist(), K, V, 3), "got list"),
    Bad("runtime.run", "wrong ndim", lambda: run(Q.ravel(), K, V, 3),
        "q has shape (128,); this kernel needs (4, 32)"),
    Bad("runtime.run", "wrong shape", lambda: run(Q, K[:1], V, 3), "k has shape (1, 64, 32)"),
    Bad("runtime.run", "wrong dtype", lambda: run(Q, K, V.astype(np.float64), 3),
        "v has dtype float64; this kernel needs float32"),
    Bad("runtime.run", "non-contiguous", lambda: run(np.asfortranarray(Q), K, V, 3),
        "q is not C-contiguous"),
    Bad("runtime.run", "masked array", lambda: run(np.ma.masked_array(Q), K, V, 3),
        "q is a masked array"),
    Bad("runtime.run", "seq_len None", lambda: run(Q, K, V, None),
        "seq_len must be an integer in 0..max_seq_len=64, got None"),
    Bad("runtime.run", "seq_len a float", lambda: run(Q, K, V, 3.0), "got 3.0"),
    Bad("runtime.run", "seq_len a string", lambda: run(Q, K, V, "3"), "got '3'"),
    Bad("runtime.run", "seq_len a bool", lambda: run(Q, K, V, True), "got True"),
    Bad("runtime.run", "seq_len NaN", lambda: run(Q, K, V, float("nan")), "got nan"),
    Bad("runtime.run", "seq_len negative", lambda: run(Q, K, V, -1), "seq_len=-1 is outside"),
    Bad("runtime.run", "seq_len above max_seq_len", lambda: run(Q, K, V, 65),
        "seq_len=65 is outside 0..max_seq_len=64"),
    Bad("runtime.run", "seq_len 2**64", lambda: run(Q, K, V, 2**64), "18446744073709551616"),
    Bad("runtime.run", "too many lengths", lambda: run(Q, K, V, [3, 4]),
        "seq_len has 2 lengths; this kernel's batch is 1"),
    Bad("runtime.run", "batch: wrong number of lengths",
        lambda: run(*make_inputs(BATCHED, np.random.default_rng(0)), [1, 2, 3], kernel=BATCHED),
        "seq_len has 3 lengths; this kernel's batch is 2"),
    Bad("runtime.run", "batch: a set of lengths",
        lambda: run(*make_inputs(BATCHED, np.random.default_rng(0)), {1, 2}, kernel=BATCHED),
        "or a list of 2 (one per sequence)"),
    # sim.launch
    Bad("sim.launch", "ptx None", lambda: launch(ptx=None), "ptx must be PTX text"),
    Bad("sim.launch", "ptx bytes", lambda: launch(ptx=PTX.encode()), "got bytes"),
    Bad("sim.launch", "ptx garbage", lambda: launch(ptx="hello"),
        "line 1: unsupported module-level directive", PtxParseError),
    Bad("sim.launch", "unknown entry", lambda: launch(entry="nope"), "entry 'nope' not in"),
    Bad("sim.launch", "entry None", lambda: launch(entry=None), "entry must be the name"),
    Bad("sim.launch", "grid None", lambda: launch(grid=None), "grid must be 1 to 3 positive"),
    Bad("sim.launch", "grid a float", lambda: launch(grid=4.0), "got 4.0"),
    Bad("sim.launch", "grid with 4 dimensions", lambda: launch(grid=(1, 1, 1, 1)), "grid"),
    Bad("sim.launch", "grid past the hardware", lambda: launch(grid=(1, 65536)),
        "exceeds the hardware's limits"),
    Bad("sim.launch", "block past the hardware", lambda: launch(block=2048),
        "block=2048 exceeds the hardware's limits"),
    Bad("sim.launch", "block of 2048 threads", lambda: launch(block=(64, 32)),
        "a CTA has at most 1024"),
    Bad("sim.launch", "more threads than the simulator runs",
        lambda: launch(grid=65535, block=1024), "at most 1048576 threads"),
    Bad("sim.launch", "args None", lambda: launch(args=None), "args must be a list"),
    Bad("sim.launch", "too few args", lambda: launch(args=ARGS[:4]),
        "takes 5 arguments (q_ptr, k_ptr, v_ptr, out_ptr, seq_len), got 4"),
    Bad("sim.launch", "too many args", lambda: launch(args=ARGS + [1]), "got 6"),
    Bad("sim.launch", "None for a pointer", lambda: launch(args=with_arg(0, None)),
        "parameter q_ptr (.u64) got NoneType"),
    Bad("sim.launch", "non-contiguous array", lambda: launch(args=with_arg(0, Q[:, ::2])),
        "must be C-contiguous"),
    Bad("sim.launch", "array of objects", lambda: launch(args=with_arg(3, OUT.astype(object))),
        "an array of Python objects"),
    Bad("sim.launch", "a CuPy array", lambda: launch(args=with_arg(0, FakeCupyArray(Q))),
        "the simulator runs on host memory"),
    Bad("sim.launch", "array for a scalar", lambda: launch(args=with_arg(4, Q)),
        "parameter seq_len is .u32: pass a number"),
    Bad("sim.launch", "scalar out of its type", lambda: launch(args=with_arg(4, 2**32)),
        "seq_len=4294967296 is outside the .u32 range"),
    Bad("sim.launch", "float for an integer scalar", lambda: launch(args=with_arg(4, 3.0)),
        "got float"),
    Bad("sim.launch", "read-only output",
        lambda: launch(args=with_arg(3, read_only(OUT))),
        "global store into read-only buffer out_ptr", sim.SimError),
    Bad("sim.launch", "max_steps zero", lambda: launch(max_steps=0),
        "max_steps must be a positive integer or None, got 0"),
    Bad("sim.launch", "max_steps a string", lambda: launch(max_steps="10"), "got '10'"),
    Bad("sim.launch", "check_races not a bool", lambda: launch(check_races="x"),
        "check_races must be True or False"),
    Bad("sim.launch", "shared memory past 48 KiB",
        lambda: launch(ptx=PTX.replace("smem[", "smem[99999")),
        "a CTA's static shared memory is at most 49152"),
    # the command line
    Bad("explorer CLI", "above the range", lambda: cli("emit", "--head-dim", "300"),
        "head_dim=300", CliExit),
    Bad("explorer CLI", "not a number", lambda: cli("emit", "--warps", "x"),
        "argument --warps: invalid int value: 'x'", CliExit),
    Bad("explorer CLI", "a float for an int", lambda: cli("emit", "--head-dim", "2e3"),
        "invalid int value", CliExit),
    Bad("explorer CLI", "NaN scale", lambda: cli("emit", "--scale", "nan"), "scale", CliExit),
    Bad("explorer CLI", "scale beyond f32", lambda: cli("emit", "--scale", "1e39"), "scale",
        CliExit),
    Bad("explorer CLI", "unknown target", lambda: cli("emit", "--target", "sm_70"),
        "--target", CliExit),
    Bad("explorer CLI", "unknown kernel", lambda: cli("emit", "--kernel", "bogus"),
        "--kernel", CliExit),
    Bad("explorer CLI", "option of another kernel",
        lambda: cli("emit", "--kernel", "single-warp", "--warps", "4"), "--warps", CliExit),
    Bad("explorer CLI", "seq_len above max_seq_len", lambda: cli("check", "--seq-len", "5000"),
        "seq_len=5000", CliExit),
    Bad("explorer CLI", "negative seed", lambda: cli("check", "--seed", "-1"),
        "argument --seed: must be a non-negative integer", CliExit),
    Bad("explorer CLI", "unknown backend", lambda: cli("check", "--backend", "gpu"),
        "--backend", CliExit),
    Bad("explorer CLI", "inputs too large for host memory",
        lambda: cli("check", "--backend", "sim", "--max-seq-len", "2147483647", "--head-dim",
                    "1", "--num-heads", "4096", "--num-kv-heads", "4096", "--seq-len", "1"),
        "need 65536.0 GiB of host memory", CliExit),
    Bad("explorer CLI", "no command", lambda: cli(), "command", CliExit),
    Bad("explorer CLI", "unknown command", lambda: cli("bogus"), "bogus", CliExit),
]


def _message(bad: Bad) -> str:
    with pytest.raises(bad.error) as err:
        bad.call()
    return str(err.value)


@pytest.mark.parametrize("bad", CATALOGUE, ids=lambda b: f"{b.entry}: {b.what}")
def test_bad_input_is_named(bad):
    message = _message(bad)
    assert bad.words in message
    assert type(message) is str and "\n" not in message.strip()


def _stable(message: str) -> str:
    """The message without what depends on the machine (free memory)."""
    return re.sub(r"[\d.]+ GiB is free", "N GiB is free", message)


def markdown_table() -> str:
    """docs/reliability.md's table of bad inputs, from running each."""
    lines = ["| entry | bad input | what the user sees |", "|---|---|---|"]
    for bad in CATALOGUE:
        shown = _stable(_message(bad)).replace("|", "\\|")
        kind = "" if bad.error in (ValueError, CliExit) else f"{bad.error.__name__}: "
        lines.append(f"| `{bad.entry}` | {bad.what} | {kind}`` {shown} `` |")
    return "\n".join(lines)


def test_docs_table_has_every_row():
    """Each catalogue row is in the docs with its words (regenerate the table with
    `python tests/test_hostile_inputs.py` after changing a message)."""
    rows = re.findall(r"^\| `(.+?)` \| (.+?) \| (.+) \|$", DOCS.read_text(), re.M)
    shown = {(entry, what): message for entry, what, message in rows}
    missing = [f"{b.entry}: {b.what}" for b in CATALOGUE
               if b.words not in shown.get((b.entry, b.what), "")]
    assert not missing, f"docs/reliability.md lacks or misquotes: {missing}"


def test_cupy_inputs_are_copied_for_the_simulator():
    out = run(FakeCupyArray(Q), FakeCupyArray(K), V, 9)
    assert compare(out, reference_output(KERNEL, Q, K, V, 9)).passed


# -- in-kernel safety: every device-side length -------------------------------------------------

BOUND_KERNELS = [
    Single(37, 40, 4, 2, indirect_seq_len=ind, debug=dbg)
    for ind in (False, True) for dbg in (False, True)
] + [
    Multi(37, 40, 6, 2, 3, indirect_seq_len=ind, debug=dbg)
    for ind in (False, True) for dbg in (False, True)
] + [
    Split(37, 32, 4, 2, batch=2, num_splits=3, num_warps=2),
    Split(37, 64, 8, 2, num_splits=5, num_warps=1, dtype="f16"),
    Split(37, 32, 4, 1, batch=2, num_splits=2, num_warps=2, dtype="bf16", unroll=3, mma=False),
    Split(37, 40, 8, 2, batch=2, num_splits=2, num_warps=2, dtype="f16"),  # tensor cores
]


def device_lengths(kernel) -> list[int]:
    m = kernel.max_seq_len
    return [0, 1, m - 1, m, m + 1, 2**31, 2**32 - 1]


def _id(kernel) -> str:
    return "-".join(f"{k}={v}" for k, v in kernel.config().items() if k != "scale")


@pytest.mark.parametrize("backend", ["sim", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("kernel", BOUND_KERNELS, ids=_id)
def test_every_device_length_stays_in_bounds_and_clamps(kernel, backend):
    checked = runtime.get_backend("sim", check_races=True) if backend == "sim" else backend
    failures = []
    for n in device_lengths(kernel):
        lengths = (n,) * kernel.batch if n % 2 or kernel.batch == 1 else (n, 1)
        got = verify(kernel, checked, lengths, seed=4, states=kernel.debug, host_checks=False)
        failures += [f"seq_len={n}: states: {p}" for p in got.state_problems]
        if not got.comparison.passed:
            failures.append(f"seq_len={lengths}: {got.comparison}")
    assert not failures, "\n".join(failures)


if __name__ == "__main__":
    print(markdown_table())
