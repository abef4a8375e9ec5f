"""`python -m explorer` (also the `explorer` console script): emit, check and resources.

    explorer emit      --head-dim 128 --warps 4          # print the PTX
    explorer check     --seq-len 1000 --backend cuda     # run against the float64 reference
    explorer resources --target sm_90                    # ptxas registers, spills, shared, barriers

Bad input prints one line on stderr and exits 2; a failed check exits 1; a missing backend
or ptxas exits 3. No tracebacks for a user's mistake.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import reference, runtime
from .check import INPUT_KINDS, compare, compare_states, make_inputs
from .kernels import KERNELS, TARGETS, MultiWarpIncrementalAttentionKernel
from .ptx import ptxas
from .runtime.errors import BackendUnavailable


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
    ):
        cmd = sub.add_parser(name, help=help_text)
        _add_kernel_options(cmd)
        if name == "check":
            cmd.add_argument("--seq-len", type=int, help="positions attended (default max)")
            cmd.add_argument("--backend", default="cuda", choices=runtime.BACKENDS)
            cmd.add_argument("--inputs", default="normal", choices=INPUT_KINDS)
            cmd.add_argument("--seed", type=int, default=0)
    return parser


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
    cmd.add_argument("--target", default="sm_80", choices=TARGETS)


def make_kernel(args: argparse.Namespace):
    common = dict(
        max_seq_len=args.max_seq_len,
        head_dim=args.head_dim,
        num_heads=args.num_heads,
        num_kv_heads=args.num_kv_heads,
        scale=args.scale,
        indirect_seq_len=args.indirect,
        debug=args.debug,
    )
    cls = KERNELS[args.kernel]
    if cls is MultiWarpIncrementalAttentionKernel:
        return cls(num_warps=4 if args.warps is None else args.warps, **common)
    if args.warps is not None:
        raise UsageError(f"--warps applies to the multi-warp kernel, not {args.kernel}")
    return cls(**common)


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


def cmd_check(kernel, args) -> int:
    seq_len = kernel.max_seq_len if args.seq_len is None else args.seq_len
    q, k, v = make_inputs(kernel, np.random.default_rng(args.seed), args.inputs)
    runtime.check_launch(kernel, q, k, v, seq_len)
    ref = reference.attention(q, k, v, seq_len, scale=kernel.scale)
    out = runtime.run(kernel, q, k, v, seq_len, backend=args.backend)
    print(f"{kernel!r} seq_len={seq_len} backend={args.backend} inputs={args.inputs}")
    if kernel.debug:
        out, states = out
        want = reference.warp_states(
            q, k, v, seq_len, kernel.num_warps, kernel.scale, kernel.debug_layout.score_slots
        )
        problems = compare_states(states, want)
        print("warp states: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    result = compare(out, ref)
    print(f"output: {result}")
    return 0 if result.passed and not (kernel.debug and problems) else 1


COMMANDS = {"emit": cmd_emit, "check": cmd_check, "resources": cmd_resources}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        kernel = make_kernel(args)
        return COMMANDS[args.command](kernel, args)
    except (UsageError, ValueError) as err:
        print(f"explorer: error: {err}", file=sys.stderr)
        return 2
    except (BackendUnavailable, ptxas.PtxasNotFound) as err:
        print(f"explorer: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
