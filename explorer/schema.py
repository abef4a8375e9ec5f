"""The configuration schema: per kernel, its constructor's options in order, each with its type,
accepted range or choices, default, one-line help, the app control's label and the
command-line flag. The kernels' constructors bind and validate their arguments through it
(their signatures are derived from it); the CLI builds its options from it, the app its
controls, the tests their grids. The explorer's starting configuration (`start`), shared by
the CLI and the app, is here too.

Per-value checks only (type, range, choices); what depends on several values (num_kv_heads
dividing num_heads, 32-bit indexing, shared memory) stays with the kernels. It builds no
kernel and emits nothing; standard library plus the dtype and architecture tables.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from dataclasses import dataclass

from .arch import TARGETS, TUNED
from .dtypes import KV_ONLY
from .dtypes import NAMES as DTYPE_NAMES

MAX_HEAD_DIM = 256
MAX_WARPS = 32
MAX_TILES_IN_FLIGHT = 4  # K/V tiles per warp the tensor-core path's pipeline holds at most
MAX_HEADS = 65535  # a grid dimension
MAX_ELEMENTS_PER_KV_HEAD = 2**31 - 1  # positions are indexed in 32 bits
SCALE_RANGE = (1e-30, 1e30)  # scale is an f32 immediate; f32 holds 1e30 * log2(e) easily
REQUIRED = inspect.Parameter.empty  # an option without a default
AUTO_ON_OFF = (("auto", None), ("on", True), ("off", False))  # a control's word -> the value


def require_int(name: str, value: object, lo: int, hi: int) -> int:
    """`value` as a Python int (NumPy integers accepted); ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name}={value} is outside the accepted range {lo}..{hi}")
    return int(value)


@dataclass(frozen=True)
class Option:
    """One constructor option. `default` None: the kernel derives the value (`derived` says
    how), and None is accepted for it; REQUIRED: no default. `start` is where the CLI and
    the app begin when the constructor has no default or theirs differs."""

    name: str
    kind: type  # int, float, bool or str
    help: str
    default: object = REQUIRED
    bounds: tuple | None = None  # (lo, hi), inclusive: int and float options
    choices: tuple = ()  # accepted values: str options, and bool options narrower than both
    derived: str = ""  # how the kernel picks the value when it is None
    note: str = ""  # why only `choices`, said when a value is refused
    label: str = ""  # the app control's label ("" -> name)
    flag: str = ""  # the command-line flag ("" -> --name-with-dashes)
    words: tuple[tuple[str, object], ...] = ()  # UI words for the values: auto/on/off
    control: str = ""  # the app's Config field that sets it ("" -> no control)
    start: object = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def initial(self) -> object:
        """The value the CLI and the app start from."""
        return self.default if self.start is REQUIRED else self.start

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def accepted(self) -> str:
        """The accepted values in words: "1..256", "f32, f16, bf16", "True, False or None"."""
        if self.bounds is not None:
            lo, hi = self.bounds
            return f"{lo:g}..{hi:g}" if self.kind is float else f"{lo}..{hi}"
        values = [str(v) for v in self.choices or (True, False)]
        if self.default is None:
            values.append("None")
        if self.kind is bool and len(values) > 1:
            return ", ".join(values[:-1]) + " or " + values[-1]
        return ", ".join(values)

    def word(self, value: object) -> object:
        """The UI word for `value` (the value itself for an option without words)."""
        return next((w for w, v in self.words if v is value), value)

    def value_of(self, word: object) -> object:
        """The value a UI word stands for; ValueError naming the label otherwise."""
        if not self.words:
            return word
        for w, v in self.words:
            if w == word:
                return v
        raise ValueError(f"{self.title}={word!r}; accepted: "
                         f"{', '.join(w for w, _ in self.words)}")

    def check(self, value: object, called: str = "") -> object:
        """`value` if this option accepts it (ints as Python ints, numbers as floats); else
        ValueError naming the option (`called`, e.g. the app's label; default its name) and
        what it accepts."""
        name = called or self.name
        if value is None and self.default is None:
            return None
        if self.kind is int:
            return require_int(name, value, *self.bounds)
        if self.kind is float:
            lo, hi = self.bounds
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                    lo <= value <= hi):
                raise ValueError(f"{name} must be a number in {self.accepted} (or None for "
                                 f"{self.derived}), got {value!r}")
            return float(value)
        if self.kind is str:
            ok = isinstance(value, str) and value in self.choices
        else:  # bool: by identity, so that 1, 0 and np.bool_ are refused
            ok = any(value is v for v in self.choices or (True, False))
        if not ok and self.kind is bool and not self.choices:
            raise ValueError(f"{name} must be {self.accepted}, got {value!r}")
        if not ok:
            note = f" ({self.note})" if self.note else ""
            raise ValueError(f"{name}={value!r}; accepted: {self.accepted}{note}")
        return value

    def parameter(self) -> inspect.Parameter:
        kind = self.kind | None if self.default is None else self.kind
        return inspect.Parameter(self.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                 default=self.default, annotation=kind)


