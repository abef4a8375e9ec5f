"""Run NVIDIA compute-sanitizer (memcheck, racecheck, synccheck, initcheck) over the kernel grid
on a GPU, and write a summary (tool, launches checked, errors) to OUT_DIR.

    python scripts/sanitize.py OUT_DIR                     # all four tools, the whole grid
    python scripts/sanitize.py OUT_DIR --tools memcheck --quick
    python scripts/sanitize.py OUT_DIR --tools none        # the grid without a sanitizer
    python scripts/sanitize.py OUT_DIR --tools memcheck --match merge=cluster   # some cases

The grid (`cases`): every kernel (split-kv in f32, f16, bf16, with e4m3 K/V, the cluster
merge and programmatic dependent launch), seq_len
direct and indirect, plain and debug, lengths 0, 1, max-1, max, then max+1, 2^31, 2^32-1
written straight into the device buffers (no host check: the kernel's clamp keeps the
accesses in bounds); every output, and a debug kernel's warp states, is compared with the
float64 reference at the clamped length
(`explorer.verify.verify(..., host_checks=False)`). Each tool runs ONE child process
(sanitizer start-up is slow) that makes every launch, with CuPy's memory pool off so memcheck
checks each buffer's exact bounds; then a planted bug the tool must report (`CONTROLS`), so
that zero errors means something. Writes OUT_DIR/sanitize.json, OUT_DIR/sanitize.md and each
tool's logs; exit status 0 when every tool reports zero errors and finds its planted bug, and
every run matches the reference. compute-sanitizer is looked up on PATH, then under
/usr/local/cuda*/bin (or pass --sanitizer).
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOOLS = ("memcheck", "racecheck", "synccheck", "initcheck")
CHILD_FAILED = 3  # the child's exit status when a run did not match the reference
TOOL_TIMEOUT_S = 300  # a safety net per tool; the whole grid takes minutes, not hours


@dataclass(frozen=True)
class Case:
    """One kernel configuration and the lengths to launch it with (one tuple per run)."""

    kernel: str  # a key of explorer.kernels.KERNELS
    kwargs: dict
    lengths: tuple[tuple[int, ...], ...]

    @property
    def name(self) -> str:
        return self.kernel + "(" + ", ".join(f"{k}={v}" for k, v in self.kwargs.items()) + ")"

    def build(self):
        from explorer.kernels import KERNELS

        return KERNELS[self.kernel](**self.kwargs)


def edge_lengths(max_seq_len: int, batch: int = 1) -> tuple[tuple[int, ...], ...]:
    """0, 1, max-1, max (valid on the host), then max+1, 2^31, 2^32-1 (device only); a batch
    also gets one run with different lengths per sequence."""
    picks = [0, 1, max_seq_len - 1, max_seq_len, max_seq_len + 1, 2**31, 2**32 - 1]
    runs = [(n,) * batch for n in picks]
    if batch > 1:
        runs.append(tuple(picks[(3 * i + 1) % len(picks)] for i in range(batch)))
    return tuple(runs)


SEED_HEAD_DIMS = (32, 80, 128, 256)  # full warps of slots, and a partial last slot
SEED_WARPS = (1, 3, 4, 8, 32)
HEAD_COUNTS = ((8, 8), (12, 2), (4, 1))  # GQA ratios 1, 6 and 4
SPLIT_SHAPES = (
    dict(head_dim=128, num_heads=8, num_kv_heads=2, batch=2, num_warps=4, num_splits=3,
         dtype="f32"),
    dict(head_dim=64, num_heads=12, num_kv_heads=2, batch=1, num_warps=2, num_splits=4,
         dtype="f16", mma=False),
    dict(head_dim=80, num_heads=8, num_kv_heads=1, batch=2, num_warps=2, num_splits=3,
         dtype="f16", mma=True),  # tensor cores, partial chunks and tiles
    dict(head_dim=256, num_heads=4, num_kv_heads=1, batch=3, num_warps=2, num_splits=5,
         dtype="bf16", unroll=1),
    dict(head_dim=32, num_heads=32, num_kv_heads=8, batch=2, num_warps=1, num_splits=7,
         dtype="f32", unroll=4),
    dict(head_dim=80, num_heads=4, num_kv_heads=4, batch=1, num_warps=16, num_splits=1,
         dtype="f32"),
    dict(head_dim=128, num_heads=28, num_kv_heads=4, batch=2, dtype="bf16"),  # the defaults
    dict(head_dim=64, num_heads=8, num_kv_heads=2, batch=2, num_warps=2, num_splits=5,
         dtype="f16", merge="last-cta"),  # one launch: atomic counters, membar, .cg loads
    # e4m3 K/V (one byte, f32 scales): tensor cores by default, partial chunks, CUDA cores
    dict(head_dim=128, num_heads=28, num_kv_heads=4, batch=2, dtype="f16", kv_dtype="e4m3"),
    dict(head_dim=48, num_heads=8, num_kv_heads=1, batch=2, num_warps=2, num_splits=3,
         dtype="bf16", mma=True, kv_dtype="e4m3"),
    dict(head_dim=256, num_heads=4, num_kv_heads=1, batch=3, num_warps=2, num_splits=5,
         dtype="bf16", kv_dtype="e4m3"),
    dict(head_dim=64, num_heads=12, num_kv_heads=2, batch=1, num_warps=2, num_splits=4,
         dtype="f16", mma=False, kv_dtype="e4m3"),
    dict(head_dim=64, num_heads=8, num_kv_heads=2, batch=2, num_warps=2, num_splits=5,
         dtype="f16", merge="last-cta", kv_dtype="e4m3"),
    # the cluster merge (sm_90: distributed shared memory, barrier.cluster), one launch
    dict(head_dim=128, num_heads=32, num_kv_heads=8, batch=1, dtype="f16", merge="cluster"),
    dict(head_dim=64, num_heads=8, num_kv_heads=1, batch=3, num_splits=5, dtype="bf16",
         mma=False, merge="cluster"),
    dict(head_dim=96, num_heads=12, num_kv_heads=3, batch=2, num_splits=3, dtype="f32",
         merge="cluster"),
    dict(head_dim=128, num_heads=8, num_kv_heads=2, batch=2, dtype="f16", merge="cluster",
         kv_dtype="e4m3"),
    # programmatic dependent launch (sm_90: griddepcontrol, cuLaunchKernelEx)
    dict(head_dim=128, num_heads=32, num_kv_heads=8, batch=2, dtype="f16", pdl=True),
)


def cases(quick: bool = False, max_seq_len: int = 300) -> list[Case]:
    """The grid: the seed kernels over head_dim x warps x head counts x (direct, indirect) x
    (plain, debug), then split-kv shapes in each dtype. `quick` keeps a few of each."""
    seed = [("multi-warp", dict(head_dim=hd, num_heads=h, num_kv_heads=kv, num_warps=w))
            for hd, w, (h, kv) in itertools.product(SEED_HEAD_DIMS, SEED_WARPS, HEAD_COUNTS)]
    seed += [("single-warp", dict(head_dim=hd, num_heads=h, num_kv_heads=kv))
             for hd, (h, kv) in itertools.product(SEED_HEAD_DIMS, HEAD_COUNTS)]
    splits = list(SPLIT_SHAPES)
    if quick:  # one multi-warp and one single-warp shape, two split-kv shapes and one e4m3
        keep = {("multi-warp", 80, 3, 12), ("single-warp", 256, None, 12)}
        seed = [(n, s) for n, s in seed
                if (n, s["head_dim"], s.get("num_warps"), s["num_heads"]) in keep]
        splits = splits[:2] + [s for s in splits if s.get("kv_dtype")][:1]
    grid = []
    for name, shape in seed:
        for indirect, debug in itertools.product((False, True), (False, True)):
            kwargs = dict(max_seq_len=max_seq_len, **shape, indirect_seq_len=indirect,
                          debug=debug)
            grid.append(Case(name, kwargs, edge_lengths(max_seq_len)))
    for shape in splits:
        grid.append(Case("split-kv", dict(max_seq_len=max_seq_len, **shape),
                         edge_lengths(max_seq_len, shape["batch"])))
    return grid


@dataclass
class ChildReport:
    """What the child did: launches, runs, how long, and the runs that missed the reference."""

    launches: int = 0
    runs: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def run_cases(grid: list[Case], backend: str, report: ChildReport | None = None) -> ChildReport:
    """Verify every case on `backend` with its lengths written into the device buffers as
    they are (`verify(..., host_checks=False)`: the output, and a debug kernel's warp states,
    against float64 at the clamped lengths), into `report`, so that what was done survives an
    exception."""
    from explorer.verify import verify

    report = ChildReport() if report is None else report
    start = time.perf_counter()
    for case in grid:
        kernel = case.build()
        launches = len(kernel.launches())
        for lengths in case.lengths:
            verdict = verify(kernel, backend, lengths, seed=0, states=kernel.debug,
                             host_checks=False)
            report.launches += launches
            report.runs += 1
            if not verdict.passed:
                problems = "".join(f"; {p}" for p in verdict.state_problems)
                report.failures.append(f"{case.name} lengths={lengths}: "
                                       f"{verdict.comparison}{problems}")
    report.seconds = round(time.perf_counter() - start, 2)
    return report


def matching(grid: list[Case], match: str) -> list[Case]:
    """The cases whose name holds `match` (all of them for "")."""
    return [case for case in grid if match in case.name]


def child(report_path: Path, quick: bool, match: str = "") -> int:
    from explorer.runtime import cuda

    cuda.cupy().cuda.set_allocator(None)  # no pool: each buffer's exact bounds are checked
    report = ChildReport()
    try:
        run_cases(matching(cases(quick), match), "cuda", report)
    except Exception as err:  # a CUDA error after a sanitizer report: keep what was done
        report.failures.append(f"stopped after {report.runs} runs: {type(err).__name__}: {err}")
    report_path.write_text(json.dumps(asdict(report), indent=1))
    return CHILD_FAILED if report.failures else 0


# One planted bug per tool: a run where the tool finds nothing proves little unless the same
# tool, on the same machine, finds this (JIT-loaded PTX, like the kernels).
CONTROL_PTX = """.version 8.0
.target sm_75
.address_size 64

