"""Make the differential corpus in tests/corpus/: nvcc's and Triton's PTX for the kernels in
tests/corpus/src/, seeded inputs, and what a real GPU computed from them.

    python3 scripts/make_corpus.py --out tests/corpus     # on a GPU machine (CuPy, Triton)
    python3 scripts/make_corpus.py --dry-run              # anywhere with nvcc: no GPU

For every entry of `cuda_entries` and `triton_entries` it compiles the source to PTX, loads
THAT text through the driver JIT (CuPy), launches it with the entry's grid, block, dynamic
shared bytes and arguments (outputs poisoned first) and writes ptx/*.ptx, data/ENTRY.npz and
manifest.json. One failing entry is reported, not fatal. --dry-run compiles the CUDA C with
the local nvcc into a temp dir and checks each entry's PTX for the features it claims.
It does not run the simulator or compare anything: the tests do that.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.util
import json
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "tests" / "corpus" / "src"
sys.path[:0] = [str(SRC), str(Path(__file__).resolve().parent)]

import corpus_ptx  # noqa: E402
import corpus_spec  # noqa: E402
import cuda_entries  # noqa: E402
import triton_entries  # noqa: E402
from corpus_gpu import Gpu  # noqa: E402
from corpus_nvcc import (  # noqa: E402
    CompileError,
    compile_module,
    find_nvcc,
    nvcc_version,
    ptxas_diagnostic,
)

MIN_ENTRIES = 12
POISON = 0xDEADBEEFDEADBEEF


def make_input(arg: dict, rng: np.random.Generator) -> np.ndarray:
    """The initial contents of an input or inout array from its recipe (corpus_spec)."""
    dtype, shape = np.dtype(arg["dtype"]), tuple(arg["shape"])
    size = int(np.prod(shape))
    kind, *p = arg["init"]
    if kind in ("uniform", "uniform_nans"):
        a = rng.uniform(p[0], p[1], size)
        if kind == "uniform_nans":
            a[:: p[2]] = np.nan
    elif kind == "randint":
        a = rng.integers(p[0], p[1], size, dtype=np.int64)
    elif kind == "bits":
        bits = dtype.itemsize * 8
        raw = rng.integers(0, 2**63, size, dtype=np.uint64) * np.uint64(2)
        raw += rng.integers(0, 2, size, dtype=np.uint64)
        raw[::7] = 0
        raw[3::11] = np.uint64(1) << (np.arange(3, size, 11, dtype=np.uint64) % np.uint64(bits))
        return raw.astype(f"u{dtype.itemsize}").view(dtype).reshape(shape)
    elif kind == "values":
        a = np.array(p[0])
        if a.size != size:
            raise ValueError(f"{arg['name']}: 'values' has {a.size} items for shape {shape}")
    elif kind == "fill":
        a = np.full(size, p[0])
    else:
        raise ValueError(f"{arg['name']}: unknown recipe {kind!r} (accepted: "
                         f"{', '.join(corpus_spec.RECIPES)})")
    a = a.astype(dtype).reshape(shape)
    if arg["role"] == "input" and not np.any(a):
        raise ValueError(f"{arg['name']}: an input must not be all zeros")
    return a


def poisoned(arg: dict) -> np.ndarray:
    """An output array filled with NaN (floats) or 0xDEADBEEF cut to the width (integers)."""
    dtype, shape = np.dtype(arg["dtype"]), tuple(arg["shape"])
    if dtype.kind == "f":
        return np.full(shape, np.nan, dtype)
    word = np.array(POISON & (2 ** (8 * dtype.itemsize) - 1), dtype=f"u{dtype.itemsize}")
    return np.full(shape, word.view(dtype), dtype)


def make_arrays(spec: dict) -> dict[str, np.ndarray]:
    """Every array argument's launch contents, seeded by the entry name (reproducible)."""
    rng = np.random.default_rng(zlib.crc32(spec["name"].encode()))
    return {a["name"]: (poisoned(a) if a["role"] == "output" else make_input(a, rng))
            for a in spec["args"] if a["kind"] == "array"}


