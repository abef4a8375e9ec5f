"""The explorer's state without widgets: the configuration, its validation, which views a
change affects, and the diff baseline (the previous configuration, or a pinned one).

Unit tests drive it directly; `widget.py` only maps controls onto `AppState.update` and
redraws the views it names. It builds kernel objects (cheap: the PTX is emitted lazily) but
never emits, assembles or runs anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import schema
from ..arch import TARGETS
from ..kernels import KERNELS

BACKEND_CHOICES = ("auto", "sim", "cuda")
PTX_FILE = "PTX file"  # the kernel list's last choice: any PTX, pasted or loaded (foreign.py)
VIEWS = ("ptx", "diff", "resources", "run", "warps")
# Which views depend on what: the PTX (and so its diff and ptxas report) on the kernel's
# constructor arguments and the target; a run on the kernel's arguments, seq_len and backend.
PTX_VIEWS = frozenset({"ptx", "diff", "resources"})
RUN_VIEWS = frozenset({"run", "warps"})
MAX_SEQ_LEN_CHOICES = (64, 128, 256, 512, 1024, 2048, 4096)


@dataclass(frozen=True)
class Config:
    """One configuration of the explorer's controls; its defaults are `explorer.schema`'s
    starting values, which the command line shares.

    `gqa_ratio` is q heads per KV head; `num_kv_heads = num_heads // gqa_ratio`. A control is
    ignored by kernels without its option (`schema.takes`): warps by the single-warp kernel,
    dtype and tensor cores by all but split-kv.
    """

    kernel: str = schema.DEFAULT_KERNEL
    head_dim: int = schema.HEAD_DIM.initial
    num_warps: int = schema.NUM_WARPS.initial
    num_heads: int = schema.NUM_HEADS.initial
    gqa_ratio: int = schema.NUM_HEADS.initial // schema.NUM_KV_HEADS.initial
    max_seq_len: int = schema.MAX_SEQ_LEN.initial
    seq_len: int = schema.MAX_SEQ_LEN.initial
    indirect: bool = schema.INDIRECT.initial
    dtype: str = schema.control_option("dtype").initial  # storage dtype (split-kv)
    mma: str = schema.control_option("mma").word(None)  # tensor cores: auto, on or off
    kv_dtype: str = schema.control_option("kv_dtype").word(None)  # K/V storage: same or e4m3
    merge: str = schema.control_option("merge").initial  # where split-kv's splits merge
    target: str = schema.TARGET.initial
    backend: str = "auto"

    @property
    def num_kv_heads(self) -> int:
        return max(1, self.num_heads // max(1, self.gqa_ratio))

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)


def takes(kernel: str, parameter: str) -> bool:
    """Whether the kernel's constructor has `parameter` (its control is enabled)."""
    return schema.takes(kernel, parameter)


def takes_warps(kernel: str) -> bool:
    """Whether the kernel has a warps-per-head parameter."""
    return takes(kernel, "num_warps")


def kernel_args(config: Config) -> dict[str, object]:
    """The constructor arguments the configuration gives its kernel (no debug flag): each
    option of the kernel that has a control, UI words turned into values; other options keep
    their defaults. An unknown kernel gets the shape only."""
    rows = schema.KERNEL_OPTIONS.get(config.kernel, schema.SHAPE)
    return {o.name: o.value_of(getattr(config, o.control)) for o in rows if o.control}


def build_kernel(config: Config, debug: bool = False):
    """The kernel object of a configuration. Raises ValueError naming the bad parameter."""
    if config.kernel not in KERNELS:
        raise ValueError(f"kernel={config.kernel!r}; accepted: {', '.join(KERNELS)}")
    args = kernel_args(config)
    if takes(config.kernel, "debug"):
        args["debug"] = debug
    elif debug:
        raise ValueError(f"the {config.kernel} kernel has no debug variant")
    missing = [o.name for o in schema.options(config.kernel) if o.required and o.name not in args]
    if missing:
        raise ValueError(f"the {config.kernel} kernel needs {', '.join(missing)}, "
                         "which the explorer has no control for yet")
    return KERNELS[config.kernel](**args)


def derived_value(config: Config, control: str) -> object:
    """The value the kernel itself picks for `control` (its option's default, or what it
    derives when the default is None); None when the kernel has no such option or cannot be
    built."""
    option = next((o for o in schema.KERNEL_OPTIONS.get(config.kernel, ())
                   if o.control == control), None)
    if option is None:
        return None
    if option.default is not None and not option.required:
        return option.word(option.default)
    args = {**kernel_args(config), option.name: None}
    try:
        return option.word(getattr(KERNELS[config.kernel](**args), option.name))
    except ValueError:
        return None


def applicable_value(config: Config, control: str) -> object:
    """What a control the kernel does not take stands for in that kernel (the seed kernels
    store f32, use no tensor cores, and the single-warp kernel has one warp), as the
    control's value; None where the kernel cannot be built."""
    option = schema.control_option(control)
    try:
        kernel = build_kernel(config)
    except ValueError:
        return None
    value = getattr(kernel, option.name, None)
    if value is None and option.kind is bool:
        value = False  # a kernel without the feature
    return option.word(value)