.visible .entry past_the_end(.param .u64 out, .param .u32 n)
{
    .reg .u32 %r<2>;
    .reg .u64 %rd<5>;
    ld.param.u64 %rd1, [out];
    cvta.to.global.u64 %rd2, %rd1;
    ld.param.u32 %r1, [n];
    mul.wide.u32 %rd3, %r1, 4;
    add.s64 %rd4, %rd2, %rd3;
    st.global.u32 [%rd4], %r1;
    ret;
}

.visible .entry shared_race(.param .u64 out)
{
    .reg .pred %p<3>;
    .reg .u32 %r<3>;
    .reg .u64 %rd<3>;
    .shared .align 4 .b8 cell[4];
    mov.u32 %r1, %tid.x;
    setp.eq.u32 %p1, %r1, 0;
    @%p1 st.shared.u32 [cell], %r1;
    ld.shared.u32 %r2, [cell];
    ld.param.u64 %rd1, [out];
    cvta.to.global.u64 %rd2, %rd1;
    setp.eq.u32 %p2, %r1, 32;
    @%p2 st.global.u32 [%rd2], %r2;
    ret;
}

.visible .entry divergent_barrier(.param .u64 out)
{
    .reg .pred %p<2>;
    .reg .u32 %r<2>;
    mov.u32 %r1, %tid.x;
    setp.lt.u32 %p1, %r1, 16;
    @%p1 bra LOW;
    bar.sync 0;
    bra DONE;
LOW:
    bar.sync 0;
DONE:
    ret;
}

