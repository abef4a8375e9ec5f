"""`python -m explorer` (also the `explorer` console script): emit, check, resources, snapshot,
bench.

    explorer emit      --head-dim 128 --warps 4          # print the PTX
    explorer check     --seq-len 300 --backend sim       # run against the float64 reference
    explorer resources --target sm_90                    # ptxas registers, spills, shared, barriers
    explorer snapshot  --out DIR --against head_dim=64   # the app's HTML page and PNGs

Bad input prints one line on stderr and exits 2; a failed check exits 1; a missing backend
or ptxas exits 3. No tracebacks for a user's mistake.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import run_ptx, runtime, schema, verify
from .kernels import KERNELS
from .ptx import ptxas
from .runtime.errors import BackendUnavailable
from .sim import SimError


class UsageError(Exception):
    """A user's mistake: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="explorer", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="command",
                                help="one of the commands below; `explorer COMMAND "
                                "--help` lists its options and their defaults")
    for name, help_text in (
        ("emit", "print the kernel's PTX"),
        ("check", "run on a backend and compare with the float64 reference"),
        ("resources", "assemble with ptxas and print registers, spills, shared bytes, barriers"),
        ("bench", "time the kernels on a GPU against the copy ceiling, PyTorch SDPA and "
                  "FlashInfer (where importable)"),
    ):
        if name == "bench":
            cmd = sub.add_parser(name, help=help_text)
            cmd.add_argument("--out", default="bench-out",
                             help="folder for bench.json/.md (default bench-out)")
            cmd.add_argument("--quick", action="store_true", help="1K and 4K only, no sweeps")
            cmd.add_argument("--no-sweeps", action="store_true",
                             help="every seq_len and batch row, without the knob sweeps")
            cmd.add_argument("--only", choices=("mma-sweeps", "split-only", "tune", "pdl",
                                                "fp8", "cluster"),
                             help="only these rows: the tensor-core path's knob sweep, "
                             "split-KV with and without its combine launch, warps x splits "
                             "where a default misses a target, split-KV with and without "
                             "programmatic dependent launch, e4m3 K/V against f16 and "
                             "FlashInfer's fp8, or the cluster merge (one launch) against the "
                             "two-kernel merge")
            continue
        cmd = sub.add_parser(name, help=help_text)
        _add_kernel_options(cmd)
        if name == "emit":
            cmd.add_argument("--line-info", action="store_true",
                             help="add .file/.loc lines naming the explorer/kernels/*.py line "
                             "behind each instruction (ptxas -lineinfo maps SASS to them)")
        if name == "resources":
            cmd.add_argument("file", nargs="?", help="any PTX file: assemble it instead of the "
                             "kernel (every entry it has)")
        if name == "check":
            cmd.add_argument("--seq-len", type=int, help="positions attended (default max)")
            cmd.add_argument("--backend", default="cuda", choices=runtime.BACKENDS,
                             help="the GPU through CuPy, or the CPU simulator (default cuda)")
            cmd.add_argument("--inputs", default="normal", choices=verify.INPUT_KINDS,
                             help="random normal q/K/V, or scores that rise with the position "
                             "so every step rescales (default normal)")
            cmd.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    _add_file_commands(sub)
    snap = sub.add_parser("snapshot", help="write the explorer's design-review page and PNGs")
    _add_kernel_options(snap)
    snap.add_argument("--seq-len", type=int, help="positions attended (default max)")
    snap.add_argument("--backend", default="auto", choices=("auto", *runtime.BACKENDS),
                      help="auto: the GPU where CuPy finds one, else the simulator (default)")
    snap.add_argument("--against", metavar="CHANGES",
                      help="diff against this configuration changed so: head_dim=64,num_warps=8")
    snap.add_argument("--diff", default="unified", choices=("unified", "side by side"),
                      help="diff layout (default unified)")
    snap.add_argument("--out", required=True, help="directory to write index.html and PNGs to")
    return parser