MAX_SEQ_LEN = Option("max_seq_len", int, "KV-cache positions per head, baked into the PTX",
                     bounds=(1, MAX_ELEMENTS_PER_KV_HEAD), control="max_seq_len", start=512)
HEAD_DIM = Option("head_dim", int, "elements of one q, K or V row; lane l owns l, l+32, ...",
                  bounds=(1, MAX_HEAD_DIM), control="head_dim", start=128)
NUM_HEADS = Option("num_heads", int, "q heads (one CTA each, or a group per KV head)",
                   bounds=(1, MAX_HEADS), label="q heads", control="num_heads", start=32)
NUM_KV_HEADS = Option("num_kv_heads", int, "KV heads, a divisor of num_heads (GQA)",
                      default=None, derived="num_heads: plain multi-head attention",
                      bounds=(1, MAX_HEADS), label="KV heads", control="num_kv_heads",
                      start=8)
NUM_WARPS = Option("num_warps", int, "warps per q head's CTA", default=4,
                   bounds=(1, MAX_WARPS), label="warps/head", flag="--warps",
                   control="num_warps")
SCALE = Option("scale", float, "score scale", default=None, derived="1/sqrt(head_dim)",
               bounds=SCALE_RANGE)
INDIRECT = Option("indirect_seq_len", bool, "read seq_len from device memory", default=False,
                  label="indirect seq_len", flag="--indirect", control="indirect")
DEBUG = Option("debug", bool, "the debug variant, which also records each warp's softmax "
               "state", default=False)
SHAPE = (MAX_SEQ_LEN, HEAD_DIM, NUM_HEADS, NUM_KV_HEADS)

