"""`python -m explorer` (also the `explorer` console script): emit, check, resources, snapshot.

    explorer emit      --head-dim 128 --warps 4          # print the PTX
    explorer check     --seq-len 1000 --backend cuda     # run against the float64 reference
    explorer resources --target sm_90                    # ptxas registers, spills, shared, barriers
    explorer snapshot  --out DIR --against head_dim=64   # the app's HTML page and PNGs

Bad input prints one line on stderr and exits 2; a failed check exits 1; a missing backend
or ptxas exits 3. No tracebacks for a user's mistake.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
from pathlib import Path

import numpy as np

from . import runtime, verify
from .kernels import KERNELS, TARGETS
from .kernels.split_kv import MMA_CHOICES
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
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text in (
        ("emit", "print the kernel's PTX"),
        ("check", "run on a backend and compare with the float64 reference"),
        ("resources", "assemble with ptxas and print registers, spills, shared bytes, barriers"),
        ("bench", "time the kernels on a GPU against the copy ceiling and PyTorch SDPA"),
    ):
        if name == "bench":
            cmd = sub.add_parser(name, help=help_text)
            cmd.add_argument("--out", default="bench-out", help="folder for bench.json/.md")
            cmd.add_argument("--quick", action="store_true", help="1K and 4K only, no sweeps")
            cmd.add_argument("--no-sweeps", action="store_true",
                             help="every seq_len and batch row, without the knob sweeps")
            cmd.add_argument("--only", choices=("mma-sweeps", "split-only", "tune"),
                             help="only these rows: the tensor-core path's knob sweep, "
                             "split-KV with and without its combine launch, or warps x splits "
                             "where a default misses a target")
            continue
        cmd = sub.add_parser(name, help=help_text)
        _add_kernel_options(cmd)
        if name == "check":
            cmd.add_argument("--seq-len", type=int, help="positions attended (default max)")
            cmd.add_argument("--backend", default="cuda", choices=runtime.BACKENDS)
            cmd.add_argument("--inputs", default="normal", choices=verify.INPUT_KINDS)
            cmd.add_argument("--seed", type=_seed, default=0)
    snap = sub.add_parser("snapshot", help="write the explorer's design-review page and PNGs")
    _add_kernel_options(snap)
    snap.add_argument("--seq-len", type=int, help="positions attended (default max)")
    snap.add_argument("--backend", default="auto", choices=("auto", *runtime.BACKENDS))
    snap.add_argument("--against", metavar="CHANGES",
                      help="diff against this configuration changed so: head_dim=64,num_warps=8")
    snap.add_argument("--diff", default="unified", choices=("unified", "side by side"))
    snap.add_argument("--out", required=True, help="directory to write index.html and PNGs to")
    return parser


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
    cmd.add_argument("--kernel", default="multi-warp", choices=sorted(KERNELS))
    cmd.add_argument("--max-seq-len", type=int, default=4096)
    cmd.add_argument("--head-dim", type=int, default=128)
    cmd.add_argument("--num-heads", type=int, default=32)
    cmd.add_argument("--num-kv-heads", type=int, default=8)
    cmd.add_argument("--warps", type=int, help="warps per head (multi-warp; default 4)")
    cmd.add_argument("--scale", type=float, help="score scale (default 1/sqrt(head_dim))")
    cmd.add_argument("--indirect", action="store_true", help="read seq_len from device memory")
    cmd.add_argument("--debug", action="store_true",
                     help="the debug variant, which also records each warp's softmax state")
    cmd.add_argument("--batch", type=int, help="sequences per launch (split-kv; default 1)")
    cmd.add_argument("--dtype", choices=("f32", "f16", "bf16"),
                     help="storage dtype of q, K, V and out (split-kv; default f32)")
    cmd.add_argument("--splits", type=int, help="CTAs per sequence (split-kv; default: fill "
                     "whole waves of the SMs)")
    cmd.add_argument("--unroll", type=int, help="rows in flight per lane (split-kv, CUDA-core "
                     "path; default from a register estimate)")
    cmd.add_argument("--merge", choices=("kernel", "last-cta"), help="where split-kv merges "
                     "its splits: a second kernel (default) or the last CTA of each group")
    cmd.add_argument("--mma", choices=list(MMA_CHOICES), help="q.k and p.v on tensor cores "
                     "(split-kv, f16/bf16; auto, the default: on where the group has <= 8 q "
                     "heads and head_dim <= 128)")
    cmd.add_argument("--target", default="sm_80", choices=TARGETS)


# Options that only some kernels take: option -> constructor parameter.
KERNEL_OPTIONS = {"warps": "num_warps", "batch": "batch", "dtype": "dtype",
                  "splits": "num_splits", "unroll": "unroll", "mma": "mma", "merge": "merge"}


def make_kernel(args: argparse.Namespace):
    cls = KERNELS[args.kernel]
    params = inspect.signature(cls).parameters
    kwargs = dict(
        max_seq_len=args.max_seq_len,
        head_dim=args.head_dim,
        num_heads=args.num_heads,
        num_kv_heads=args.num_kv_heads,
        scale=args.scale,
        debug=args.debug,
    )
    if "indirect_seq_len" in params:
        kwargs["indirect_seq_len"] = args.indirect
    if "num_warps" in params and params["num_warps"].default is inspect.Parameter.empty:
        kwargs["num_warps"] = 4  # the multi-warp kernel's default for the command line
    for option, name in KERNEL_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if name not in params:
            takers = [k for k, c in KERNELS.items() if name in inspect.signature(c).parameters]
            raise UsageError(f"--{option} applies to {' and '.join(takers)} only, "
                             f"not {args.kernel}")
        kwargs[name] = MMA_CHOICES[value] if option == "mma" else value
    return cls(**kwargs)


def cmd_emit(kernel, args) -> int:
    sys.stdout.write(kernel.emit(args.target))
    return 0


def cmd_resources(kernel, args) -> int:
    report = ptxas.assemble(kernel.emit(args.target), args.target)[kernel.entry]
    print(f"{kernel!r} for {args.target}")
    print(f"  registers      {report.registers}")
    print(f"  spill bytes    {report.spill_bytes} "
          f"(stores {report.spill_store_bytes}, loads {report.spill_load_bytes})")
    print(f"  shared bytes   {report.shared_bytes}")
    print(f"  barriers       {report.barriers}")
    print(f"  stack frame    {report.stack_frame_bytes}")
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
        print("warp states: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    print(f"output: {verdict.comparison}")
    return 0 if verdict.passed else 1


def cmd_snapshot(kernel, args) -> int:
    from .app import snapshot  # only this command needs the app (plotly, kaleido)

    seq_len = kernel.max_seq_len if args.seq_len is None else args.seq_len
    written, result = snapshot.write_for_kernel(
        kernel, args.target, seq_len, args.backend, args.out, args.against, args.diff
    )
    print(f"{kernel!r} seq_len={seq_len}: {'PASS' if result.passed else 'FAIL'} on "
          f"{result.backend or args.backend}")
    for path in written:
        print(path)
    return 0


def cmd_bench(args) -> int:
    from .bench_suite import run_suite  # needs CuPy and a GPU

    result = run_suite(args.out, quick=args.quick, sweeps=not args.no_sweeps,
                       only=args.only or "")
    print((Path(args.out) / "bench.md").read_text())
    return 0 if result["rows"] else 1


COMMANDS = {"emit": cmd_emit, "check": cmd_check, "resources": cmd_resources,
            "snapshot": cmd_snapshot}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "bench":
            return cmd_bench(args)
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