def check_params(ptx: str, spec: dict) -> None:
    """ValueError unless the entry's .param list matches its args in count and width."""
    types = corpus_ptx.param_types(ptx, spec["entry"])
    if len(types) != len(spec["args"]):
        raise ValueError(f"{spec['name']}: {spec['entry']} has {len(types)} parameters, the "
                         f"entry lists {len(spec['args'])}")
    for t, arg in zip(types, spec["args"], strict=True):
        width = 64 if arg["kind"] != "scalar" else np.dtype(arg["dtype"]).itemsize * 8
        if int("".join(c for c in t if c.isdigit())) != width:
            raise ValueError(f"{spec['name']}: parameter .{t} does not fit {arg['name']} "
                             f"({arg['kind']} {arg['dtype']})")


def untouched_outputs(spec: dict, outputs: dict[str, np.ndarray]) -> list[str]:
    """Outputs still entirely poison after the launch: the kernel did not write them."""
    names = []
    for arg in spec["args"]:
        if arg.get("role") == "output":
            out, poison = outputs[arg["name"]], poisoned(arg)
            same = np.isnan(out) if out.dtype.kind == "f" else out == poison
            if same.all():
                names.append(arg["name"])
    return names


def record(spec: dict, ptx_file: str, features: list[str], extra: dict) -> dict:
    """The manifest's entry: launch, arguments in parameter order, compiler, features."""
    args = []
    for arg in spec["args"]:
        a = {k: v for k, v in arg.items() if not (k == "init" and arg["role"] == "output")}
        if a["kind"] == "array":
            a["npz_in"] = f"in.{a['name']}"
            if a["role"] != "input":
                a["npz_out"] = f"out.{a['name']}"
        args.append(a)
    return {"name": spec["name"], **extra, "ptx": ptx_file, "entry": spec["entry"],
            "grid": spec["grid"], "block": spec["block"], "shared_bytes": spec["shared_bytes"],
            "args": args, "covers": spec["covers"], "features": features}


def save_data(path: Path, arrays: dict, outputs: dict) -> None:
    np.savez_compressed(path, **{f"in.{k}": v for k, v in arrays.items()},
                        **{f"out.{k}": v for k, v in outputs.items()})


def run_entry(spec: dict, ptx: str, ptx_file: str, extra: dict, ctx: dict) -> dict:
    """Check, (on a GPU) launch and save one entry; returns its manifest record.

    Raises on failure; the caller records the reason and goes on with the next entry.
    """
    check_params(ptx, spec)
    features = corpus_ptx.features_found(ptx, spec["entry"], corpus_spec.FEATURES)
    if any(a["kind"] in ("null", "scratch") for a in spec["args"]):
        features.append("scratch pointer parameters")
    missing = [c for c in spec["covers"] if c not in features]
    if missing and ctx["gpu"] is None:
        raise ValueError(f"claims features its PTX lacks: {missing}")
    if missing:
        print(f"    warning: {spec['name']} lacks claimed features {missing}")
    arrays = make_arrays(spec)
    rec = record(spec, ptx_file, features, extra)
    if ctx["gpu"] is None:
        return rec
    isa, limit = corpus_ptx.ptx_isa(ptx), ctx["gpu"].max_ptx_isa()
    if isa > limit:
        raise ValueError(f"PTX ISA {isa / 10:.1f} is newer than the driver accepts "
                         f"({limit / 10:.1f}): use a compiler no newer than the driver "
                         f"(NVCC=/path/to/nvcc)")
    try:
        outputs = ctx["gpu"].run(ptx, spec, arrays)
    except Exception as err:
        why = ptxas_diagnostic(ctx["nvcc"], ptx) if "PTX" in str(err).upper() else ""
        raise RuntimeError(f"launch: {err}" + (f" (ptxas: {why})" if why else "")) from err
    lazy = untouched_outputs(spec, outputs)
    if lazy:
        raise RuntimeError(f"outputs never written: {lazy}")
    save_data(ctx["out"] / "data" / f"{spec['name']}.npz", arrays, outputs)
    rec["data"] = f"data/{spec['name']}.npz"
    return rec