SPLIT_KV = (
    *SHAPE,
    Option("batch", int, "sequences per launch", default=1, bounds=(1, 65535)),
    dataclasses.replace(NUM_WARPS, help="warps per CTA", default=None, bounds=(1, 16),
                        derived="measured per path: 8 on tensor cores, 2 for f16/bf16 on CUDA "
                        "cores, 16, 8 or 4 for f32 as the SMs fill"),
    Option("num_splits", int, "CTAs per sequence", default=None, bounds=(1, 65535),
           derived="fill whole waves of the SMs", flag="--splits"),
    Option("dtype", str, "storage dtype of q, K, V and out", default="f32",
           choices=DTYPE_NAMES, control="dtype"),
    Option("unroll", int, "rows in flight per lane (CUDA-core path)", default=None,
           bounds=(1, 8), derived="the deepest within a register estimate"),
    Option("pipeline", bool, "software-pipelined K/V loads", default=None,
           derived="on, except for f16/bf16 on CUDA cores", words=AUTO_ON_OFF),
    SCALE,
    Option("sm_count", int, "SMs the default splits and warps fill", default=TUNED.sm_count,
           bounds=(1, 10_000)),
    dataclasses.replace(DEBUG, help="the debug variant, which also records each split's "
                        "(and each warp's) softmax state and the merge weights"),
    Option("mma", bool, "q.k and p.v on tensor cores (f16/bf16, sm_80+)", default=None,
           derived="on for f16/bf16 with <= 8 q heads per KV head and head_dim <= 128",
           label="tensor cores", words=AUTO_ON_OFF, control="mma"),
    Option("prefetch", int, "tiles a warp prefetches into L2 ahead (tensor-core path)",
           default=None, bounds=(0, 4), derived="0"),
    Option("merge", str, "where the splits merge", default="kernel",
           choices=("kernel", "last-cta", "cluster"),
           note="a second kernel merges them, the last CTA of each group, or the group's "
           "thread-block cluster through distributed shared memory (sm_90+, <= 8 splits)",
           control="merge"),
    Option("pdl", bool, "programmatic dependent launch: the combine kernel is launched while "
           "the split kernel runs and waits for it with griddepcontrol.wait (sm_90+)",
           default=False),
    Option("kv_dtype", str, "storage dtype of K and V where it is not dtype: e4m3 (one byte, "
           "per-tensor K and V scales; q and out f16/bf16; sm_90+)", default=None,
           choices=KV_ONLY, derived="dtype",
           note="K and V are stored in dtype, or in e4m3 with dtype f16 or bf16",
           label="K/V dtype", words=(("same", None), ("e4m3", "e4m3")), control="kv_dtype"),
    Option("tiles_in_flight", int, "16-position K/V tiles whose loads a warp keeps in flight "
           "(tensor-core path; 1: not pipelined)", default=None,
           bounds=(1, MAX_TILES_IN_FLIGHT),
           derived="1 unpipelined, else 2; e4m3 K/V: the deepest ptxas assembles without "
           "spills"),
)
KERNEL_OPTIONS = {
    "single-warp": (*SHAPE, SCALE, INDIRECT, DEBUG),
    "multi-warp": (*SHAPE, NUM_WARPS, SCALE, INDIRECT, DEBUG),
    "split-kv": SPLIT_KV,
}
DEFAULT_KERNEL = "multi-warp"
TARGET = Option("target", str, "the PTX .target and ptxas' -arch", default="sm_80",
                choices=TARGETS, control="target")


def options(kernel: str) -> tuple[Option, ...]:
    """The options of `kernel`'s constructor, in parameter order."""
    if kernel not in KERNEL_OPTIONS:
        raise ValueError(f"kernel={kernel!r}; accepted: {', '.join(KERNEL_OPTIONS)}")
    return KERNEL_OPTIONS[kernel]


def option(kernel: str, name: str) -> Option | None:
    return next((o for o in options(kernel) if o.name == name), None)


def takes(kernel: str, name: str) -> bool:
    """Whether `kernel`'s constructor has the option `name`."""
    return kernel in KERNEL_OPTIONS and option(kernel, name) is not None


def takers(name: str) -> list[str]:
    """The kernels whose constructor has the option `name`."""
    return [k for k in KERNEL_OPTIONS if takes(k, name)]


def every_option() -> list[Option]:
    """Each option name once (its first kernel's row), in the order the kernels list them."""
    seen: dict[str, Option] = {}
    for rows in KERNEL_OPTIONS.values():
        for row in rows:
            seen.setdefault(row.name, row)
    return list(seen.values())


def control_option(control: str) -> Option:
    """The option an app control sets (its first kernel's row; the target's for "target")."""
    rows = [TARGET, *every_option()]
    return next(o for o in rows if o.control == control)


def signature(kernel: str) -> inspect.Signature:
    """The constructor's signature, derived from the options."""
    return inspect.Signature([o.parameter() for o in options(kernel)],
                             return_annotation=None)


def bind(kernel: str, args: tuple, kwargs: dict) -> dict[str, object]:
    """Every option's value, checked, from a constructor call's arguments (defaults filled
    in; None where the kernel derives it). TypeError for a call Python itself would refuse,
    ValueError naming the option for a value outside what it accepts."""
    bound = signature(kernel).bind(*args, **kwargs)
    bound.apply_defaults()
    return {o.name: o.check(bound.arguments[o.name]) for o in options(kernel)}