def gqa_ratios(num_heads: int) -> list[int]:
    """The possible GQA ratios (q heads per KV head): the divisors of num_heads."""
    if num_heads < 1:
        return [1]
    return [r for r in range(1, num_heads + 1) if num_heads % r == 0]


def control_problems(config: Config) -> list[str]:
    """Each control whose value its option refuses, named as the control is labelled
    ("q heads=0 is outside the accepted range 1..65535")."""
    fields = {f.name for f in dataclasses.fields(Config)}
    problems = []
    for option in schema.KERNEL_OPTIONS.get(config.kernel, schema.SHAPE):
        if option.control in fields:
            try:
                option.check(option.value_of(getattr(config, option.control)),
                             called=option.title)
            except ValueError as err:
                problems.append(str(err))
    return problems


def ptx_problems(config: Config) -> list[str]:
    """What makes the configuration's PTX impossible, each naming the control (or parameter)
    and its accepted range."""
    problems = control_problems(config)
    if problems:
        return problems
    if config.num_heads >= 1 and (config.gqa_ratio < 1 or config.num_heads % config.gqa_ratio):
        ratios = ", ".join(map(str, gqa_ratios(config.num_heads)))
        problems.append(
            f"GQA ratio {config.gqa_ratio} does not divide num_heads={config.num_heads} "
            f"(possible ratios: {ratios})"
        )
    if config.target not in TARGETS:
        problems.append(f"target={config.target!r}; accepted: {', '.join(TARGETS)}")
    if not problems:
        try:
            build_kernel(config).check_target(config.target)
        except ValueError as err:
            problems.append(str(err))
    return problems


def run_problems(config: Config) -> list[str]:
    """What stops a run of the configuration (its PTX problems, then seq_len and backend)."""
    problems = ptx_problems(config)
    if not 0 <= config.seq_len <= config.max_seq_len:
        problems.append(
            f"seq_len={config.seq_len} is outside 0..max_seq_len={config.max_seq_len}"
        )
    if config.backend not in BACKEND_CHOICES:
        problems.append(f"backend={config.backend!r}; accepted: {', '.join(BACKEND_CHOICES)}")
    return problems


def ptx_key(config: Config) -> tuple:
    """Everything the PTX depends on: equal keys, equal PTX."""
    return (config.kernel, tuple(sorted(kernel_args(config).items())), config.target)


def run_key(config: Config) -> tuple:
    """Everything a run's result depends on: the target too, since it decides whether the
    configuration can run at all (merge='cluster' and e4m3 K/V need sm_90), even where the
    GPU then runs its own."""
    args = tuple(sorted(kernel_args(config).items()))
    return (config.kernel, args, config.seq_len, config.backend, config.target)


def changed_views(old: Config, new: Config) -> frozenset[str]:
    """The views whose content differs between two configurations."""
    views: set[str] = set()
    if ptx_key(old) != ptx_key(new):
        views |= PTX_VIEWS
    if run_key(old) != run_key(new):
        views |= RUN_VIEWS
    return frozenset(views)


def describe(config: Config) -> str:
    """A one-line name of a configuration, used to label both sides of a diff."""
    parts = [
        config.kernel,
        f"head_dim {config.head_dim}",
        f"{config.num_heads} q / {config.num_kv_heads} KV heads (GQA {config.gqa_ratio})",
    ]
    if takes_warps(config.kernel):
        parts.append(f"{config.num_warps} warp{'s' if config.num_warps != 1 else ''}")
    parts.append(f"max_seq_len {config.max_seq_len}")
    if config.indirect and takes(config.kernel, "indirect_seq_len"):
        parts.append("indirect seq_len")
    if takes(config.kernel, "dtype"):
        parts.append(config.dtype)
    if takes(config.kernel, "mma") and config.mma != "auto":
        parts.append(f"tensor cores {config.mma}")
    if takes(config.kernel, "kv_dtype") and config.kv_dtype != "same":
        parts.append(f"{config.kv_dtype} K/V")
    if takes(config.kernel, "merge") and config.merge != "kernel":
        parts.append(f"merge {config.merge}")
    parts.append(config.target)
    return " · ".join(parts)


def normalize(config: Config) -> tuple[Config, list[str]]:
    """Adjust what a control change made impossible, saying what was adjusted and why:
    a GQA ratio that no longer divides num_heads becomes the largest one that does, and
    seq_len beyond max_seq_len becomes max_seq_len."""
    notes = []
    if config.num_heads >= 1 and config.num_heads % max(1, config.gqa_ratio):
        ratio = max(r for r in gqa_ratios(config.num_heads) if r <= max(1, config.gqa_ratio))
        notes.append(
            f"GQA ratio {config.gqa_ratio} is impossible with {config.num_heads} q heads "
            f"(it must divide num_heads); using {ratio} ({config.num_heads // ratio} KV heads)"
        )
        config = config.replace(gqa_ratio=ratio)
    if config.max_seq_len >= 0 and config.seq_len > config.max_seq_len:
        notes.append(f"seq_len {config.seq_len} is beyond max_seq_len; using "
                     f"{config.max_seq_len}")
        config = config.replace(seq_len=config.max_seq_len)
    return config, notes