def cuda_part(ctx: dict, results: list, records: list) -> None:
    """Compile every CUDA C module once, then check/run each entry of `cuda_entries`."""
    built = {}
    for name, (source, flags) in cuda_entries.MODULES.items():
        print(f"nvcc  {name:<20} {source} {' '.join(flags)}")
        try:
            built[name] = compile_module(ctx["nvcc"], SRC / source, flags), None
            (ctx["out"] / "ptx" / f"{name}.ptx").write_text(built[name][0])
        except CompileError as err:
            built[name] = None, str(err)
    for spec in cuda_entries.ENTRIES:
        ptx, err = built[spec["module"]]
        source, flags = cuda_entries.MODULES[spec["module"]]
        extra = {"compiler": "nvcc", "compiler_version": ctx["nvcc_version"],
                 "source": f"src/{source}", "flags": ["-ptx", "-arch=sm_90", *flags]}
        step(results, records, spec, "nvcc", err,
             lambda s=spec, p=ptx, e=extra: run_entry(s, p, f"ptx/{s['module']}.ptx", e, ctx))


def triton_part(ctx: dict, results: list, records: list) -> None:
    """Compile each Triton entry to PTX (Triton imported lazily), then check/run it."""
    if importlib.util.find_spec("triton") is None:
        for spec in triton_entries.ENTRIES:
            results.append((spec["name"], "triton", False, False, "Triton is not installed"))
        return
    import corpus_triton

    for spec in triton_entries.ENTRIES:
        print(f"triton {spec['name']}")
        try:
            built = corpus_triton.compile_entry(spec, ctx["gpu"].max_ptx_isa())
        except Exception as err:
            step(results, records, spec, "triton", f"{type(err).__name__}: {err}", None)
            continue
        ptx_file = f"ptx/{spec['name']}.ptx"
        (ctx["out"] / ptx_file).write_text(built["ptx"])
        nprog = int(np.prod(spec["grid"]))
        scratch = [{"name": n, "kind": "scratch" if size else "null", "role": "scratch",
                    **({"bytes": size * nprog} if size else {})} for n, size in built["scratch"]]
        full = {**spec, "entry": built["entry"], "block": [built["num_warps"] * 32, 1, 1],
                "shared_bytes": built["shared_bytes"], "args": spec["args"] + scratch}
        extra = {"compiler": "triton", "compiler_version": built["version"],
                 "source": f"src/{spec['module']}.py", "kernel": spec["kernel"],
                 "compile": {"constexprs": spec["constexprs"],
                             "divisible_by_16": spec["divisible_by_16"],
                             "options": built["options"], "how": built["compiled_with"]}}
        step(results, records, full, "triton", None,
             lambda s=full, p=built["ptx"], f=ptx_file, e=extra: run_entry(s, p, f, e, ctx))


def step(results, records, spec, compiler, compile_error, run) -> None:
    """Run one entry's remaining work, turning any failure into a row of the summary."""
    if compile_error:
        results.append((spec["name"], compiler, False, False, compile_error))
    else:
        try:
            records.append(run())
            ran = records[-1].get("data") is not None
            results.append((spec["name"], compiler, True, ran, ""))
        except Exception as err:
            results.append((spec["name"], compiler, True, False, f"{type(err).__name__}: {err}"))
    print(f"  {spec['name']:<32} {results[-1][4] or 'ok'}")


def check_triton_tables(results: list) -> None:
    """Dry run: each Triton entry names a @triton.jit kernel whose runtime parameters match
    its args, and its inputs can be made. Nothing is compiled (no Triton here)."""
    for spec in triton_entries.ENTRIES:
        why = "not compiled: a dry run has no Triton"
        try:
            tree = ast.parse((SRC / f"{spec['module']}.py").read_text())
            fns = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
            if spec["kernel"] not in fns:
                raise ValueError(f"{spec['module']}.py has no kernel {spec['kernel']}")
            params = [a.arg for a in fns[spec["kernel"]].args.args]
            runtime = [p for p in params if p not in spec["constexprs"]]
            if len(runtime) != len(spec["args"]) or len(params) - len(runtime) != len(
                    spec["constexprs"]):
                raise ValueError(f"{spec['kernel']}{tuple(params)} does not match the entry's "
                                 f"{len(spec['args'])} args + constexprs {spec['constexprs']}")
            names = {a["name"] for a in spec["args"]}
            if not set(spec["divisible_by_16"]) <= names:
                raise ValueError(f"divisible_by_16 names unknown args: {spec['divisible_by_16']}")
            make_arrays(spec)
        except Exception as err:
            why = f"table error: {err}"
        results.append((spec["name"], "triton", False, False, why))


