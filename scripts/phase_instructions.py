"""How many PTX instructions one warp of the split-KV kernel executes, phase by phase (the
emitter's `// phase:` comments, as the Lanes tab counts them: `explorer.app.lanes`), on the
simulator: where a short decode step's instructions go, without a GPU. On the H200 a warp of
the split entry issues one instruction every ~7 cycles at short lengths (Nsight Compute,
docs/performance.md), so at seq_len 1 the count is most of the split kernel's own time.

    python scripts/phase_instructions.py                      # default f16 kernel, seq_len 1
    python scripts/phase_instructions.py --seq-len 1024 --cta 1
    python scripts/phase_instructions.py --launch 1            # the combine kernel
    python scripts/phase_instructions.py --option merge=cluster --option dtype=f32

Shape: 32 q / 8 KV heads, head_dim 128, max_seq_len 1024 (override with --option). CTA 0 is
split 0 (at seq_len 1 the only split with a position); CTA 1 is an empty split there.
Prints the count per phase and the most frequent opcodes; asserts nothing.
"""

from __future__ import annotations

import argparse
import ast
import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer import sim  # noqa: E402
from explorer.app.lanes import step_sections  # noqa: E402
from explorer.kernels import SplitKVDecodeAttentionKernel  # noqa: E402
from explorer.runtime.execute import allocate, resolve  # noqa: E402
from explorer.runtime.sim import SimBackend  # noqa: E402
from explorer.verify import make_inputs  # noqa: E402

SHAPE = dict(max_seq_len=1024, head_dim=128, num_heads=32, num_kv_heads=8, dtype="f16")


def count(options: dict, seq_len: int, launch: int, cta: int, warp: int):
    """(entry, steps, Counter of phase -> instructions, Counter of (phase, opcode))."""
    kernel = SplitKVDecodeAttentionKernel(**{**SHAPE, **options})
    program, launches = kernel.program("sm_90"), kernel.launches()
    if not 0 <= launch < len(launches):
        raise SystemExit(f"--launch {launch}: this kernel has {len(launches)} launch(es)")
    q, k, v = make_inputs(kernel, np.random.default_rng(0))
    backend = SimBackend()
    values = {"q": q, "k": k, "v": v, **kernel.length_arguments((seq_len,) * kernel.batch)}
    buffers = allocate(backend, kernel.buffer_specs(), values)
    resolved = [resolve(program, one, buffers) for one in launches]
    for one in resolved[:launch]:
        backend.launch(program, one)
    chosen = resolved[launch]
    trace = sim.trace(program.ptx, chosen.entry, chosen.grid, chosen.block, list(chosen.args),
                      shared_bytes=chosen.shared_bytes, cta=cta, warp=warp)
    by_phase, by_opcode = collections.Counter(), collections.Counter()
    for step, phase in zip(trace, step_sections(trace, program.ptx), strict=True):
        words = step.text.split()
        opcode = words[1] if words[0].startswith("@") else words[0]
        by_phase[phase] += 1
        by_opcode[(phase, opcode.rstrip(";"))] += 1
    return chosen.entry, len(trace), by_phase, by_opcode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seq-len", type=int, default=1)
    parser.add_argument("--launch", type=int, default=0, help="0: split entry, 1: combine")
    parser.add_argument("--cta", type=int, default=1, help="linear CTA index (x fastest)")
    parser.add_argument("--warp", type=int, default=0)
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a kernel option, e.g. merge=cluster or num_warps=4")
    parser.add_argument("--opcodes", type=int, default=15, help="how many opcodes to list")
    args = parser.parse_args(argv)
    options = {}
    for item in args.option:
        name, _, value = item.partition("=")
        try:
            options[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[name] = value
    entry, steps, by_phase, by_opcode = count(options, args.seq_len, args.launch, args.cta,
                                              args.warp)
    print(f"{entry}, seq_len {args.seq_len}, CTA {args.cta}, warp {args.warp}: {steps} "
          "instructions")
    for phase, n in by_phase.most_common():
        print(f"{n:6d}  {phase}")
    print()
    for (phase, opcode), n in by_opcode.most_common(args.opcodes):
        print(f"{n:6d}  {opcode:44s} {phase}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
