"""Run PTX that nobody here wrote: arguments described in words, made from the entry's own
parameter list, launched through `explorer.runtime` on the simulator, the GPU or both.

An argument is one word per parameter, in order:

- `DTYPE:SHAPE:FILL` for a pointer (`.u64`/`.b64`): a NumPy array of that dtype and shape,
  filled so: `f32:1024:randn`, `i32:32x8:arange`, `f16:256:zeros`, `u8:64:ones`,
  `f32:10:full=2.5`;
- `file.npy` for a pointer: the array in the file;
- `null` for a pointer: a 0 pointer (the scratch pointers Triton appends);
- a number (`512`, `2.5`, `-1`, `0x10`) for a scalar, checked against its type by the backend;
- `u64:N` (or `s64:N`, `b64:N`) for a 64-bit parameter that is a number, not a pointer (a
  `size_t n`): a 64-bit parameter is taken for a pointer unless its word says so.

It draws nothing and knows no kernel class; `explorer.cli`'s `run-ptx` command prints what it
returns.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runtime
from .ptx import Launch, Program
from .ptx.program import POINTER_TYPES
from .sim import SimWarning

DTYPES = {"f16": "float16", "f32": "float32", "f64": "float64", "i8": "int8", "i16": "int16",
          "i32": "int32", "i64": "int64", "u8": "uint8", "u16": "uint16", "u32": "uint32",
          "u64": "uint64"}
FILLS = ("randn", "rand", "randint", "arange", "zeros", "ones", "full=VALUE")
FILL_KINDS = ("randn", "rand", "randint", "arange", "zeros", "ones", "full")
MAX_ELEMENTS = 1 << 26  # 64 Mi elements per argument: a typo must not exhaust the host
ARRAY_WORD = re.compile(r"^(?P<dtype>[a-z0-9]+):(?P<shape>[^:]*):(?P<fill>[a-z]+(=.+)?)$")
NUMBER_WORD = re.compile(r"^(?P<type>[usb]64):(?P<value>[^:]+)$")


@dataclass(frozen=True)
class ArrayWord:
    """A checked `DTYPE:SHAPE:FILL` word, before any memory is allocated."""

    dtype: str  # one of DTYPES
    shape: tuple[int, ...]
    fill: str  # one of FILL_KINDS
    value: float | None = None  # full=VALUE's value

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(DTYPES[self.dtype]).itemsize


@dataclass(frozen=True)
class PtxRun:
    """One backend's run: every array argument after it (name -> array), the inputs, and on
    the simulator its findings (what works on hardware by luck of layout or of unused lanes,
    with the PTX line: the simulator runs such PTX with `strict=False`)."""

    backend: str
    arrays: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    findings: tuple = ()


def parse_dims(text: str, what: str, prefix: str = "--") -> tuple[int, int, int]:
    """`"4"`, `"4,2"` or `"4,2,1"` (x, y, z; `x` also separates) -> three positive ints;
    ValueError naming `prefix + what` (the command line's flag, or the app's field)."""
    parts = [p for p in re.split(r"[,x]", str(text).strip()) if p]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if not 1 <= len(dims) <= 3 or any(d < 1 for d in dims):
        raise ValueError(f"{prefix}{what} {text!r}: expected 1 to 3 positive integers, e.g. "
                         "128 or 32,4,1")
    return tuple(dims + [1] * (3 - len(dims)))


def make_argument(word: str, name: str, ptx_type: str, rng: np.random.Generator):
    """The value of one parameter from its word (see the module's table); ValueError naming
    the parameter and what it accepts."""
    pointer = ptx_type in POINTER_TYPES
    if word == "null":
        if not pointer:
            raise ValueError(f"parameter {name} (.{ptx_type}): null is for pointers only")
        return 0
    if word.endswith(".npy"):
        try:
            return np.ascontiguousarray(np.load(Path(word), allow_pickle=False))
        except (OSError, ValueError) as err:
            raise ValueError(f"parameter {name}: cannot read {word}: {err}") from None
    if ARRAY_WORD.match(word):
        return _array(parse_array_word(word, name), rng)
    number_word = NUMBER_WORD.match(word)
    if number_word and pointer:
        return _number_of(number_word["value"], name, ptx_type)
    number = _number_of(word, name, ptx_type)
    if pointer and isinstance(number, int) and number != 0:
        raise ValueError(f"parameter {name} is a pointer (.{ptx_type}): pass an array word "
                         "such as f32:1024:randn, a .npy file or null, not a number (or "
                         f"{ptx_type}:{number} where it is a number such as a size)")
    return number


def _number_of(word: str, name: str, ptx_type: str) -> int | float:
    try:
        return _number(word)
    except ValueError:
        raise ValueError(
            f"parameter {name} (.{ptx_type}): {word!r} is not an argument word; accepted: "
            f"DTYPE:SHAPE:FILL (dtypes {', '.join(DTYPES)}; fills {', '.join(FILLS)}), a "
            ".npy file, null, or a number") from None


def _number(word: str) -> int | float:
    """An integer (decimal, 0x hex, 0b, 0o) where the word is one, else a float (1e3, nan)."""
    try:
        return int(word, 0)
    except ValueError:
        return float(word)


def parse_shape(text: str, name: str) -> tuple[int, ...]:
    """`"1024"` or `"32x8"` -> (1024,) or (32, 8); ValueError naming the parameter."""
    parts = str(text).strip().split("x")
    if not all(p.isdigit() for p in parts) or any(int(p) < 1 for p in parts) or (
            math.prod(int(p) for p in parts) > MAX_ELEMENTS):
        raise ValueError(f"parameter {name}: shape {text!r}; accepted: positive sizes joined "
                         f"by x, at most {MAX_ELEMENTS} elements")
    return tuple(int(p) for p in parts)


def parse_array_word(word: str, name: str) -> ArrayWord:
    """The checked parts of a `DTYPE:SHAPE:FILL` word, allocating nothing; ValueError naming
    the parameter and what it accepts."""
    match = ARRAY_WORD.match(word)
    if not match:
        raise ValueError(f"parameter {name}: {word!r} is not DTYPE:SHAPE:FILL "
                         "(e.g. f32:1024:randn)")
    dtype, fill = match["dtype"], match["fill"]
    if dtype not in DTYPES:
        raise ValueError(f"parameter {name}: dtype {dtype!r}; accepted: {', '.join(DTYPES)}")
    shape = parse_shape(match["shape"], name)
    kind, _, value = fill.partition("=")
    if kind not in FILL_KINDS or (kind == "full") != bool(value):
        raise ValueError(f"parameter {name}: fill {fill!r}; accepted: {', '.join(FILLS)}")
    if kind != "full":
        return ArrayWord(dtype, shape, kind)
    try:
        return ArrayWord(dtype, shape, kind, float(value))
    except ValueError:
        raise ValueError(f"parameter {name}: full={value!r} is not a number") from None


def _array(word: ArrayWord, rng: np.random.Generator) -> np.ndarray:
    np_dtype, shape, kind = np.dtype(DTYPES[word.dtype]), word.shape, word.fill
    if kind == "randn":
        data = rng.standard_normal(shape)
    elif kind == "rand":
        data = rng.random(shape)
    elif kind == "randint":
        data = rng.integers(-100 if np_dtype.kind != "u" else 0, 100, shape)
    elif kind == "arange":
        data = np.arange(math.prod(shape)).reshape(shape)
    elif kind in ("zeros", "ones"):
        data = np.zeros(shape) if kind == "zeros" else np.ones(shape)
    else:
        data = np.full(shape, word.value)
    return np.ascontiguousarray(data.astype(np_dtype))


def prepare(ptx: str | Program, entry: str | None, words: list[str], seed: int = 0):
    """(program, the entry's name, its launch arguments, the buffers by name) for `words`,
    one per parameter of `entry` (default: the module's only entry); `ptx` is PTX text or
    a `Program` already read from it."""
    program = ptx if isinstance(ptx, Program) else Program.from_ptx(ptx)
    if entry is None:
        if len(program.entries) != 1:
            names = ", ".join(e.name for e in program.entries) or "none"
            raise ValueError(f"the module has {len(program.entries)} entries ({names}): "
                             "name one with --entry")
        entry = program.entries[0].name
    params = program.entry(entry).params
    if len(words) != len(params):
        listed = ", ".join(f"{n} (.{t})" for n, t in params)
        raise ValueError(f"{entry} takes {len(params)} arguments ({listed}); got "
                         f"{len(words)} --arg")
    rng = np.random.default_rng(seed)
    args, buffers = [], {}
    for (name, ptx_type), word in zip(params, words, strict=True):
        value = make_argument(word, name, ptx_type, rng)
        if isinstance(value, np.ndarray):
            buffers[name] = value
            args.append(name)
        else:
            args.append(value)
    return program, entry, tuple(args), buffers


def run_ptx(ptx: str, entry: str | None, grid, block, words: list[str], shared_bytes: int = 0,
            backends: tuple[str, ...] = ("sim",), seed: int = 0) -> list[PtxRun]:
    """Run the entry once on each backend, from the same inputs; one `PtxRun` per backend."""
    if not isinstance(shared_bytes, int) or shared_bytes < 0:
        raise ValueError(f"--shared {shared_bytes!r}: dynamic shared bytes, an integer >= 0")
    program, entry, args, buffers = prepare(ptx, entry, words, seed)
    launch = Launch(entry, grid, block, args, shared_bytes)
    return [launch_on(program, launch, buffers, name) for name in backends]


def launch_on(program: Program, launch: Launch, buffers: dict[str, np.ndarray],
              backend: str) -> PtxRun:
    """One launch on one backend ("sim", not strict, or "cuda") from `buffers` (copied: the
    caller's arrays stay as they are); its `PtxRun`. Raises what the backend raises."""
    be = runtime.get_backend(backend, **({"strict": False} if backend == "sim" else {}))
    with warnings.catch_warnings():  # the findings come back in the PtxRun instead
        warnings.simplefilter("ignore", SimWarning)
        arrays = runtime.launch(program, [launch], buffers, backend=be)
    return PtxRun(backend, arrays, buffers, tuple(getattr(be, "findings", ())))


def largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest |a - b| over the elements (NaN where only one side is NaN counts as inf)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(x) & np.isnan(y)
    diff = np.where(both_nan, 0.0, np.abs(x - y))
    return float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0