def print_summary(results: list) -> None:
    print(f"\n{'entry':<32} {'compiler':<7} {'compiled':<9} {'ran':<4} note")
    for name, compiler, compiled, ran, why in results:
        print(f"{name:<32} {compiler:<7} {'yes' if compiled else 'NO':<9} "
              f"{'yes' if ran else '-':<4} {why}")


def print_coverage(records: list, dry_run: bool) -> list[str]:
    """Print features -> entries and the coverage list; return the uncovered bullets."""
    by_label = {label: [r["name"] for r in records if label in r["features"]]
                for label in corpus_spec.FEATURES}
    print("\nfeature -> entries")
    for label, names in by_label.items():
        print(f"  {label:<44} {', '.join(names) if names else '(none)'}")
    uncovered = []
    print("\ncoverage of the issue's list")
    for compiler, bullet, labels in corpus_spec.BULLETS:
        mine = [r for r in records if r["compiler"] == compiler]
        missing = [lab for lab in labels if not any(lab in r["features"] for r in mine)]
        if compiler == "triton" and dry_run:
            state = "not checked (needs Triton)"
        elif missing:
            state = f"NOT COVERED: {missing}"
            uncovered.append(f"{compiler}: {bullet}")
        else:
            state = "covered"
        print(f"  [{compiler}] {bullet}: {state}")
    return uncovered


def write_manifest(ctx: dict, records: list, results: list) -> Path:
    gpu = ctx["gpu"]
    manifest = {
        "format": 1,
        "generated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "command": "python3 scripts/make_corpus.py " + " ".join(ctx["argv"]),
        "gpu": gpu.name if gpu else None,
        "driver_version": gpu.driver if gpu else None,
        "nvcc_version": ctx["nvcc_version"],
        "numpy_version": np.__version__,
        "entries": records,
        "failures": [{"name": n, "compiler": c, "why": w} for n, c, _, ran, w in results
                     if not ran and gpu],
    }
    path = ctx["out"] / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "tests" / "corpus",
                   help="corpus folder (ptx/, data/, manifest.json); default tests/corpus")
    p.add_argument("--dry-run", action="store_true",
                   help="no GPU: compile the CUDA C into a temp dir and check the features")
    p.add_argument("--skip-triton", action="store_true", help="only the CUDA C entries")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = parse_args(argv)
    started = time.time()
    out = Path(tempfile.mkdtemp(prefix="corpus-dry-")) if opts.dry_run else opts.out
    for sub, pattern in (("ptx", "*.ptx"), ("data", "*.npz")):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in (out / sub).glob(pattern):  # entries renamed or removed since last time
            stale.unlink()
    nvcc = find_nvcc()
    ctx = {"out": out, "nvcc": nvcc, "nvcc_version": nvcc_version(nvcc), "argv": argv,
           "gpu": None if opts.dry_run else Gpu()}
    print(f"nvcc: {nvcc} ({ctx['nvcc_version']}); out: {out}")
    if ctx["gpu"]:
        print(f"GPU: {ctx['gpu'].name}, driver {ctx['gpu'].driver}, PTX ISA <= "
              f"{ctx['gpu'].max_ptx_isa()}")
    results, records = [], []
    cuda_part(ctx, results, records)
    if opts.dry_run:
        check_triton_tables(results)
    elif not opts.skip_triton:
        triton_part(ctx, results, records)
    if ctx["gpu"]:
        ctx["gpu"].close()
    path = write_manifest(ctx, records, results)
    print_summary(results)
    uncovered = print_coverage(records, opts.dry_run)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.suffix in (".ptx", ".npz", ".json"))
    print(f"\nwrote {path} and {len(records)} entries' files, {size / 1024:.0f} KiB in "
          f"{time.time() - started:.0f} s")
    if opts.dry_run:
        bad = [r for r in results if r[1] == "nvcc" and r[4]] + [
            r for r in results if r[4].startswith("table error")]
        print(f"dry run: {len(bad)} entry problems, {len(uncovered)} uncovered bullets")
        return 1 if bad or uncovered else 0
    ok = sum(1 for r in results if r[3])
    print(f"{ok} of {len(results)} entries ran on the GPU (need at least {MIN_ENTRIES})")
    return 0 if ok >= MIN_ENTRIES else 1


if __name__ == "__main__":
    sys.exit(main())