def _add_file_commands(sub) -> None:
    """The commands for any PTX file, whoever wrote it (nvcc, Triton, another emitter)."""
    run = sub.add_parser("run-ptx", help="run an entry of any PTX file on the simulator, the "
                         "GPU or both, from arguments described in words")
    run.add_argument("file", help="the PTX file")
    run.add_argument("--entry", help="the .entry to launch (default: the module's only one)")
    run.add_argument("--grid", default="1", help="CTAs, x[,y[,z]] (default 1)")
    run.add_argument("--block", default="32", help="threads per CTA, x[,y[,z]] (default 32)")
    run.add_argument("--shared", type=int, default=0,
                     help="dynamic shared memory bytes (extern .shared; default 0)")
    run.add_argument("--arg", action="append", default=[], metavar="WORD",
                     help="one per parameter, in order: DTYPE:SHAPE:FILL for a pointer "
                     "(f32:1024:randn, i32:32x8:arange, u8:64:zeros, f32:8:full=2.5), a .npy "
                     "file, null, or a number for a scalar")
    run.add_argument("--backend", default="sim", choices=("sim", "cuda", "both"),
                     help="both: the same inputs on each, and their largest difference "
                     "(default sim)")
    run.add_argument("--seed", type=_seed, default=0, help="seed of the random fills (default 0)")
    run.add_argument("--show", type=int, default=8, help="values printed per array (default 8)")
    light = sub.add_parser("highlight", help="print any PTX file with the explorer's "
                           "highlighting, for a terminal")
    light.add_argument("file", help="the PTX file")
    light.add_argument("--color", default="auto", choices=("auto", "always", "never"),
                       help="auto: colours when printing to a terminal (default)")


def read_ptx(path: str) -> str:
    """The text of a PTX file; UsageError naming the file when it cannot be read as text."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read it as PTX text ({err})") from None


def _seed(text: str) -> int:
    """--seed: NumPy's generator takes any non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _add_kernel_options(cmd: argparse.ArgumentParser) -> None:
    """--kernel, one flag per option of any kernel (`explorer.schema`), and --target."""
    cmd.add_argument("--kernel", default=schema.DEFAULT_KERNEL, choices=sorted(KERNELS))
    for option in schema.every_option():
        cmd.add_argument(option.cli_flag, dest=option.name, default=None,
                         help=_flag_help(option), **_flag_kind(option))
    cmd.add_argument("--target", default=schema.TARGET.initial, choices=schema.TARGET.choices,
                     help=f"{schema.TARGET.help} (default {schema.TARGET.initial})")


def _flag_kind(option: schema.Option) -> dict[str, object]:
    """argparse's view of an option: a switch for a flag that is off by default, words for
    auto/on/off, choices for strings, a number otherwise."""
    if option.words:
        return {"choices": [word for word, _ in option.words]}
    if option.kind is bool:
        return {"action": "store_true"}
    if option.kind is str:
        return {"choices": option.choices}
    return {"type": option.kind}


def _flag_help(option: schema.Option) -> str:
    """The option's help, which kernels take it (where not all do) and its default (per kernel
    where they differ)."""
    takers = schema.takers(option.name)
    defaults = {}
    for kernel in takers:
        row = schema.option(kernel, option.name)
        defaults[kernel] = row.derived if row.initial is None else str(row.word(row.initial))
    only = f"{' and '.join(takers)} only; " if len(takers) < len(schema.KERNEL_OPTIONS) else ""
    if len(set(defaults.values())) == 1:
        return f"{option.help} ({only}default {defaults[takers[0]]})"
    return f"{option.help} ({only}default {'; '.join(f'{k}: {d}' for k, d in defaults.items())})"


def make_kernel(args: argparse.Namespace):
    """The kernel the options describe: each option given on the command line, else the
    explorer's starting value (shared with the app), else the constructor's default.
    UsageError for an option the chosen kernel does not take."""
    kwargs = {}
    for option in schema.every_option():
        given = getattr(args, option.name)
        if given is None or schema.takes(args.kernel, option.name):
            continue
        raise UsageError(f"{option.cli_flag} applies to {' and '.join(schema.takers(option.name))}"
                         f" only, not {args.kernel}")
    for option in schema.options(args.kernel):
        given = getattr(args, option.name)
        value = option.initial if given is None else option.value_of(given)
        if value is not schema.REQUIRED:
            kwargs[option.name] = value
    return KERNELS[args.kernel](**kwargs)


def cmd_emit(kernel, args) -> int:
    sys.stdout.write(kernel.emit(args.target, line_info=args.line_info))
    return 0


def cmd_resources(kernel, args) -> int:
    if args.file:  # any PTX: every entry it has
        reports = ptxas.assemble(read_ptx(args.file), args.target)
        for entry, report in reports.items():
            print(f"{entry} ({args.file}) for {args.target}")
            _print_report(report)
        return 0
    report = ptxas.assemble(kernel.emit(args.target), args.target)[kernel.entry]
    print(f"{kernel!r} for {args.target}")
    _print_report(report)
    return 0


def _print_report(report) -> None:
    print(f"  registers      {report.registers}")
    print(f"  spill bytes    {report.spill_bytes} "
          f"(stores {report.spill_store_bytes}, loads {report.spill_load_bytes})")
    print(f"  shared bytes   {report.shared_bytes}")
    print(f"  barriers       {report.barriers}")
    print(f"  stack frame    {report.stack_frame_bytes}")