def config_from_kernel(kernel, target: str, seq_len: int, backend: str) -> Config:
    """The configuration that builds `kernel`. Raises ValueError when the kernel was built
    with options the explorer has no control for (they are named)."""
    want = kernel.config()
    fields = {f.name for f in dataclasses.fields(Config)}
    controls = {o.control: o.word(want[o.name]) for o in schema.options(kernel.name)
                if o.control in fields}
    config = Config(kernel=kernel.name, gqa_ratio=kernel.num_heads // kernel.num_kv_heads,
                    seq_len=seq_len, target=target, backend=backend, **controls)
    got = build_kernel(config).config()
    differ = sorted(k for k in want if k != "debug" and want[k] != got.get(k))
    if differ:
        raise ValueError(f"the explorer has no control for {', '.join(differ)}: "
                         "leave these options at their defaults")
    return config


def parse_changes(text: str) -> dict[str, object]:
    """`"head_dim=64,num_warps=8"` -> {"head_dim": 64, "num_warps": 8}, typed like Config's
    fields. Raises ValueError naming an unknown field or a bad value."""
    fields = {f.name: type(getattr(Config(), f.name)) for f in dataclasses.fields(Config)}
    changes: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise ValueError(f"{item!r}: expected FIELD=VALUE with FIELD one of "
                             f"{', '.join(fields)}")
        kind, value = fields[name], value.strip()
        try:
            changes[name] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a valid {kind.__name__}") from None
    return changes


@dataclass(frozen=True)
class Update:
    """What one change did: the new configuration, the views to redraw, adjustment notes."""

    config: Config
    views: frozenset[str]
    notes: tuple[str, ...] = ()


@dataclass
class AppState:
    """The current configuration and the diff baseline.

    `previous` is the last valid configuration whose PTX differs from the current one: a
    change that leaves the PTX alone (seq_len, backend) keeps the diff as it was.
    `pinned`, once set, is the baseline while `baseline_mode` is "pinned".
    """

    config: Config = field(default_factory=Config)
    previous: Config | None = None
    pinned: Config | None = None
    baseline_mode: str = "previous"
    chosen_ratio: int | None = None  # the GQA ratio last chosen; q-head changes return to it
    chosen_warps: dict[str, int] = field(default_factory=dict)  # per kernel, warps chosen

    def __post_init__(self) -> None:
        self.chosen_warps.setdefault(self.config.kernel, self.config.num_warps)

    def update(self, **changes) -> Update:
        unknown = set(changes) - {f.name for f in dataclasses.fields(Config)}
        if unknown:
            raise ValueError(f"unknown controls: {', '.join(sorted(unknown))}")
        old = self.config
        if "gqa_ratio" in changes:
            self.chosen_ratio = changes["gqa_ratio"]
        elif "num_heads" in changes:  # back to the chosen ratio where the q heads allow it
            chosen = self.chosen_ratio or old.gqa_ratio
            self.chosen_ratio = chosen
            heads = changes["num_heads"]
            if isinstance(heads, int) and chosen in gqa_ratios(heads):
                changes["gqa_ratio"] = chosen
        new, notes = normalize(old.replace(**changes))
        new = self._warps_for(new, changes)
        views = changed_views(old, new)
        if "ptx" in views and not ptx_problems(old):
            self.previous = old
        self.config = new
        return Update(new, views, tuple(notes))

    def _warps_for(self, config: Config, changes: dict) -> Config:
        """The warps a kernel gets: those chosen for it, else its own default (split-kv's is
        measured per path and dtype, not the multi-warp control's 4)."""
        if "num_warps" in changes:
            self.chosen_warps[config.kernel] = config.num_warps
            return config
        warps = self.chosen_warps.get(config.kernel) or derived_value(config, "num_warps")
        return config if warps is None else config.replace(num_warps=warps)

    def pin(self) -> Update:
        """Pin the current configuration as the diff baseline (and switch to it)."""
        self.pinned = self.config
        self.baseline_mode = "pinned"
        return Update(self.config, frozenset({"diff"}))

    def pin_config(self, config: Config) -> Update:
        """Pin another configuration as the diff baseline (the command line's --against)."""
        self.pinned = config
        self.baseline_mode = "pinned"
        return Update(self.config, frozenset({"diff"}))

    def set_baseline_mode(self, mode: str) -> Update:
        if mode not in ("previous", "pinned"):
            raise ValueError(f"baseline mode {mode!r}; accepted: previous, pinned")
        self.baseline_mode = mode
        return Update(self.config, frozenset({"diff"}))

    @property
    def baseline(self) -> Config | None:
        """The configuration the diff compares against (None: nothing to compare yet)."""
        if self.baseline_mode == "pinned" and self.pinned is not None:
            return self.pinned
        return self.previous

    @property
    def baseline_label(self) -> str:
        if self.baseline_mode == "pinned" and self.pinned is not None:
            return "pinned"
        return "previous"