.visible .entry read_uninitialised(.param .u64 src, .param .u64 out)
{
    .reg .u32 %r<2>;
    .reg .u64 %rd<5>;
    ld.param.u64 %rd1, [src];
    cvta.to.global.u64 %rd2, %rd1;
    ld.global.u32 %r1, [%rd2];
    ld.param.u64 %rd3, [out];
    cvta.to.global.u64 %rd4, %rd3;
    st.global.u32 [%rd4], %r1;
    ret;
}
"""
CONTROLS = {"memcheck": "past_the_end", "racecheck": "shared_race",
            "synccheck": "divergent_barrier", "initcheck": "read_uninitialised"}


def control(tool: str) -> int:
    """Child: launch the planted bug `tool` must report (one element past a 64-element
    buffer; a shared-memory write and read by two warps without a barrier; the two halves of
    a warp at two different bar.sync instructions; a read of never-written memory). CuPy's
    own launch, not the runtime's: initcheck needs never-written device memory, and every
    runtime buffer is copied or poisoned."""
    import numpy as np

    from explorer.runtime import cuda

    cp = cuda.cupy()
    cp.cuda.set_allocator(None)
    module = cp.cuda.function.Module()
    module.load(CONTROL_PTX.encode())
    function = module.get_function(CONTROLS[tool])
    out = cp.zeros(64, dtype=np.uint32)
    args = {"memcheck": (out, np.uint32(64)), "initcheck": (cp.empty(64, np.uint32), out)}
    block = 64 if tool == "racecheck" else 32
    function((1, 1, 1), (block, 1, 1), args.get(tool, (out,)))
    cp.cuda.Device().synchronize()
    return 0


def find_sanitizer() -> str | None:
    found = shutil.which("compute-sanitizer")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/local/cuda*/bin/compute-sanitizer"))
    return candidates[-1] if candidates else None


def sanitizer_command(sanitizer: str | None, tool: str, report: Path, quick: bool,
                      planted: bool = False, match: str = "") -> list[str]:
    """The command line of one tool's run over the grid, or (`planted`) over its planted bug;
    tool "none": the child alone."""
    child_cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(report)]
    child_cmd += ["--quick"] if quick else []
    child_cmd += ["--control", tool] if planted else []
    child_cmd += ["--match", match] if match and not planted else []
    if tool == "none":
        return child_cmd
    extra = {"racecheck": ["--racecheck-report", "all"]}.get(tool, [])
    return [sanitizer, "--tool", tool, "--error-exitcode", "1", "--print-limit", "200",
            *extra, *child_cmd]


def parse_summary(tool: str, log: str) -> dict:
    """Errors (and racecheck's warnings) from a compute-sanitizer log; None where no summary
    line was found (the run did not finish)."""
    if tool == "none":
        return {"errors": 0, "warnings": 0}
    race = re.search(r"RACECHECK SUMMARY: (\d+) hazards? displayed \((\d+) errors?, "
                     r"(\d+) warnings?\)", log)
    if race:
        return {"errors": int(race.group(2)), "warnings": int(race.group(3))}
    summary = re.search(r"ERROR SUMMARY: (\d+) errors?", log)
    return {"errors": int(summary.group(1)) if summary else None, "warnings": 0}


def first_reports(log: str, limit: int = 5) -> list[str]:
    """The first distinct report headlines of a compute-sanitizer log (an invalid access, an
    API call's error, a hazard, a barrier error), each with the line after it (where: the
    kernel and thread, or the host frame), so that a summary names what was found."""
    lines = log.splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        if not line.startswith("========= ") or line.startswith("=========  "):
            continue
        head = line[len("========= "):].strip()
        if not head or head.startswith(("ERROR SUMMARY", "RACECHECK SUMMARY", "Saved host",
                                         "Target application")):
            continue
        where = lines[i + 1][len("========= "):].strip() if i + 1 < len(lines) else ""
        text = f"{head} ({where})" if where else head
        if text not in found:
            found.append(text)
        if len(found) == limit:
            break
    return found


def tool_result(tool: str, exit_code: int, log: str, report: dict | None,
                planted_log: str | None = None) -> dict:
    """One row of the summary; `ok` only with a summary of zero errors, every run passing, and
    (where it was run) the planted bug found."""
    summary = parse_summary(tool, log)
    report = report or {"launches": 0, "runs": 0, "seconds": None,
                        "failures": ["the child wrote no report"]}
    planted = None if planted_log is None else (parse_summary(tool, planted_log)["errors"] or 0)
    ok = summary["errors"] == 0 and not report["failures"] and exit_code == 0 and (
        planted is None or planted > 0)
    return {"tool": tool, "exit_code": exit_code, **summary, "launches": report["launches"],
            "runs": report["runs"], "seconds": report["seconds"], "planted_bug_errors": planted,
            "reference_failures": report["failures"][:20],
            "first_reports": first_reports(log) if summary["errors"] else [], "ok": ok}


def write_summary(out: Path, info: dict, rows: list[dict]) -> None:
    """OUT/sanitize.json and OUT/sanitize.md."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "sanitize.json").write_text(json.dumps({"info": info, "tools": rows}, indent=1))
    lines = [f"# compute-sanitizer over the kernel grid ({info.get('date', '')})", "",
             ", ".join(f"{k}: {v}" for k, v in info.items()), "",
             "| tool | launches checked | runs | errors | warnings | reference | planted bug "
             "| seconds |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = "all match" if not r["reference_failures"] else (
            f"{len(r['reference_failures'])} FAIL")
        errors = "no summary" if r["errors"] is None else r["errors"]
        planted = {None: "not run", 0: "MISSED"}.get(r.get("planted_bug_errors"),
                                                     f"found ({r.get('planted_bug_errors')})")
        lines.append(f"| {r['tool']} | {r['launches']} | {r['runs']} | {errors} | "
                     f"{r['warnings']} | {verdict} | {planted} | {r['seconds']} |")
    for r in rows:
        lines += [f"- {r['tool']}: {failure}" for failure in r["reference_failures"]]
        lines += [f"- {r['tool']} reported: {text}" for text in r.get("first_reports", [])]
    (out / "sanitize.md").write_text("\n".join(lines) + "\n")


def device_info() -> dict:
    """The card, driver and date, asked in a short child (the parent stays CUDA-free)."""
    code = ("import cupy as cp, json; p = cp.cuda.runtime.getDeviceProperties(0); "
            "print(json.dumps({'device': p['name'].decode(), "
            "'driver': cp.cuda.runtime.driverGetVersion(), 'cupy': cp.__version__}))")
    try:
        text = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120).stdout
        info = json.loads(text.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        info = {"device": "unknown"}
    return {**info, "date": time.strftime("%Y-%m-%d")}


def _run(cmd: list[str], env: dict, timeout: int) -> tuple[int, str]:
    """(exit status, stdout + stderr); -1 and what was printed when it timed out."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        return -1, f"{_text(err.stdout)}{_text(err.stderr)}\nTIMEOUT after {timeout} s"


def _text(output) -> str:
    """A TimeoutExpired's captured output, which may be bytes even with text=True."""
    if output is None:
        return ""
    return output.decode(errors="replace") if isinstance(output, bytes) else output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for sanitize.json, sanitize.md, logs")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, from {', '.join(TOOLS)} and none")
    parser.add_argument("--quick", action="store_true", help="a few cases per kernel class")
    parser.add_argument("--match", default="",
                        help="only the cases whose name holds this text, e.g. merge=cluster")
    parser.add_argument("--sanitizer", default=None, help="path of compute-sanitizer")
    parser.add_argument("--timeout", type=int, default=TOOL_TIMEOUT_S,
                        help="seconds allowed per tool")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--control", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return control(args.control) if args.control else child(args.out, args.quick, args.match)
    tools = [t for t in args.tools.split(",") if t]
    unknown = [t for t in tools if t not in (*TOOLS, "none")]
    if unknown:
        parser.error(f"unknown tool(s) {unknown}; accepted: {', '.join(TOOLS)}, none")
    if not matching(cases(args.quick), args.match):
        parser.error(f"--match {args.match!r} names no case of the grid")
    sanitizer = args.sanitizer or find_sanitizer()
    if sanitizer is None and any(t != "none" for t in tools):
        print("sanitize: compute-sanitizer not found on PATH or under /usr/local/cuda*/bin; "
              "pass --sanitizer PATH", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    info = {**device_info(), "sanitizer": sanitizer, "quick": args.quick,
            "cases": len(matching(cases(args.quick), args.match))}
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    rows = []
    for tool in tools:
        report_path = args.out / f"{tool}.child.json"
        report_path.unlink(missing_ok=True)
        cmd = sanitizer_command(sanitizer, tool, report_path, args.quick, match=args.match)
        print(f"sanitize: {tool}: {' '.join(cmd)}", flush=True)
        code, log = _run(cmd, env, args.timeout)
        (args.out / f"{tool}.log").write_text(log)
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        planted_log = None
        if tool != "none":
            _, planted_log = _run(sanitizer_command(sanitizer, tool, report_path, False, True),
                                  env, args.timeout)
            (args.out / f"{tool}.planted.log").write_text(planted_log)
        rows.append(tool_result(tool, code, log, report, planted_log))
        print(f"sanitize: {tool}: {rows[-1]}", flush=True)
    write_summary(args.out, info, rows)
    print((args.out / "sanitize.md").read_text())
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