def cmd_run_ptx(args) -> int:
    backends = ("sim", "cuda") if args.backend == "both" else (args.backend,)
    runs = run_ptx.run_ptx(read_ptx(args.file), args.entry, run_ptx.parse_dims(args.grid, "grid"),
                           run_ptx.parse_dims(args.block, "block"), args.arg, args.shared,
                           backends, args.seed)
    for run in runs:
        print(f"{args.file} on {run.backend}:")
        for finding in dict.fromkeys(str(f) for f in run.findings):
            print(f"  finding: {finding}")
        for name, array in run.arrays.items():
            changed = "" if np.array_equal(array, run.inputs[name], equal_nan=True) else (
                " (written)")
            values = np.array2string(array.ravel()[:max(0, args.show)], precision=6,
                                     separator=" ", max_line_width=10_000)
            print(f"  {name} {array.dtype} {array.shape}{changed}: {values}"
                  f"{' ...' if array.size > args.show else ''}")
    if len(runs) == 2:
        for name in runs[0].arrays:
            worst = run_ptx.largest_difference(runs[0].arrays[name], runs[1].arrays[name])
            print(f"  largest |sim - cuda| of {name}: {worst:.3e}")
    return 0


def cmd_highlight(args) -> int:
    from .app.highlight import terminal_text  # Pygments only; not the widgets

    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    sys.stdout.write(terminal_text(read_ptx(args.file)) if color else read_ptx(args.file))
    return 0


def _check_host_memory(kernel) -> None:
    """q, K, V and out live in host memory first: refuse what cannot fit, before allocating."""
    need = sum(math.prod(s.shape) * np.dtype(s.dtype).itemsize for s in kernel.buffer_specs()
               if s.name in ("q", "k", "v", "out"))
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on Linux: let NumPy decide
        return
    if need > free:
        raise UsageError(f"q, K, V and out of this configuration need {need / 2**30:.1f} GiB of "
                         f"host memory; {free / 2**30:.1f} GiB is free (lower --max-seq-len, "
                         "--num-kv-heads or --batch)")


def cmd_check(kernel, args) -> int:
    seq_len = kernel.max_seq_len if args.seq_len is None else args.seq_len
    runtime.check_lengths(kernel, seq_len)
    _check_host_memory(kernel)
    verdict = verify.verify(kernel, args.backend, seq_len, inputs=args.inputs, seed=args.seed,
                            states=kernel.debug)
    print(f"{kernel!r} seq_len={seq_len} backend={args.backend} inputs={args.inputs}")
    if kernel.debug:
        problems = verdict.state_problems
        what = "split states" if kernel.debug_layout.kind == "split" else "warp states"
        print(f"{what}: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    print(f"output: {verdict.comparison}")
    return 0 if verdict.passed else 1


def writable_folder(path: str) -> Path:
    """The folder `path`, made if missing; UsageError naming it when it cannot be written."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UsageError(f"--out {path}: cannot write there ({err.strerror or err})") from None
    return folder


def cmd_snapshot(kernel, args) -> int:
    from .app import snapshot  # only this command needs the app (plotly, kaleido)

    writable_folder(args.out)
    seq_len = kernel.max_seq_len if args.seq_len is None else args.seq_len
    written, result = snapshot.write_for_kernel(
        kernel, args.target, seq_len, args.backend, args.out, args.against, args.diff
    )
    where = f"not run: {result.not_run}" if result.not_run else (
        f"{result.verdict} on {result.backend or args.backend}")
    print(f"{kernel!r} seq_len={seq_len}: {where}")
    for path in written:
        print(path)
    return 0


def cmd_bench(args) -> int:
    from .bench_suite import run_suite  # needs CuPy and a GPU

    writable_folder(args.out)
    result = run_suite(args.out, quick=args.quick, sweeps=not args.no_sweeps,
                       only=args.only or "")
    print((Path(args.out) / "bench.md").read_text())
    return 0 if result["rows"] else 1


FILE_COMMANDS = {"bench": cmd_bench, "run-ptx": cmd_run_ptx, "highlight": cmd_highlight}
COMMANDS = {"emit": cmd_emit, "check": cmd_check, "resources": cmd_resources,
            "snapshot": cmd_snapshot}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command in FILE_COMMANDS:
            return FILE_COMMANDS[args.command](args)
        kernel = make_kernel(args)
        return COMMANDS[args.command](kernel, args)
    except (UsageError, ValueError) as err:
        print(f"explorer: error: {err}", file=sys.stderr)
        return 2
    except (BackendUnavailable, ptxas.PtxasNotFound) as err:
        print(f"explorer: {err}", file=sys.stderr)
        return 3
    except SimError as err:  # the kernel misbehaved on the simulator: a failed check
        print(f"explorer: simulator: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
